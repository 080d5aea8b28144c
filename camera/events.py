"""The event store (`house.events`): camera events in SQLite, written before anyone is
told about them. Ids are integers that only grow, so `list(since=id)` is a cursor an
IOC can pull with and never miss or repeat an event.

A full disk must not lose an event nor stop its camera: a change the database refuses
(SQLite "database or disk is full", "disk I/O error") is kept in memory — a new event
with the next id, which the uplink and the web see as usual — and read back as if
written; it is written, in order, with the next write or by `retry()` once space
returns (`unwritten()` says how many wait, `write_error` why). When to try again and
what to log: the state `write_retry` makes (RetryFactory)."""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable

logger = logging.getLogger(__name__)

# Makes the retry state of a store whose writes a full disk refuses, from (logger, what,
# directory): when to try again (`every_s`), one log line each way, `error` and
# `problem(kept, noun)`. App hands in controller.write_retry.WriteRetry; the wing never
# imports controller/.
RetryFactory = Callable[[logging.Logger, str, Path], Any]

SCHEMA = [
    """CREATE TABLE camera_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        camera TEXT NOT NULL,
        start REAL NOT NULL,
        "end" REAL,
        score REAL NOT NULL DEFAULT 0,
        boxes TEXT NOT NULL DEFAULT '[]',
        tags TEXT NOT NULL DEFAULT '[]',
        snapshot TEXT,
        clip TEXT,
        closed INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    );
    CREATE INDEX camera_events_camera ON camera_events(camera, id);
    CREATE INDEX camera_events_start ON camera_events(start)""",
    # last_motion: stored every few seconds while an event is open, so one a crash left
    # open ends there; interrupted: closed by the start-up repair, not by its camera
    """ALTER TABLE camera_events ADD COLUMN last_motion REAL;
    ALTER TABLE camera_events ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0""",
    # handed: the last of the event's messages (new, end) the MQTT uplink has stored in its
    # outbox; NULL: none yet. The events of a database from before count as handed over.
    """ALTER TABLE camera_events ADD COLUMN handed TEXT;
    UPDATE camera_events SET handed = CASE WHEN closed = 1 THEN 'end' ELSE 'new' END;
    CREATE INDEX camera_events_owed ON camera_events(id) WHERE handed IS NULL OR handed = 'new'""",
]

FIELDS = ("id", "camera", "start", "end", "score", "boxes", "tags", "snapshot", "clip")
WRITABLE = FIELDS[2:] + ("closed", "last_motion")
NEW_ROW = {"end": None, "snapshot": None, "clip": None, "closed": 0, "last_motion": None, "interrupted": 0}
HANDED_ALL = "end"  # `handed` once nothing of the event is left to hand over


def _event(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "camera": row["camera"], "start": row["start"], "end": row["end"],
        "score": row["score"], "boxes": json.loads(row["boxes"]), "tags": json.loads(row["tags"]),
        "snapshot": row["snapshot"], "clip": row["clip"], "interrupted": bool(row["interrupted"]),
        "closed": bool(row["closed"]),
    }


def bus_event(event: dict[str, Any], kind: str) -> dict[str, Any]:
    """`camera.event` on the bus (docs/internals.md): an event as stored, as new / update /
    end, its times to the millisecond."""
    return {
        "camera": event["camera"], "id": event["id"], "type": kind, "start": round(event["start"], 3),
        "end": None if event["end"] is None else round(event["end"], 3), "score": event["score"],
        "boxes": event["boxes"], "tags": list(event["tags"]), "snapshot": event["snapshot"], "clip": event["clip"],
        "interrupted": event["interrupted"],
    }


