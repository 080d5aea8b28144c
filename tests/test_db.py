"""The shared SQLite database: one writer, a read connection per thread."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from controller.db import Database


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "langso.db")
    database.ensure_schema("t", ["CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"])
    yield database
    database.close()


def test_a_read_in_another_thread_goes_on_while_a_write_transaction_is_open(db):
    db.execute("INSERT INTO items(name) VALUES ('committed')")
    seen: list[list[str]] = []
    with db.tx() as conn:
        conn.execute("INSERT INTO items(name) VALUES ('not yet')")
        # inside its transaction the writing thread sees its own write
        assert [r["name"] for r in db.query("SELECT name FROM items ORDER BY id")] == ["committed", "not yet"]
        reader = threading.Thread(target=lambda: seen.append([r["name"] for r in db.query("SELECT name FROM items")]))
        reader.start()
        reader.join(5)
        assert not reader.is_alive(), "the read waited for the writer's transaction"
    assert seen == [["committed"]]       # the other thread reads what is committed, not the open transaction
    assert db.one("SELECT COUNT(*) AS n FROM items")["n"] == 2


def test_read_connections_cannot_write(db):
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.query("INSERT INTO items(name) VALUES ('x')")


def test_read_connections_of_ended_threads_are_closed_and_close_closes_all(db):
    def read() -> None:
        db.query("SELECT 1")

    for _ in range(5):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    read()
    assert len(db._readers) <= 2          # the ended threads' connections went when the next one came
    db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        db.query("SELECT 1")


def test_in_memory_database_reads_through_its_one_connection():
    db = Database(":memory:")
    db.ensure_schema("t", ["CREATE TABLE items (id INTEGER PRIMARY KEY)"])
    db.execute("INSERT INTO items DEFAULT VALUES")
    counts: list[int] = []
    reader = threading.Thread(target=lambda: counts.append(db.one("SELECT COUNT(*) AS n FROM items")["n"]))
    reader.start()
    reader.join(5)
    assert counts == [1]                  # a second connection to :memory: would be an empty database
    db.close()


def test_on_a_full_disk_the_database_opens_read_only_and_writes_again_once_space_returns(small_disk):
    """A clean stop, then the disk fills: reads work, a write raises SQLite's own full-disk
    error (the callers keep it in memory), the first write after space returns goes through;
    a schema step cannot be applied and says why and the fix."""
    from controller.commands import is_storage_full
    from controller.db import DatabaseUnavailable

    path = small_disk.path / "langso.db"
    first = Database(path)
    first.ensure_schema("t", ["CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"])
    first.execute("INSERT INTO items(name) VALUES ('before')")
    first.close()
    small_disk.fill()

    db = Database(path)
    assert db.problem.startswith(f"the database {path} is read-only: the disk is full")
    db.ensure_schema("t", ["CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"])  # nothing to do
    assert [r["name"] for r in db.query("SELECT name FROM items")] == ["before"]
    with pytest.raises(sqlite3.Error) as refused:
        db.execute("INSERT INTO items(name) VALUES ('while full')")
    assert is_storage_full(refused.value)
    with pytest.raises(DatabaseUnavailable, match=rf"storage.dir {small_disk.path}: cannot bring the database .* up to "
                                                   r"date \(t step 2\): the disk is full .*free space there"):
        db.ensure_schema("t", ["CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", "CREATE TABLE more (x)"])
    assert db.try_writable() is False

    small_disk.free()
    db.execute("INSERT INTO items(name) VALUES ('after')")
    assert db.problem == ""
    assert [r["name"] for r in db.query("SELECT name FROM items ORDER BY id")] == ["before", "after"]
    db.close()
