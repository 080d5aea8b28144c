"""Commands from the IOC: relay set, broadcast set, group broadcasts, replies, bad input
and duplicate cmd_ids, against a real mosquitto."""
from __future__ import annotations

import json
import time
from typing import Any

from tests.conftest import wait_until

SITE = "langso/test-site"
LATER = time.time() + 30 * 86400  # queued to play in a month: it waits


def relay_on(app: Any, name: str) -> bool:
    return next(r["on"] for r in app.house.relays() if r["name"] == name)


def test_relay_command_runs_through_the_house_and_is_answered(site):
    app, ioc = site
    ioc.publish(f"{SITE}/relay/tv/set", "ON")
    reply = ioc.reply()
    assert reply["ok"] is True and reply["error"] is None and reply["topic"] == f"{SITE}/relay/tv/set"
    assert relay_on(app, "tv")
    assert ioc.wait(f"{SITE}/relay/tv", lambda p: p == b"ON") == b"ON"
    audit = app.house.store.db.query("SELECT actor FROM relay_state WHERE name='tv'")
    assert audit[0]["actor"] == "mqtt:ioc"

    ioc.publish(f"{SITE}/relay/tv/set", json.dumps({"state": "off", "cmd_id": "c-1"}))
    too_soon = ioc.reply("c-1")  # inside min_interval_s: the house refuses, exactly as for the web
    assert too_soon["ok"] is False and "min_interval_s" in too_soon["error"]
    # ... and says it as data, as the HTTP API does for programs: the IOC acts on the kind
    assert too_soon["kind"] == "relay_too_soon" and too_soon["values"]["name"] == "tv"
    assert 0 < too_soon["values"]["wait_s"] <= 5
    ioc.publish(f"{SITE}/relay/tv/set", json.dumps({"state": "off", "cmd_id": "c-1"}))  # retried too early
    again = ioc.reply("c-1", count=2)  # refused again, not answered as a duplicate: it may run once the time has passed
    assert "duplicate" not in again and (again["kind"], again["values"]["name"]) == ("relay_too_soon", "tv")
    assert relay_on(app, "tv")
    ioc.publish(f"{SITE}/relay/amp/set", json.dumps({"state": "TOGGLE", "cmd_id": "c-2"}))
    assert ioc.reply("c-2")["result"] == {"name": "amp", "on": True, "changed": True}


def test_unknown_relay_and_malformed_payloads_get_an_error_reply_and_change_nothing(site):
    app, ioc = site
    before = [r["on"] for r in app.house.relays()]
    ioc.publish(f"{SITE}/relay/fan/set", "ON")
    assert "fan" in ioc.reply(count=1)["error"]
    ioc.publish(f"{SITE}/relay/tv/set", "MAYBE")
    assert "state" in ioc.reply(count=2)["error"]
    ioc.publish(f"{SITE}/broadcast/set", b"{not json")
    assert "JSON" in ioc.reply(count=3)["error"]
    ioc.publish(f"{SITE}/broadcast/set", {"cmd_id": "b-1", "text": "x", "stream_url": "http://radio/x"})
    bad = ioc.reply("b-1")
    assert bad["ok"] is False and "exactly one of text" in bad["error"]
    ioc.publish(f"{SITE}/broadcast/set", {"cmd_id": "b-2", "text": "x", "priority": "urgent"})
    bad = ioc.reply("b-2")  # the field first, then the values it takes
    assert bad["ok"] is False and bad["error"].startswith("priority:") and "emergency" in bad["error"]
    ioc.publish(f"{SITE}/broadcast/set", {"cmd_id": "b-3", "text": "x" * 20_000})
    too_large = ioc.reply("b-3")["error"]
    assert "too large" in too_large and "several announcements" in too_large  # a text that long: split it
    assert [r["on"] for r in app.house.relays()] == before
    listing = app.house.broadcasts.listing()
    assert listing["queue"] == [] and listing["inbox"] == [] and listing["playing"] is None
    assert app.house.status()["uplink"]["commands"]["invalid"] == 5


def test_a_retained_command_is_not_run_on_connect(broker, ioc, make_config, start_app):
    district = ioc()
    district.client.publish(f"{SITE}/relay/tv/set", "ON", qos=1, retain=True).wait_for_publish(10)  # an IOC mistake
    app = start_app(make_config(mqtt=broker.mqtt_config()))
    reply = district.reply()
    assert reply["ok"] is False and "retain" in reply["error"]
    assert not relay_on(app, "tv")


def test_clearing_a_retained_command_gets_no_error_reply(site):
    app, ioc = site
    ioc.client.publish(f"{SITE}/relay/tv/set", b"", qos=1, retain=True).wait_for_publish(10)  # as the refusal advises
    ioc.publish(f"{SITE}/relay/radio/set", "ON")  # a command after it: its reply is the first one
    assert ioc.reply()["topic"] == f"{SITE}/relay/radio/set"
    commands = app.house.status()["uplink"]["commands"]
    assert commands["cleared"] == 1 and commands["invalid"] == 0


