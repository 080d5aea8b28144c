"""Broadcast items, their order and their storage.

Order (pure, `next_playable`): the three priorities of Thông tư 39/2020/TT-BTTTT —
emergency (khẩn cấp), priority (ưu tiên), normal (thông thường) — then scheduled
programmes; inside a level, the village head's order (`seq`), first come first served.
Quiet hours hold everything but emergencies. Items and the log live in SQLite, so the
queue survives a restart.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any, Callable, Iterable

from audio.media import redact

logger = logging.getLogger(__name__)

# Makes the retry state of a store whose writes a full disk refuses, from (logger, what,
# directory): when to try again, one log line each way, `error` and `problem(kept, noun)`.
# App hands in controller.write_retry.WriteRetry; the wing never imports controller/.
RetryFactory = Callable[[logging.Logger, str, Path], Any]

RANK = {"emergency": 0, "priority": 1, "normal": 2}
SCHEDULED_RANK = 3
WAITING = ("inbox", "queued")
FINAL = ("played", "failed", "cancelled")

SCHEMA = [
    """
    CREATE TABLE broadcast_items (
        id TEXT PRIMARY KEY, seq INTEGER NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL,
        created REAL NOT NULL, updated REAL NOT NULL
    );
    CREATE INDEX broadcast_items_state ON broadcast_items(state, seq);
    CREATE TABLE broadcast_log (
        n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, source TEXT NOT NULL, who TEXT NOT NULL,
        priority TEXT NOT NULL, started REAL, ended REAL NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX broadcast_log_id ON broadcast_log(id)
    """,
    # what was played, so the page and the IOC can show it without the item
    """
    ALTER TABLE broadcast_log ADD COLUMN kind TEXT NOT NULL DEFAULT '';
    ALTER TABLE broadcast_log ADD COLUMN text TEXT NOT NULL DEFAULT ''
    """,
    # who let an inbox item play (the village head), beside who sent it
    "ALTER TABLE broadcast_log ADD COLUMN approved_by TEXT NOT NULL DEFAULT ''",
    # why it ended as a kind with values, beside the English reason (the page says it in its language)
    """
    ALTER TABLE broadcast_log ADD COLUMN reason_kind TEXT NOT NULL DEFAULT '';
    ALTER TABLE broadcast_log ADD COLUMN reason_values TEXT NOT NULL DEFAULT '{}'
    """,
]


@dataclass(frozen=True)
class Reason:
    """Why an item ended as it did: `text` in English for programs and logs, and the same
    as a `kind` with `values`, as refusals carry them (e.g. "cancelled", who="web:lan"),
    for the page to say in its own language."""

    text: str = ""
    kind: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, err: BaseException) -> "Reason":
        """An error's message, with its kind and values when it carries them (MediaError, SpeechFailed)."""
        return cls(str(err), getattr(err, "kind", ""), dict(getattr(err, "values", {})))


@dataclass(frozen=True)
class Item:
    id: str
    kind: str                 # text | audio | stream
    priority: str
    source: str               # web / token / mqtt / cli / schedule / ...
    who: str
    text: str = ""
    approved_by: str = ""     # who let it out of the inbox ("" for items that never waited there)
    audio_path: str = ""      # an accepted upload, owned by the queue
    audio_url: str = ""
    stream_url: str = ""
    repeat: int = 1
    at: float | None = None
    duration_s: float | None = None
    until: float | None = None  # end of its schedule window: never played after it (a restart resumes only the rest)
    state: str = "queued"     # inbox | queued | playing | played | failed | cancelled
    created: float = field(default_factory=time.time)
    seq: int = 0

    @property
    def rank(self) -> int:
        if self.source == "schedule" and self.priority == "normal":
            return SCHEDULED_RANK
        return RANK[self.priority]

    @property
    def source_ref(self) -> str:
        return self.text or self.audio_path or self.audio_url or self.stream_url

    def public(self) -> dict[str, Any]:
        """The item as the API, the bus and MQTT show it."""
        return {"id": self.id, "kind": self.kind, "text": self.text, "priority": self.priority, "repeat": self.repeat,
                "at": self.at, "state": self.state, "created": self.created, "who": self.who, "source": self.source,
                "duration_s": self.duration_s, "until": self.until,
                "url": redact(self.stream_url or self.audio_url)}  # the phone and the retained MQTT state: no password

    def stream_limit(self, max_stream_s: float, now: float) -> float:
        """How long a stream relay of this item may play from `now`: its duration_s, at
        most audio.max_stream_s, and never past the end of its window."""
        limit = min(self.duration_s or max_stream_s, max_stream_s)
        return limit if self.until is None else min(limit, self.until - now)

    def with_(self, **changes: Any) -> "Item":
        return replace(self, **changes)


def in_quiet_hours(now: datetime, window: str) -> bool:
    """`window` "22:00-05:00" (may cross midnight); empty = never quiet."""
    if not window:
        return False
    start_s, end_s = window.split("-")
    start, end, t = dtime.fromisoformat(start_s), dtime.fromisoformat(end_s), now.time()
    return start <= t < end if start <= end else (t >= start or t < end)


def next_playable(items: Iterable[Item], now: float, quiet: bool) -> Item | None:
    ready = [i for i in items if i.state == "queued" and (i.at is None or i.at <= now)
             and (not quiet or i.priority == "emergency")]
    return min(ready, key=lambda i: (i.rank, i.seq), default=None)


def queue_order(items: Iterable[Item]) -> list[Item]:
    """Queued items in the order they will play (ready ones first, then by time)."""
    return sorted((i for i in items if i.state == "queued"), key=lambda i: (i.at or 0, i.rank, i.seq))


class ItemStore:
    """Items and the proof-of-broadcast log in the house database.

    A full disk must not stop a broadcast: a state change or a log record that cannot be
    written (SQLite "database or disk is full", "disk I/O error") is kept in memory, in
    order, shown by `get()` and `records()` as if written, and written with the next write
    or `retry()` once space returns (`unwritten()` says how many wait, `write_error` why).
    Only a new item (`add`) is refused instead: the request gets the error. When to try
    again and what to log: the state `write_retry` makes (RetryFactory)."""

    def __init__(self, db: Any, write_retry: RetryFactory):
        self.db = db
        self.dir = Path(db.path).parent  # storage.dir: where space must be freed
        db.ensure_schema("broadcasts", SCHEMA)
        self._lock = threading.Lock()
        self._items: dict[str, Item] = {}        # state changes not written yet, by id
        self._log: list[dict[str, Any]] = []     # log records not written yet, oldest first
        self._retry = write_retry(logger, "broadcast records", self.dir)

    @property
    def write_error(self) -> str:
        """Why the last write failed; "" when all is written."""
        return self._retry.error

    def save(self, item: Item) -> None:
        with self._lock:
            self._items.pop(item.id, None)
            self._items[item.id] = item
            self._write()

    def log(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._log.append(record)
            self._write()

    def add(self, item: Item) -> None:
        """A new item: written now with whatever waits, or the database's error is raised
        and nothing of it is kept."""
        with self._lock:
            self._write(item, strict=True)

    def retry(self, force: bool = False) -> None:
        """Write what waits in memory, at most every 5 s (the retry state's pace) while the
        disk stays full (`force`: now)."""
        with self._lock:
            if (self._items or self._log) and self._retry.due(force):
                self._write()

    def unwritten(self) -> int:
        with self._lock:
            return len(self._items) + len(self._log)

    def problem(self) -> str:
        """For status while records wait in memory ("" when all is written)."""
        return self._retry.problem(self.unwritten(), "broadcast record(s)")

    def close(self) -> None:
        """At stop: a last try; what still cannot be written goes to the log (journald),
        the only place left for it."""
        self.retry(force=True)
        with self._lock:
            for item in self._items.values():
                logger.error("broadcast state lost at stop (disk full) id=%s state=%s", item.id, item.state)
            for r in self._log:
                logger.error("broadcast log record lost at stop (disk full) record=%s", json.dumps(r, ensure_ascii=False))

    def _write(self, new: Item | None = None, strict: bool = False) -> None:
        try:
            with self.db.tx() as conn:
                for item in [*self._items.values(), *([new] if new else [])]:
                    conn.execute(
                        "INSERT INTO broadcast_items(id, seq, state, data, created, updated) VALUES (?,?,?,?,?,?) "
                        "ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, state=excluded.state, data=excluded.data, "
                        "updated=excluded.updated",
                        (item.id, item.seq, item.state, json.dumps(asdict(item), ensure_ascii=False), item.created, time.time()),
                    )
                for r in self._log:
                    conn.execute(
                        "INSERT INTO broadcast_log(id, kind, text, source, who, approved_by, priority, started, ended, "
                        "outcome, reason, reason_kind, reason_values) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (r["id"], r["kind"], r["text"], r["source"], r["who"], r["approved_by"], r["priority"],
                         r["started"], r["ended"], r["outcome"], r["reason"], r["reason_kind"],
                         json.dumps(r["reason_values"], ensure_ascii=False)),
                    )
        except sqlite3.OperationalError as err:
            self._retry.failed(err, len(self._items) + len(self._log))
            if strict:
                raise
            return
        self._retry.written(len(self._items) + len(self._log))
        self._items.clear()
        self._log.clear()

    def get(self, item_id: str) -> Item | None:
        with self._lock:
            if item_id in self._items:
                return self._items[item_id]
        row = self.db.one("SELECT data FROM broadcast_items WHERE id=?", (item_id,))
        return Item(**json.loads(row["data"])) if row else None

    def waiting(self) -> list[Item]:
        rows = self.db.query("SELECT data FROM broadcast_items WHERE state IN ('inbox','queued','playing') ORDER BY seq")
        return [Item(**json.loads(r["data"])) for r in rows]

    def next_seq(self) -> int:
        row = self.db.one("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM broadcast_items")
        return int(row["n"])

    def records(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest `limit` log records, those still in memory first."""
        with self._lock:
            kept = [dict(r) for r in reversed(self._log)][:limit]
        rows = self.db.query("SELECT id, kind, text, source, who, approved_by, priority, started, ended, outcome, reason, "
                             "reason_kind, reason_values FROM broadcast_log ORDER BY n DESC LIMIT ?",
                             (limit - len(kept),)) if limit > len(kept) else []
        return kept + [dict(r) | {"reason_values": json.loads(r["reason_values"])} for r in rows]
