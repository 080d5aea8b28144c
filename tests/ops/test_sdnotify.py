"""The systemd notify protocol, end to end: a real `langso run` subprocess talks to a
real AF_UNIX datagram socket named by $NOTIFY_SOCKET, as it does under systemd."""
from __future__ import annotations

import os
import socket

from controller.sdnotify import Notifier


def test_daemon_sends_ready_then_watchdog_pings_then_stopping(daemon, notify_socket):
    # WATCHDOG_USEC=1 s: the daemon must ping every 0.5 s (half of WatchdogSec)
    d = daemon(env={"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "1000000"})
    ready = notify_socket.wait_for("READY=1")
    assert f"STATUS=serving {d.client.url}" in ready.splitlines()
    assert d.client.request("GET", "/status")["site"]["id"] == "test-site"

    # the watchdog keeps beating after READY, not just once
    notify_socket.wait_for("WATCHDOG=1")
    notify_socket.wait_for("WATCHDOG=1")

    assert d.stop() == 0
    notify_socket.wait_for("STOPPING=1")
    assert "langso stopped" in d.output()
    # READY came before any ping was needed to be answered, and exactly once
    assert sum("READY=1" in m.splitlines() for m in notify_socket.messages) == 1


def test_no_watchdog_pings_without_watchdog_usec(daemon, notify_socket, monkeypatch):
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    d = daemon(env={"NOTIFY_SOCKET": str(notify_socket.path)})
    notify_socket.wait_for("READY=1")
    assert d.stop() == 0
    notify_socket.wait_for("STOPPING=1")
    assert "WATCHDOG=1" not in notify_socket.messages


def test_watchdog_pid_of_another_process_means_no_pings(monkeypatch):
    # systemd sets WATCHDOG_PID to the main pid; a child that inherits the env must not ping
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert Notifier("/nonexistent").watchdog_interval() == 10.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert Notifier("/nonexistent").watchdog_interval() is None


def test_abstract_namespace_address():
    name = f"langso-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as abstract:
        abstract.bind("\0" + name)
        abstract.settimeout(10)
        assert Notifier("@" + name).ready("hello")
        assert abstract.recv(4096).decode() == "READY=1\nSTATUS=hello"


def test_no_socket_means_notifications_are_off(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled and notifier.ready() is False
    # a socket that went away is not an error for the daemon
    assert Notifier("/nonexistent/notify").watchdog() is False
