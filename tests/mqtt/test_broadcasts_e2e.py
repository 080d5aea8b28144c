"""Broadcast commands from the IOC through the real audio wing: a real mosquitto, the
house's broadcast queue, espeak-ng, PyAV decoding of media made in the test, the WAV sink
and the amp relay on MockFactory pins. The IOC sees the reply with the queued item, the
amp relay ON/OFF, the retained broadcast state and the proof of broadcast on `…/broadcast/log`;
a normal bulletin from the district waits in the village head's inbox until approved."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from controller.config import parse_config
from tests.audio.conftest import make_audio, wav_seconds
from tests.conftest import house_data
from tests.mqtt.conftest import Ioc, wait_until

SITE = "langso/test-site"


def played(app: Any, item_id: str) -> list[Path]:
    return sorted(Path(app.config.audio.wav_dir).glob(f"*-{item_id}.wav"))


def logs(ioc: Ioc, site: str = "test-site") -> list[dict[str, Any]]:
    return [json.loads(p) for p in ioc.on(f"langso/{site}/broadcast/log")]


def wait_logs(ioc: Ioc, count: int, site: str = "test-site", timeout: float = 60) -> list[dict[str, Any]]:
    wait_until(lambda: len(logs(ioc, site)) >= count, timeout, f"{count} broadcast/log records from {site}")
    return logs(ioc, site)


def test_text_broadcast_is_played_with_the_amp_around_and_logged_to_the_ioc(site):
    app, ioc = site
    ioc.publish(f"{SITE}/broadcast/set", {"id": "hop-thon", "text": "Mời bà con họp thôn lúc 19 giờ 30.",
                                         "priority": "priority"})
    reply = ioc.reply("hop-thon")
    assert reply["ok"] is True and reply["result"]["id"] == "hop-thon" and reply["result"]["state"] == "queued"
    assert reply["result"]["kind"] == "text" and reply["result"]["source"] == "mqtt"
    [record] = wait_logs(ioc, 1)
    assert record["id"] == "hop-thon" and record["outcome"] == "played" and record["source"] == "mqtt"
    assert record["who"] == "mqtt:ioc" and record["priority"] == "priority" and record["ended"] > record["started"]
    assert (record["kind"], record["text"]) == ("text", "Mời bà con họp thôn lúc 19 giờ 30.")  # what was read out
    [wav] = played(app, "hop-thon")
    assert wav_seconds(wav) > 1.0  # chime + espeak speech
    # the amplifier: switched on before and off after, both seen by the IOC as retained relay states
    ioc.wait(f"{SITE}/relay/amp", lambda p: p == b"ON")
    wait_until(lambda: ioc.on(f"{SITE}/relay/amp")[-1] == b"OFF", 20, "amp off after the broadcast")
    amp = [p for p in ioc.on(f"{SITE}/relay/amp")]
    assert amp[0] == b"OFF" and b"ON" in amp and amp[-1] == b"OFF"
    audit = app.house.store.db.query("SELECT actor, detail FROM audit WHERE target='amp' ORDER BY rowid")
    assert [a["actor"] for a in audit][-2:] == ["system:broadcast", "system:broadcast"]
    states = [json.loads(p) for p in ioc.on(f"{SITE}/broadcast/state")]
    assert any((s["playing"] or {}).get("id") == "hop-thon" for s in states)
    wait_until(lambda: json.loads(ioc.on(f"{SITE}/broadcast/state")[-1]) == {"playing": None, "queue": []}, 20, "empty state")
    # the same id again (an IOC retry): answered once, not played again
    ioc.publish(f"{SITE}/broadcast/set", {"id": "hop-thon", "text": "Mời bà con họp thôn lúc 19 giờ 30.",
                                         "priority": "priority"})
    again = ioc.reply("hop-thon", count=2)
    assert again["duplicate"] is True and again["ok"] is True
    assert len(played(app, "hop-thon")) == 1


def test_audio_url_and_stream_url_from_a_web_server_are_played(site, http_server, tmp_path):
    app, ioc = site
    http_server.routes["/thong-bao.mp3"] = (200, "audio/mpeg", make_audio(tmp_path / "a.mp3", "mp3", 1.0).read_bytes())
    http_server.routes["/vov1.mp3"] = (200, "audio/mpeg", make_audio(tmp_path / "s.mp3", "mp3", 4.0).read_bytes())
    ioc.publish(f"{SITE}/broadcast/set", {"id": "file-1", "audio_url": f"{http_server.url}/thong-bao.mp3",
                                         "priority": "priority"})
    ioc.publish(f"{SITE}/broadcast/set", {"cmd_id": "radio-1", "stream_url": f"{http_server.url}/vov1.mp3",
                                         "duration_s": 1.5, "priority": "priority"})
    assert ioc.reply("file-1")["result"]["kind"] == "audio"
    stream = ioc.reply("radio-1")["result"]
    assert stream["kind"] == "stream" and stream["duration_s"] == 1.5  # the id the house gave it is in the reply
    records = {r["id"]: r for r in wait_logs(ioc, 2)}
    assert records["file-1"]["outcome"] == "played" and records[stream["id"]]["outcome"] == "played"
    assert {path for path, _ in http_server.requests} >= {"/thong-bao.mp3", "/vov1.mp3"}
    assert abs(wav_seconds(played(app, stream["id"])[0]) - 1.5) < 0.2  # the stream stopped after duration_s
    assert wav_seconds(played(app, "file-1")[0]) >= 1.0


def test_a_district_bulletin_waits_in_the_inbox_until_the_village_head_approves_it(site):
    app, ioc = site
    ioc.publish("langso/group/yen-dinh/broadcast/set", {"cmd_id": "c-2", "id": "binh-thuong",
                                                        "text": "Lịch tiêm phòng tuần sau."})
    reply = ioc.reply("c-2")
    assert reply["ok"] is True and reply["result"]["state"] == "inbox"  # audio.inbox_sources: normal from the district
    listing = app.house.broadcasts.listing()
    assert [i["id"] for i in listing["inbox"]] == ["binh-thuong"] and listing["queue"] == []
    ioc.wait(f"{SITE}/broadcast/state")
    assert json.loads(ioc.on(f"{SITE}/broadcast/state")[-1])["playing"] is None
    assert played(app, "binh-thuong") == [] and logs(ioc) == []  # not played without the village head

    app.house.broadcasts.approve("binh-thuong", "web:truong-thon")  # what the phone page's approve button calls
    [record] = wait_logs(ioc, 1)
    assert (record["id"], record["outcome"], record["priority"]) == ("binh-thuong", "played", "normal")
    states = [json.loads(p) for p in ioc.on(f"{SITE}/broadcast/state")]
    assert any((s["playing"] or {}).get("id") == "binh-thuong" for s in states)


def test_emergency_preempts_what_plays(site, http_server, tmp_path):
    app, ioc = site
    http_server.routes["/long.mp3"] = (200, "audio/mpeg", make_audio(tmp_path / "l.mp3", "mp3", 8.0).read_bytes())
    ioc.publish(f"{SITE}/broadcast/set", {"id": "dai", "audio_url": f"{http_server.url}/long.mp3", "priority": "priority"})
    ioc.wait(f"{SITE}/broadcast/state", lambda p: (json.loads(p)["playing"] or {}).get("id") == "dai")
    ioc.publish(f"{SITE}/broadcast/set", {"cmd_id": "c-1", "id": "lu-ve", "text": "Khẩn cấp: lũ về.",
                                         "priority": "emergency"})
    reply = ioc.reply("c-1")  # answered by cmd_id; the item keeps its own id
    assert reply["ok"] is True and reply["result"]["id"] == "lu-ve"
    records = wait_logs(ioc, 3)
    assert [(r["id"], r["outcome"]) for r in records] == [("dai", "preempted"), ("lu-ve", "played"), ("dai", "played")]
    assert "lu-ve" in records[0]["reason"] and records[0]["ended"] <= records[1]["started"]
    assert records[1]["priority"] == "emergency"


def test_group_broadcast_reaches_every_site_of_the_group(broker, ioc, start_app, tmp_path):
    district = ioc()
    apps = {}
    for site, user, groups in (("test-site", "test-site", ["yen-dinh"]), ("other-site", "other-site", ["khac", "yen-dinh"])):
        data = house_data(tmp_path / f"data-{site}", site={"id": site, "groups": groups}, mqtt=broker.mqtt_config(user=user))
        apps[site] = start_app(parse_config(data, "test"))  # two houses, each with its own data dir
    for site in apps:
        district.wait(f"langso/{site}/status", lambda p: p == b"online")
    district.publish("langso/group/yen-dinh/broadcast/set",
                     {"id": "bao-so-3", "text": "Bão số 3 sắp vào, bà con chằng chống nhà cửa.", "priority": "emergency"})
    district.publish("langso/group/khac/broadcast/set", {"id": "chi-khac", "text": "Chỉ thôn khác.", "priority": "emergency"})
    for site, app in apps.items():
        records = wait_logs(district, 1, site)
        assert records[0]["id"] == "bao-so-3" and records[0]["outcome"] == "played"
        assert records[0]["who"] == "mqtt:group:yen-dinh"
        assert len(played(app, "bao-so-3")) == 1
    other = wait_logs(district, 2, "other-site")
    assert [r["id"] for r in other] == ["bao-so-3", "chi-khac"]
    assert [r["cmd_id"] for r in district.replies("test-site")] == ["bao-so-3"]
    assert played(apps["test-site"], "chi-khac") == []


def test_the_queue_is_retained_from_the_first_connect(broker, ioc, make_config, start_app, tmp_path):
    config = make_config(mqtt=broker.mqtt_config(), audio={"output": f"wav:{tmp_path / 'out'}", "tts": ["espeak"],
                                                          "quiet_hours": "00:00-23:59"})
    first = start_app(config)  # quiet hours all day: a priority item waits in the queue
    district = ioc()
    district.publish(f"{SITE}/broadcast/set", {"id": "sang-mai", "text": "Sáng mai họp thôn.", "priority": "priority"})
    assert district.reply("sang-mai")["ok"] is True
    first.stop()
    broker.stop()
    broker.wipe()  # a replaced broker: nothing retained
    broker.start(first=False)
    start_app(config)  # the restarted house publishes its queue on connect, before anything changes
    late = ioc([f"{SITE}/broadcast/state"])
    state = json.loads(late.wait(f"{SITE}/broadcast/state"))
    assert state["playing"] is None and [i["id"] for i in state["queue"]] == ["sang-mai"]
    assert late.seen[0][2] is True  # retained


def test_an_announcement_cut_by_a_stop_is_logged_to_the_ioc(site):
    """The audio part stops before the uplink, so the proof of broadcast of the item the
    stop cut short still reaches the IOC (it plays again after the restart)."""
    app, ioc = site
    text = "Thông báo của ban quản lý thôn về lịch tiêm phòng cho đàn gia súc, gia cầm. " * 12
    ioc.publish(f"{SITE}/broadcast/set", {"id": "tiem-phong", "text": text, "priority": "priority"})
    wait_until(lambda: any((json.loads(p)["playing"] or {}).get("id") == "tiem-phong"
                           for p in ioc.on(f"{SITE}/broadcast/state")), 60, "the announcement playing")
    app.stop()
    [record] = wait_logs(ioc, 1, timeout=20)
    assert (record["id"], record["outcome"]) == ("tiem-phong", "preempted") and "stopping" in record["reason"]
    assert record["reason_kind"] == "daemon_stopping"  # beside the English, for the page's words
