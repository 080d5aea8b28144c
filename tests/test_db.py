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
