"""Broadcasts from the district IOC over a real mosquitto, now that the MQTT and audio
wings meet: an emergency plays at once, a normal bulletin waits in the village head's
inbox until approved, and every finished item comes back as proof of broadcast on
`…/broadcast/log` (and the queue on the retained `…/broadcast/state`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from tests.mqtt.conftest import Broker, Ioc, close_web_in_its_own_thread, wait_until

SITE = "langso/test-site"


@pytest.fixture
def district(tmp_path: Path, make_config, start_app) -> Iterator[tuple[object, Ioc]]:
    broker = Broker(tmp_path / "broker").start()
    ioc = Ioc(broker, ["langso/#"])
    audio = {"output": f"wav:{tmp_path / 'data' / 'audio-out'}", "tts": ["espeak"], "amp_warmup_s": 0, "amp_tail_s": 0}
    app = start_app(make_config(site={"id": "test-site", "groups": ["yen-dinh"]}, mqtt=broker.mqtt_config(), audio=audio))
    try:
        wait_until(lambda: app.house.status()["uplink"]["state"] == "connected", 20, "uplink connected")
        yield app, ioc
    finally:
        ioc.close()
        close_web_in_its_own_thread(app)
        app.stop()
        broker.stop()


def logs(ioc: Ioc) -> list[dict]:
    return [json.loads(p) for p in ioc.on(f"{SITE}/broadcast/log")]


def test_district_emergency_plays_and_a_bulletin_waits_for_the_village_head(district, tmp_path: Path):
    app, ioc = district
    ioc.publish(f"{SITE}/broadcast/set", {"cmd_id": "c-1", "id": "bao-lu-1", "priority": "emergency",
                                          "text": "Khẩn cấp: nước sông Mã lên nhanh, bà con di chuyển lên chỗ cao trước 17h."})
    assert ioc.reply("c-1")["ok"] is True
    record = json.loads(ioc.wait(f"{SITE}/broadcast/log", lambda p: json.loads(p)["id"] == "bao-lu-1", timeout=60))
    assert record["outcome"] == "played" and record["priority"] == "emergency" and record["source"] == "mqtt"
    assert record["started"] < record["ended"]
    assert list((tmp_path / "data" / "audio-out").glob("*-bao-lu-1.wav"))

    ioc.publish("langso/group/yen-dinh/broadcast/set", {"cmd_id": "c-2", "id": "ban-tin-2",
                                                        "text": "Huyện thông báo lịch tiêm phòng dại cho chó mèo ngày 20-25/11."})
    assert ioc.reply("c-2")["ok"] is True
    listing = app.house.broadcasts.listing()
    assert [i["id"] for i in listing["inbox"]] == ["ban-tin-2"] and listing["queue"] == []
    state = json.loads(ioc.wait(f"{SITE}/broadcast/state"))
    assert state["playing"] is None
    assert all(r["id"] != "ban-tin-2" for r in logs(ioc))        # not played without the village head

    app.house.broadcasts.approve("ban-tin-2", "web:truong-thon")
    record = json.loads(ioc.wait(f"{SITE}/broadcast/log", lambda p: json.loads(p)["id"] == "ban-tin-2", timeout=60))
    assert record["outcome"] == "played" and record["priority"] == "normal"
    retained = [(p, r) for t, p, r in ioc.seen if t == f"{SITE}/broadcast/state"]
    assert any(json.loads(p)["playing"] and json.loads(p)["playing"]["id"] == "ban-tin-2" for p, _ in retained)


def test_a_bad_district_broadcast_is_answered_with_the_field_and_queues_nothing(district):
    app, ioc = district
    ioc.publish(f"{SITE}/broadcast/set", {"cmd_id": "c-9", "text": "Thử", "priority": "khan-cap"})
    reply = ioc.reply("c-9")
    assert reply["ok"] is False and reply["error"].startswith("priority:") and "emergency" in reply["error"]
    listing = app.house.broadcasts.listing()
    assert listing["queue"] == [] and listing["inbox"] == [] and listing["playing"] is None
