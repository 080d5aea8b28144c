"""The event store on real SQLite: the cursor, repair after a crash, retention by age
and by free space (oldest clips first, never a clip being written)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from camera.events import EventStore
from camera.retention import Retention
from controller.db import Database


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    db = Database(tmp_path / "langso.db")
    yield EventStore(db)
    db.close()


def add(store: EventStore, clip_dir: Path, camera: str = "cam", start: float | None = None, size: int = 1000,
        closed: bool = True) -> int:
    start = time.time() if start is None else start
    event_id = store.open(camera, start, 0.1, [[1, 2, 3, 4]], [])
    clip_dir.mkdir(parents=True, exist_ok=True)
    clip = clip_dir / f"{event_id}.mp4"
    snap = clip_dir / f"{event_id}.jpg"
    clip.write_bytes(b"\0" * size)
    snap.write_bytes(b"\xff\xd8")
    store.update(event_id, end=start + 5, clip=str(clip), snapshot=str(snap), closed=1 if closed else 0)
    return event_id


def test_cursor_never_misses_or_repeats(store: EventStore, tmp_path: Path):
    ids = [add(store, tmp_path / "clips", camera="a" if i % 2 else "b") for i in range(7)]
    seen, since = [], 0
    while True:
        page = store.list(since=since, limit=3)
        if not page:
            break
        seen += [e["id"] for e in page]
        since = page[-1]["id"]
    assert seen == ids
    assert [e["id"] for e in store.list(limit=2)] == ids[-2:]          # newest, oldest first
    assert all(e["camera"] == "a" for e in store.list(since=0, camera="a"))
    event = store.get(ids[0])
    assert set(event) == {"id", "camera", "start", "end", "score", "boxes", "tags", "snapshot", "clip"}
    assert event["boxes"] == [[1, 2, 3, 4]] and store.get(9999) is None


def test_repair_closes_open_events_and_removes_partial_clips(store: EventStore, tmp_path: Path):
    clips = tmp_path / "clips"
    done = add(store, clips / "cam")
    crashed = store.open("cam", time.time(), 0.2, [], [])
    (clips / "cam" / f"{crashed}.mp4.part").write_bytes(b"half")
    store.update(crashed, clip=str(clips / "cam" / f"{crashed}.mp4"))
    assert store.repair(clips) == 1
    assert not list(clips.rglob("*.part"))
    fixed = store.get(crashed)
    assert fixed["end"] == fixed["start"] and fixed["clip"] is None
    assert store.get(done)["clip"] is not None


def test_retention_by_age_and_by_free_space(store: EventStore, tmp_path: Path):
    clips = tmp_path / "clips"
    now = time.time()
    old = add(store, clips / "cam", start=now - 20 * 86400)
    ids = [add(store, clips / "cam", start=now - 3600 * (10 - i), size=2 * 2**20) for i in range(4)]
    writing = add(store, clips / "cam", start=now - 3600 * 20, size=2 * 2**20, closed=False)

    def free_mb() -> int:  # a 13 MB card: what the clips use is not free
        return 13 - sum(p.stat().st_size for p in clips.rglob("*")) // 2**20

    retention = Retention(store, clips, keep_days=14, min_free_mb=5, free_mb=free_mb)
    result = retention.run(now)
    assert result["expired_events"] == 1 and store.get(old) is None
    assert result["clips_removed"] == 1 and free_mb() >= 5
    assert store.get(ids[0])["clip"] is None and not (clips / "cam" / f"{ids[0]}.mp4").exists()
    assert store.get(ids[0])["snapshot"] is not None                   # the event and its snapshot stay
    assert all(store.get(i)["clip"] for i in ids[1:])
    assert Path(store.get(writing)["clip"]).exists()                   # never the clip being written
    assert retention.problem == ""

    tight = Retention(store, clips, keep_days=14, min_free_mb=50, free_mb=free_mb)
    tight.run(now)
    assert Path(store.get(writing)["clip"]).exists()
    assert "no finished clip left" in tight.problem and "min_free_mb" in tight.problem


def test_langso_events_lists_through_the_daemon(make_config, start_app, tmp_path: Path, capsys, monkeypatch):
    from controller.cli import main

    app = start_app(make_config())
    clips = Path(app.config.storage.dir) / "clips" / "cam"
    for _ in range(3):
        add(app.house.events, clips)
    info = json.loads((Path(app.config.storage.dir) / "cli.json").read_text())
    monkeypatch.setenv("LANGSO_URL", info["url"])
    monkeypatch.setenv("LANGSO_TOKEN", info["token"])
    assert main(["events", "--since", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in result["events"]] == [2, 3] and result["next_since"] == 3
    assert result["events"][0]["clip_url"] == "/api/v1/events/2/clip.mp4"
    assert main(["events"]) == 0
    out = capsys.readouterr().out
    assert "cam" in out and "langso events --since 3" in out
