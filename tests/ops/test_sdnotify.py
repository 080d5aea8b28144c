"""The systemd notify protocol, end to end: a real `langso run` subprocess talks to a
real AF_UNIX datagram socket named by $NOTIFY_SOCKET, as it does under systemd."""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys

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


def test_a_lost_socket_is_logged_once_and_does_not_raise(caplog):
    notifier = Notifier("/nonexistent/notify")
    with caplog.at_level(logging.WARNING, logger="controller.sdnotify"):
        assert notifier.watchdog() is False
        assert notifier.watchdog() is False
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "systemd notify failed socket=/nonexistent/notify message=WATCHDOG=1" in warnings[0]


def test_a_malformed_watchdog_usec_turns_the_watchdog_off(monkeypatch, caplog):
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    for bad in ("30s", "0"):
        monkeypatch.setenv("WATCHDOG_USEC", bad)
        assert Notifier("").watchdog_interval() is None
    assert "WATCHDOG_USEC='30s' is not a number" in caplog.text


def test_a_broken_config_exits_2_without_ready(tmp_path, notify_socket):
    """The unit's RestartPreventExitStatus=2 relies on this: a config error is not retried."""
    config = tmp_path / "langso.toml"
    config.write_text('[site]\nid = "Bad Id"\n[[relays]]\nname = "tv"\npin = 40\n')
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_socket.path))
    result = subprocess.run([sys.executable, "-m", "controller", "run", "--config", str(config)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "site.id" in result.stderr and "relays[0].pin" in result.stderr
    notify_socket.sock.setblocking(False)
    try:
        leftover = notify_socket.sock.recv(4096).decode()
    except BlockingIOError:
        leftover = ""
    assert "READY=1" not in leftover