def test_mqtt5_refuses_a_command_published_retained_while_connected(broker, ioc, make_config, start_app):
    app = start_app(make_config(mqtt=broker.mqtt_config(protocol="5")))
    wait_until(lambda: app.house.status()["uplink"]["state"] == "connected", 20, "uplink connected")
    district = ioc()
    district.client.publish(f"{SITE}/relay/tv/set", "ON", qos=1, retain=True).wait_for_publish(10)
    reply = district.reply()
    assert reply["ok"] is False and reply["error"].startswith("retain:")
    assert not relay_on(app, "tv")  # with 3.1.1 the broker clears the flag for a live subscriber: it would run once


def test_duplicate_cmd_id_runs_once(site):
    app, ioc = site
    for _ in range(2):
        ioc.publish(f"{SITE}/relay/radio/set", json.dumps({"state": "TOGGLE", "cmd_id": "dup-1"}))
    second = ioc.reply("dup-1", count=2)
    first = ioc.replies()[0]
    assert first["ok"] is True and "duplicate" not in first
    assert second["duplicate"] is True and second["ok"] is True
    assert relay_on(app, "radio")  # toggled once, not twice
    rows = app.house.store.db.query("SELECT COUNT(*) AS n FROM audit WHERE target='radio' AND actor='mqtt:ioc'")
    assert rows[0]["n"] == 1
    assert second["result"] == first["result"] and first["result"]   # the first answer whole


def test_a_repeated_broadcast_command_is_answered_with_the_broadcasts_id(site):
    """The IOC's first reply was lost (its link dropped): the repeat, a duplicate, still says
    which broadcast the house queued (until 2026-12-06 it said only ok)."""
    app, ioc = site
    for _ in range(2):
        ioc.publish(f"{SITE}/broadcast/set", {"cmd_id": "b-1", "text": "Mời bà con họp thôn lúc 19 giờ 30."})
    second = ioc.reply("b-1", count=2)
    first = ioc.replies()[0]
    assert second["duplicate"] is True and second["result"]["id"] == first["result"]["id"]
    assert [r["id"] for r in app.house.store.db.query("SELECT id FROM broadcast_items")] == [first["result"]["id"]]  # queued once


def test_broadcast_fields_reach_the_audio_queue_and_other_topics_are_ignored(site):
    app, ioc = site
    ioc.publish("langso/group/khac/broadcast/set", {"id": "g-other", "text": "không phải thôn này", "priority": "emergency"})
    ioc.publish("langso/other-site/relay/tv/set", "ON")
    ioc.publish(f"{SITE}/broadcast/set", {"id": "s-1", "stream_url": "http://radio.example.vn/vov1", "duration_s": 600,
                                         "at": LATER, "priority": "priority"})
    result = ioc.reply("s-1")["result"]
    assert result["kind"] == "stream" and result["url"] == "http://radio.example.vn/vov1" and result["state"] == "queued"
    assert result["at"] == LATER and result["duration_s"] == 600
    assert result["priority"] == "priority" and result["who"] == "mqtt:ioc"
    assert [i["id"] for i in app.house.broadcasts.listing()["queue"]] == ["s-1"]
    ioc.publish(f"{SITE}/broadcast/set", {"id": "s-2", "text": "x", "repeat": 11})
    assert "repeat" in ioc.reply("s-2")["error"]
    assert {r["cmd_id"] for r in ioc.replies()} == {"s-1", "s-2"}
    assert not relay_on(app, "tv")


def test_a_text_is_held_to_audio_max_text_chars_not_to_a_limit_of_its_own(site):
    app, ioc = site
    sentence = "Mời bà con họp thôn lúc 19 giờ 30 tại nhà văn hóa. "
    ioc.publish(f"{SITE}/broadcast/set", {"id": "dai-3000", "text": (sentence * 60)[:3000], "at": LATER})
    queued = ioc.reply("dai-3000")
    assert queued["ok"] is True and queued["result"]["state"] == "inbox", queued  # the default limit is 5000
    ioc.publish(f"{SITE}/broadcast/set", {"id": "dai-6000", "text": (sentence * 120)[:6000], "at": LATER})
    refused = ioc.reply("dai-6000")
    assert refused["ok"] is False and refused["error"].startswith("text: 6000 characters") \
        and "audio.max_text_chars" in refused["error"], refused
    assert [i["id"] for i in app.house.broadcasts.listing()["inbox"]] == ["dai-3000"]  # a normal bulletin: the head approves it


