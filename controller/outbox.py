"""Store-and-forward for the MQTT uplink: messages that must reach the IOC (camera
events, broadcast logs, telemetry) are written to SQLite first and removed only when
the broker has acknowledged them (PUBACK), so a broker outage, a restart or a power cut
loses none of them; they leave in the order they were written.

The outbox is bounded (`mqtt.outbox_max`): when it is full the oldest telemetry goes
first; events and logs are dropped only when nothing else is left, and then loudly
(logged and counted in status). Executed command ids live here too, in a bounded window,
so a command delivered twice by QoS 1 runs once.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any

from controller.db import Database

logger = logging.getLogger(__name__)

SCHEMA = [
    """
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        kind TEXT NOT NULL,            -- event | log | telemetry
        created REAL NOT NULL
    );
    CREATE INDEX outbox_kind ON outbox(kind, seq);
    CREATE TABLE mqtt_commands (
        cmd_id TEXT PRIMARY KEY,
        received REAL NOT NULL,
        ok INTEGER,                    -- NULL while running
        error TEXT
    );
    CREATE INDEX mqtt_commands_received ON mqtt_commands(received)
    """,
    # a refusal's kind and values (JSON), so that a repeated cmd_id is answered as the first time
    "ALTER TABLE mqtt_commands ADD COLUMN refusal TEXT",
    # the retained topics this site publishes: one of a relay or camera removed from the config
    # (or of discovery turned off) is cleared on the broker at the next connect
    "CREATE TABLE mqtt_retained (topic TEXT PRIMARY KEY)",
]

DROPPABLE_FIRST = "telemetry"
COMMAND_WINDOW = 5000  # executed cmd_ids remembered (QoS 1 redelivery comes within seconds to hours)
INTERRUPTED = ("the house stopped while this command ran (a power cut or a crash), so whether it took effect is "
               "unknown; check the house's state (…/relay/<name>, …/broadcast/state) and, if needed, send it again "
               "with a new cmd_id")


def encode(payload: dict[str, Any] | bytes) -> bytes:
    """A message's body as stored and sent: bytes as they are, JSON objects in UTF-8."""
    return payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Pending:
    seq: int
    topic: str
    payload: bytes
    kind: str


