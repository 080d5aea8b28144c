"""Run by install.sh with the venv's python: does this venv give the daemon one numpy
that apt's picamera2 and the OpenCV wheel both accept?

apt's python3-picamera2 (and simplejpeg, python3-av) are built against Debian's numpy
1.24. A numpy 2 wheel in the venv (pulled in by OpenCV >= 4.12) shadows it and breaks
`import picamera2`. So: numpy must be the system's 1.x, cv2 must import when langso
needs OpenCV, picamera2 must import when apt installed it. Exit 0 ok, 1 with the fixes.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import re
import sys
from pathlib import Path

SYSTEM_DIST = "/usr/lib/python3/dist-packages"


def numpy_problems(version: str | None, location: str | None, system_numpy: bool) -> list[str]:
    """The pure rule, given what `import numpy` found in the venv."""
    if version is None:
        return ["numpy cannot be imported in the venv: install python3-numpy (apt) and make the venv "
                "with --system-site-packages (install.sh does both)"]
    problems = []
    if not version.startswith("1."):
        problems.append(f"numpy {version} in the venv: apt's picamera2 needs Debian's numpy 1.x; "
                        "keep numpy<2 and opencv-python-headless<4.12 (pyproject.toml), then "
                        "`/opt/langso/venv/bin/pip uninstall numpy` and run install.sh again")
    if system_numpy and location and not location.startswith(SYSTEM_DIST):
        problems.append(f"numpy is loaded from {location}, not the system's {SYSTEM_DIST}: a pip copy shadows "
                        "the one picamera2 was built against; `/opt/langso/venv/bin/pip uninstall numpy`")
    return problems


def needs(distribution: str) -> bool:
    """Does the installed langso depend on this distribution (any extra excluded)?"""
    try:
        requires = importlib.metadata.requires("langso") or []
    except importlib.metadata.PackageNotFoundError:
        return False
    names = {re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requires if "extra ==" not in r}
    return distribution in names


def try_import(name: str) -> tuple[object | None, str]:
    try:
        return importlib.import_module(name), ""
    except Exception as err:  # ImportError, or numpy's "module compiled against ABI ..." errors
        return None, f"{type(err).__name__}: {err}"


def main() -> int:
    problems: list[str] = []
    numpy, error = try_import("numpy")
    system_numpy = Path(SYSTEM_DIST, "numpy").is_dir()
    if numpy is None and not (system_numpy or needs("numpy")):
        print("venv check: numpy not used by this install")
    else:
        problems += numpy_problems(getattr(numpy, "__version__", None), getattr(numpy, "__file__", None), system_numpy)
        if numpy is not None:
            print(f"venv check: numpy {numpy.__version__} from {Path(numpy.__file__).parent}")
    if needs("opencv-python-headless") or needs("opencv-python"):
        cv2, error = try_import("cv2")
        if cv2 is None:
            problems.append(f"import cv2 failed in the venv ({error}); an OpenCV wheel for numpy 1.x is "
                            "opencv-python-headless<4.12")
        else:
            print(f"venv check: cv2 {cv2.__version__}")
    if Path(SYSTEM_DIST, "picamera2").is_dir():
        picamera2, error = try_import("picamera2")
        if picamera2 is None:
            problems.append(f"python3-picamera2 is installed but `import picamera2` fails in the venv ({error})")
        else:
            print("venv check: picamera2 imports")
    for problem in problems:
        print(f"venv check FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
