"""Camera quality probe: walkers in clothes close to the background, and the quiet
held-out scenes, through `analyze`, with the detector as it is and as it was until
2026-12-06 (a fixed threshold of 22, no noise following, no faster re-learning after a
light change), side by side in one run.

  .venv/bin/python bench/quality_probe.py [--seeds 0 100 200]

A walk is right when it is one event that starts within 1 s of the walker's first pixel
in the picture and ends within 1 s of them leaving (tests/camera/test_heldout.py's rule).
The scenes are tests/camera/heldout.py's, written as H.264 in a temporary folder."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import camera.motion as motion  # noqa: E402
from camera.analyze import analyze  # noqa: E402
from camera.config import CameraConfig  # noqa: E402
from tests.camera.heldout import Scene, cross, write  # noqa: E402
from tests.camera.test_heldout import D1, HD, NIGHT, QUIET, SUB, _cam, _x, problems  # noqa: E402

TONES = (0.3, 0.4, 0.5, 0.6)   # clothes' albedo; the road behind is 0.42


def walkers(seed: int) -> dict[str, Scene]:
    out = {}
    for tone in TONES:
        out[f"640x360 1/4 high, tone {tone}"] = Scene(SUB, 16, movers=(cross(3, 1 / 4, 1.3, y=0.8, tone=tone),), seed=7 + seed)
        out[f"640x360 1/6 high, tone {tone}"] = Scene(SUB, 16, movers=(cross(3, 1 / 6, 1.3, y=0.75, tone=tone),), seed=8 + seed)
        out[f"704x576 1/3 high, tone {tone}"] = Scene(_cam(D1, fps=10), 16, movers=(
            cross(3, 1 / 3, 1.2, tone=tone, aspect=_x(D1)),), seed=9 + seed)
        out[f"IR night 1/4 high, tone {tone}"] = Scene(_cam(NIGHT, fps=10), 16, movers=(
            cross(3, 1 / 4, 1.2, tone=tone),), seed=10 + seed)
        out[f"720p dusk 1/4 high, tone {tone}"] = Scene(_cam(HD, fps=10, noise=5), 16, darkness=0.3, movers=(
            cross(3, 1 / 4, 1.2, tone=tone),), seed=11 + seed)
    return out


@contextmanager
def as_before() -> Iterator[None]:
    """The detector as it was: threshold 22, fixed; re-learning at the one rate."""
    saved = motion.NOISE_K, motion.AFTER_RELEARN
    motion.NOISE_K, motion.AFTER_RELEARN = 0.0, (0, motion.LEARN_RATE)
    try:
        yield
    finally:
        motion.NOISE_K, motion.AFTER_RELEARN = saved


def events(path: Path, before: bool) -> list[dict]:
    if before:
        with as_before():
            return analyze(path, CameraConfig(name="probe", source=str(path), threshold=22))["events"]
    return analyze(path, CameraConfig(name="probe", source=str(path)))["events"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 100, 200], help="seed offsets (default 0 100 200)")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    print(f"{'scenes':<58} {'before (22, fixed)':>20} {'now':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            right = {True: 0, False: 0}
            wrong: dict[bool, list[str]] = {True: [], False: []}
            scenes = walkers(seed)
            for i, (name, scene) in enumerate(scenes.items()):
                path = write(scene, Path(tmp) / f"walk-{seed}-{i}.mp4")
                for before in (True, False):
                    ok = not problems(scene, events(path, before))
                    right[before] += ok
                    if not ok:
                        wrong[before].append(name)
            label = f"walkers close to the background, seed +{seed}: right"
            print(f"{label:<58} {f'{right[True]}/{len(scenes)}':>20} {f'{right[False]}/{len(scenes)}':>8}")
            quiet = {True: 0, False: 0}
            for i, (name, scene) in enumerate(QUIET.items()):
                path = write(dataclasses.replace(scene, seed=scene.seed + seed), Path(tmp) / f"quiet-{seed}-{i}.mp4")
                for before in (True, False):
                    quiet[before] += len(events(path, before))
            label = f"{len(QUIET)} quiet held-out scenes, seed +{seed}: events"
            print(f"{label:<58} {quiet[True]:>20} {quiet[False]:>8}")
            print(f"  still wrong now: {', '.join(wrong[False]) or '-'}")


if __name__ == "__main__":
    main()