def test_a_command_that_failed_inside_the_house_may_be_retried_with_the_same_cmd_id(site):
    app, ioc = site
    app.house.board.get("tv")._device.close()  # the relay's GPIO is gone (a real gpiozero failure)
    for _ in range(2):
        ioc.publish(f"{SITE}/relay/tv/set", json.dumps({"state": "ON", "cmd_id": "hw-1"}))
    first, second = ioc.reply("hw-1"), ioc.reply("hw-1", count=2)
    assert first["ok"] is False and "internal error" in first["error"] and "duplicate" not in first
    assert second["ok"] is False and "duplicate" not in second  # ran again: the failure was not the command's fault
    ioc.publish(f"{SITE}/relay/amp/set", json.dumps({"state": "ON", "cmd_id": "hw-2"}))
    assert ioc.reply("hw-2")["ok"] is True  # the uplink runs on


def test_a_broadcast_queued_while_the_output_does_not_work_is_answered_with_a_warning(broker, ioc, make_config, start_app,
                                                                                       tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")  # the WAV output's folder cannot be made: the output is unusable, as without a sound card
    app = start_app(make_config(mqtt=broker.mqtt_config(), audio={"output": f"wav:{blocked / 'out'}", "tts": ["espeak"]}))
    wait_until(lambda: app.house.status()["uplink"]["state"] == "connected", 20, "uplink connected")
    district = ioc()
    district.wait(f"{SITE}/status", lambda p: p == b"online")  # sent after the house subscribed: commands reach it
    district.publish(f"{SITE}/broadcast/set", {"id": "thu-loa", "text": "Thử loa.", "priority": "priority"})
    reply = district.reply("thu-loa")
    assert reply["ok"] is True and reply["result"]["state"] == "queued"
    assert reply["result"]["warning"].startswith("the sound output does not work")


def test_a_broadcast_on_a_full_disk_is_refused_with_the_fix_and_a_relay_still_switches(small_disk, broker, ioc, make_config,
                                                                                        start_app):
    """storage.dir on a small tmpfs the test fills: the cmd_id cannot be recorded nor the
    announcement stored; the IOC is told so (ok false, the fix), and a relay command runs."""
    app = start_app(make_config(mqtt=broker.mqtt_config(), storage={"dir": str(small_disk.path), "min_free_mb": 0}))
    wait_until(lambda: app.house.status()["uplink"]["state"] == "connected", 20, "uplink connected")
    district = ioc()
    district.wait(f"{SITE}/status", lambda p: p == b"online")  # sent after the house subscribed: commands reach it
    small_disk.fill()
    district.publish(f"{SITE}/broadcast/set", {"id": "hop-thon", "text": "Mời bà con họp thôn.", "priority": "priority"})
    reply = district.reply("hop-thon")
    assert reply["ok"] is False and reply["error"] == (
        f"storage: cannot save this: writing to {small_disk.path} (storage.dir) failed (database or disk is full); "
        "the disk is full: free space there (e.g. old camera clips), then send it again")
    assert app.house.broadcasts.listing()["queue"] == []
    district.publish(f"{SITE}/relay/tv/set", json.dumps({"state": "ON", "cmd_id": "tv-1"}))
    assert district.reply("tv-1")["ok"] is True and relay_on(app, "tv")


def test_a_command_that_arrives_while_the_house_stops_is_answered_not_run(site):
    """The uplink stops after the relays (to retain their OFF): a command that comes after
    they closed is answered `stopping`, not run on a closed relay (an internal error)."""
    app, ioc = site
    close_relays = app._close_relays

    def close_then_command(board):
        close_relays(board)
        ioc.publish(f"{SITE}/relay/tv/set", json.dumps({"state": "TOGGLE", "cmd_id": "late-1"}))
        ioc.reply("late-1")

    app._close_relays = close_then_command
    app.stop()
    late = ioc.reply("late-1")
    assert late["ok"] is False and late["kind"] == "stopping" and "send it again" in late["error"]
    assert not app.house.board.get("tv").is_on  # not toggled on (the database is closed now)


def test_a_relay_refused_as_too_soon_may_be_retried_with_the_same_cmd_id(site):
    """The refusal says "try again in N s"; the IOC's retry with the same cmd_id used to get
    that refusal back as a duplicate for ever."""
    app, ioc = site
    ioc.publish(f"{SITE}/relay/tv/set", "ON")
    ioc.reply()
    ioc.publish(f"{SITE}/relay/tv/set", json.dumps({"state": "OFF", "cmd_id": "soon-1"}))
    first = ioc.reply("soon-1")
    assert first["ok"] is False and first["kind"] == "relay_too_soon"
    app.house.board.get("tv")._last_switch -= first["values"]["wait_s"] + 1  # the interval has passed
    ioc.publish(f"{SITE}/relay/tv/set", json.dumps({"state": "OFF", "cmd_id": "soon-1"}))
    second = ioc.reply("soon-1", count=2)
    assert second["ok"] is True and "duplicate" not in second and not relay_on(app, "tv")
