"""`make test` on a fresh Debian installs what the tests use: every program the tests run
and every system file they read comes from a package in the Makefile's TEST_DEBS, or from
one Debian always has (Essential or Priority required)."""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# run by name: subprocess.run(["openssl", ...]); read by path: "/usr/share/doc/opencv-doc/..."
BY_NAME = re.compile(r"""(?:run|Popen|check_output|check_call)\(\s*\[\s*["']([a-z][\w.+-]*)["']""")
BY_PATH = re.compile(r"""["'](/usr/(?:s?bin|share|lib)/[^"'\s{}]+)["']""")
ALSO = [*map(str, Path("/usr/lib").glob("*/girepository-1.0/GstRtspServer-1.0.typelib")),  # tests/camera/rtsp_server.py (gi)
        "/usr/bin/chromedriver", "/usr/bin/chromium"]  # tests/web/browser.py
# there by construction: make runs `make test`; python3-minimal comes with python3-venv
GIVEN = {"make", "python3-minimal"}


def make_var(name: str) -> list[str]:
    out = subprocess.run(["make", "-s", "-f", "Makefile", "--eval", f"print-var: ; @echo $({name})", "print-var"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


@cache
def owner(path: str) -> str:
    """The Debian package that ships `path` (tries the /usr-merged twin too)."""
    for candidate in (path, re.sub(r"^/usr(/s?bin/)", r"\1", path)):
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].split(",")[0].strip()
    raise AssertionError(f"{path}: no Debian package ships it (dpkg -S)")


def always_there(package: str) -> bool:
    fields = subprocess.run(["dpkg-query", "-W", "-f=${Essential} ${Priority}", package],
                            capture_output=True, text=True).stdout.split()
    return "yes" in fields or "required" in fields


def used_by_tests() -> set[str]:
    paths = set(ALSO)
    for test in (ROOT / "tests").rglob("*.py"):
        text = test.read_text(encoding="utf-8")
        for name in BY_NAME.findall(text):
            found = shutil.which(name)
            assert found, f"{test.relative_to(ROOT)} runs {name!r}, which is not installed here"
            paths.add(str(Path(found).resolve()) if name not in ("bash",) else found)
        paths.update(p for p in BY_PATH.findall(text) if Path(p).exists())
    return paths


def test_every_program_and_file_the_tests_use_is_in_test_debs():
    debs = set(make_var("TEST_DEBS"))
    assert set(make_var("RUN_DEBS")) <= debs
    used = used_by_tests()
    # the scan works: programs run by name and files read by path are found
    assert {"/usr/bin/openssl", "/usr/bin/systemd-analyze", "/usr/bin/shellcheck", "/usr/sbin/mosquitto"} <= used, used
    assert any("GstRtspServer" in p for p in used) and any(p.startswith("/usr/share/doc/opencv-doc") for p in used), used
    missing = {}
    for path in sorted(used):
        if path.startswith(str(ROOT)) or ".venv" in path:
            continue
        package = owner(path).split(":")[0]
        if package not in debs | GIVEN and not always_there(package):
            missing[path] = package
    assert not missing, f"add to TEST_DEBS in the Makefile: {missing}"


def test_the_runtime_programs_are_in_run_debs():
    run = set(make_var("RUN_DEBS"))
    assert owner(shutil.which("espeak-ng") or "/usr/bin/espeak-ng") in run  # audio/tts_engines.py runs it
    assert owner("/usr/include/portaudio.h") in run  # PyAudio builds against it
