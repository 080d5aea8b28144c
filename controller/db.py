"""SQLite connection shared by the house: WAL, full sync, named schema steps.

Writes go through one connection, one transaction at a time. Reads take a connection
of their own per thread (WAL lets readers go on while the writer writes), so a slow
page of events does not hold up a relay switch or the next request; inside a write
transaction a thread reads through the writer, to see its own writes. An in-memory
database has only the one connection (a second would be another database).

Every part that keeps state (store, broadcast queue, camera events, MQTT outbox)
declares its tables with `ensure_schema(name, steps)`: steps are applied in order
once each and recorded, so a new step is a migration and an old database upgrades
itself at start. `synchronous=FULL` makes every committed transaction survive a
power cut (the Pi's SD card has no battery-backed cache to trust).
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

logger = logging.getLogger(__name__)


class Database:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = self._connect()
        self._local = threading.local()    # .writing: depth of this thread's write transactions
        self._readers: dict[threading.Thread, sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        self._closed = False
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_steps (name TEXT NOT NULL, step INTEGER NOT NULL, "
            "applied_at REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0), PRIMARY KEY (name, step))"
        )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's read connection; None where reads must go through the writer."""
        if str(self.path) == ":memory:" or getattr(self._local, "writing", 0):
            return None
        thread = threading.current_thread()
        conn = self._readers.get(thread)
        if conn is None:
            with self._readers_lock:
                if self._closed:
                    raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
                for gone in [t for t in self._readers if not t.is_alive()]:  # threads that ended
                    self._readers.pop(gone).close()
                conn = self._readers[thread] = self._connect()
                conn.execute("PRAGMA query_only=ON")
        return conn

    def ensure_schema(self, name: str, steps: Sequence[str]) -> None:
        """Apply the steps of `name` not applied yet, each in its own transaction."""
        with self._lock:
            done = {r[0] for r in self._conn.execute("SELECT step FROM schema_steps WHERE name=?", (name,))}
            for number, sql in enumerate(steps, start=1):
                if number in done:
                    continue
                with self.tx() as conn:
                    for statement in _split(sql):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_steps(name, step) VALUES (?, ?)", (name, number))
                logger.info("schema migrated name=%s step=%d", name, number)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT); rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._local.writing = getattr(self._local, "writing", 0) + 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            finally:
                self._local.writing -= 1
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # SQLite undoes a commit the full disk refused; never leave one open
                    self._conn.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        reader = self._reader()
        if reader is not None:
            return reader.execute(sql, params).fetchall()
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        reader = self._reader()
        if reader is not None:
            return reader.execute(sql, params).fetchone()
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """One statement in its own transaction."""
        with self.tx() as conn:
            return conn.execute(sql, params)

    def close(self) -> None:
        with self._readers_lock:
            self._closed = True
            for conn in self._readers.values():
                conn.close()
            self._readers.clear()
        with self._lock:
            self._conn.close()


def _split(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]
