"""Fleet bench: N simulated sites against a local mosquitto, as a district IOC sees them.

    .venv/bin/python bench/fleet.py --sites 1000 [--procs 2] [--rounds 5] [--events 20] [--tls]

Each site is a paho-mqtt 2.x client logged in with its own user (password file + the
ACL rules of systemd/mosquitto-acl.example), subscribed like the real uplink to its relay
and broadcast topics and to the group `district`, answering every command on its
`…/reply`. The sites are driven by an epoll loop per worker process (paho's external
loop API: on_socket_open/close/register_write), not loop_start(): that uses select()
and here stopped connecting at about 339 clients in one process.

Measured, printed next to the goal (issue 6: 1,000 sites, group broadcast p99 < 1 s):
  - group broadcast: time from the IOC's publish to each site receiving it (p50/p99/max
    over all sites and rounds) and until every reply is back at the IOC;
  - event throughput: every site publishes --events camera events at QoS 1, the IOC
    subscribes to langso/+/camera/+/event; events/s until the last one arrived;
  - broker memory (VmRSS of mosquitto) idle, with N sites connected, and at the end.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import selectors
import shutil
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localbroker import IOC_PASS, mosquitto_version, raise_nofile, rss_mb, site_pass, start_broker  # noqa: E402

GOAL_SITES, GOAL_P99_S = 1000, 1.0


# the sites: one epoll loop per worker process ---------------------------------
class Fleet:
    def __init__(self, ids: range, port: int, ca: str | None, conn: Any):
        self.sel = selectors.DefaultSelector()  # epoll on Linux
        self.conn, self.port, self.ca = conn, port, ca
        self.clients: dict[int, mqtt.Client] = {}
        self.connected = 0
        self.latency: list[float] = []
        for i in ids:
            self.clients[i] = self._client(i)

    def _client(self, i: int) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"langso-site-{i}", userdata=i)
        c.username_pw_set(f"site-{i}", site_pass(i))
        c.will_set(f"langso/site-{i}/status", "offline", qos=1, retain=True)
        if self.ca:
            c.tls_set(ca_certs=self.ca)
        c.on_socket_open = self._opened
        c.on_socket_close = lambda _c, _u, sock: self.sel.unregister(sock)
        c.on_socket_register_write = lambda cl, _u, sock: self.sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, cl)
        c.on_socket_unregister_write = lambda cl, _u, sock: self.sel.modify(sock, selectors.EVENT_READ, cl)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        return c

    def _opened(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the real uplink does
        self.sel.register(sock, selectors.EVENT_READ, client)

    def _on_connect(self, c: mqtt.Client, i: int, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            print(f"site-{i} refused: {reason}", file=sys.stderr)
            return
        root = f"langso/site-{i}"
        c.subscribe([(f"{root}/relay/+/set", 1), (f"{root}/broadcast/set", 1), ("langso/group/district/broadcast/set", 1)])
        c.publish(f"{root}/status", "online", qos=1, retain=True)
        self.connected += 1

    def _on_message(self, c: mqtt.Client, i: int, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        self.latency.append(time.time() - body["sent"])
        c.publish(f"langso/site-{i}/reply", json.dumps({"cmd_id": body["cmd_id"], "ok": True, "error": None}), qos=1)

    def pump(self, timeout: float) -> None:
        for key, events in self.sel.select(timeout):
            if key.data is None:
                continue
            client: mqtt.Client = key.data
            if events & selectors.EVENT_READ:
                client.loop_read()
                sock = client.socket()
                while isinstance(sock, ssl.SSLSocket) and sock.pending():  # TLS bytes epoll cannot see
                    client.loop_read()
            if events & selectors.EVENT_WRITE:
                client.loop_write()

    def run(self) -> None:
        self.sel.register(self.conn.fileno(), selectors.EVENT_READ, None)
        pending = list(self.clients.values())
        last_misc = 0.0
        while True:
            while pending and len(self.clients) - len(pending) - self.connected < 50:  # 50 handshakes at a time
                pending.pop().connect("127.0.0.1", self.port, 60)
            self.pump(0.05)
            if time.monotonic() - last_misc > 1:
                for client in self.clients.values():
                    client.loop_misc()
                last_misc = time.monotonic()
            if self.conn.poll():
                cmd = self.conn.recv()
                if cmd == "status":
                    self.conn.send(self.connected)
                elif cmd == "latency":
                    self.conn.send(self.latency)
                    self.latency = []
                elif cmd[0] == "events":
                    self._events(cmd[1])
                elif cmd == "stop":
                    for client in self.clients.values():
                        client.disconnect()
                    self.pump(0.2)
                    return

    def _events(self, count: int) -> None:
        payload = {"camera": "cong-lang", "type": "new", "score": 0.4, "boxes": [[10, 20, 30, 40]], "tags": ["motion"],
                   "snapshot_url": "https://site/api/v1/events/1/snapshot.jpg", "clip_url": None}
        for k in range(count):
            for i, client in self.clients.items():
                client.publish(f"langso/site-{i}/camera/cong-lang/event", json.dumps({**payload, "id": k}), qos=1)
            self.pump(0)


def worker(ids: range, port: int, ca: str | None, conn: Any) -> None:
    raise_nofile()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    Fleet(ids, port, ca, conn).run()


# the IOC ----------------------------------------------------------------------
class Ioc:
    def __init__(self, port: int, ca: str | None):
        self.replies: dict[str, int] = {}
        self.reply_done: dict[str, float] = {}
        self.events = 0
        self.last_event = 0.0
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ioc-bench")
        self.client.username_pw_set("ioc", IOC_PASS)
        if ca:
            self.client.tls_set(ca_certs=ca)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 60)
        self.client.subscribe([("langso/+/reply", 1), ("langso/+/camera/+/event", 1)])
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            if msg.topic.endswith("/reply"):
                cmd = json.loads(msg.payload)["cmd_id"]
                self.replies[cmd] = self.replies.get(cmd, 0) + 1
                self.reply_done[cmd] = time.time()
            else:
                self.events += 1
                self.last_event = time.time()


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else (values or [float("nan")])[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=min(4, os.cpu_count() or 1), help="worker processes driving the sites")
    ap.add_argument("--rounds", type=int, default=5, help="group broadcasts sent")
    ap.add_argument("--events", type=int, default=20, help="camera events per site")
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args()
    raise_nofile()
    d = Path(tempfile.mkdtemp(prefix="langso-fleet-"))
    broker, port = start_broker(d, args.sites, args.tls)
    ca = str(d / "ca.crt") if args.tls else None
    procs, conns = [], []
    try:
        idle = rss_mb(broker.pid)
        ioc = Ioc(port, ca)
        started = time.monotonic()
        for k in range(args.procs):
            parent, child = mp.Pipe()
            p = mp.get_context("fork").Process(target=worker, args=(range(k, args.sites, args.procs), port, ca, child), daemon=True)
            p.start()
            procs.append(p)
            conns.append(parent)
        while True:
            for c in conns:
                c.send("status")
            up = sum(c.recv() for c in conns)
            if up >= args.sites:
                break
            if time.monotonic() - started > 300:
                raise SystemExit(f"only {up} of {args.sites} sites connected in 300 s")
            time.sleep(0.2)
        connect_s = time.monotonic() - started
        time.sleep(1)
        connected_rss = rss_mb(broker.pid)

        latencies: list[float] = []
        all_replies: list[float] = []
        for r in range(args.rounds):
            cmd, sent = f"round-{r}", time.time()
            body = {"id": cmd, "cmd_id": cmd, "text": "Thông báo khẩn: bão số 3", "priority": "emergency", "sent": sent}
            ioc.client.publish("langso/group/district/broadcast/set", json.dumps(body), qos=1)
            deadline = time.monotonic() + 30
            while ioc.replies.get(cmd, 0) < args.sites and time.monotonic() < deadline:
                time.sleep(0.01)
            all_replies.append(ioc.reply_done.get(cmd, float("nan")) - sent)
            time.sleep(0.5)
        for c in conns:
            c.send("latency")
            latencies += c.recv()

        ev_start = time.time()
        for c in conns:
            c.send(("events", args.events))
        total = args.sites * args.events
        deadline = time.monotonic() + 300
        while ioc.events < total and time.monotonic() < deadline:
            time.sleep(0.05)
        ev_s = ioc.last_event - ev_start
        end_rss = rss_mb(broker.pid)
        for c in conns:
            c.send("stop")

        p50, p99 = pct(latencies, 50), pct(latencies, 99)
        rows = [
            ("sites connected", f"{args.sites} in {connect_s:.1f} s", f"{GOAL_SITES}"),
            ("group broadcast deliveries", f"{len(latencies)} of {args.sites * args.rounds}", "all"),
            ("group broadcast p50", f"{p50 * 1000:.0f} ms", ""),
            ("group broadcast p99", f"{p99 * 1000:.0f} ms", f"< {GOAL_P99_S * 1000:.0f} ms"),
            ("group broadcast max", f"{max(latencies) * 1000:.0f} ms", ""),
            ("all replies back (median round)", f"{statistics.median(all_replies) * 1000:.0f} ms", ""),
            ("events delivered", f"{ioc.events} of {total}", "all"),
            ("event throughput", f"{ioc.events / ev_s:.0f} events/s" if ev_s > 0 else "-", ""),
            ("broker RSS idle / N connected / end", f"{idle:.1f} / {connected_rss:.1f} / {end_rss:.1f} MB", ""),
            ("broker RSS per site", f"{(connected_rss - idle) * 1024 / args.sites:.1f} kB", ""),
        ]
        print(f"\nlangso fleet bench: {args.sites} sites, {args.procs} epoll worker processes, "
              f"{'TLS' if args.tls else 'plain TCP'}, mosquitto {mosquitto_version()}, {os.cpu_count()} CPUs")
        print(f"{'measure':<38}{'measured':<28}goal (issue 6)")
        for name, value, goal in rows:
            print(f"{name:<38}{value:<28}{goal}")
        ok = len(latencies) == args.sites * args.rounds and p99 < GOAL_P99_S and ioc.events == total
        print("goal met" if ok and args.sites >= GOAL_SITES else ("ok" if ok else "GOAL NOT MET"))
        return 0 if ok else 1
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
