"""Home Assistant MQTT discovery (mqtt.ha_discovery = true, off by default): relays as
switches, camera motion as binary sensors, telemetry readings as sensors, all with
availability from `…/status`. Pure: returns (topic, payload) pairs the uplink publishes
retained on every connect."""
from __future__ import annotations

import json

PREFIX = "homeassistant"

SENSORS = [  # telemetry field, name, unit, device_class
    ("cpu_temp_c", "CPU temperature", "°C", "temperature"),
    ("disk_free_mb", "Disk free", "MB", "data_size"),
    ("mem_used_mb", "Memory used", "MB", "data_size"),
    ("uptime_s", "Uptime", "s", "duration"),
    ("outbox_depth", "Uplink outbox", None, None),
]


def discovery_messages(site_id: str, site_name: str, relays: list[tuple[str, str]],
                       cameras: list[str]) -> list[tuple[str, str]]:
    """`relays` is [(name, label)]; every payload is a JSON string, published retained."""
    root = f"langso/{site_id}"
    uid = site_id  # HA node ids allow [a-zA-Z0-9_-]; the site id lets the ACL pattern homeassistant/+/%u/# match
    device = {"identifiers": [f"langso-{uid}"], "name": site_name, "manufacturer": "langso", "model": "nhà văn hóa thôn"}
    common = {"availability_topic": f"{root}/status", "payload_available": "online",
              "payload_not_available": "offline", "device": device}
    out: list[tuple[str, str]] = []
    for name, label in relays:
        out.append((f"{PREFIX}/switch/{uid}/{name}/config", json.dumps({
            **common, "name": label or name, "unique_id": f"langso-{uid}-relay-{name}",
            "command_topic": f"{root}/relay/{name}/set", "state_topic": f"{root}/relay/{name}",
            "payload_on": "ON", "payload_off": "OFF", "state_on": "ON", "state_off": "OFF",
        }, ensure_ascii=False)))
    for cam in cameras:
        out.append((f"{PREFIX}/binary_sensor/{uid}/{cam}_motion/config", json.dumps({
            **common, "name": f"{cam} motion", "unique_id": f"langso-{uid}-motion-{cam}",
            "state_topic": f"{root}/camera/{cam}/motion", "payload_on": "ON", "payload_off": "OFF",
            "device_class": "motion",
        }, ensure_ascii=False)))
    for field, name, unit, device_class in SENSORS:
        sensor = {**common, "name": name, "unique_id": f"langso-{uid}-{field}",
                  "state_topic": f"{root}/telemetry", "value_template": f"{{{{ value_json.{field} }}}}"}
        if unit:
            sensor["unit_of_measurement"] = unit
        if device_class:
            sensor["device_class"] = device_class
        out.append((f"{PREFIX}/sensor/{uid}/{field}/config", json.dumps(sensor, ensure_ascii=False)))
    return out
