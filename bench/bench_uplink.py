"""The real uplink against its baseline, a bare paho client, on a local mosquitto.

    .venv/bin/python bench/bench_uplink.py [--commands 200] [--events 500]

What langso adds on top of MQTT, measured on one house (App on MockFactory pins, the
daemon's own code) next to a bare paho client doing the same over the same broker:
  - command round trip: the IOC publishes a relay TOGGLE and waits for the reply on
    `…/reply` (langso: validation, cmd_id claim in SQLite, house.handle, relay switch,
    audit row; baseline: a client that answers at once);
  - event throughput: events published on the house bus until the IOC has all of them
    (langso: SQLite outbox with synchronous=FULL, QoS 1, delete on PUBACK; baseline:
    QoS 1 publishes straight from memory).
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt
from gpiozero.pins.mock import MockFactory
from paho.mqtt.enums import CallbackAPIVersion

from bench_fleet import pct
from controller.app import App
from controller.config import parse_config
from localbroker import IOC_PASS, site_pass, start_broker


def client(user: str, password: str, port: int, on_message: Callable[..., None] | None = None) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{user}")
    c.username_pw_set(user, password)
    if on_message:
        c.on_message = on_message
    c.on_socket_open = lambda _c, _u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.connect("127.0.0.1", port, 60)
    c.loop_start()
    return c


class Ioc:
    def __init__(self, port: int):
        self.replies: dict[str, float] = {}
        self.events = 0
        self.done = threading.Condition()
        self.c = client("ioc", IOC_PASS, port, self._on_message)
        self.c.subscribe([("langso/+/reply", 1), ("langso/+/camera/+/event", 1)])
        time.sleep(0.5)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.done:
            if msg.topic.endswith("/reply"):
                self.replies[json.loads(msg.payload)["cmd_id"]] = time.perf_counter()
            else:
                self.events += 1
            self.done.notify_all()

    def round_trips(self, site: str, n: int) -> list[float]:
        out = []
        for k in range(n):
            cmd = f"{site}-{k}"
            sent = time.perf_counter()
            self.c.publish(f"langso/{site}/relay/amp/set", json.dumps({"state": "TOGGLE", "cmd_id": cmd}), qos=1)
            with self.done:
                self.done.wait_for(lambda: cmd in self.replies, 10)
            out.append(self.replies.get(cmd, float("nan")) - sent)
        return out

    def events_until(self, total: int, start: Callable[[], None]) -> float:
        with self.done:
            self.events = 0
        began = time.perf_counter()
        start()
        with self.done:
            self.done.wait_for(lambda: self.events >= total, 120)
        return total / (time.perf_counter() - began)


def bare_site(port: int, name: str) -> mqtt.Client:
    """The baseline: a site that answers every command at once and publishes from memory."""
    def on_message(c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        c.publish(f"langso/{name}/reply", json.dumps({"cmd_id": body["cmd_id"], "ok": True, "error": None}), qos=1)

    c = client(name, site_pass(1), port, on_message)
    c.subscribe(f"langso/{name}/relay/+/set", 1)
    time.sleep(0.3)
    return c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commands", type=int, default=200)
    ap.add_argument("--events", type=int, default=500)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="langso-uplink-"))
    broker, port = start_broker(d, 2, tls=False)
    try:
        (d / "site-0.pass").write_text(site_pass(0))
        config = parse_config({
            "site": {"id": "site-0", "groups": ["district"]}, "gpio": {"pin_factory": "mock"},
            "storage": {"dir": str(d / "data"), "min_free_mb": 0},
            "relays": [{"name": "amp", "pin": 22, "min_interval_s": 0}],
            "audio": {"amp_relay": "amp"}, "web": {"listen": "127.0.0.1:0"}, "clock": {"require_sync": False},
            "mqtt": {"host": "127.0.0.1", "port": port, "tls": False, "username": "site-0",
                     "password_file": str(d / "site-0.pass"), "telemetry_s": 3600},
        }, "bench")
        app = App(config, pin_factory=MockFactory())
        app.start()
        ioc = Ioc(port)
        while app.house.status()["uplink"]["state"] != "connected":
            time.sleep(0.05)
        bare = bare_site(port, "site-1")

        real_rt, bare_rt = ioc.round_trips("site-0", args.commands), ioc.round_trips("site-1", args.commands)
        ev = {"camera": "cong-lang", "type": "new", "start": 1.0, "end": None, "score": 0.5, "boxes": [], "tags": [],
              "snapshot": "/x.jpg", "clip": None}
        real_ev = ioc.events_until(args.events, lambda: [app.house.bus.publish("camera.event", {**ev, "id": i})
                                                         for i in range(args.events)])
        bare_ev = ioc.events_until(args.events, lambda: [bare.publish("langso/site-1/camera/cong-lang/event",
                                                                      json.dumps({**ev, "id": i}), qos=1)
                                                         for i in range(args.events)])
        app.stop()
        bare.loop_stop()
        print(f"\nlangso uplink bench: {args.commands} commands, {args.events} events, one house vs a bare paho client")
        print(f"{'measure':<34}{'langso uplink':<18}baseline (bare paho)")
        ms = lambda v: f"{v * 1000:.1f} ms"  # noqa: E731
        print(f"{'command round trip p50':<34}{ms(statistics.median(real_rt)):<18}{ms(statistics.median(bare_rt))}")
        print(f"{'command round trip p99':<34}{ms(pct(real_rt, 99)):<18}{ms(pct(bare_rt, 99))}")
        print(f"{'events to the IOC':<34}{f'{real_ev:.0f}/s':<18}{bare_ev:.0f}/s")
        return 0
    finally:
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
