"""Run by install.sh with the venv's python: does this venv give the daemon one numpy
that apt's picamera2 and the OpenCV wheel both accept, within langso's own pins?

apt's python3-picamera2 (and simplejpeg, python3-av) are built against Debian's numpy
1.24. A numpy 2 wheel in the venv (pulled in by OpenCV >= 4.12) shadows it and breaks
`import picamera2`. So: numpy and OpenCV must satisfy the pins the installed langso
declares (pyproject.toml: numpy<2, opencv-python-headless<4.12, read here from the
installed package's metadata, or from the pyproject.toml beside this script before langso
is installed; never copied), numpy must be the system's when apt has one, cv2 must
import, picamera2 must import when apt installed it. Exit 0 ok, 1 with the fixes.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

SYSTEM_DIST = "/usr/lib/python3/dist-packages"
OPENCV = "opencv-python-headless"  # the OpenCV wheel langso depends on


def satisfies(version: str, spec: str) -> bool:
    """The installed `version` within a specifier such as ">=1.24,<2" (an installed pre-release counts)."""
    return SpecifierSet(spec).contains(version, prereleases=True)


PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"  # the source tree install.sh runs from


def pins() -> dict[str, str]:
    """Version specifiers of langso's own requirements (extras excluded), by distribution name:
    the installed langso's, else the source tree's pyproject.toml; {} when neither is there."""
    try:
        requires = importlib.metadata.requires("langso") or []
    except importlib.metadata.PackageNotFoundError:
        try:
            requires = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return {}
    out = {}
    for line in requires:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out[canonicalize_name(req.name)] = str(req.specifier)
    return out


def numpy_problems(version: str | None, location: str | None, system_numpy: bool,
                   numpy_pin: str, opencv_pin: str) -> list[str]:
    """The pure rule, given what `import numpy` found in the venv and langso's pins."""
    if version is None:
        return ["numpy cannot be imported in the venv: install python3-numpy (apt) and make the venv "
                "with --system-site-packages (install.sh does both)"]
    problems = []
    if not satisfies(version, numpy_pin) or (system_numpy and not version.startswith("1.")):
        fix = ("`/opt/langso/venv/bin/pip uninstall numpy` (the venv then uses apt's) and run install.sh again"
               if system_numpy else f"`/opt/langso/venv/bin/pip install 'numpy{numpy_pin}'`")
        problems.append(f"numpy {version} in the venv: langso needs numpy{numpy_pin} (apt's picamera2 is built "
                        f"against Debian's numpy 1.x) with {OPENCV}{opencv_pin} (pyproject.toml); {fix}")
    if system_numpy and location and not location.startswith(SYSTEM_DIST):
        problems.append(f"numpy is loaded from {location}, not the system's {SYSTEM_DIST}: a pip copy shadows "
                        "the one picamera2 was built against; `/opt/langso/venv/bin/pip uninstall numpy`")
    return problems


def opencv_problems(version: str | None, pin: str, cv2_error: str) -> list[str]:
    """The pure rule for OpenCV: the wheel langso pins, importable."""
    if version is None:
        return [f"{OPENCV} is not installed in the venv; run install.sh again (pip installs {OPENCV}{pin})"]
    problems = []
    if not satisfies(version, pin):
        problems.append(f"{OPENCV} {version} in the venv: langso needs {OPENCV}{pin} (newer wheels require numpy 2, "
                        f"which breaks apt's picamera2); `/opt/langso/venv/bin/pip install '{OPENCV}{pin}'`")
    if cv2_error:
        problems.append(f"import cv2 failed in the venv ({cv2_error}); OpenCV wheels for numpy 1.x are {OPENCV}<4.12")
    return problems


def dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def try_import(name: str) -> tuple[object | None, str]:
    try:
        return importlib.import_module(name), ""
    except Exception as err:  # ImportError, or numpy's "module compiled against ABI ..." errors
        return None, f"{type(err).__name__}: {err}"


def main() -> int:
    problems: list[str] = []
    pinned = pins()
    if not pinned:
        print(f"venv check FAILED: langso is not installed in this venv and {PYPROJECT} cannot be read; "
              "run install.sh from the langso source tree", file=sys.stderr)
        return 1
    numpy, error = try_import("numpy")
    system_numpy = Path(SYSTEM_DIST, "numpy").is_dir()
    if numpy is None and not (system_numpy or "numpy" in pinned):
        print("venv check: numpy not used by this install")
    else:
        problems += numpy_problems(getattr(numpy, "__version__", None), getattr(numpy, "__file__", None), system_numpy,
                                   pinned.get("numpy", ""), pinned.get(OPENCV, ""))
        if numpy is not None:
            print(f"venv check: numpy {numpy.__version__} from {Path(numpy.__file__).parent} (langso pins numpy{pinned.get('numpy', '')})")
    if OPENCV in pinned:
        cv2, error = try_import("cv2")
        problems += opencv_problems(dist_version(OPENCV), pinned[OPENCV], error)
        if cv2 is not None:
            print(f"venv check: cv2 {cv2.__version__} ({OPENCV} {dist_version(OPENCV)}, langso pins {OPENCV}{pinned[OPENCV]})")
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
