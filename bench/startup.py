"""Start-up bench: how long `langso demo` takes from spawn to READY=1 on a real
$NOTIFY_SOCKET (as systemd sees it), its idle RSS, and SIGTERM-to-exit, over several
runs, side by side with the baseline: a bare `python -c "import flask, gpiozero, pydantic"`.

    .venv/bin/python bench/startup.py [--runs 5] [--idle 3]

Prints figures; asserts nothing about speed (machines are shared and noisy).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = [sys.executable, "-c", "import flask, gpiozero, pydantic"]
ROOT = Path(__file__).resolve().parent.parent


def baseline_run() -> tuple[float, float]:
    """Seconds from spawn to exit, and peak RSS in MB, of the bare import."""
    started = time.perf_counter()
    proc = subprocess.Popen(BASELINE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"baseline failed with exit {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024


def tree_rss_mb(pid: int) -> float:
    """VmRSS of the process and its descendants (the daemon may start helpers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def daemon_run(data_dir: Path, idle_s: float) -> tuple[float, float, float, int]:
    """Spawn-to-READY seconds, idle RSS MB, SIGTERM-to-exit seconds, exit code."""
    sock_dir = Path(tempfile.mkdtemp(prefix="langso-bench-"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_dir / "notify"))
    env = dict(os.environ, NOTIFY_SOCKET=str(sock_dir / "notify"))
    env.pop("WATCHDOG_USEC", None)
    log = open(data_dir.parent / "bench-daemon.log", "ab")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "controller", "demo", "--port", "0", "--data-dir", str(data_dir)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        sock.settimeout(120)
        while "READY=1" not in sock.recv(4096).decode().splitlines():
            pass
        ready = time.perf_counter() - started
        time.sleep(idle_s)
        rss = tree_rss_mb(proc.pid)
        stopping = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        stop = time.perf_counter() - stopping
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        sock.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
    return ready, rss, stop, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle after READY before reading RSS")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="langso-bench-"))
    data = work / "demo"  # one data dir: run 1 starts on an empty store, later runs on an existing one
    rows = []
    print(f"startup bench: {args.runs} runs, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {os.uname().machine}")
    print(f"{'run':>3}  {'baseline s':>10}  {'baseline MB':>11}  {'READY s':>8}  {'idle RSS MB':>11}  {'stop s':>6}  exit")
    try:
        for i in range(1, args.runs + 1):
            base_s, base_mb = baseline_run()
            ready_s, rss_mb, stop_s, code = daemon_run(data, args.idle)
            rows.append((base_s, base_mb, ready_s, rss_mb, stop_s, code))
            print(f"{i:>3}  {base_s:>10.3f}  {base_mb:>11.1f}  {ready_s:>8.3f}  {rss_mb:>11.1f}  {stop_s:>6.3f}  {code}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = [statistics.median(col) for col in zip(*rows)]
    print(f"med  {med[0]:>10.3f}  {med[1]:>11.1f}  {med[2]:>8.3f}  {med[3]:>11.1f}  {med[4]:>6.3f}")
    print(f"start-to-READY median {med[2]:.3f} s = {med[2] / med[0]:.1f}x the bare import of flask+gpiozero+pydantic "
          f"({med[0]:.3f} s); idle RSS median {med[3]:.1f} MB vs {med[1]:.1f} MB peak for the bare import; "
          f"SIGTERM to exit median {med[4]:.3f} s, exit codes {sorted({r[5] for r in rows})}")
    return 0 if all(r[5] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
