"""The outbox on a real SQLite file: order, bounds (telemetry dropped first), restarts,
and the cmd_id window."""
from __future__ import annotations

import pytest

from controller.db import Database
from controller.outbox import COMMAND_WINDOW, Outbox


@pytest.fixture
def db(tmp_path):
    d = Database(tmp_path / "langso.db")
    yield d
    d.close()


def test_messages_leave_in_order_and_survive_reopening(tmp_path, db):
    box = Outbox(db)
    seqs = [box.put(f"t/{i}", {"i": i, "text": "Hổ Thôn"}, "event") for i in range(5)]
    box.remove(seqs[0])
    db.close()
    again = Outbox(Database(tmp_path / "langso.db"))
    pending = again.after(0, 10)
    assert [p.topic for p in pending] == ["t/1", "t/2", "t/3", "t/4"]
    assert pending[0].payload.decode() == '{"i": 1, "text": "Hổ Thôn"}'
    assert [p.topic for p in again.after(pending[1].seq, 1)] == ["t/3"]
    again.db.close()


def test_full_outbox_drops_old_telemetry_first_then_events_loudly(db, caplog):
    box = Outbox(db, max_messages=4)
    box.put("tele", b"1", "telemetry")
    box.put("ev", b"1", "event")
    box.put("tele", b"2", "telemetry")
    box.put("log", b"1", "log")
    box.put("ev", b"2", "event")          # drops telemetry 1
    box.put("ev", b"3", "event")          # drops telemetry 2
    assert [(p.topic, p.payload) for p in box.after(0, 10)] == [("ev", b"1"), ("log", b"1"), ("ev", b"2"), ("ev", b"3")]
    assert box.dropped == {"telemetry": 2} and "outbox full" not in caplog.text
    box.put("ev", b"4", "event")          # nothing droppable left: the oldest event goes, with an error
    assert [p.payload for p in box.after(0, 10)] == [b"1", b"2", b"3", b"4"]
    assert box.dropped == {"telemetry": 2, "event": 1}
    assert "outbox full, dropped oldest kind=event" in caplog.text
    assert box.depth() == 4


def test_command_ids_are_claimed_once_within_a_bounded_window(db):
    box = Outbox(db)
    assert box.claim_command("a") is None
    assert box.claim_command("a") == {"ok": None, "error": None}  # still running
    box.finish_command("a", False, "unknown relay")
    assert box.claim_command("a") == {"ok": False, "error": "unknown relay"}
    with db.tx() as conn:
        conn.executemany("INSERT INTO mqtt_commands(cmd_id, received) VALUES (?, ?)",
                         [(f"old-{i}", float(i)) for i in range(COMMAND_WINDOW)])
    assert box.claim_command("newest") is None
    count = db.one("SELECT COUNT(*) FROM mqtt_commands")[0]
    assert count == COMMAND_WINDOW
    assert db.one("SELECT 1 FROM mqtt_commands WHERE cmd_id='old-0'") is None
    assert box.claim_command("newest") is not None


def test_a_batch_is_stored_in_order_and_bounded_like_single_messages(db):
    box = Outbox(db, max_messages=4)
    box.put("tele", b"0", "telemetry")
    seqs = box.put_many([("ev", str(i).encode(), "event") for i in range(5)])
    assert seqs == sorted(seqs) and len(seqs) == 5
    assert [p.payload for p in box.after(0, 10)] == [b"1", b"2", b"3", b"4"]  # telemetry first, then the oldest event
    assert box.dropped == {"telemetry": 1, "event": 1}
    box.remove(*seqs[1:3])
    assert [p.payload for p in box.after(0, 10)] == [b"3", b"4"]
    assert box.put_many([]) == [] and box.depth() == 2


def test_a_command_a_power_cut_interrupted_is_answered_as_such_after_the_restart(db, caplog):
    """Claimed, then the process died before its outcome was stored: the IOC's repeat got
    `ok: null` for ever. Now it gets a final answer saying what to do; it does not run again."""
    box = Outbox(db)
    box.claim_command("done-1")
    box.finish_command("done-1", True, None)
    box.claim_command("toggle-1")  # the process dies here
    restarted = Outbox(db)
    first = restarted.claim_command("toggle-1")
    assert first["ok"] is False and first["kind"] == "interrupted" and "new cmd_id" in first["error"]
    assert "toggle-1" in caplog.text
    assert restarted.claim_command("done-1") == {"ok": True, "error": None}  # finished ones are left as they were
    assert restarted.claim_command("fresh") is None and restarted.claim_command("fresh") == {"ok": None, "error": None}
