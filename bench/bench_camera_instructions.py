"""Camera bench in instructions: `analyze` against bare PyAV decoding of the same file,
counted by valgrind's callgrind, which gives the same count at every run whatever else
the machine does (bench_camera.py's CPU seconds move by a few % on a shared machine).

  .venv/bin/python bench/bench_camera_instructions.py      # needs valgrind (apt install valgrind)

Each figure runs a child Python under callgrind three times: imports only, bare decoding,
analyze (default settings); the ratio is (analyze - imports) / (bare - imports).
Instructions are not seconds (the decoder's vectorised code does more per instruction than
Python does), so this is the repeatable companion of bench_camera.py, not its replacement."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_camera import VTEST, as_camera_h264  # noqa: E402
from camera.synthetic import LABELLED_SCENES, write_scene  # noqa: E402

CHILD = """
import logging, sys
sys.path.insert(0, {root!r})
logging.disable(logging.INFO)
from pathlib import Path
import av, cv2, numpy
from camera.analyze import analyze
from bench.bench_camera import bare_decode
mode, video = sys.argv[1], Path(sys.argv[2])
if mode == "bare":
    bare_decode(video)
elif mode == "analyze":
    analyze(video)
"""


def instructions(mode: str, video: Path, script: Path) -> int:
    run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                          str(script), mode, str(video)], capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if not found:
        raise SystemExit(f"callgrind printed no count:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: sudo apt install valgrind")
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        script = tmpdir / "child.py"
        script.write_text(CHILD.format(root=str(ROOT)))
        scene = LABELLED_SCENES["walkers-with-gaps"]
        files = [("640x360 H.264", write_scene(scene, tmpdir / "walkers.mp4")),
                 ("1280x720 H.264", write_scene(scene, tmpdir / "w720.mp4", size=(1280, 720)))]
        if VTEST.exists():
            files.append(("vtest.avi as camera H.264 768x576", as_camera_h264(VTEST, tmpdir / "vtest264.mp4")))
            files.append(("vtest.avi 768x576 MPEG-4 Part 2", VTEST))
        print(f"{'analyze / bare decoding, instructions (callgrind)':<60} {'measured':>10} {'goal':>10}")
        for label, path in files:
            base = instructions("none", path, script)
            bare = instructions("bare", path, script) - base
            work = instructions("analyze", path, script) - base
            print(f"{label:<60} {work / bare:>9.3f}x {'<= 1.10x':>10}", flush=True)


if __name__ == "__main__":
    main()
