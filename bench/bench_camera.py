"""Camera bench: CPU figures side by side with the goals of issue 4, all in one run.

  .venv/bin/python bench/bench_camera.py [--pi-factor 4] [--rounds 3]

- detector alone: µs of CPU per analysed 640x360 frame (goal <= 200 µs; Frigate's motion
  detector, the named baseline, about 650 µs a frame on this kind of machine);
- `langso camera analyze` CPU as a ratio to bare PyAV decoding of the same file, both
  measured as process CPU (every thread: FFmpeg decodes on its own threads) in the same
  run, interleaved, best of --rounds (goal <= 1.10x). Files: the labelled walkers scene as a
  640x360 and a 1280x720 H.264 stream (what cameras send); OpenCV's vtest.avi (real
  footage of a plaza, people moving in every frame) re-encoded here as a camera sends it
  (H.264, no B-frames); and vtest.avi as it is (MPEG-4 Part 2, which no camera here
  sends: it decodes in under a quarter of the time of the same picture in H.264, so the same
  analysis weighs far more against it).
  Once with the default settings (motion looked at 5 times a second), once with every
  frame analysed (fps = 10);
- the Y plane vs PyAV's to_ndarray(format="gray") (what the detector reads a frame with);
- a stream-copied recording (demux + pre-roll ring + MP4 mux): % of one core (goal <= 2 %);
- from these, how many 10 fps cameras a Pi 4 can watch: this machine's CPU figures times
  --pi-factor (an assumption, not a measurement: how many times slower a Pi 4 core is).
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from pathlib import Path

import av
import numpy as np

from camera.analyze import analyze
from camera.config import CameraConfig
from camera.motion import MotionDetector
from camera.recorder import Recorder
from camera.sources import Packet, PyavSource, grey_of
from camera.synthetic import FPS, HEIGHT, LABELLED_SCENES, WIDTH, _background, render, write_scene

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def as_camera_h264(src: Path, dst: Path) -> Path:
    """`src` re-encoded as an IP camera sends it: H.264 (libx264), no B-frames, a keyframe
    every 2 s, about 1 Mbit/s at 768x576 10 fps: real footage in the codec cameras use."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as out:
        decoded = source.streams.video[0]
        rate = decoded.average_rate or 10
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = decoded.width, decoded.height, "yuv420p"
        stream.options = {"preset": "veryfast", "tune": "zerolatency", "bf": "0", "g": str(int(2 * rate)), "crf": "23"}
        for frame in source.decode(decoded):
            frame = frame.reformat(format="yuv420p")
            frame.pts = None
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return dst


def cpu() -> float:
    return time.process_time()  # all threads: FFmpeg and OpenCV decode and filter on their own threads


