"""Motion that never stops (a market day, a crowd at the gate) is cut at `max_event_s` into
consecutive events: each ends (its `end` published with its finished clip), the next starts
at the same look with its own id, clip and pre-roll, so coverage has no gap and every clip
is bounded. In `langso camera analyze` and in the daemon on a looped file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import av
import pytest

from camera.motion import Motion
from camera.synthetic import Scene, Walk, write_scene
from camera.tracker import EventTracker
from controller.cli import main
from tests.conftest import house_data, write_toml

PRE_S, POST_S, MAX_S = 2.0, 3.0, 20.0


def busy_scene(seconds: float) -> Scene:
    """Someone crosses the picture at every moment: a walker enters every 4 s, from
    alternating sides, and takes about 10 s to cross."""
    walks = tuple(Walk(float(t), speed=70 if i % 2 == 0 else -70, y=200 + 40 * (i % 2))
                  for i, t in enumerate(range(0, int(seconds), 4)))
    return Scene(seconds=seconds, walks=walks, seed=21)


@pytest.fixture(scope="module")
def busy_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scene(busy_scene(50), tmp_path_factory.mktemp("busy") / "busy.mp4")


def test_tracker_splits_motion_that_goes_on_past_max_event_s():
    tracker = EventTracker(start_frames=3, quiet_s=2.0, max_event_s=10.0)
    moving = Motion(True, 0.01, [[1, 2, 3, 4]])
    changes = {t / 5: tracker.feed(t / 5, moving) for t in range(0, 5 * 25)}   # 25 s of motion, 5 looks a second
    splits = [t for t, c in changes.items() if c == "split"]
    assert changes[0.4] == "start" and splits == [10.0, 20.0]
    assert tracker.ended().start == 10.0 and tracker.ended().end == 20.0
    assert tracker.track is not None and tracker.track.start == 20.0


def test_analyze_cuts_continuous_motion_into_consecutive_bounded_events(busy_video: Path, tmp_path: Path, capsys):
    config = write_toml(tmp_path / "langso.toml", house_data(tmp_path / "data", cameras=[
        {"name": "cho", "source": str(busy_video), "pre_s": PRE_S, "post_s": POST_S, "max_event_s": MAX_S}]))
    out = tmp_path / "rec"
    assert main(["camera", "analyze", str(busy_video), "--json", "--record", str(out), "--config", str(config)]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert len(events) == 3, events
    assert events[0]["start"] <= 1.0 and events[-1]["end"] >= 49.0
    for a, b in zip(events, events[1:]):
        assert b["start"] == a["end"]                                       # no gap between events
    for e in events[:-1]:
        assert MAX_S <= e["end"] - e["start"] <= MAX_S + 2.0                 # quiet_s: the cut comes at a motion look
    with av.open(str(busy_video)) as container:
        source = {bytes(p): float(p.pts * p.time_base) for p in container.demux(video=0) if p.size}
    spans = []
    for e in events:
        with av.open(e["clip"]) as container:
            packets = [p for p in container.demux(video=0) if p.size]
        assert packets[0].is_keyframe and Path(e["snapshot"]).exists()
        first, last = source[bytes(packets[0])], source[bytes(packets[-1])]   # stream-copied: found in the source
        assert e["start"] - PRE_S - 1.0 <= first <= max(0.0, e["start"] - PRE_S)  # its own pre-roll, from a keyframe
        assert last <= e["end"] + POST_S                                        # bounded: post-roll, then it ends
        spans.append((first, last))
    for (_, last), (first, _) in zip(spans, spans[1:]):
        assert first <= last                                                    # the clips overlap: no gap in footage
    assert sorted(p.name for p in out.iterdir()) == ["1.jpg", "1.mp4", "2.jpg", "2.mp4", "3.jpg", "3.mp4"]


def test_plaza_stays_one_event_with_the_default_max(opencv_clip: Callable[[str], Path], capsys):
    """vtest.avi (79.5 s of people) is shorter than the default max_event_s: one event, as before."""
    assert main(["camera", "analyze", str(opencv_clip("vtest.avi")), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["events"]) == 1


def test_daemon_ends_and_restarts_events_while_a_looped_source_keeps_moving(make_config, start_app, tmp_path: Path,
                                                                           wait_for):
    video = write_scene(busy_scene(16), tmp_path / "busy-loop.mp4")
    config = make_config(cameras=[{"name": "cho", "source": str(video), "pre_s": 1, "post_s": 1, "max_event_s": 10}])
    seen: list[tuple[str, dict[str, Any]]] = []
    app = start_app(config)
    app.house.bus.subscribe(lambda topic, p: seen.append((topic, dict(p))))
    ends = lambda: [p for t, p in seen if t == "camera.event" and p["type"] == "end"]  # noqa: E731
    first = wait_for(lambda: ends(), timeout=120, what="an event ended by max_event_s")[0]
    assert Path(first["clip"]).exists() and 10 <= first["end"] - first["start"] <= 12
    nxt = wait_for(lambda: [p for t, p in seen if t == "camera.event" and p["type"] == "new" and p["id"] > first["id"]],
                   timeout=30, what="the next event")[0]
    assert nxt["start"] == first["end"] and nxt["clip"] is None
    # motion never stopped: no OFF on the retained motion topic between the two events
    assert {"camera": "cho", "on": False} not in [p for t, p in seen if t == "camera.motion"]
    stored = app.house.events.get(first["id"])
    assert stored["end"] == pytest.approx(first["end"], abs=0.001) and stored["clip"] == first["clip"]
