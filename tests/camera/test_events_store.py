"""The event store on real SQLite: the cursor, repair after a crash, retention by age
and by free space (oldest clips first, never a clip being written)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from camera.events import SCHEMA, EventStore
from camera.retention import Retention
from controller.db import Database
from controller.write_retry import WriteRetry


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    db = Database(tmp_path / "langso.db")
    yield EventStore(db, WriteRetry)
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
    assert set(event) == {"id", "camera", "start", "end", "score", "boxes", "tags", "snapshot", "clip", "interrupted", "closed"}
    assert event["boxes"] == [[1, 2, 3, 4]] and store.get(9999) is None


def test_repair_closes_open_events_and_removes_partial_clips(store: EventStore, tmp_path: Path):
    clips = tmp_path / "clips"
    done = add(store, clips / "cam")
    crashed = store.open("cam", 1000.0, 0.2, [], [])
    (clips / "cam" / f"{crashed}.mp4.part").write_bytes(b"half")
    (clips / "cam" / f"{crashed}.jpg").write_bytes(b"\xff\xd8")
    store.update(crashed, clip=str(clips / "cam" / f"{crashed}.mp4"), snapshot=str(clips / "cam" / f"{crashed}.jpg"),
                 last_motion=1042.5)
    never_seen_again = store.open("cam", 2000.0, 0.2, [], [])        # crashed before its first last_motion
    repaired = store.repair(clips)
    assert [e["id"] for e in repaired] == [crashed, never_seen_again]
    assert not list(clips.rglob("*.part"))
    fixed = store.get(crashed)
    assert repaired[0] == fixed
    assert fixed["end"] == 1042.5 and fixed["interrupted"] is True     # ended at the last motion it stored
    assert fixed["clip"] is None and fixed["snapshot"] == str(clips / "cam" / f"{crashed}.jpg")
    assert store.get(never_seen_again)["end"] == 2000.0
    assert store.get(done)["clip"] is not None and store.get(done)["interrupted"] is False
    assert store.repair(clips) == []                                  # once


def test_changes_not_handed_to_the_uplink_are_owed_in_order(tmp_path: Path):
    """With an uplink (`handover`), what it has not said it stored is owed at the next
    start: an event's `new` (rebuilt: no end, no clip) and its `end`, oldest event first;
    a mark never goes back. Without one, nothing is ever owed."""
    db = Database(tmp_path / "langso.db")
    store = EventStore(db, WriteRetry, handover=True)

    def closed(start: float, handed: list[str]) -> int:
        event_id = store.open("cam", start, 0.1, [[1, 2, 3, 4]], [])
        store.update(event_id, end=start + 5, clip=f"/clips/{event_id}.mp4", snapshot=f"/clips/{event_id}.jpg", closed=1)
        store.handed([(event_id, kind) for kind in handed])
        return event_id

    never = closed(1000.0, [])
    half = closed(1100.0, ["new", "update"])
    done = closed(1200.0, ["new", "end", "new"])                    # a late `new` mark: still all handed
    opened = store.open("cam", 1300.0, 0.2, [], ["person"])        # open, never handed: its `new`
    store.handed([(store.open("cam", 1400.0, 0.2, [], []), "new")])  # open, handed: nothing yet
    owed = store.owed()
    assert [(e["id"], e["type"]) for e in owed] == [(never, "new"), (never, "end"), (half, "end"), (opened, "new")]
    assert owed[0]["end"] is None and owed[0]["clip"] is None and owed[0]["snapshot"] == f"/clips/{never}.jpg"
    assert owed[1]["end"] == 1005.0 and owed[1]["clip"] == f"/clips/{never}.mp4" and owed[3]["tags"] == ["person"]
    assert done not in {e["id"] for e in owed}
    store.handed([(e["id"], e["type"]) for e in owed])
    assert store.owed() == []
    quiet = EventStore(db, WriteRetry)                             # no uplink: nothing to hand over
    quiet.update(quiet.open("cam", 1500.0, 0.1, [], []), end=1505.0, closed=1)
    assert quiet.owed() == []
    db.close()


def test_events_from_before_the_handover_count_as_handed(tmp_path: Path):
    """A database of an older version: its events are not sent again; the `end` of one a
    crash left open is, as before (the start-up repair)."""
    db = Database(tmp_path / "langso.db")
    db.ensure_schema("camera", SCHEMA[:2])
    for closed in (1, 0):
        db.execute("INSERT INTO camera_events(camera, start, closed, updated_at) VALUES ('cam', 1000, ?, 1000)", (closed,))
    store = EventStore(db, WriteRetry, handover=True)
    assert store.owed() == []
    store.repair(tmp_path / "clips")
    assert [(e["id"], e["type"], e["interrupted"]) for e in store.owed()] == [(2, "end", True)]
    db.close()


def test_an_open_event_stores_its_last_motion_so_a_crash_ends_it_there(scene_video, store: EventStore, tmp_path: Path):
    """The pipeline is fed a slow walk and abandoned in the middle of it (the daemon
    killed): the event is open, and the start-up repair ends it at its last motion stored,
    at most LAST_MOTION_EVERY_S before the last look, not at its start."""
    import threading

    from camera.config import CameraConfig
    from camera.pipeline import LAST_MOTION_EVERY_S, CameraPipeline
    from camera.sources import Frame, PyavSource

    video = scene_video("slow-far-walker")                              # walks from 3 s to about 28 s
    pipeline = CameraPipeline(CameraConfig(name="cam", source=str(video), person_tags=False),
                              clip_dir=tmp_path / "clips" / "cam", store=store)
    source = PyavSource(str(video), packets=True)
    try:
        for item in source.items(threading.Event()):
            if pipeline.frames == 0:
                pipeline.use_template(source.copy_template)
            pipeline.feed(item)
            if isinstance(item, Frame) and item.t >= 20:
                break
    finally:
        source.close()
    track = pipeline.tracker.track
    assert track is not None and track.last_motion >= 19                # the walk goes on: the event is open
    (open_event,) = store.list(since=0)
    assert open_event["end"] is None and not open_event["interrupted"]
    (repaired,) = store.repair(tmp_path / "clips")
    assert repaired["id"] == open_event["id"] and repaired["interrupted"]
    assert track.last_motion - LAST_MOTION_EVERY_S <= repaired["end"] <= track.last_motion
    assert repaired["clip"] is None and not list((tmp_path / "clips").rglob("*.part"))


def test_an_event_open_when_the_stream_changes_keeps_its_clip_so_far(scene_video, store: EventStore, tmp_path: Path):
    """The clips' stream changes in the middle of an event (the main stream drops, or comes
    back): the clip so far is finished and stays the event's, stored at once (a crash after
    it keeps it) and given with the event's end. Until 2026-12-06 the event lost it."""
    import threading

    import av

    from camera.config import CameraConfig
    from camera.pipeline import CameraPipeline
    from camera.sources import Frame, Packet, PyavSource

    video = scene_video("slow-far-walker")                              # walks from 3 s to about 28 s
    other = PyavSource(str(scene_video("one-walker", (1280, 720))))
    next(other.items(threading.Event()))                                # open: its stream is known
    other.close()                                                       # ... and closed again, as a dropped stream
    pipeline = CameraPipeline(CameraConfig(name="cam", source=str(video), person_tags=False, pre_s=2, post_s=1),
                              clip_dir=tmp_path / "clips" / "cam", store=store)
    source = PyavSource(str(video), packets=True)
    switched = None
    try:
        for item in source.items(threading.Event()):
            if pipeline.frames == 0:
                pipeline.use_template(source.copy_template)
            if switched is None and isinstance(item, Frame) and item.t >= 12:
                assert pipeline.tracker.track is not None               # the walk's event is open
                pipeline.use_template(other.copy_template)
                (switched,) = store.list(since=0)
            if switched is not None and isinstance(item, Packet):       # the other stream sends nothing
                continue
            pipeline.feed(item)
    finally:
        source.close()
    pipeline.finish()
    assert switched["end"] is None and switched["clip"] and Path(switched["clip"]).exists()
    (event,) = store.list(since=0)
    assert event["end"] is not None and event["clip"] == switched["clip"]
    with av.open(event["clip"]) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (640, 360)
        times = [float(p.pts * p.time_base) for p in container.demux(stream) if p.size]
    assert 8 <= times[-1] - times[0] <= 12                              # from a keyframe before 1 s to the switch


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
    from datetime import datetime
    from zoneinfo import ZoneInfo

    monkeypatch.setenv("TZ", "Europe/London")   # Raspberry Pi OS's own until the technician sets it
    time.tzset()
    try:
        assert main(["events"]) == 0
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    out = capsys.readouterr().out
    assert "cam" in out and "langso events --since 3" in out
    start = app.house.events.get(3)["start"]           # printed in site.timezone, as schedules are written
    assert datetime.fromtimestamp(start, ZoneInfo(app.config.site.timezone)).strftime("%Y-%m-%d %H:%M:%S") in out
    app.house.events.open("cam", time.time(), 0.1, [], [])  # left open by a crash, closed at the next start
    app.house.events.repair(clips.parent)
    assert main(["events", "--since", "3"]) == 0
    assert "interrupted (closed at the next start)" in capsys.readouterr().out
    assert main(["events", "--camera", "cam", "--json"]) == 0
    assert [e["interrupted"] for e in json.loads(capsys.readouterr().out)["events"]] == [False] * 3 + [True]


