"""Fleet bench: N simulated sites against a local mosquitto, as a district IOC sees them.

    .venv/bin/python bench/bench_fleet.py --sites 1000 [--procs 2] [--rounds 5] [--events 20] [--tls] [--no-baseline]

Each site is a paho-mqtt 2.x client logged in with its own user (password file + the
ACL rules of systemd/mosquitto-acl.example), subscribed like the real uplink to its relay
and broadcast topics and to the group `district`, answering every command on its
`…/reply`. The sites are driven by an epoll loop per worker process (paho's external
loop API: on_socket_open/close/register_write). The same fleet is then run again the
naive way as the baseline, on a fresh broker: paho's loop_start() per client in one
process (a thread around select() each; select() cannot watch a descriptor above
FD_SETSIZE=1024, each client holds three, and paho retries such a client forever without
a word: the fleet stops connecting at about 339).

Measured, printed side by side with the baseline and the goal (issue 6: 1,000 sites,
group broadcast p99 < 1 s):
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

from localbroker import IOC_PASS, mosquitto_version, raise_nofile, rss_mb, site_pass, start_broker

GOAL_SITES, GOAL_P99_S = 1000, 1.0


# the sites -------------------------------------------------------------------
class Sites:
    """N simulated sites in one worker process, answering the bench's commands on `conn`."""

    def __init__(self, ids: range, port: int, ca: str | None, conn: Any):
        self.conn, self.port, self.ca = conn, port, ca
        self.connected = 0
        self.latency: list[float] = []
        self.lock = threading.Lock()
        self.clients: dict[int, mqtt.Client] = {i: self._client(i) for i in ids}

    def _client(self, i: int) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"langso-site-{i}", userdata=i)
        c.username_pw_set(f"site-{i}", site_pass(i))
        c.will_set(f"langso/site-{i}/status", "offline", qos=1, retain=True)
        if self.ca:
            c.tls_set(ca_certs=self.ca)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        return c

    def _on_connect(self, c: mqtt.Client, i: int, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            print(f"site-{i} refused: {reason}", file=sys.stderr)
            return
        root = f"langso/site-{i}"
        c.subscribe([(f"{root}/relay/+/set", 1), (f"{root}/broadcast/set", 1), ("langso/group/district/broadcast/set", 1)])
        c.publish(f"{root}/status", "online", qos=1, retain=True)
        with self.lock:
            self.connected += 1

    def _on_message(self, c: mqtt.Client, i: int, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        self.latency.append(time.time() - body["sent"])
        c.publish(f"langso/site-{i}/reply", json.dumps({"cmd_id": body["cmd_id"], "ok": True, "error": None}), qos=1)

    def answer(self) -> bool:
        """Serve one command of the bench's main process, if any; False on "stop"."""
        if not self.conn.poll():
            return True
        cmd = self.conn.recv()
        if cmd == "status":
            self.conn.send(self.connected)
        elif cmd == "latency":
            self.conn.send(self.latency)
            self.latency = []
        elif cmd[0] == "events":
            self._events(cmd[1])
        elif cmd == "stop":
            return False
        return True

    def _events(self, count: int) -> None:
        payload = {"camera": "cong-lang", "type": "new", "score": 0.4, "boxes": [[10, 20, 30, 40]], "tags": ["motion"],
                   "snapshot_url": "https://site/api/v1/events/1/snapshot.jpg", "clip_url": None}
        for k in range(count):
            for i, client in self.clients.items():
                client.publish(f"langso/site-{i}/camera/cong-lang/event", json.dumps({**payload, "id": k}), qos=1)
            self.pump(0)

    def pump(self, timeout: float) -> None:
        time.sleep(timeout)


class EpollSites(Sites):
    """The sites driven by one epoll loop (paho's external loop API: on_socket_open/close/
    register_write), as a district-side simulator or gateway should."""

    def __init__(self, ids: range, port: int, ca: str | None, conn: Any):
        self.sel = selectors.DefaultSelector()  # epoll on Linux
        super().__init__(ids, port, ca, conn)

    def _client(self, i: int) -> mqtt.Client:
        c = super()._client(i)
        c.on_socket_open = self._opened
        c.on_socket_close = lambda _c, _u, sock: self.sel.unregister(sock)
        c.on_socket_register_write = lambda cl, _u, sock: self.sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, cl)
        c.on_socket_unregister_write = lambda cl, _u, sock: self.sel.modify(sock, selectors.EVENT_READ, cl)
        return c

    def _opened(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the real uplink does
        self.sel.register(sock, selectors.EVENT_READ, client)

    def pump(self, timeout: float) -> None:
        for key, events in self.sel.select(timeout):
            client: mqtt.Client = key.data
            if events & selectors.EVENT_READ:
                client.loop_read()
                sock = client.socket()
                while isinstance(sock, ssl.SSLSocket) and sock.pending():  # TLS bytes epoll cannot see
                    client.loop_read()
            if events & selectors.EVENT_WRITE:
                client.loop_write()

    def run(self) -> None:
        pending = list(self.clients.values())
        last_misc = 0.0
        while self.answer():
            while pending and len(self.clients) - len(pending) - self.connected < 50:  # 50 handshakes at a time
                pending.pop().connect("127.0.0.1", self.port, 60)
            self.pump(0.05)
            if time.monotonic() - last_misc > 1:
                for client in self.clients.values():
                    client.loop_misc()
                last_misc = time.monotonic()
        for client in self.clients.values():
            client.disconnect()
        self.pump(0.2)


class ThreadedSites(Sites):
    """The baseline: paho's own loop_start(), one network thread per client around select().
    Each client holds three descriptors (its socket and a socketpair); select() raises
    ValueError for one above FD_SETSIZE=1024, which paho takes for a lost connection and
    retries forever without a word: the clients past ~339 never connect."""

    def _client(self, i: int) -> mqtt.Client:
        c = super()._client(i)
        c.on_socket_open = lambda _c, _u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return c

    def run(self) -> None:
        for client in self.clients.values():
            client.connect_async("127.0.0.1", self.port, 60)
            client.loop_start()
        while self.answer():
            time.sleep(0.02)
        for client in self.clients.values():
            client.disconnect()
            client.loop_stop()


def worker(kind: str, ids: range, port: int, ca: str | None, conn: Any) -> None:
    raise_nofile()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    (EpollSites if kind == "epoll" else ThreadedSites)(ids, port, ca, conn).run()


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


def measure(kind: str, procs: int, args: argparse.Namespace) -> dict[str, Any]:
    """One fleet of args.sites sites on a fresh broker: connect, group broadcasts, events."""
    d = Path(tempfile.mkdtemp(prefix=f"langso-fleet-{kind}-"))
    broker, port = start_broker(d, args.sites, args.tls)
    ca = str(d / "ca.crt") if args.tls else None
    workers, conns = [], []
    ioc: Ioc | None = None
    try:
        idle = rss_mb(broker.pid)
        ioc = Ioc(port, ca)
        started = time.monotonic()
        for k in range(procs):
            parent, child = mp.Pipe()
            p = mp.get_context("fork").Process(target=worker, args=(kind, range(k, args.sites, procs), port, ca, child),
                                               daemon=True)
            p.start()
            workers.append(p)
            conns.append(parent)
        up, last_up, progress = 0, -1, time.monotonic()
        while up < args.sites and time.monotonic() - progress < 20 and time.monotonic() - started < 300:
            time.sleep(0.2)
            for c in conns:
                c.send("status")
            up = sum(c.recv() for c in conns)
            if up != last_up:
                last_up, progress = up, time.monotonic()
        connect_s = progress - started
        time.sleep(1)
        connected_rss = rss_mb(broker.pid)

        latencies: list[float] = []
        all_replies: list[float] = []
        for r in range(args.rounds):
            cmd, sent = f"round-{r}", time.time()
            body = {"id": cmd, "cmd_id": cmd, "text": "Thông báo khẩn: bão số 3", "priority": "emergency", "sent": sent}
            ioc.client.publish("langso/group/district/broadcast/set", json.dumps(body), qos=1)
            deadline = time.monotonic() + 30
            while ioc.replies.get(cmd, 0) < up and time.monotonic() < deadline:
                time.sleep(0.01)
            all_replies.append(ioc.reply_done.get(cmd, float("nan")) - sent)
            time.sleep(0.5)
        for c in conns:
            c.send("latency")
            latencies += c.recv()

        ev_start = time.time()
        for c in conns:
            c.send(("events", args.events))
        total = up * args.events
        deadline = time.monotonic() + 300
        while ioc.events < total and time.monotonic() < deadline:
            time.sleep(0.05)
        ev_s = ioc.last_event - ev_start
        end_rss = rss_mb(broker.pid)
        for c in conns:
            c.send("stop")
        return {"up": up, "connect_s": connect_s, "latencies": latencies,
                "replies": all_replies, "events": ioc.events, "events_total": total, "ev_s": ev_s,
                "rss": (idle, connected_rss, end_rss)}
    finally:
        if ioc is not None:  # its network thread would keep reconnecting to the stopped broker
            ioc.client.disconnect()
            ioc.client.loop_stop()
        for p in workers:
            p.join(10)
            if p.is_alive():
                p.kill()
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def rows(m: dict[str, Any], sites: int, rounds: int) -> list[str]:
    lat, idle_connected_end = m["latencies"] or [float("nan")], m["rss"]
    return [
        f"{m['up']} of {sites} in {m['connect_s']:.1f} s",
        f"{len(m['latencies'])} of {sites * rounds}",
        f"{pct(lat, 50) * 1000:.0f} ms",
        f"{pct(lat, 99) * 1000:.0f} ms",
        f"{max(lat) * 1000:.0f} ms",
        f"{statistics.median(m['replies']) * 1000:.0f} ms",
        f"{m['events']} of {m['events_total']}",
        f"{m['events'] / m['ev_s']:.0f} events/s" if m["ev_s"] > 0 else "-",
        "{:.1f} / {:.1f} / {:.1f} MB".format(*idle_connected_end),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--procs", type=int, default=min(4, os.cpu_count() or 1), help="worker processes driving the sites")
    ap.add_argument("--rounds", type=int, default=5, help="group broadcasts sent")
    ap.add_argument("--events", type=int, default=20, help="camera events per site")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--no-baseline", action="store_true", help="skip the loop_start() baseline run")
    args = ap.parse_args()
    raise_nofile()
    runs = [measure("epoll", args.procs, args)]
    if not args.no_baseline:
        runs.append(measure("loop_start", 1, args))
    names = ["sites connected", "group broadcast deliveries", "group broadcast p50", "group broadcast p99",
             "group broadcast max", "all replies back (median round)", "events delivered", "event throughput",
             "broker RSS idle / connected / end"]
    goals = [f"{GOAL_SITES}", "all", "", f"< {GOAL_P99_S * 1000:.0f} ms", "", "", "all", "", ""]
    table = [rows(m, args.sites, args.rounds) for m in runs]
    print(f"\nlangso fleet bench: {args.sites} sites, {'TLS' if args.tls else 'plain TCP'}, "
          f"mosquitto {mosquitto_version()}, {os.cpu_count()} CPUs, {args.rounds} rounds, {args.events} events per site")
    heads = [f"epoll, {args.procs} procs"] + (["baseline: loop_start(), 1 proc"] if len(runs) > 1 else [])
    print(f"{'measure':<36}" + "".join(f"{h:<32}" for h in heads) + "goal (issue 6)")
    for k, name in enumerate(names):
        print(f"{name:<36}" + "".join(f"{t[k]:<32}" for t in table) + goals[k])
    m = runs[0]
    ok = (m["up"] == args.sites and len(m["latencies"]) == args.sites * args.rounds
          and pct(m["latencies"], 99) < GOAL_P99_S and m["events"] == m["events_total"])
    print("goal met" if ok and args.sites >= GOAL_SITES else ("ok" if ok else "GOAL NOT MET"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
