"""Daily and weekly programmes (TV 18:00-22:00, relay VOV1 06:00-06:30 ...).

The core is pure: `next_due(programmes, now)` and `due_between(programmes, after, until)`
work on timezone-aware datetimes and know nothing of threads or the database.
`ScheduleRunner` is the thin loop around them, with the clock guard: while the system
clock is not synchronised nothing time-based runs, and `status()` says why.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from time import monotonic
from typing import Callable, Iterable, Literal

from controller.clock import ClockStatus

logger = logging.getLogger(__name__)

DAILY = frozenset(range(7))
BEAT_S = 1.0  # the loop shows it is alive (controller/liveness.py) at least this often
JUMP = timedelta(minutes=15)  # a bigger step of the clock is a jump (NTP sync), not elapsed time
LATE_GRACE = timedelta(minutes=15)  # a one-time start missed by less (a power cut at 06:55, back at 07:05)
                                    # is done at the next start; an older one is stale


@dataclass(frozen=True)
class Programme:
    id: int
    kind: str                      # "relay", or a kind registered by a wing (e.g. "broadcast")
    target: str                    # relay name, ...
    start: time
    end: time | None = None        # window end (may be past midnight); None = one action at start
    days: frozenset[int] = DAILY   # 0 = Monday ... 6 = Sunday, of the start
    payload: tuple[tuple[str, object], ...] = field(default=())
    enabled: bool = True

    def payload_dict(self) -> dict[str, object]:
        return dict(self.payload)


@dataclass(frozen=True)
class Due:
    at: datetime                   # when the edge is due, also when it fires late (a restart inside a window)
    programme: Programme
    edge: Literal["start", "end"]
    # an edge that passed while the daemon was down or the clock jumped over it (a window's
    # end, a one-time start inside LATE_GRACE): the kind decides whether it still applies
    missed: bool = False


def _occurrences(p: Programme, day: date, tz: tzinfo) -> list[Due]:
    if not p.enabled or day.weekday() not in p.days:
        return []
    start = datetime.combine(day, p.start, tz)
    out = [Due(start, p, "start")]
    if p.end is not None:
        end_day = day if p.end > p.start else day + timedelta(days=1)
        out.append(Due(datetime.combine(end_day, p.end, tz), p, "end"))
    return out


def due_between(programmes: Iterable[Programme], after: datetime, until: datetime) -> list[Due]:
    """Every start/end edge in (after, until], in time order."""
    tz = until.tzinfo
    assert tz is not None and after.tzinfo is not None, "aware datetimes only"
    found: list[Due] = []
    day = after.astimezone(tz).date() - timedelta(days=1)
    last_day = until.date()
    programmes = list(programmes)
    while day <= last_day:
        for p in programmes:
            found.extend(d for d in _occurrences(p, day, tz) if after < d.at <= until)
        day += timedelta(days=1)
    return sorted(found, key=lambda d: (d.at, d.edge == "start", d.programme.id))


def next_due(programmes: Iterable[Programme], now: datetime) -> Due | None:
    """The first edge strictly after `now`, or None when nothing is scheduled."""
    programmes = [p for p in programmes if p.enabled and p.days]
    if not programmes:
        return None
    found = due_between(programmes, now, now + timedelta(days=8))
    return found[0] if found else None


def open_windows(programmes: Iterable[Programme], now: datetime) -> list[Due]:
    """The start edges of the windows that contain `now`, each at its own time (06:00 for
    a 06:00-06:30 window caught up at 06:10): a restart or a clock jump inside a window
    re-fires the same occurrence, so whatever it started is recognised, not doubled."""
    found = []
    for p in programmes:
        if p.end is None:
            continue
        for day in (now.date() - timedelta(days=1), now.date()):
            edges = _occurrences(p, day, now.tzinfo)  # type: ignore[arg-type]
            if len(edges) == 2 and edges[0].at <= now < edges[1].at:
                found.append(edges[0])
                break
    return found


def missed_ends(programmes: Iterable[Programme], now: datetime, lookback: timedelta = timedelta(days=8)) -> list[Due]:
    """The last end edge of each window that is not open at `now`, marked `missed`: after a
    restart or a clock jump the TV that a 18:00-22:00 window switched on goes off at
    22:10, not never. Only the last one: every earlier occurrence ended before it."""
    windowed = [p for p in programmes if p.end is not None]
    still_open = {d.programme.id for d in open_windows(windowed, now)}
    last: dict[int, Due] = {}
    for due in due_between([p for p in windowed if p.id not in still_open], now - lookback, now):
        if due.edge == "end":
            last[due.programme.id] = Due(due.at, due.programme, "end", missed=True)
    return sorted(last.values(), key=lambda d: (d.at, d.programme.id))


def missed_starts(programmes: Iterable[Programme], now: datetime, grace: timedelta = LATE_GRACE) -> list[Due]:
    """The one-time starts (no end) of the last `grace`, marked `missed`: the 07:00 news
    is read at 07:05 when the power came back at 07:04. Done ones are the kind's to know."""
    return [Due(d.at, d.programme, "start", missed=True)
            for d in due_between([p for p in programmes if p.end is None], now - grace, now)]


