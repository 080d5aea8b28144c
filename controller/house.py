"""The house as the rest of the system sees it: one handler table for every command,
the status every interface shows, the self-test, and the schedule kinds.

Wings plug in here through `App` (controller/app.py): they register command handlers,
status parts, self-tests and schedule kinds; web/ and the MQTT uplink only ever call
`handle()`, `submit()`, `status()` and friends.
"""
from __future__ import annotations

import logging
import queue
import shutil
import sqlite3
import threading
import time
from datetime import time as dtime
from pathlib import Path
from typing import Any, Callable

from controller.bus import EventBus
from controller.clock import ClockStatus
from controller.commands import SYSTEM, Actor, CommandError, SetRelay
from controller.config import Config
from controller.scheduler import Due, Programme
from controller.store import Store
from controller.write_retry import WriteRetry
from drivers.errors import RelayError, TooSoon, UnknownRelay
from drivers.relays import RelayBoard

logger = logging.getLogger(__name__)

Handler = Callable[[Any], dict[str, Any]]


class House:
    def __init__(self, config: Config, store: Store, board: RelayBoard, bus: EventBus, clock: Callable[[], ClockStatus]):
        self.config = config
        self.store = store
        self.board = board
        self.bus = bus
        self.clock = clock
        self.started_at = time.time()
        self._lock = threading.RLock()
        self._handlers: dict[type, Handler] = {SetRelay: self._set_relay}
        self._status_parts: dict[str, tuple[Callable[[], Any], Callable[[Any], list[str]]]] = {}
        self._selftests: dict[str, Callable[[], tuple[bool, str]]] = {"relays": self._selftest_relays}
        self._schedule_kinds: dict[str, Callable[[Due], Any]] = {"relay": self._relay_edge}
        self._inbox: queue.Queue[Any] = queue.Queue(maxsize=1000)
        self.problems: dict[str, str] = {}
        self._unwritten: list[tuple[str, bool, str, str, float]] = []  # relay switches a full disk kept in memory
        self._unwritten_lock = threading.Lock()
        self._retry = WriteRetry(logger, "relay switches", Path(config.storage.dir))  # also paces write_unwritten()
        self._status_refresh = threading.Lock()  # one caller reads the slow parts at a time
        self._relay_lock = threading.Lock()
        self._status_read: tuple[int, float, dict[str, Any], dict[str, str]] | None = None
        self._status_generation = 0
        self._relay_read: tuple[int, dict[str, Any]] | None = None
        self._relay_generation = 0
        self._generation_lock = threading.Lock()  # bus listeners run on the publishers' threads
        bus.subscribe(self._status_changed)  # any event makes the status readings old
        # read-side services plugged in by App when their wing is built (None = not built):
        self.broadcasts: Any = None   # audio wing: queue listing, log, uploads
        self.events: Any = None       # camera wing: event store (list/get, snapshot and clip paths)
        self.cameras: Any = None      # camera wing: latest frames, per-camera status
        self.uplink: Any = None       # MQTT uplink: link state

    # plug-in points for the wings (called by App) ---------------------------
    def register(self, command_type: type, handler: Handler) -> None:
        self._handlers[command_type] = handler

    def add_status(self, name: str, part: Callable[[], Any], problems: Callable[[Any], list[str]] | None = None) -> None:
        """`part()` is status[name]; `problems(value)`, if given, lists what is wrong in the
        value `part()` just returned, shown (joined) as status["problems"][name]."""
        self._status_parts[name] = (part, problems or (lambda value: []))

    def add_selftest(self, name: str, test: Callable[[], tuple[bool, str]]) -> None:
        self._selftests[name] = test

    def add_schedule_kind(self, kind: str, fire: Callable[[Due], Any]) -> None:
        self._schedule_kinds[kind] = fire

    # the one command path ----------------------------------------------------
    def handle(self, command: Any) -> dict[str, Any]:
        handler = self._handlers.get(type(command))
        if handler is None:
            raise CommandError(f"no handler for {type(command).__name__}", 500)
        return handler(command)

    def submit(self, command: Any) -> None:
        """From callbacks (gpiozero, paho): enqueue only; the command thread runs it."""
        try:
            self._inbox.put_nowait(command)
        except queue.Full:
            logger.error("command inbox full, dropped command=%r", command)

    def run_inbox(self, stop: threading.Event, beat: Callable[[], None] = lambda: None) -> None:
        """The command worker. It beats for the watchdog on every pass, after taking the
        relay lock: a handler hung inside it, or in here, stops the beats."""
        while not stop.is_set():
            with self._lock:
                beat()
            try:
                command = self._inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self.handle(command)
            except CommandError as err:
                logger.warning("command refused command=%s error=%r", type(command).__name__, err.message)
            except Exception:
                logger.exception("command failed command=%r", command)

    # relays -----------------------------------------------------------------
    def _set_relay(self, cmd: SetRelay) -> dict[str, Any]:
        with self._lock:
            try:
                relay = self.board.get(cmd.name)
                want = (not relay.is_on) if cmd.action == "toggle" else cmd.action == "on"
                changed = relay.switch(want, force=cmd.force)
            except UnknownRelay as err:
                raise CommandError(str(err), 404, "relay_unknown", name=cmd.name) from err
            except TooSoon as err:
                raise CommandError(str(err), 409, "relay_too_soon", name=cmd.name, label=relay.config.label or relay.name,
                                   wait_s=err.wait_s) from err
            except RelayError as err:
                raise CommandError(str(err), 503) from err
            if changed:
                logger.info("relay switched name=%s state=%s by=%s", cmd.name, "on" if want else "off", cmd.actor)
                self._record(cmd.name, want, cmd.actor)
        if changed:
            self.bus.publish("relay", {"name": cmd.name, "on": want, "actor": str(cmd.actor), "at": time.time()})
        return {"name": cmd.name, "on": want, "changed": changed}

    def _record(self, name: str, on: bool, actor: Actor, detail: str = "") -> None:
        """The switch in the relay log; while the disk is full it waits in memory (the relay
        still works) and is written, in order, with the next switch or by
        `write_unwritten()` once space returns."""
        with self._unwritten_lock:
            self._unwritten.append((name, on, str(actor), detail, time.time()))
            self._write_unwritten()

    def record_power_on(self, states: dict[str, bool]) -> None:
        """At start: the relays whose power-on state differs from the stored one, logged as
        `system` (kept in memory like any switch while the disk is full)."""
        stored = self.store.relay_states()
        for name, on in states.items():
            if name not in stored or stored[name].on != on:
                self._record(name, on, SYSTEM, "power-on")

    def write_unwritten(self) -> None:
        """Housekeeping: what a full disk kept in memory is written once space returns
        (tried every write_retry.RETRY_S): relay switches, with the `store` problem, the CLI
        token, and the database itself when it had to open read-only at start."""
        with self._unwritten_lock:
            if not self._retry.due():
                return
            if self.store.db.problem and not self.store.db.try_writable():
                self._retry.postpone()
                return
            self.store.write_cli_token()
            if self._unwritten:
                self._write_unwritten()

    def _write_unwritten(self) -> None:
        written = 0
        try:
            while self._unwritten:
                name, on, actor, detail, at = self._unwritten[0]
                self.store.record_relay(name, on, actor, detail, at=at)
                self._unwritten.pop(0)
                written += 1
        except sqlite3.Error as err:  # disk full, card failing: the relay still works
            self._retry.failed(err, len(self._unwritten))
            self.problems["store"] = (f"cannot write the database ({err}): {len(self._unwritten)} relay switch(es) are kept "
                                      f"in memory and written when space returns; free space on {self.config.storage.dir} "
                                      "(storage.dir), e.g. old camera clips")
            return
        self._retry.written(written)
        self.problems.pop("store", None)

    def relays(self, max_age_s: float = 0.0) -> list[dict[str, Any]]:
        """The relays, on/off read from the board each time. Who switched them and when come
        from the database (max_age_s 0), or else from memory, read again after every
        "relay" event (published after each switch is recorded): as exact, without a
        query per call (the phone's home page and status)."""
        if max_age_s <= 0:
            return self._relay_rows(self.store.relay_states())
        with self._relay_lock:
            read, generation = self._relay_read, self._relay_generation
            if read is None or read[0] != generation:
                read = self._relay_read = (generation, self.store.relay_states())
        return self._relay_rows(read[1])

    def _relay_rows(self, stored: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for relay in self.board:
            rec = stored.get(relay.name)
            out.append({
                "name": relay.name,
                "label": relay.config.label or relay.name,
                "on": relay.is_on,
                "changed_at": rec.changed_at if rec else None,
                "changed_by": rec.actor if rec else None,
                "pin": relay.config.pin,
                "active_high": relay.config.active_high,
                "min_interval_s": relay.config.min_interval_s,
                "max_on_s": relay.config.max_on_s,
            })
        return out

    def auto_off(self) -> None:
        for name in self.board.overdue():
            try:
                self.handle(SetRelay(name, "off", Actor("auto-off"), force=True))
            except CommandError as err:
                logger.error("auto-off failed name=%s error=%r", name, err.message)

    # schedules --------------------------------------------------------------
    def programmes(self) -> list[Programme]:
        out = []
        for row in self.store.schedules():
            out.append(Programme(
                id=row["id"], kind=row["kind"], target=row["target"],
                start=dtime.fromisoformat(row["start"]),
                end=dtime.fromisoformat(row["end"]) if row["end"] else None,
                days=frozenset(row["days"]), payload=tuple(sorted(row["payload"].items())), enabled=row["enabled"],
            ))
        return out

    def schedule_kinds(self) -> list[str]:
        return sorted(self._schedule_kinds)

    def fire_schedule(self, due: Due) -> None:
        fire = self._schedule_kinds.get(due.programme.kind)
        if fire is None:
            raise CommandError(f"unknown schedule kind {due.programme.kind!r}")
        fire(due)

    def _relay_edge(self, due: Due) -> None:
        if due.missed and not (self._still_set_by(due) if due.edge == "end" else self._untouched_since(due)):
            return
        action = "on" if due.edge == "start" else "off"
        try:
            self.handle(SetRelay(due.programme.target, action, Actor("schedule", str(due.programme.id))))
        except CommandError as err:
            if err.status != 409:
                raise
            # inside min_interval_s: try once more when the interval has passed
            wait = self.board.get(due.programme.target).config.min_interval_s
            timer = threading.Timer(wait, self.submit, [SetRelay(due.programme.target, action, Actor("schedule", str(due.programme.id)))])
            timer.daemon = True
            timer.start()

    def _still_set_by(self, due: Due) -> bool:
        """A window's end missed while the daemon was down (or the clock jumped) switches its
        relay off only if the relay is still as that window left it: on, switched by this
        programme before the end. Switched since by anyone else (or off at power-on): theirs."""
        p = due.programme
        rec = self.store.relay_states().get(p.target)
        relay = self.board.get(p.target) if p.target in self.board else None
        mine = (relay is not None and relay.is_on and rec is not None and rec.on
                and rec.actor == str(Actor("schedule", str(p.id))) and rec.changed_at < due.at.timestamp())
        logger.log(logging.INFO if relay is not None and relay.is_on else logging.DEBUG,
                   "schedule end missed id=%d target=%s at=%s: %s", p.id, p.target, due.at.isoformat(timespec="minutes"),
                   "switching off" if mine else "left alone (not as this window left it)")
        return mine

    def _untouched_since(self, due: Due) -> bool:
        """A one-time start missed while the daemon was down is done late only if nobody
        (that programme included, before a restart) has switched its relay since it was due;
        the power-on state the daemon set at start (`system`) is nobody's choice."""
        p = due.programme
        rec = self.store.relay_states().get(p.target)
        untouched = rec is None or rec.changed_at < due.at.timestamp() or rec.actor == str(SYSTEM)
        logger.info("schedule start missed id=%d target=%s at=%s: %s", p.id, p.target, due.at.isoformat(timespec="minutes"),
                    "done late" if untouched else f"left alone (switched since by {rec.actor if rec else ''})")
        return untouched

    # status and self-test ----------------------------------------------------
    def status(self, max_age_s: float = 0.0) -> dict[str, Any]:
        """Relays (on/off read from the board now; who/when exact, see relays()),
        then the slower parts (disk, clock, each wing's part), which may come from a reading
        up to `max_age_s` old (0: read now): the web's phone pages and API poll this, and
        each part queues on the shared database or reads /proc and /sys. Anything published
        on the bus (a relay switched, a broadcast queued, a camera event ...) drops that
        reading, so such a change shows in the next status."""
        relays = self.relays(max_age_s)
        closed = [relay.name for relay in self.board if relay.closed]
        out: dict[str, Any] = {
            "site": {"id": self.config.site.id, "name": self.config.site.name},
            "time": time.time(),
            "uptime_s": round(time.time() - self.started_at, 1),
            "relays": relays,
        }
        parts, problems = self._slow_status(max_age_s)
        out.update(parts)
        problems = dict(problems)
        if closed:
            problems["relays"] = f"relay {', '.join(closed)} released (GPIO closed): restart the service (systemctl restart langso)"
        out["problems"] = problems
        return out

    def _slow_status(self, max_age_s: float) -> tuple[dict[str, Any], dict[str, str]]:
        """The slow parts: read again when older than max_age_s or after a bus
        event (always when 0). While one caller reads aged parts again, the others are answered with the
        aged reading rather than queueing behind it (never after an event)."""
        if not self._fresh_enough(max_age_s):
            read = self._status_read
            busy = not self._status_refresh.acquire(blocking=False)
            if busy and read is not None and read[0] == self._status_generation and max_age_s > 0:
                return read[2], read[3]
            if busy:
                self._status_refresh.acquire()
            try:
                if not self._fresh_enough(max_age_s):
                    generation, started = self._status_generation, time.monotonic()
                    parts, problems = self._read_slow_status()
                    self._status_read = (generation, started, parts, problems)  # stale at once if an event came meanwhile
                    return parts, problems
            finally:
                self._status_refresh.release()
        read = self._status_read
        assert read is not None
        return read[2], read[3]

    def _fresh_enough(self, max_age_s: float) -> bool:
        read = self._status_read
        return (read is not None and read[0] == self._status_generation
                and time.monotonic() - read[1] < max_age_s)

    def _status_changed(self, topic: str, payload: dict[str, Any]) -> None:
        with self._generation_lock:  # bus listener: only marks the readings old
            self._status_generation += 1
            if topic == "relay":
                self._relay_generation += 1

    def _read_slow_status(self) -> tuple[dict[str, Any], dict[str, str]]:
        clock = self.clock()
        disk = shutil.disk_usage(self.config.storage.dir)
        free_mb = disk.free // 2**20
        problems = dict(self.problems)
        if free_mb < max(self.config.storage.min_free_mb, 1):  # 0 MB free is a full disk, whatever min_free_mb says
            problems["disk"] = (f"only {free_mb} MB free on {self.config.storage.dir} (storage.dir; min_free_mb = "
                                f"{self.config.storage.min_free_mb}): free space there (e.g. old camera clips)")
        if self.store.db.problem:
            problems["database"] = self.store.db.problem
        if not clock.synced:
            problems["clock"] = clock.reason
        out: dict[str, Any] = {
            "clock": {"synced": clock.synced, "reason": clock.reason, "timezone": self.config.site.timezone},
            "disk": {"dir": str(self.config.storage.dir), "free_mb": free_mb, "total_mb": disk.total // 2**20},
        }
        for name, (part, problems_in) in self._status_parts.items():
            try:
                out[name] = part()
                found = problems_in(out[name])
            except Exception as err:
                out.setdefault(name, {"error": str(err)})
                found = [str(err)]
            if found:
                problems[name] = "; ".join(found)
        return out, problems

    def selftest(self) -> list[dict[str, Any]]:
        results = []
        for name, test in self._selftests.items():
            started = time.monotonic()
            try:
                ok, detail = test()
            except Exception as err:
                ok, detail = False, f"{type(err).__name__}: {err}"
            results.append({"part": name, "ok": ok, "detail": detail, "seconds": round(time.monotonic() - started, 3)})
            logger.info("selftest part=%s ok=%s detail=%r", name, ok, detail)
        return results

    def _selftest_relays(self) -> tuple[bool, str]:
        """Click each relay that is off (on for 0.3 s, then off); relays that are on are
        left alone so a running TV is not cut."""
        clicked, skipped = [], []
        for relay in self.board:
            if relay.is_on:
                skipped.append(relay.name)
                continue
            relay.switch(True, force=True)
            time.sleep(0.3)
            relay.switch(False, force=True)
            if relay.is_on:
                return False, f"relay {relay.name} did not switch back off"
            clicked.append(relay.name)
        detail = f"clicked {', '.join(clicked) or 'none'}"
        if skipped:
            detail += f"; left on (in use): {', '.join(skipped)}"
        return True, detail