class Outbox:
    def __init__(self, db: Database, max_messages: int = 10_000):
        self.db = db
        self.max_messages = max_messages
        self.dropped: dict[str, int] = {}
        self._lock = threading.Lock()
        db.ensure_schema("outbox", SCHEMA)
        self._close_interrupted()

    def _close_interrupted(self) -> None:
        """At start: a command claimed but never finished ran when the house stopped (one
        daemon per data folder: none runs now). Its cmd_id is answered with that, once and
        for all, rather than `ok: null` for ever; it is not run again (a TOGGLE twice)."""
        ids = [row["cmd_id"] for row in self.db.query("SELECT cmd_id FROM mqtt_commands WHERE ok IS NULL")]
        if not ids:
            return
        try:
            with self.db.tx() as conn:
                conn.executemany("UPDATE mqtt_commands SET ok=0, error=?, refusal=? WHERE cmd_id=?",
                                 [(INTERRUPTED, json.dumps({"kind": "interrupted", "values": {}}), i) for i in ids])
        except sqlite3.Error as err:  # a database read-only on a full disk: answered `ok: null` meanwhile
            logger.warning("mqtt commands interrupted at the last stop not closed error=%r", str(err))
        else:
            logger.warning("mqtt commands interrupted at the last stop cmd_ids=%s (a repeat is answered ok=false, "
                           "outcome unknown)", ",".join(ids))

    # messages ---------------------------------------------------------------
    def put(self, topic: str, payload: dict[str, Any] | bytes, kind: str) -> int:
        return self.put_many([(topic, payload, kind)])[0]

    def put_many(self, messages: list[tuple[str, dict[str, Any] | bytes, str]]) -> list[int]:
        """Store (topic, payload, kind) messages in one transaction (one fsync); their seqs."""
        seqs: list[int] = []
        if not messages:
            return seqs
        with self._lock, self.db.tx() as conn:
            depth = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            for topic, payload, kind in messages:
                body = encode(payload)
                if depth >= self.max_messages:
                    self._make_room(conn, depth - self.max_messages + 1, kind)
                    depth = self.max_messages - 1
                cur = conn.execute(
                    "INSERT INTO outbox(topic, payload, kind, created) VALUES (?, ?, ?, ?)",
                    (topic, body, kind, time.time()),
                )
                depth += 1
                seqs.append(int(cur.lastrowid or 0))
        return seqs

    def _make_room(self, conn: Any, need: int, incoming: str) -> None:
        """Drop old telemetry first; events and logs only when nothing else is left."""
        rows = conn.execute(
            "SELECT seq, kind, topic FROM outbox ORDER BY (kind != ?), seq LIMIT ?", (DROPPABLE_FIRST, need)
        ).fetchall()
        for seq, kind, topic in rows:
            conn.execute("DELETE FROM outbox WHERE seq=?", (seq,))
            self.dropped[kind] = self.dropped.get(kind, 0) + 1
            if kind != DROPPABLE_FIRST:
                logger.error("outbox full, dropped oldest kind=%s topic=%s seq=%d max=%d (raise mqtt.outbox_max "
                             "or restore the link)", kind, topic, seq, self.max_messages)

    def after(self, seq: int, limit: int) -> list[Pending]:
        """Messages written after `seq`, oldest first."""
        rows = self.db.query("SELECT seq, topic, payload, kind FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))
        return [Pending(r["seq"], r["topic"], bytes(r["payload"]), r["kind"]) for r in rows]

    def remove(self, *seqs: int) -> None:
        """Forget delivered messages (PUBACK), in one transaction."""
        if seqs:
            with self.db.tx() as conn:
                conn.executemany("DELETE FROM outbox WHERE seq=?", [(seq,) for seq in seqs])

    def depth(self) -> int:
        row = self.db.one("SELECT COUNT(*) FROM outbox")
        return int(row[0]) if row else 0

    def oldest_age_s(self) -> float | None:
        row = self.db.one("SELECT MIN(created) FROM outbox")
        return round(time.time() - row[0], 1) if row and row[0] is not None else None

    # retained topics ----------------------------------------------------------
    def retained_since(self, now: set[str]) -> set[str]:
        """The retained topics published before that are not in `now` (to clear on the
        broker); `now` is remembered in their place."""
        with self.db.tx() as conn:
            before = {row[0] for row in conn.execute("SELECT topic FROM mqtt_retained")}
            conn.executemany("DELETE FROM mqtt_retained WHERE topic=?", [(t,) for t in before - now])
            conn.executemany("INSERT OR IGNORE INTO mqtt_retained(topic) VALUES (?)", [(t,) for t in now - before])
        return before - now

    # commands ---------------------------------------------------------------
    def claim_command(self, cmd_id: str) -> dict[str, Any] | None:
        """Record `cmd_id` as running; None when it is new, else what happened the first time."""
        with self.db.tx() as conn:
            row = conn.execute("SELECT ok, error, refusal FROM mqtt_commands WHERE cmd_id=?", (cmd_id,)).fetchone()
            if row is not None:
                return {"ok": None if row[0] is None else bool(row[0]), "error": row[1], **json.loads(row[2] or "{}")}
            conn.execute("INSERT INTO mqtt_commands(cmd_id, received) VALUES (?, ?)", (cmd_id, time.time()))
            conn.execute(
                "DELETE FROM mqtt_commands WHERE cmd_id IN (SELECT cmd_id FROM mqtt_commands "
                "ORDER BY received DESC LIMIT -1 OFFSET ?)", (COMMAND_WINDOW,)
            )
        return None

    def finish_command(self, cmd_id: str, ok: bool, error: str | None, retry_allowed: bool = False,
                       refusal: dict[str, Any] | None = None) -> None:
        """Remember the outcome (`refusal`: the refusal's kind and values, or the result: what
        a repeat of the cmd_id is answered with besides ok and error); with
        `retry_allowed` (a part was unavailable, a relay too soon) forget the id so that the IOC's retry with
        the same cmd_id runs."""
        if retry_allowed:
            self.db.execute("DELETE FROM mqtt_commands WHERE cmd_id=?", (cmd_id,))
        else:
            self.db.execute("UPDATE mqtt_commands SET ok=?, error=?, refusal=? WHERE cmd_id=?",
                            (int(ok), error, json.dumps(refusal, ensure_ascii=False) if refusal else None, cmd_id))
