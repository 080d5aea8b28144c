"""Broadcast items, their order and their storage.

Order (pure, `next_playable`): the three priorities of Thông tư 39/2020/TT-BTTTT —
emergency (khẩn cấp), priority (ưu tiên), normal (thông thường) — then scheduled
programmes; inside a level, the village head's order (`seq`), first come first served.
Quiet hours hold everything but emergencies. Items and the log live in SQLite, so the
queue survives a restart.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from datetime import time as dtime
from typing import Any, Iterable

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
]


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
                "duration_s": self.duration_s, "until": self.until, "url": self.stream_url or self.audio_url}

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
    """Items and the proof-of-broadcast log in the house database."""

    def __init__(self, db: Any):
        self.db = db
        db.ensure_schema("broadcasts", SCHEMA)

    def save(self, item: Item) -> None:
        data = asdict(item)
        self.db.execute(
            "INSERT INTO broadcast_items(id, seq, state, data, created, updated) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, state=excluded.state, data=excluded.data, updated=excluded.updated",
            (item.id, item.seq, item.state, json.dumps(data, ensure_ascii=False), item.created, time.time()),
        )

    def get(self, item_id: str) -> Item | None:
        row = self.db.one("SELECT data FROM broadcast_items WHERE id=?", (item_id,))
        return Item(**json.loads(row["data"])) if row else None

    def waiting(self) -> list[Item]:
        rows = self.db.query("SELECT data FROM broadcast_items WHERE state IN ('inbox','queued','playing') ORDER BY seq")
        return [Item(**json.loads(r["data"])) for r in rows]

    def next_seq(self) -> int:
        row = self.db.one("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM broadcast_items")
        return int(row["n"])

    def log(self, record: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO broadcast_log(id, kind, text, source, who, approved_by, priority, started, ended, outcome, reason) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (record["id"], record["kind"], record["text"], record["source"], record["who"], record["approved_by"],
             record["priority"], record["started"], record["ended"], record["outcome"], record["reason"]),
        )

    def records(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT id, kind, text, source, who, approved_by, priority, started, ended, outcome, reason "
                             "FROM broadcast_log ORDER BY n DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]
