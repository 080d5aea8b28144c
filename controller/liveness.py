"""Heartbeats of the daemon's critical loops, for the systemd watchdog.

WATCHDOG=1 must mean "the daemon works", not "the thread that pings is alive": each
critical loop (the command worker, the scheduler) beats every pass, and the watchdog is
pinged only while every one of them has beaten recently and its thread is alive. A hung
command path or a dead thread stops the pings, so systemd restarts the daemon.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from controller.sdnotify import Notifier

logger = logging.getLogger(__name__)


class Heartbeats:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._beats: dict[str, float | None] = {}
        self._threads: dict[str, Callable[[], bool]] = {}
        self._lock = threading.Lock()

    def watch(self, name: str, alive: Callable[[], bool], beats: bool = True) -> None:
        """Watch a part from now on: `alive` tells whether its thread still runs; with
        `beats`, it must also call beat(name) at least every `max_age` seconds."""
        with self._lock:
            self._beats[name] = self._clock() if beats else None
            self._threads[name] = alive

    def beat(self, name: str) -> None:
        with self._lock:
            if self._beats.get(name) is not None:
                self._beats[name] = self._clock()

    def stale(self, max_age: float) -> dict[str, str]:
        """The loops that are dead or silent for longer than `max_age` s, with why."""
        now = self._clock()
        with self._lock:
            items = [(name, beat, self._threads[name]) for name, beat in self._beats.items()]
        out = {}
        for name, beat, alive in items:
            if not alive():
                out[name] = "thread died"
            elif beat is not None and now - beat > max_age:
                out[name] = f"no progress for {now - beat:.0f} s"
        return out


class WatchdogGate:
    """Called every housekeeping pass: sends WATCHDOG=1 (every half WatchdogSec) only
    while no watched part is stuck, and keeps `problems["watchdog"]` saying which is."""

    def __init__(self, notifier: Notifier, beats: Heartbeats, problems: dict[str, str]):
        self.notifier, self.beats, self.problems = notifier, beats, problems
        self.interval = notifier.watchdog_interval()
        self.limit = max(2.0, self.interval or 10.0)  # a loop silent for longer has hung
        self._last_ping = 0.0
        self._withheld: dict[str, str] = {}

    def check(self) -> None:
        stale = self.beats.stale(self.limit)
        if stale:
            why = ", ".join(f"{name}: {reason}" for name, reason in stale.items())
            self.problems["watchdog"] = f"stuck parts ({why})" + ("; systemd will restart the daemon" if self.interval else "")
        if set(stale) != set(self._withheld):
            if stale:
                logger.error("watchdog withheld parts=%s", ",".join(f"{n}({r})" for n, r in stale.items()))
            else:
                self.problems.pop("watchdog", None)
                logger.info("watchdog resumed")
            self._withheld = stale
        if self.interval and not stale and time.monotonic() - self._last_ping >= self.interval:
            self.notifier.watchdog()
            self._last_ping = time.monotonic()
