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

A full disk at start: SQLite cannot open a WAL database whose shared-memory index it
cannot size, so the house's database opens read-only instead (`immutable`: the file as
the last clean stop left it, every table readable) and `problem` says so. Every write
then tries to open the writer again and, while the disk is still full, raises SQLite's
own error, so each part keeps what it cannot write in memory as it does for any full
disk; the first write after space returns (or `try_writable()`, from housekeeping)
reopens it and the database is as usual. Not possible, and said with storage.dir and
the fix (DatabaseUnavailable): a database that does not exist yet (a new install on a
full card), one whose journal still holds writes (a crash just before the disk filled:
reading without them would show old states), and a schema step a new version needs.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from controller.commands import is_storage_full

logger = logging.getLogger(__name__)

FIX = "free space there (e.g. old camera clips: sudo du -sh {dir}/*)"


class DatabaseUnavailable(Exception):
    """The database cannot be opened or brought up to date; the message names storage.dir and the fix."""

    code = 1  # the operation failed (not a config error): it passes once space is freed


class Database:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._local = threading.local()    # .writing: depth of this thread's write transactions
        self._readers: dict[threading.Thread, sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        self._closed = False
        self.problem = ""                  # why the database is read-only now ("" when writable)
        try:
            self._conn = self._open_writer()
        except sqlite3.Error as err:
            self._conn = self._open_read_only(err)

    def _connect(self, immutable: bool = False) -> sqlite3.Connection:
        if immutable:
            uri = f"file:{urllib.parse.quote(str(self.path))}?immutable=1"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None, timeout=10)
        else:
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_steps (name TEXT NOT NULL, step INTEGER NOT NULL, "
                "applied_at REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0), PRIMARY KEY (name, step))"
            )
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_read_only(self, err: sqlite3.Error) -> sqlite3.Connection:
        """A full disk at start: the database as the last clean stop left it, read-only
        (see the module's docstring), or DatabaseUnavailable saying why not."""
        where = f"storage.dir {self.path.parent}: "
        fix = FIX.format(dir=self.path.parent)
        if not is_storage_full(err):
            raise err
        if not self.path.exists() or self.path.stat().st_size == 0:
            raise DatabaseUnavailable(f"{where}cannot create the database {self.path}: the disk is full ({err}); "
                                      f"{fix}, then start langso again") from err
        wal = Path(f"{self.path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise DatabaseUnavailable(f"{where}cannot open the database {self.path}: the disk is full ({err}) and its "
                                      f"journal {wal.name} holds writes not yet in the database; {fix}, "
                                      "then start langso again") from err
        conn = self._connect(immutable=True)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except BaseException:
            conn.close()
            raise
        self.problem = (f"the database {self.path} is read-only: the disk is full ({err}); what cannot be written is "
                        f"kept in memory and written when space returns: {fix}")
        logger.error("database opened read-only path=%s error=%r (disk full: writes wait in memory until space returns)",
                     self.path, str(err))
        return conn

    def try_writable(self) -> bool:
        """Open the writer again after a full-disk start; True when the database is writable."""
        with self._lock:
            if not self.problem:
                return True
            try:
                self._reopen()
            except sqlite3.Error:
                return False
            return True

    def _reopen(self) -> None:
        """Under self._lock, while read-only: the writer, or SQLite's error while the disk is still full."""
        conn = self._open_writer()
        self._conn.close()
        self._conn, self.problem = conn, ""
        logger.info("database writable again path=%s", self.path)

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's read connection; None where reads must go through the writer."""
        if str(self.path) == ":memory:" or getattr(self._local, "writing", 0) or self.problem:
            return None  # read-only after a full-disk start: reads share the one connection, swapped when writable
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
                try:
                    with self.tx() as conn:
                        for statement in _split(sql):
                            conn.execute(statement)
                        conn.execute("INSERT INTO schema_steps(name, step) VALUES (?, ?)", (name, number))
                except sqlite3.Error as err:
                    if not is_storage_full(err):
                        raise
                    raise DatabaseUnavailable(
                        f"storage.dir {self.path.parent}: cannot bring the database {self.path} up to date ({name} "
                        f"step {number}): the disk is full ({err}); {FIX.format(dir=self.path.parent)}, "
                        "then start langso again") from err
                logger.info("schema migrated name=%s step=%d", name, number)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT); rolled back on error."""
        with self._lock:
            if self.problem:
                self._reopen()  # SQLite's error while the disk is still full: the caller keeps its write
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
