"""Sources and config off a Pi: picamera2 missing says how to install it; bad camera
config names the field; the demo's camera clip is made once and shows its walkers."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from camera.analyze import analyze
from camera.errors import CameraError, CameraUnavailable
from camera.picamera import Picamera2Source
from camera.sources import PyavSource, open_source, redact
from camera.synthetic import demo_scene, ensure_demo_video
from controller.config import ConfigError, parse_config


def test_picamera2_off_a_pi_says_how_to_install_it():
    source = open_source("picamera2")
    assert isinstance(source, Picamera2Source)
    with pytest.raises(CameraUnavailable, match="apt install python3-picamera2"):
        next(source.items(threading.Event()))


def test_corrupt_file_is_a_camera_error(tmp_path: Path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0\0\0\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(CameraError, match="bad.mp4"):
        next(PyavSource(str(bad)).items(threading.Event()))
    with pytest.raises(CameraError, match="no such file"):
        next(PyavSource(str(tmp_path / "none.mp4")).items(threading.Event()))


def test_redact_hides_passwords_only():
    assert redact("rtsp://admin:hunter2@10.0.0.5:554/Streaming/Channels/102") == "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/102"
    assert redact("/dev/video0") == "/dev/video0"
    # an @ in the password (Hikvision asks for two kinds of characters: "Admin@123" is common)
    assert redact("rtsp://admin:Admin@123@10.0.0.5/Streaming/Channels/102") == "rtsp://admin:***@10.0.0.5/Streaming/Channels/102"
    assert redact("rtsp://admin:a@b@c@10.0.0.5") == "rtsp://admin:***@10.0.0.5"
    assert redact("rtsp://10.0.0.5/live?owner=a@b") == "rtsp://10.0.0.5/live?owner=a@b"


def test_bad_camera_config_names_every_field(tmp_path: Path):
    with pytest.raises(ConfigError) as err:
        parse_config({"site": {"id": "x"}, "cameras": [
            {"name": "Cổng", "source": "a.mp4"},
            {"name": "b", "source": "b.mp4", "threshold": 1, "masks": [[[0, 0], [3, 0], [1, 1]]]},
            {"name": "b", "source": "c.mp4"},
        ]})
    text = "\n".join(err.value.problems)
    assert "cameras[0].name" in text and "cameras[1].threshold" in text and "cameras[1].masks" in text
    assert "cameras[2].name: duplicate camera name 'b'" in text


def test_demo_camera_clip_is_made_once_and_shows_its_walkers(tmp_path: Path):
    path = ensure_demo_video(tmp_path / "demo-camera.mp4")
    made = path.stat().st_mtime_ns
    assert ensure_demo_video(path).stat().st_mtime_ns == made
    result = analyze(path)
    assert [round(e["start"]) for e in result["events"]] == [round(w.start) for w in demo_scene().walks]


def test_looped_file_keeps_time_and_timestamps_rising(tmp_path: Path):
    from camera.sources import Frame
    from camera.synthetic import Scene, write_scene

    video = write_scene(Scene(seconds=2), tmp_path / "short.mp4")
    stop = threading.Event()
    frames, packets = [], []
    for item in PyavSource(str(video), loop=True).items(stop):
        (frames if isinstance(item, Frame) else packets).append(item)
        if len(frames) == 50:  # two and a half loops
            break
    assert [round(f.t, 1) for f in frames] == [round(i / 10, 1) for i in range(50)]
    dts = [p.dts for p in packets]
    assert dts == sorted(dts) and len(set(dts)) == len(dts)
    assert sum(p.keyframe for p in packets) >= 4


def test_frames_the_decoder_holds_back_are_not_lost_at_the_end(tmp_path: Path):
    """H.264 with B-frames (as many cameras and phone videos send): the decoder returns the
    last frames only when drained at the end of the file; analyze counts every frame."""
    import av
    import numpy as np

    from camera.sources import Frame

    path = tmp_path / "bframes.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"preset": "medium", "bf": "3"}
        for i in range(100):
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), i, np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    frames = [i for i in PyavSource(str(path), packets=False).items(threading.Event()) if isinstance(i, Frame)]
    assert len(frames) == 100 and frames[-1].t == pytest.approx(3.96)
    assert analyze(path)["frames"] == 100


def test_corrupt_packets_are_skipped_and_the_walks_still_found(scene_video, corrupt, tmp_path: Path, capsys, caplog):
    from controller.cli import main

    video = corrupt(scene_video("walkers-with-gaps"), tmp_path / "corrupt.mp4", first=300)   # at 30 s, between walks
    assert main(["camera", "analyze", str(video), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 500 < result["frames"] < 600                 # what the decoder could not rebuild is gone, nothing else
    assert [round(e["start"]) for e in result["events"]] == [2, 18, 38]
    assert "corrupt packet skipped" in caplog.text


def test_a_stream_of_garbage_is_a_broken_stream_not_a_hang(corrupt, tmp_path: Path):
    from camera.synthetic import Scene, write_scene

    video = write_scene(Scene(seconds=10), tmp_path / "v.mp4")
    bad = corrupt(video, tmp_path / "bad.mp4", first=20, count=70)
    with pytest.raises(CameraError, match="undecodable packets in a row"):
        for _ in PyavSource(str(bad), packets=False).items(threading.Event()):
            pass


def test_analyze_bad_video_names_the_argument_and_the_fix(tmp_path: Path, capsys):
    from controller.cli import main

    assert main(["camera", "analyze", str(tmp_path / "none.mp4"), "--json"]) == 2
    assert "VIDEO: no such file" in capsys.readouterr().err
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert main(["camera", "analyze", str(text), "--json"]) == 2
    err = capsys.readouterr().err
    assert "VIDEO:" in err and "cannot open" in err and "give a readable video file" in err


def test_analyze_bad_record_dir_names_the_option_and_the_fix(opencv_clip, tmp_path: Path, capsys):
    from controller.cli import main

    video = str(opencv_clip("tree.avi"))
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    for record in (a_file / "x", a_file):  # under a file (as /etc/passwd/x), and a file itself
        assert main(["camera", "analyze", video, "--json", "--record", str(record)]) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith(f"error: --record: cannot write clips into {record} (")
        assert "give a folder you can write to" in captured.err and captured.out == ""
    assert main(["camera", "analyze", str(tmp_path), "--json"]) == 2
    assert f"VIDEO: {tmp_path} is a folder; give the path of a video file" in capsys.readouterr().err
