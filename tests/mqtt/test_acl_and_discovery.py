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
