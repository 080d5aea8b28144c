"""The unit sets MemoryDenyWriteExecute=yes. Checked for real: under the same seccomp
rule systemd installs (mdwe_exec.py), every runtime dependency of langso imports and
`langso demo` (all wings on simulated hardware) reaches READY=1 and stops with exit 0."""
from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

MDWE = Path(__file__).resolve().parent / "mdwe_exec.py"


def under_mdwe(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(MDWE), sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=300)


def runtime_modules() -> list[str]:
    """Top-level import names of every distribution langso requires (extras excluded)."""
    requirements = [Requirement(r) for r in importlib.metadata.requires("langso") or []]
    wanted = {canonicalize_name(r.name) for r in requirements if not r.marker or r.marker.evaluate({"extra": ""})}
    modules = set()
    for module, dists in importlib.metadata.packages_distributions().items():
        if module.isidentifier() and not module.startswith("_") and \
                any(canonicalize_name(d) in wanted for d in dists):
            modules.add(module)
    return sorted(modules)


def test_the_rule_refuses_writable_executable_memory():
    result = under_mdwe(
        "import ctypes, mmap\n"
        "for prot, name in ((mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC, 'wx'),):\n"
        "    try:\n"
        "        mmap.mmap(-1, 4096, prot=prot); print(name, 'allowed')\n"
        "    except PermissionError: print(name, 'refused')\n"
        "page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE)\n"
        "addr = ctypes.addressof(ctypes.c_char.from_buffer(page))\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('mprotect-exec', 'refused' if libc.mprotect(ctypes.c_void_p(addr), 4096, mmap.PROT_READ | mmap.PROT_EXEC) else 'allowed')\n"
        "print('mprotect-read', 'refused' if libc.mprotect(ctypes.c_void_p(addr), 4096, mmap.PROT_READ) else 'allowed')\n"
    )
    assert result.stdout.split("\n")[:3] == ["wx refused", "mprotect-exec refused", "mprotect-read allowed"], result.stderr


def test_every_runtime_dependency_imports_under_the_rule():
    modules = runtime_modules()
    # every wing's native code: the camera's (av, cv2, numpy), the audio's (PyAudio, gTTS),
    # the uplink's (paho) and the web's (flask_babel, cheroot, flask_wtf)
    assert {"flask", "gpiozero", "pydantic", "waitress", "av", "cv2", "numpy", "pyaudio", "paho", "gtts",
            "flask_babel", "cheroot", "flask_wtf", "argon2"} <= set(modules)
    code = (
        "import importlib, json, ctypes\n"
        f"mods = {modules!r}\n"
        "for m in mods: importlib.import_module(m)\n"
        "assert ctypes.CFUNCTYPE(ctypes.c_int)(lambda: 7)() == 7  # libffi closures (cffi, ctypes)\n"
        "import argon2; assert argon2.PasswordHasher().hash('mật khẩu làng số')  # cffi at work\n"
        "print(json.dumps(mods))\n"
    )
    result = under_mdwe(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == modules


def test_native_libraries_work_under_the_rule():
    result = subprocess.run([sys.executable, str(MDWE), sys.executable, str(MDWE.parent / "mdwe_workload.py")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "worked 10"


def run_demo(tmp_path: Path, notify_socket, mdwe: bool) -> dict:
    """Start `langso demo`, switch the TV over the API, read /status, SIGTERM; the status."""
    from tests.conftest import cli_client

    name = "mdwe" if mdwe else "plain"
    data = tmp_path / name
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_socket.path), WATCHDOG_USEC="2000000", PYTHONUNBUFFERED="1")
    prefix = [sys.executable, str(MDWE)] if mdwe else []
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(prefix + [sys.executable, "-m", "controller", "demo", "--port", "0", "--data-dir", str(data)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            notify_socket.wait_for("READY=1", timeout=120)
            notify_socket.wait_for("WATCHDOG=1")
            client = cli_client(data)
            assert client.request("POST", "/relays/tv", {"state": "on"})["on"] is True
            # parts that start in the background may report a problem for a moment: wait a little
            deadline = time.monotonic() + 20
            status = client.request("GET", "/status")
            while status.get("problems") and time.monotonic() < deadline:
                time.sleep(0.5)
                status = client.request("GET", "/status")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, log_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    notify_socket.wait_for("STOPPING=1")
    assert "langso stopped" in log_path.read_text()
    return status


def test_demo_daemon_runs_under_the_rule(tmp_path, notify_socket):
    sandboxed = run_demo(tmp_path, notify_socket, mdwe=True)
    plain = run_demo(tmp_path, notify_socket, mdwe=False)
    # the rule changes nothing the daemon reports: same parts, and no part fails only under it
    assert sorted(sandboxed) == sorted(plain)
    only_sandboxed = set(sandboxed.get("problems") or {}) - set(plain.get("problems") or {})
    assert not only_sandboxed, sandboxed["problems"]
    assert {r["name"]: r["on"] for r in sandboxed["relays"]}["tv"] is True
