"""The web on a full disk (storage.dir on a small tmpfs the test fills): what cannot be
saved is refused with 507 and the fix — in Vietnamese for the page, in English for
programs — and a read never fails because a token's last use cannot be recorded."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def app(small_disk, make_config, start_app, tmp_path: Path):
    return start_app(make_config(storage={"dir": str(small_disk.path), "min_free_mb": 0},
                                 audio={"output": f"wav:{tmp_path / 'audio-out'}", "tts": ["espeak"]}))


def test_what_a_full_disk_cannot_save_is_refused_with_507_and_reads_go_on(small_disk, app, client, session_as, token_for):
    page, csrf = session_as("head")
    session = {"X-CSRFToken": csrf}
    program, reader = token_for("broadcast", "control"), token_for("events:read")  # `reader` never used yet
    small_disk.fill()

    machine = client.post("/api/v1/broadcasts", json={"text": "Họp thôn."}, headers=program)
    assert machine.status_code == 507
    assert machine.json["error"] == (f"storage: cannot save this: writing to {small_disk.path} (storage.dir) failed "
                                     "(database or disk is full); the disk is full: free space there (e.g. old camera "
                                     "clips), then send it again")
    assert (machine.json["kind"], machine.json["values"]["dir"]) == ("storage_full", str(small_disk.path))  # as data too
    shown = page.post("/api/v1/broadcasts", json={"text": "Họp thôn."}, headers=session)
    assert (shown.status_code, shown.json) == (507, {"error": f"Bộ nhớ của máy tính ở nhà văn hóa ({small_disk.path}) đã đầy "
                                                              "nên không lưu được. Hãy nhờ kỹ thuật viên giải phóng dung lượng "
                                                              "(ví dụ xóa bớt đoạn ghi hình cũ) rồi gửi lại."})
    # any other write the disk refuses is said the same way (a schedule: the store, not the audio part)
    body = {"kind": "relay", "target": "tv", "start": "18:00", "end": "22:00"}
    shown = page.post("/api/v1/schedules", json=body, headers=session)
    assert shown.status_code == 507 and shown.json["error"].startswith("Bộ nhớ của máy tính ở nhà văn hóa"), shown.json
    assert client.post("/api/v1/schedules", json=body, headers=program).status_code == 507
    # reads go on: a token's first use cannot be recorded, the request is answered all the same
    status = client.get("/api/v1/status", headers=reader)
    assert status.status_code == 200 and status.json["site"]["id"] == "test-site"
    assert page.get("/api/v1/broadcasts").status_code == 200
    # the relays still switch (their log waits in memory: the store problem says so)
    assert client.post("/api/v1/relays/tv", json={"state": "on"}, headers=program).json["on"] is True
    assert "relay switch(es) are kept in memory" in client.get("/api/v1/status", headers=reader).json["problems"]["store"]
