"""The uplink on a full disk (storage.dir on a small tmpfs the test fills) against a real
mosquitto: what the outbox holds still goes out, what it cannot store goes out from memory
in order, nothing twice; one log line when writing fails and one when it works again."""
from __future__ import annotations

import json
import logging

from tests.mqtt.conftest import wait_until
from tests.mqtt.test_link import SITE, connected, event, uplink

EVENTS = f"{SITE}/camera/cong-lang/event"


def sent_ids(district) -> list[int]:
    return [json.loads(p)["id"] for p in district.on(EVENTS)]


def test_on_a_full_disk_stored_and_new_messages_go_out_in_order_once(small_disk, broker, ioc, make_config, start_app, caplog):
    caplog.set_level(logging.INFO, logger="controller.uplink")
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
    said = [r.getMessage() for r in caplog.records if r.name == "controller.uplink"]
    assert len([m for m in said if m.startswith("uplink outbox cannot be written")]) == 1
    assert len([m for m in said if m.startswith("uplink outbox writable again")]) == 1
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert sent_ids(district) == list(range(11))


def test_held_messages_are_bounded_the_oldest_kept_and_stored_once_space_returns(small_disk, broker, ioc, make_config,
                                                                                   start_app, caplog, monkeypatch):
    import controller.uplink

    monkeypatch.setattr(controller.uplink, "HELD_MAX", 3)
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
