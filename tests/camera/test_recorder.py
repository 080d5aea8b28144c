"""Clips: H.264 stream-copied from the last keyframe before the pre-roll, post-roll
after the motion, MP4 faststart, keyframe first; snapshots; the pre-roll ring."""
from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import cv2
import pytest

from camera.recorder import PacketRing
from camera.sources import Packet
from controller.cli import main


def packets_of(path: Path) -> list[av.Packet]:
    with av.open(str(path)) as container:
        return [p for p in container.demux(video=0) if p.size]


def top_level_boxes(path: Path) -> list[str]:
    data, boxes, i = path.read_bytes(), [], 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i:i + 4], "big")
        boxes.append(data[i + 4:i + 8].decode("latin-1"))
        if size < 8:
            break
        i += size
    return boxes


def test_record_writes_stream_copied_faststart_clips_with_pre_and_post_roll(scene_video: Callable[[str], Path],
                                                                          tmp_path: Path, capsys):
    video = scene_video("walkers-with-gaps")
    out = tmp_path / "rec"
    assert main(["camera", "analyze", str(video), "--json", "--record", str(out)]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert len(events) == 3
    source = packets_of(video)
    by_bytes = {bytes(p): float(p.pts * p.time_base) for p in source}
    for event in events:
        clip, snapshot = Path(event["clip"]), Path(event["snapshot"])
        assert clip.parent == out and clip.suffix == ".mp4" and clip.exists()
        boxes = top_level_boxes(clip)
        assert boxes.index("moov") < boxes.index("mdat"), boxes            # faststart: plays while downloading
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            duration = float(stream.duration * stream.time_base)
        packets = packets_of(clip)
        assert packets[0].is_keyframe
        # no re-encoding: every packet is byte-for-byte one of the source's
        first = by_bytes[bytes(packets[0])]
        assert all(bytes(p) in by_bytes for p in packets)
        # pre-roll: from the last keyframe (one a second) at or before start - 5 s
        assert first == pytest.approx(max(0.0, math.floor(event["start"] - 5.0 + 1e-6)), abs=0.01)
        # post-roll: 10 s after the motion ended (or the end of the file)
        assert first + duration == pytest.approx(min(event["end"] + 10.0, 60.0), abs=0.25)
        image = cv2.imread(str(snapshot))
        assert image.shape == (360, 640, 3)
    assert sorted(p.name for p in out.iterdir()) == ["1.jpg", "1.mp4", "2.jpg", "2.mp4", "3.jpg", "3.mp4"]


def test_raw_source_is_encoded_to_h264(opencv_clip: Callable[[str], Path], tmp_path: Path, capsys):
    """vtest.avi is MPEG-4 Part 2 (not playable on phones): the clip is re-encoded to H.264."""
    assert main(["camera", "analyze", str(opencv_clip("vtest.avi")), "--json", "--record", str(tmp_path)]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    clip = Path(events[0]["clip"])
    with av.open(str(clip)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 100
    assert packets_of(clip)[0].is_keyframe


def test_raw_source_clip_keeps_every_frame_faststart_with_pre_and_post_roll(tmp_path: Path, capsys):
    """A source that is not H.264 (MPEG-4 Part 2, like a USB camera's raw frames): the clip
    is encoded at the source's 10 fps (not at the 5 looks a second of the detector), starts
    at a keyframe `pre_s` before the motion and ends `post_s` after it."""
    from camera.synthetic import Scene, Walk, write_scene

    video = write_scene(Scene(seconds=30, walks=(Walk(8.0, speed=90),), seed=12), tmp_path / "raw.mp4", codec="mpeg4")
    out = tmp_path / "rec"
    assert main(["camera", "analyze", str(video), "--json", "--record", str(out)]) == 0
    (event,) = json.loads(capsys.readouterr().out)["events"]
    assert abs(event["start"] - 8.0) <= 1.0
    clip = Path(event["clip"])
    boxes = top_level_boxes(clip)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.average_rate == 10
        frames = [f.pts * f.time_base for f in container.decode(stream)]
    packets = packets_of(clip)
    assert packets[0].is_keyframe
    duration = float(frames[-1] - frames[0]) + 0.1
    assert len(frames) == pytest.approx(duration * 10, abs=1)              # every source frame, none dropped
    # keyframes once a second from the source's first frame: the clip starts at floor(start - 5)
    expected = (event["end"] + 10.0) - math.floor(event["start"] - 5.0 + 1e-6)
    assert duration == pytest.approx(expected, abs=0.25)


def _packet(t: float, key: bool) -> Packet:
    return Packet(t, b"x", round(t * 10), round(t * 10), key, Fraction(1, 10))


def test_ring_keeps_the_pre_roll_from_a_keyframe():
    ring = PacketRing(keep_s=3.0)
    for i in range(100):  # 10 s at 10 fps, keyframe every second
        ring.add(_packet(i / 10, i % 10 == 0))
    since = ring.since(9.95 - 3.0)
    assert since[0].keyframe and since[0].t == pytest.approx(6.0)
    assert ring.since(0.0)[0].t == pytest.approx(6.0)  # older GOPs are gone; the oldest kept keyframe
    assert len(list(ring._packets)) <= 40


def test_partial_clip_never_looks_whole(scene_video: Callable[[str], Path], tmp_path: Path):
    from camera.recorder import ClipWriter

    src = packets_of(scene_video("one-walker"))
    with av.open(str(scene_video("one-walker"))) as container:
        writer = ClipWriter(tmp_path / "7.mp4", container.streams.video[0])
        for p in src[:15]:
            writer.write(Packet(float(p.pts * p.time_base), bytes(p), p.pts, p.dts, p.is_keyframe, p.time_base))
        assert not (tmp_path / "7.mp4").exists() and (tmp_path / "7.mp4.part").exists()
        assert writer.close() == tmp_path / "7.mp4"
    assert len(packets_of(tmp_path / "7.mp4")) == 15


def test_disk_full_loses_only_the_clips(scene_video: Callable[[str], Path], tmp_path: Path):
    """Files may not grow past 100 kB (RLIMIT_FSIZE, as a full card): analyze still
    reports every event, with no clip, and no partial file is left; the exit (1) and the
    last line say the recording failed."""
    import resource
    import signal
    import subprocess
    import sys

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    out = tmp_path / "rec"
    proc = subprocess.run([sys.executable, "-m", "controller", "camera", "analyze", str(scene_video("walkers-with-gaps")),
                           "--json", "--record", str(out)], capture_output=True, text=True, preexec_fn=limit, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].startswith(f"error: --record: 3 of 3 events were not fully written into {out}")
    events = json.loads(proc.stdout)["events"]
    assert len(events) == 3 and all(e["clip"] is None for e in events)
    assert all(Path(e["snapshot"]).exists() for e in events)
    assert not list(out.glob("*.part")) and not list(out.glob("*.mp4"))
    assert "clip failed" in proc.stderr or "clip write failed" in proc.stderr


def test_record_that_loses_a_snapshot_mid_run_exits_1(scene_video: Callable[[str], Path], tmp_path: Path, capsys):
    """The folder is writable at the start, but the second event's snapshot cannot be put in
    place (a folder is in its way): every event is still printed, the exit is 1, naming --record."""
    out = tmp_path / "rec"
    (out / "2.jpg").mkdir(parents=True)
    assert main(["camera", "analyze", str(scene_video("walkers-with-gaps")), "--json", "--record", str(out)]) == 1
    captured = capsys.readouterr()
    events = json.loads(captured.out)["events"]
    assert len(events) == 3 and events[1]["snapshot"] is None and events[1]["clip"] and events[0]["snapshot"]
    assert "error: --record: 1 of 3 events were not fully written" in captured.err


def test_raw_source_slower_than_its_nominal_rate_gets_a_keyframe_every_second(tmp_path: Path, capsys):
    """An AVI that says 10 fps but holds a frame every 0.4 s (as OpenCV's tree.avi: 15 fps
    nominal, about 2.3 real): the clip still has a keyframe about every second of source
    time, so its pre-roll starts about `pre_s` before the motion, not up to a GOP of 15
    frames (6 s here) earlier."""
    from camera.synthetic import Scene, Walk, write_scene

    video = write_scene(Scene(seconds=40, walks=(Walk(15.0, speed=40),), seed=14), tmp_path / "sparse.avi",
                        codec="mpeg4", step=4)
    with av.open(str(video)) as container:
        assert container.streams.video[0].average_rate == 10                 # the nominal rate
    out = tmp_path / "rec"
    assert main(["camera", "analyze", str(video), "--json", "--record", str(out)]) == 0
    (event,) = json.loads(capsys.readouterr().out)["events"]
    packets = packets_of(Path(event["clip"]))
    assert packets[0].is_keyframe
    keys = [float(p.pts * p.time_base) for p in packets if p.is_keyframe]
    frame_gap = 0.4
    assert len(keys) > 1 and all(b - a <= 1.0 + frame_gap + 1e-6 for a, b in zip(keys, keys[1:])), keys
    last = float(packets[-1].pts * packets[-1].time_base)
    # pre-roll from the last keyframe at or before start - 5 s, post-roll to end + 10 s
    assert last <= (event["end"] + 10.0) - (event["start"] - 5.0) + 1.0 + frame_gap, (event, last)