def test_langso_events_bad_input_names_the_option(make_config, start_app, capsys, monkeypatch):
    """Bad --since / --camera: exit 2 with the daemon's message naming the field, never a
    traceback; the camera name is sent as one query value, whatever it contains."""
    from controller.cli import main

    app = start_app(make_config(cameras=[{"name": "cong-lang", "source": "/nonexistent.mp4"}]))
    info = json.loads((Path(app.config.storage.dir) / "cli.json").read_text())
    monkeypatch.setenv("LANGSO_URL", info["url"])
    monkeypatch.setenv("LANGSO_TOKEN", info["token"])
    assert main(["events", "--since", "99999999999999999999"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: since: ") and "9223372036854775807" in err
    for name in ("cổng làng", "a b", "x&limit=5", "nope"):
        assert main(["events", "--camera", name]) == 2, name
        captured = capsys.readouterr()
        assert captured.err == f"error: camera: no camera named {name!r}; known cameras: cong-lang\n"
        assert "Traceback" not in captured.err + captured.out
    assert main(["events", "--camera", "cong-lang", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == []


def test_on_a_full_disk_event_changes_wait_in_memory_read_back_as_written_and_are_written_later(small_disk):
    """storage.dir on a small tmpfs the test fills: a new event gets the next id (after
    every id ever given), its changes, the repair of an event left open and a retention
    delete are read back as if written, and written, in order, once space returns."""
    db = Database(small_disk.path / "langso.db")
    store = EventStore(db, WriteRetry)
    left_open = store.open("cam", 1000.0, 0.1, [], [])
    store.update(left_open, last_motion=1004.0)
    expired = store.open("cam", 900.0, 0.1, [], [])
    store.update(expired, end=901.0, closed=1)
    newest = store.open("cam", 950.0, 0.1, [], [])
    store.update(newest, end=951.0, closed=1)
    store.delete(newest)  # its id is not given again
    small_disk.fill()

    event = store.open("cam", 1010.0, 0.3, [[1, 2, 3, 4]], [])
    assert event == newest + 1
    store.update(event, end=1015.0, tags=["person"], closed=1)
    [repaired] = store.repair(small_disk.path / "clips")
    assert (repaired["id"], repaired["end"], repaired["closed"], repaired["interrupted"]) == (left_open, 1004.0, True, True)
    store.delete(expired)
    assert "database or disk is full" in store.write_error and store.unwritten() == 3
    assert [e["id"] for e in store.list(since=0)] == [left_open, event]
    assert [e["id"] for e in store.list(limit=1)] == [event] and store.last_id() == event
    assert store.get(event)["tags"] == ["person"] and store.get(event)["closed"] and store.get(expired) is None
    assert store.has_camera("cam") and store.oldest_clips() == [] and store.closed_before(2000.0) == []
    store.retry(force=True)  # still full: nothing is lost
    assert store.unwritten() == 3 and [r["id"] for r in db.query("SELECT id FROM camera_events ORDER BY id")] == [
        left_open, expired]

    small_disk.free()
    store.retry(force=True)
    assert store.unwritten() == 0 and store.write_error == ""
    rows = db.query('SELECT id, "end", closed, interrupted, tags FROM camera_events ORDER BY id')
    assert [tuple(r) for r in rows] == [(left_open, 1004.0, 1, 1, "[]"), (event, 1015.0, 1, 0, '["person"]')]
    assert store.open("cam", 1020.0, 0.1, [], []) == event + 1
    db.close()
