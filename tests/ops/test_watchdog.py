"""WATCHDOG=1 means "the daemon works": a hung command path or a dead critical thread
stops the pings (so systemd restarts the daemon) and status says which part is stuck."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from controller.commands import Actor, SetRelay
from controller.liveness import Heartbeats
from controller.sdnotify import Notifier
from tests.conftest import wait_until


@dataclass(frozen=True)
class Hang:
    """A command whose handler blocks: stands for a relay driver or handler that hangs."""


def pings_within(sock, seconds: float) -> int:
    """WATCHDOG=1 datagrams received during the next `seconds` (those queued before are dropped)."""
    sock.sock.setblocking(False)
    try:
        while sock.sock.recv(4096):
            pass
    except BlockingIOError:
        pass
    deadline, count = time.monotonic() + seconds, 0
    while (left := deadline - time.monotonic()) > 0:
        sock.sock.settimeout(left)
        try:
            message = sock.sock.recv(4096).decode()
        except TimeoutError:
            break
        count += "WATCHDOG=1" in message.splitlines()
    return count


@pytest.fixture
def watched(notify_socket, make_config, start_app, monkeypatch):  # the socket outlives the app
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # ping every 0.5 s; a part silent > 2 s is stuck
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    app = start_app(make_config(), notifier=Notifier(str(notify_socket.path)))
    notify_socket.wait_for("WATCHDOG=1")
    return app


def test_a_hung_command_stops_the_pings_until_it_returns(watched, notify_socket):
    app = watched
    release = threading.Event()
    app.house.register(Hang, lambda cmd: release.wait(60) and {})
    app.house.submit(Hang())
    wait_until(lambda: "watchdog" in app.house.status()["problems"], 20)
    assert "commands: no progress" in app.house.status()["problems"]["watchdog"]
    assert pings_within(notify_socket, 1.5) == 0  # three ping intervals, none sent
    release.set()
    notify_socket.wait_for("WATCHDOG=1")
    wait_until(lambda: "watchdog" not in app.house.status()["problems"], 20)


def test_a_handler_stuck_holding_the_relay_lock_stops_the_pings(watched, notify_socket):
    app = watched
    release = threading.Event()
    holder = threading.Thread(target=lambda: app.house._lock.acquire() and release.wait(60) and app.house._lock.release())
    holder.start()
    try:
        wait_until(lambda: "commands: no progress" in app.house.status()["problems"].get("watchdog", ""), 20)
        assert pings_within(notify_socket, 1.5) == 0
    finally:
        release.set()
        holder.join()
    notify_socket.wait_for("WATCHDOG=1")
    app.house.handle(SetRelay("tv", "on", Actor("cli")))  # the command path works again


def test_a_dead_scheduler_thread_stops_the_pings(watched, notify_socket):
    app = watched
    app.scheduler.stop()  # the thread ends, the daemon does not
    wait_until(lambda: "scheduler: thread died" in app.house.status()["problems"].get("watchdog", ""), 20)
    assert pings_within(notify_socket, 1.5) == 0


def test_heartbeats_name_dead_and_silent_parts():
    now = [100.0]
    beats = Heartbeats(clock=lambda: now[0])
    alive = {"commands": True, "web": True}
    beats.watch("commands", lambda: alive["commands"])
    beats.watch("web", lambda: alive["web"], beats=False)
    now[0] += 5
    assert beats.stale(10) == {}
    now[0] += 6
    assert beats.stale(10) == {"commands": "no progress for 11 s"}  # web needs no beats
    beats.beat("commands")
    assert beats.stale(10) == {}
    alive["web"] = False
    assert beats.stale(10) == {"web": "thread died"}