class EventStore:
    def __init__(self, db: Any, write_retry: RetryFactory, handover: bool = False):
        self.db = db
        # handover: an uplink stores the events' messages and says so (`handed`); the
        # changes it has not stored when the power goes are `owed()` at the next start.
        # Without one, events are written as handed over (nothing is owed to nobody).
        self.handover = handover
        self.dir = Path(db.path).parent  # storage.dir: where space must be freed
        db.ensure_schema("camera", SCHEMA)
        self._lock = threading.Lock()
        # changes the database refused, by id, in order: {"new": the row is not written yet,
        # "deleted": bool, "fields": {column: value as stored}}
        self._pending: dict[int, dict[str, Any]] = {}
        self._retry = write_retry(logger, "camera events", self.dir)

    @property
    def write_error(self) -> str:
        """Why the last write failed; "" when all is written."""
        return self._retry.error

    @property
    def retry_every_s(self) -> float:
        """How often `retry()` writes what waits while the disk stays full."""
        return float(self._retry.every_s)

    # read side (web, MQTT, CLI) ---------------------------------------------
    def list(self, since: int | None = None, camera: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Events with id > since, oldest first (a cursor); the newest `limit` when since is None."""
        pending = self._pending_copy()  # before the query: a row written meanwhile is then in one or both
        where, params = [], []  # type: ignore[var-annotated]
        if since is not None:
            where.append("id > ?")
            params.append(since)
        if camera:
            where.append("camera = ?")
            params.append(camera)
        sql = "SELECT * FROM camera_events" + (" WHERE " + " AND ".join(where) if where else "")
        if since is None:
            rows = self.db.query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))[::-1]
        else:
            rows = self.db.query(sql + " ORDER BY id LIMIT ?", (*params, limit))
        if not pending:
            return [_event(r) for r in rows]
        merged = {r["id"]: _merge(dict(r), pending.get(r["id"])) for r in rows}
        for event_id, change in pending.items():  # new ones: ids above every stored one
            if change["new"] and (since is None or event_id > since) and (not camera or change["fields"]["camera"] == camera):
                merged[event_id] = _merge({"id": event_id}, change)
        events = [_event(row) for _, row in sorted(merged.items()) if row is not None]
        return events[-limit:] if since is None else events[:limit]

    def get(self, event_id: int) -> dict[str, Any] | None:
        change = self._pending_copy().get(event_id)
        row = self.db.one("SELECT * FROM camera_events WHERE id = ?", (event_id,))
        if change is not None:
            row = _merge(dict(row) if row else {"id": event_id}, change)
        return _event(row) if row and "camera" in row.keys() else None

    def has_camera(self, camera: str) -> bool:
        """Whether any stored event is of this camera (one that left the config may have some)."""
        if any(c["new"] and c["fields"]["camera"] == camera for c in self._pending_copy().values()):
            return True
        return self.db.one("SELECT 1 FROM camera_events WHERE camera = ? LIMIT 1", (camera,)) is not None

    def last_id(self) -> int:
        news = [event_id for event_id, c in self._pending_copy().items() if c["new"]]
        row = self.db.one("SELECT MAX(id) AS id FROM camera_events")
        return max([int(row["id"] or 0), *news])

    def unwritten(self) -> int:
        with self._lock:
            return len(self._pending)

    def problem(self) -> str:
        """For status while changes wait in memory ("" when all is written)."""
        return self._retry.problem(self.unwritten(), "event change(s)")

    def _pending_copy(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return {k: {**v, "fields": dict(v["fields"])} for k, v in self._pending.items()} if self._pending else {}

    # write side (camera workers) ----------------------------------------------
    def open(self, camera: str, start: float, score: float, boxes: list[list[int]], tags: list[str]) -> int:
        fields = {"camera": camera, "start": start, "score": score, "boxes": json.dumps(boxes), "tags": json.dumps(tags),
                  "updated_at": time.time(), "handed": None if self.handover else HANDED_ALL}
        with self._lock:
            try:
                with self.db.tx() as conn:
                    self._write_pending(conn)
                    cur = conn.execute("INSERT INTO camera_events(camera, start, score, boxes, tags, updated_at, handed) "
                                       "VALUES (:camera, :start, :score, :boxes, :tags, :updated_at, :handed)", fields)
            except sqlite3.OperationalError as err:
                event_id = self._next_id()
                self._pending[event_id] = {"new": True, "deleted": False, "fields": {**NEW_ROW, **fields}}
                self._failed(err)
                return event_id
            self._written()
            return int(cur.lastrowid)

    def update(self, event_id: int, **fields: Any) -> dict[str, Any] | None:
        for key in fields:
            if key not in WRITABLE:
                raise ValueError(f"unknown event field {key!r}")
        stored = {key: json.dumps(value) if key in ("boxes", "tags") else value for key, value in fields.items()}
        self._change(event_id, {**stored, "updated_at": time.time()})
        return self.get(event_id)

    def _change(self, event_id: int, fields: dict[str, Any], deleted: bool = False) -> None:
        """Write one row's change, or keep it in memory, merged with what waits for it."""
        with self._lock:
            try:
                with self.db.tx() as conn:
                    self._write_pending(conn)
                    _write(conn, event_id, {"new": False, "deleted": deleted, "fields": fields})
            except sqlite3.OperationalError as err:
                change = self._pending.setdefault(event_id, {"new": False, "deleted": False, "fields": {}})
                change["fields"].update(fields)
                change["deleted"] = change["deleted"] or deleted
                if change["new"] and change["deleted"]:
                    del self._pending[event_id]  # never written: nothing to delete
                self._failed(err)
                return
            self._written()

    def retry(self, force: bool = False) -> None:
        """Write what waits in memory, at most every retry_every_s while the disk stays full (`force`: now)."""
        with self._lock:
            if not self._pending or not self._retry.due(force):
                return
            try:
                with self.db.tx() as conn:
                    self._write_pending(conn)
            except sqlite3.OperationalError as err:
                self._failed(err)
                return
            self._written()

    def close(self) -> None:
        """At stop: a last try; what still cannot be written goes to the log (journald), the only place left for it."""
        self.retry(force=True)
        with self._lock:
            for event_id, change in self._pending.items():
                logger.error("camera event lost at stop (disk full) id=%s change=%s", event_id,
                             json.dumps(change, ensure_ascii=False, default=str))

    def _write_pending(self, conn: Any) -> None:
        for event_id, change in self._pending.items():  # ids in order: new rows keep theirs
            _write(conn, event_id, change)

    def _next_id(self) -> int:
        """The id a new event kept in memory gets: after every id stored, ever given (the
        AUTOINCREMENT sequence: deleted events' ids are not reused) or kept in memory."""
        row = self.db.one("SELECT MAX(id) AS id FROM camera_events")
        seq = self.db.one("SELECT seq FROM sqlite_sequence WHERE name = 'camera_events'")
        return max([int(row["id"] or 0), int(seq["seq"]) if seq else 0, *self._pending]) + 1

    def _failed(self, err: sqlite3.Error) -> None:
        self._retry.failed(err, len(self._pending))

    def _written(self) -> None:
        """After a write went through: what waited went with it."""
        self._retry.written(len(self._pending))
        self._pending.clear()

    def repair(self, clip_root: Path) -> list[dict[str, Any]]:
        """At start: close the events a crash left open, forget clips that never finished.
        Each ends at its last motion stored (its start if none was), marked interrupted,
        without its clip; returned as stored, oldest first, for their `end` to be published."""
        rows = self.db.query('SELECT id, clip, snapshot, "end", last_motion, start FROM camera_events WHERE closed = 0 '
                             "ORDER BY id")
        for row in rows:
            clip, snapshot = (path if path and Path(path).exists() else None for path in (row["clip"], row["snapshot"]))
            end = next(t for t in (row["end"], row["last_motion"], row["start"]) if t is not None)
            self._change(row["id"], {"end": end, "clip": clip, "snapshot": snapshot, "closed": 1, "interrupted": 1,
                                     "updated_at": time.time()})
        removed = 0
        if clip_root.exists():
            for part in clip_root.rglob("*.part"):
                part.unlink(missing_ok=True)
                removed += 1
        if rows or removed:
            logger.info("camera events repaired closed=%d partial_clips_removed=%d", len(rows), removed)
        return [event for event in (self.get(row["id"]) for row in rows) if event is not None]

    # handover to the MQTT uplink ------------------------------------------------
    def handed(self, changes: list[tuple[int, str]]) -> None:
        """(event id, new|update|end) of bus events the uplink has stored in its outbox (or
        the broker acknowledged): not owed any more. Never goes back (an `end` stays). Not
        written (a full disk): owed at the next start, a duplicate rather than a loss."""
        marks = [(kind, event_id) for event_id, kind in changes if kind in ("new", HANDED_ALL)]
        if not marks:
            return
        try:
            with self.db.tx() as conn:
                conn.executemany("UPDATE camera_events SET handed = ? WHERE id = ? AND (handed IS NULL OR handed != 'end')",
                                 marks)
        except sqlite3.Error as err:
            logger.warning("camera events handed over not recorded count=%d error=%r (sent again after a restart)",
                           len(marks), str(err))

    def owed(self) -> list[dict[str, Any]]:
        """At start, after `repair()`: the bus events (`camera.event`) of changes stored but
        never handed to the uplink (a power cut between the two), oldest event first, each
        event's `new` before its `end`; an `update` is not repeated, the `end` carries its tags.
        A `new` is rebuilt from the event as stored: no end, no clip."""
        owed = []
        for row in self.db.query("SELECT * FROM camera_events WHERE handed IS NULL OR handed = 'new' ORDER BY id"):
            event = _event(row)
            if row["handed"] is None:
                owed.append(bus_event({**event, "end": None, "clip": None, "interrupted": False}, "new"))
            if event["closed"]:
                owed.append(bus_event(event, "end"))
        return owed

    # retention ------------------------------------------------------------------
    # (events with a change waiting in memory are left alone until it is written)
    def closed_before(self, before: float, limit: int = 500) -> list[dict[str, Any]]:
        waiting = self._pending_copy()
        rows = self.db.query("SELECT * FROM camera_events WHERE closed = 1 AND start < ? ORDER BY id LIMIT ?", (before, limit))
        return [_event(r) for r in rows if r["id"] not in waiting]

    def oldest_clips(self, limit: int = 20) -> list[dict[str, Any]]:
        waiting = self._pending_copy()
        rows = self.db.query("SELECT * FROM camera_events WHERE closed = 1 AND clip IS NOT NULL ORDER BY id LIMIT ?", (limit,))
        return [_event(r) for r in rows if r["id"] not in waiting]

    def delete(self, event_id: int) -> None:
        self._change(event_id, {}, deleted=True)


def _merge(row: dict[str, Any], change: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored row (or {"id": id} for a new one) with the change waiting in memory; None: deleted."""
    if change is None:
        return row
    return None if change["deleted"] else {**row, **change["fields"]}


def _write(conn: Any, event_id: int, change: dict[str, Any]) -> None:
    fields = change["fields"]
    if change["deleted"]:
        conn.execute("DELETE FROM camera_events WHERE id = ?", (event_id,))
    elif change["new"]:
        names = ", ".join(f'"{key}"' for key in fields)
        conn.execute(f"INSERT INTO camera_events(id, {names}) VALUES (?, {', '.join('?' * len(fields))})",
                     (event_id, *fields.values()))
    elif fields:
        sets = ", ".join(f'"{key}" = ?' for key in fields)
        conn.execute(f"UPDATE camera_events SET {sets} WHERE id = ?", (*fields.values(), event_id))
