"""Camera bench: CPU figures side by side with the goals of issue 4, all in one run.

  .venv/bin/python bench/camera.py [--pi-factor 4]

- detector alone: µs of CPU per 640x360 frame (goal <= 200 µs; Frigate's detector,
  the named baseline, about 650 µs a frame on this kind of machine);
- `langso camera analyze` CPU as a ratio to bare PyAV decoding of the same file (goal <= 1.10x);
- the Y plane vs PyAV's to_ndarray(format="gray") (what the detector reads a frame with);
- a stream-copied recording: % of one core (goal <= 2 %);
- from these, how many 10 fps cameras a Pi 4 can watch (CPU of this machine scaled by
  --pi-factor, the Pi 4's Cortex-A72 being roughly that many times slower per core).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

# run as a script, this file's folder comes first on sys.path and its name would hide the camera package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import av  # noqa: E402
import numpy as np  # noqa: E402

from camera.analyze import analyze  # noqa: E402
from camera.motion import MotionDetector  # noqa: E402
from camera.recorder import ClipWriter  # noqa: E402
from camera.sources import Packet, grey_of  # noqa: E402
from camera.synthetic import FPS, HEIGHT, LABELLED_SCENES, WIDTH, _background, render, write_scene  # noqa: E402


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
    started, n = cpu(), 0
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            for frame in packet.decode():
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


def stream_copy(path: Path, out_dir: Path) -> tuple[float, float]:
    """CPU of remuxing every packet of the file into a clip, per second of video."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [Packet(float(p.pts * p.time_base), bytes(p), p.pts, p.dts, p.is_keyframe, p.time_base)
                   for p in container.demux(stream) if p.size]
        started = cpu()
        writer = ClipWriter(out_dir / "bench.mp4", stream)
        for p in packets:
            writer.write(p)
        writer.close()
        used = cpu() - started
    seconds = packets[-1].t - packets[0].t + 1 / FPS
    return used, seconds



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pi-factor", type=float, default=4.0, help="how many times slower a Pi 4 core is (default 4)")
    args = parser.parse_args()
    threading.current_thread().name = "bench"
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        scene = LABELLED_SCENES["walkers-with-gaps"]
        video = write_scene(scene, tmpdir / "walkers.mp4")
        rng = np.random.default_rng(scene.seed)
        background = _background(rng)
        frames = [render(scene, i, background, rng) for i in range(0, 300)]

        detector_us = bench_detector(frames)
        plane_us, gray_us = grey_costs(video)
        rows = []
        for label, path in (("640x360", video), ("1280x720", write_scene(scene, tmpdir / "w720.mp4", size=(1280, 720)))):
            decode_s, n = bare_decode(path)
            started = cpu()
            result = analyze(path)
            analyze_s = cpu() - started
            decode_s2, _ = bare_decode(path)   # decoded before and after: the ratio uses the mean
            rows.append((label, (decode_s + decode_s2) / 2 / n, analyze_s / n, len(result["events"])))
        copy_s, seconds = stream_copy(video, tmpdir)
        copy720_s, _ = stream_copy(tmpdir / "w720.mp4", tmpdir)

    print(f"{'figure':<48} {'measured':>14} {'goal / baseline':>30}")
    print(f"{'detector, CPU per 640x360 frame':<48} {detector_us:>11.0f} µs {'<= 200 µs / Frigate ~650 µs':>30}")
    print(f"{'Y plane of a decoded 640x360 frame':<48} {plane_us:>11.1f} µs {f'to_ndarray(gray) {gray_us:.0f} µs':>30}")
    for label, decode, per_frame, events in rows:
        print(f"{'bare PyAV decoding ' + label + ', CPU per frame':<48} {decode * 1e3:>11.3f} ms {'':>30}")
        print(f"{'analyze ' + label + ', CPU per frame':<48} {per_frame * 1e3:>11.3f} ms {f'{events} of {len(scene.walks)} walks found':>30}")
        print(f"{'analyze / bare decoding, ' + label:<48} {per_frame / decode:>13.2f}x {'<= 1.10x':>30}")
    print(f"{'stream-copied recording 640x360, one core':<48} {copy_s / seconds * 100:>12.3f} % {'<= 2 %':>30}")
    print(f"{'stream-copied recording 1280x720, one core':<48} {copy720_s / seconds * 100:>12.3f} % {'<= 2 %':>30}")
    # a camera: 640x360 substream analysed at 10 fps + 720p main stream demuxed and copied while recording
    sub = rows[0][2] * FPS
    per_camera = (sub + copy720_s / seconds) * args.pi_factor
    print(f"Pi 4 estimate (x{args.pi_factor:g} this machine's CPU per core, 4 cores, 75 % budget): a 10 fps camera "
          f"(640x360 substream analysed, 720p main stream copied) needs {per_camera * 100:.1f} % of a core "
          f"-> about {int(4 * 0.75 / per_camera)} cameras")


if __name__ == "__main__":
    main()
