"""The uplink on a full disk (storage.dir on a small tmpfs the test fills) against a real
mosquitto: what the outbox holds still goes out, what it cannot store goes out from memory
in order, nothing twice; one log line when writing fails and one when it works again."""
from __future__ import annotations

import json
import logging

from tests.mqtt.conftest import wait_until
from tests.mqtt.test_camera_e2e import clip, events_of  # noqa: F401  (clip: the looped camera scene, a fixture)
from tests.mqtt.test_link import SITE, connected, event, uplink

EVENTS = f"{SITE}/camera/cong-lang/event"


def sent_ids(district) -> list[int]:
    return [json.loads(p)["id"] for p in district.on(EVENTS)]


def test_on_a_full_disk_stored_and_new_messages_go_out_in_order_once(small_disk, broker, ioc, make_config, start_app, caplog):
    caplog.set_level(logging.INFO, logger="controller.uplink_held")
    district = ioc([EVENTS], client_id="ioc-events", persistent=True)
    app = start_app(make_config(mqtt=broker.mqtt_config(), storage={"dir": str(small_disk.path), "min_free_mb": 0}))
    connected(app)
    broker.stop()
    wait_until(lambda: uplink(app)["state"] == "disconnected", 30, "uplink to notice the outage")
    for i in range(5):  # stored in the outbox while the broker is away
        app.house.bus.publish("camera.event", event(i))
    wait_until(lambda: uplink(app)["outbox_depth"] == 5, 10, "events stored")

    small_disk.fill()
    for i in range(5, 10):  # no room for them: held in memory
        app.house.bus.publish("camera.event", event(i))
    said = "cannot write the MQTT outbox (database or disk is full): 5 message(s) held in memory"
    problem = wait_until(lambda: app.house.status()["problems"].get("outbox", "").startswith(said)
                         and app.house.status()["problems"]["outbox"], 10, "the outbox problem")
    assert uplink(app)["outbox_held"] == 5
    assert f"free space on {small_disk.path} (storage.dir)" in problem

    broker.start(first=False)  # the disk still full: the stored ones go out, then the held ones
    wait_until(lambda: len(sent_ids(district)) >= 10, 30, "every event delivered")
    wait_until(lambda: uplink(app)["outbox_held"] == 0 and uplink(app)["outbox_depth"] == 0, 20, "all acknowledged")
    app.house.bus.publish("camera.event", event(10))  # goes after anything that would be sent again
    wait_until(lambda: 10 in sent_ids(district), 20, "the last event")
    assert sent_ids(district) == list(range(11))
    assert app.house.store.db.one("SELECT COUNT(*) AS n FROM outbox")["n"] == 5  # delivered, not yet deleted

    small_disk.free()
    wait_until(lambda: "outbox" not in app.house.status()["problems"], 20, "the outbox problem cleared")
    wait_until(lambda: app.house.store.db.one("SELECT COUNT(*) AS n FROM outbox")["n"] == 0, 20, "delivered rows deleted")
    said = [r.getMessage() for r in caplog.records if r.name == "controller.uplink_held"]
    assert len([m for m in said if m.startswith("uplink outbox not written")]) == 1
    assert len([m for m in said if m.startswith("uplink outbox written again")]) == 1
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert sent_ids(district) == list(range(11))


def test_held_messages_are_bounded_the_oldest_kept_and_stored_once_space_returns(small_disk, broker, ioc, make_config,
                                                                                   start_app, caplog, monkeypatch):
    import controller.uplink_held

    monkeypatch.setattr(controller.uplink_held, "HELD_MAX", 3)
    district = ioc([EVENTS], client_id="ioc-events", persistent=True)
    app = start_app(make_config(mqtt=broker.mqtt_config(), storage={"dir": str(small_disk.path), "min_free_mb": 0}))
    connected(app)
    broker.stop()
    wait_until(lambda: uplink(app)["state"] == "disconnected", 30, "uplink to notice the outage")
    small_disk.fill()
    for i in range(6):
        app.house.bus.publish("camera.event", event(i))
    wait_until(lambda: uplink(app)["outbox_dropped"].get("event") == 3, 10, "the newest dropped")
    assert uplink(app)["outbox_held"] == 3
    assert len([r for r in caplog.records if r.getMessage().startswith("uplink memory full, dropping new messages")]) == 1

    small_disk.free()  # the held ones are stored (and survive a restart from here on)
    wait_until(lambda: uplink(app)["outbox_held"] == 0 and uplink(app)["outbox_depth"] == 3, 20, "held events stored")
    broker.start(first=False)
    wait_until(lambda: len(sent_ids(district)) >= 3, 30, "the kept events delivered")
    wait_until(lambda: uplink(app)["outbox_depth"] == 0, 20, "all acknowledged")
    assert sent_ids(district) == [0, 1, 2]


def test_a_camera_event_on_a_full_disk_reaches_the_ioc_and_is_stored_once_space_returns(small_disk, broker, ioc, clip,
                                                                                         make_config, start_app):
    """The camera's thread goes on (no reconnect), the event (new ... end) reaches the IOC
    while neither its row nor its clip can be written, status says so, and the row is
    written once space returns."""
    district = ioc([f"{SITE}/camera/#"], client_id="ioc-cameras", persistent=True)
    app = start_app(make_config(cameras=[{"name": "cong-lang", "source": str(clip), "pre_s": 1, "post_s": 1}],
                                mqtt=broker.mqtt_config(), storage={"dir": str(small_disk.path), "min_free_mb": 0}))
    connected(app)
    worker = app.house.cameras.workers["cong-lang"]
    wait_until(lambda: worker.connected, 30, "the camera connected")
    small_disk.fill()
    stored = app.house.events.last_id()  # events after this one begin on the full disk

    end = wait_until(lambda: next((e for e in events_of(district) if e["type"] == "end" and (e["id"] or 0) > stored),
                                  None), 60, "an event begun and ended on the full disk")
    kinds = [e["type"] for e in events_of(district) if e["id"] == end["id"]]
    assert kinds[0] == "new" and kinds[-1] == "end"
    assert end["clip_url"] is None and end["snapshot_url"] is None  # no room for the files either
    db = app.house.store.db
    assert db.one("SELECT id FROM camera_events WHERE id = ?", (end["id"],)) is None  # in memory only, for now
    listed = {e["id"]: e for e in app.house.events.list(since=stored)}
    assert listed[end["id"]]["closed"] and round(listed[end["id"]]["end"], 3) == end["end"]  # MQTT: to the ms
    problem = app.house.status()["problems"]["cameras"]
    assert f"event change(s) could not be written to {small_disk.path} (database or disk is full)" in problem
    assert f"free space on {small_disk.path} (storage.dir)" in problem and "cong-lang: clip" in problem
    assert worker.connected and worker.reconnects == 0 and worker.error == ""

    small_disk.free()
    row = wait_until(lambda: db.one('SELECT "end", closed FROM camera_events WHERE id = ?', (end["id"],)), 30,
                     "the event's row written")
    assert (round(row["end"], 3), row["closed"]) == (end["end"], 1)
    wait_until(lambda: "could not be written" not in app.house.status()["problems"].get("cameras", ""), 30,
               "the events problem cleared")
    assert worker.reconnects == 0
