"""The example ACL (systemd/mosquitto-acl.example) on the real broker, and Home Assistant
discovery published by a running house."""
from __future__ import annotations

import json

from controller.ha_discovery import discovery_messages
from tests.mqtt.conftest import wait_until


def test_a_site_reads_only_its_own_and_its_groups_commands_and_writes_only_its_root(broker, ioc):
    site = ioc(["langso/#", "homeassistant/#"], user="test-site")
    district = ioc(["langso/#"])
    district.publish("langso/test-site/relay/tv/set", "ON")
    district.publish("langso/other-site/relay/tv/set", "ON")
    district.publish("langso/other-site/broadcast/set", "{}")
    district.publish("langso/group/khac/broadcast/set", "{}")
    district.publish("langso/group/yen-dinh/broadcast/set", "{}")
    district.publish("langso/test-site/status", "online")  # state topics: for the IOC, not the site
    site.publish("langso/other-site/relay/tv", "ON")      # denied: not its root
    site.publish("langso/test-site/relay/tv", "ON")       # allowed
    site.publish("langso/test-site/reply", "{}")
    district.wait("langso/test-site/reply")
    district.publish("langso/test-site/broadcast/set", "marker")
    site.wait("langso/test-site/broadcast/set")
    assert sorted({t for t, _, _ in site.seen}) == [
        "langso/group/yen-dinh/broadcast/set", "langso/test-site/broadcast/set", "langso/test-site/relay/tv/set"]
    assert "langso/other-site/relay/tv" not in {t for t, _, _ in district.seen}
    assert district.on("langso/test-site/relay/tv") == [b"ON"]


def test_home_assistant_discovery_on_connect(broker, ioc, make_config, start_app):
    district = ioc(["homeassistant/#"])
    cfg = make_config(mqtt=broker.mqtt_config(ha_discovery=True), cameras=[{"name": "cong-lang", "source": "/dev/null"}])
    app = start_app(cfg)
    switch = json.loads(district.wait("homeassistant/switch/test-site/tv/config"))
    assert switch["command_topic"] == "langso/test-site/relay/tv/set" and switch["state_topic"] == "langso/test-site/relay/tv"
    assert switch["availability_topic"] == "langso/test-site/status" and switch["payload_available"] == "online"
    motion = json.loads(district.wait("homeassistant/binary_sensor/test-site/cong-lang_motion/config"))
    assert motion["device_class"] == "motion" and motion["state_topic"] == "langso/test-site/camera/cong-lang/motion"
    temp = json.loads(district.wait("homeassistant/sensor/test-site/cpu_temp_c/config"))
    assert temp["value_template"] == "{{ value_json.cpu_temp_c }}" and temp["state_topic"] == "langso/test-site/telemetry"
    expected = {t for t, _ in discovery_messages("test-site", cfg.site.name, [("tv", ""), ("radio", ""), ("amp", "")], ["cong-lang"])}
    wait_until(lambda: expected <= {t for t, _, _ in district.seen}, 10, "every discovery message")
    late = ioc(["homeassistant/#"])  # retained: Home Assistant started later still finds the devices
    wait_until(lambda: expected <= {t for t, _, r in late.seen if r}, 10, "retained discovery messages")
    assert app.house.status()["uplink"]["state"] == "connected"


def test_discovery_off_by_default(broker, ioc, make_config, start_app):
    district = ioc(["homeassistant/#", "langso/test-site/status", "langso/test-site/reply"])
    start_app(make_config(mqtt=broker.mqtt_config()))
    district.wait("langso/test-site/status", lambda p: p == b"online")
    district.publish("langso/test-site/relay/amp/set", "ON")  # answered after anything sent on connect
    district.wait("langso/test-site/reply")
    assert not [t for t, _, _ in district.seen if t.startswith("homeassistant/")]


def test_a_relay_or_camera_taken_out_of_the_config_leaves_no_retained_topic(broker, ioc, make_config, start_app):
    """The technician renames the radio relay and removes a camera: their retained state
    and Home Assistant discovery topics are cleared on the broker at the next connect (the
    IOC's dashboards showed them for ever, until 2026-12-06)."""
    from controller.commands import Actor, SetRelay

    relays = [{"name": "tv", "pin": 17}, {"name": "radio", "pin": 27}, {"name": "amp", "pin": 22}]
    gone = ["langso/test-site/relay/radio", "homeassistant/switch/test-site/radio/config",
            "langso/test-site/camera/cong/motion", "homeassistant/binary_sensor/test-site/cong_motion/config"]
    district = ioc(gone)
    first = start_app(make_config(relays=relays, mqtt=broker.mqtt_config(ha_discovery=True),
                                  cameras=[{"name": "cong", "source": "/dev/null"}]))
    wait_until(lambda: first.house.status()["uplink"]["state"] == "connected", 20, "uplink connected")
    first.house.handle(SetRelay("radio", "on", Actor("cli", "kt")))
    first.house.bus.publish("camera.motion", {"camera": "cong", "on": False})
    wait_until(lambda: all(district.on(t) for t in gone), 20, "the retained topics of radio and cong")
    first.stop()
    renamed = [{"name": "tv", "pin": 17}, {"name": "dai", "pin": 27}, {"name": "amp", "pin": 22}]
    second = start_app(make_config(relays=renamed, mqtt=broker.mqtt_config(ha_discovery=True)))
    wait_until(lambda: second.house.status()["uplink"]["state"] == "connected", 20, "uplink connected again")
    wait_until(lambda: all(b"" in district.on(t) for t in gone), 20, "radio's and cong's topics cleared")
    late = ioc(["langso/test-site/#", "homeassistant/#"])   # a dashboard started afterwards finds what is there
    late.wait("homeassistant/switch/test-site/dai/config")
    assert not [t for t, p, retained in late.seen if t in gone and p]