def bench_detector(frames: list[np.ndarray], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        detector = MotionDetector(WIDTH, HEIGHT)
        for f in frames[:5]:
            detector.detect(f)
        started = cpu()
        for f in frames[5:]:
            detector.detect(f)
        best = min(best, (cpu() - started) / (len(frames) - 5))
    return best * 1e6


def bare_decode(path: Path) -> tuple[float, int]:
    """The baseline: PyAV's own demux + decode loop, nothing else."""
    started, n = cpu(), 0
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            for _ in packet.decode():
                n += 1
    return cpu() - started, n


def grey_costs(path: Path) -> tuple[float, float]:
    with av.open(str(path)) as container:
        frames = [f for f in container.decode(video=0)][:200]
    started = cpu()
    for f in frames:
        grey_of(f)
    plane = (cpu() - started) / len(frames)
    started = cpu()
    for f in frames:
        f.to_ndarray(format="gray")
    return plane * 1e6, (cpu() - started) / len(frames) * 1e6


def ratio(path: Path, camera: CameraConfig, rounds: int) -> tuple[float, float, int]:
    """Best-of-`rounds` CPU per frame of bare decoding and of analyze, interleaved."""
    decode = work = float("inf")
    events = 0
    for _ in range(rounds):
        used, n = bare_decode(path)
        decode = min(decode, used / n)
        started = cpu()
        result = analyze(path, camera)
        work = min(work, (cpu() - started) / result["frames"])
        events = len(result["events"])
    return decode, work, events


def stream_copy(path: Path, out_dir: Path) -> tuple[float, float]:
    """CPU of a main stream being recorded: demuxed into packets, kept in the pre-roll ring
    and remuxed into a clip (no decoding), per second of video."""
    started = cpu()
    source = PyavSource(str(path), demux_only=True)
    recorder = Recorder(5.0, 10.0)
    first = last = None
    for item in source.items(threading.Event()):
        if not isinstance(item, Packet):
            continue
        if first is None:
            recorder.use_template(source.copy_template)
            recorder.start("bench", out_dir / f"bench-{path.stem}.mp4", item.t)
            first = item.t
        last = item.t
        recorder.feed_packet(item)
    recorder.finish_all()
    source.close()
    return cpu() - started, (last or 0) - (first or 0) + 1 / FPS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pi-factor", type=float, default=4.0,
                        help="assumed: how many times slower a Pi 4 core is than this machine's (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds per figure (default 3)")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    threading.current_thread().name = "bench"
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        scene = LABELLED_SCENES["walkers-with-gaps"]
        v360 = write_scene(scene, tmpdir / "walkers.mp4")
        v720 = write_scene(scene, tmpdir / "w720.mp4", size=(1280, 720))
        rng = np.random.default_rng(scene.seed)
        background = _background(rng)
        frames = [render(scene, i, background, rng) for i in range(0, 300)]

        detector_us = bench_detector(frames, args.rounds)
        plane_us, gray_us = grey_costs(v360)
        files = [("640x360 H.264", v360), ("1280x720 H.264", v720)]
        if VTEST.exists():
            files.append(("vtest.avi as camera H.264 768x576", as_camera_h264(VTEST, tmpdir / "vtest264.mp4")))
            files.append(("vtest.avi 768x576 MPEG-4 Part 2", VTEST))
        rows = []
        for label, path in files:
            default = CameraConfig(name="bench", source=str(path))
            every = CameraConfig(name="bench", source=str(path), fps=10)
            rows.append((label, ratio(path, default, args.rounds), ratio(path, every, args.rounds)))
        copy360_s, seconds = stream_copy(v360, tmpdir)
        copy720_s, seconds720 = stream_copy(v720, tmpdir)

    print(f"{'figure':<60} {'measured':>12} {'goal / baseline':>32}")
    print(f"{'detector, CPU per analysed 640x360 frame':<60} {detector_us:>9.0f} µs {'<= 200 µs / Frigate ~650 µs':>32}")
    print(f"{'Y plane of a decoded 640x360 frame':<60} {plane_us:>9.1f} µs {f'to_ndarray(gray) {gray_us:.0f} µs':>32}")
    for label, (decode, work, events), (_, work10, events10) in rows:
        print(f"{'bare PyAV decoding ' + label + ', CPU/frame':<60} {decode * 1e3:>9.3f} ms {'(the baseline)':>32}")
        print(f"{'analyze ' + label + ', CPU/frame':<60} {work * 1e3:>9.3f} ms {f'{events} events':>32}")
        print(f"{'  analyze / bare decoding (default: 5 looks/s)':<60} {work / decode:>11.2f}x {'<= 1.10x':>32}")
        print(f"{'  analyze / bare decoding (fps=10: every frame)':<60} {work10 / decode:>11.2f}x "
              f"{f'<= 1.10x ({events10} events)':>32}")
    print(f"{'stream-copied recording 640x360, one core':<60} {copy360_s / seconds * 100:>10.3f} % {'<= 2 %':>32}")
    print(f"{'stream-copied recording 1280x720, one core':<60} {copy720_s / seconds720 * 100:>10.3f} % {'<= 2 %':>32}")
    # one camera: its 640x360 substream decoded at 10 fps and analysed, its 720p main stream copied
    substream = rows[0][1][1] * FPS
    per_camera = (substream + copy720_s / seconds720) * args.pi_factor
    print(f"Pi 4 estimate, assuming a Pi 4 core is {args.pi_factor:g}x slower than this machine's (not measured on a Pi): "
          f"a 10 fps camera (640x360 substream decoded and analysed, 720p main stream copied) needs "
          f"{per_camera * 100:.1f} % of a core -> 4 cores at 75 %: about {int(4 * 0.75 / per_camera)} cameras")


if __name__ == "__main__":
    main()