class ScheduleRunner:
    """Owns the schedule thread. `load()` returns the programmes (from the store),
    `fire(due)` turns an edge into a command; `clock()` is the clock guard."""

    def __init__(
        self,
        load: Callable[[], list[Programme]],
        fire: Callable[[Due], None],
        clock: Callable[[], ClockStatus],
        tz: tzinfo,
        now: Callable[[], datetime] | None = None,
        max_sleep_s: float = 30.0,
    ):
        self._load, self._fire, self._clock, self._tz = load, fire, clock, tz
        self._now = now or (lambda: datetime.now(tz))
        self._max_sleep = max_sleep_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: datetime | None = None
        self._waiting: str = ""
        self._seen: set[str] = set()
        self._failed: dict[tuple[int, str], str] = {}  # (programme id, edge) -> why it last failed; cleared by a success
        self.beat: Callable[[], None] = lambda: None  # set by App: the watchdog's heartbeat

    def status(self) -> dict[str, object]:
        programmes = self._safe_load()
        upcoming = next_due(programmes, self._now())
        ids = {p.id for p in programmes}
        return {
            "running": not self._waiting,
            "waiting_for": self._waiting,
            "programmes": len(programmes),
            "failed": [why for (pid, _), why in sorted(self._failed.items()) if pid in ids],  # a deleted one is no problem
            "next": None if upcoming is None else {
                "at": upcoming.at.timestamp(), "id": upcoming.programme.id,
                "kind": upcoming.programme.kind, "target": upcoming.programme.target, "edge": upcoming.edge,
            },
        }

    def poke(self) -> None:
        """Programmes changed: look again now."""
        self._wake.set()

    def tick(self) -> float:
        """One pass; returns how long to sleep. Public so tests can drive it without threads."""
        clock = self._clock()
        if not clock.synced:
            if self._waiting != clock.reason:
                logger.warning("schedules waiting reason=%r", clock.reason)
            self._waiting, self._last = clock.reason, None
            return 5.0
        if self._waiting:
            logger.info("schedules resumed clock=%r", clock.reason)
            self._waiting = ""
        now = self._now()
        programmes = self._safe_load()
        if self._last is None or now < self._last or now - self._last > JUMP:
            # start, clock sync or jump: put the house in the state the programmes want now,
            # ends before starts (two windows of one relay back to back)
            for due in missed_ends(programmes, now) + open_windows(programmes, now) + missed_starts(programmes, now):
                self._emit(due)
        else:
            for due in due_between(programmes, self._last, now):
                self._emit(due)
            # a programme added or changed while its window is open starts now
            fresh = [p for p in programmes if repr(p) not in self._seen]
            for due in open_windows(fresh, now):
                self._emit(due)
        self._last = now
        self._seen = {repr(p) for p in programmes}
        upcoming = next_due(programmes, now)
        if upcoming is None:
            return self._max_sleep
        return max(0.05, min(self._max_sleep, (upcoming.at - now).total_seconds()))

    def _emit(self, due: Due) -> None:
        p = due.programme
        # missed edges are looked at at every start (whether one still applies is the kind's to say, and log)
        logger.log(logging.DEBUG if due.missed else logging.INFO, "schedule due id=%d kind=%s target=%s edge=%s%s",
                   p.id, p.kind, p.target, due.edge, " missed" if due.missed else "")
        try:
            self._fire(due)
        except Exception as err:  # one bad programme never stops the others
            logger.error("schedule failed id=%d kind=%s target=%s error=%r", p.id, p.kind, p.target, str(err))
            self._failed[(p.id, due.edge)] = (f"schedule {p.id} ({p.kind} {p.target}) failed at its {due.edge} "
                                              f"{due.at.astimezone(self._tz):%Y-%m-%d %H:%M}: {err}")
        else:
            self._failed.pop((p.id, due.edge), None)

    def _safe_load(self) -> list[Programme]:
        try:
            return self._load()
        except Exception:
            logger.exception("schedules could not be loaded")
            return []

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        """Tick, then sleep until the next edge or a poke, beating for the watchdog
        at least every BEAT_S seconds meanwhile."""
        while not self._stop.is_set():
            self._wake.clear()
            sleep = self.tick()
            self.beat()
            deadline = monotonic() + sleep
            while not self._wake.is_set() and (left := deadline - monotonic()) > 0:
                self._wake.wait(min(left, BEAT_S))
                self.beat()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)
