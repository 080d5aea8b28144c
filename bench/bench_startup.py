"""Start-up and idle bench of the whole demo daemon (relays, broadcast queue on a WAV sink,
the demo camera on its looped video, web, uplink off), as systemd sees it, side by side
with the same house with no camera configured (what the camera costs) and with the
baseline: a bare Python process that only imports the same libraries
(flask, waitress, gpiozero, pydantic, av, cv2, numpy, pyaudio, gtts, paho, flask_babel ...).

For each, over several runs: spawn to ready (READY=1 on a real $NOTIFY_SOCKET for the
daemons, a "ready" line for the baseline), RSS after idling, CPU % while idle, and
SIGTERM to exit.

    .venv/bin/python bench/bench_startup.py [--runs 3] [--idle 30]

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

ROOT = Path(__file__).resolve().parent.parent
IMPORTS = ("flask", "waitress", "gpiozero", "pydantic", "spectree", "argon2", "av", "cv2", "numpy", "pyaudio",
           "gtts", "paho.mqtt.client", "flask_babel", "flask_wtf", "cheroot.wsgi")
BASELINE = [sys.executable, "-c", f"import {', '.join(IMPORTS)}, time; print('ready', flush=True); time.sleep(3600)"]
# each daemon is this command followed by its data dir
DEMO = [sys.executable, "-m", "controller", "demo", "--port", "0", "--data-dir"]
# the demo's house with no camera configured: demo_config() without the demo video, run as `langso demo` runs it
NO_CAMERA = [sys.executable, "-c", "import sys; from pathlib import Path; from controller.app import App; "
             "from controller.config import demo_config; from controller.logs import setup_logging; "
             "setup_logging(); sys.exit(App(demo_config(Path(sys.argv[1]), port=0)).run())"]
TICK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """The process and its descendants (the daemon may start helpers such as espeak-ng)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by the process tree."""
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def idle_and_stop(proc: subprocess.Popen, idle_s: float) -> tuple[float, float, float, int]:
    """RSS MB after settling, CPU % over `idle_s`, SIGTERM-to-exit seconds, exit code."""
    time.sleep(2)  # let start-up work (first frames, schema checks) finish
    cpu0, t0 = cpu_s(proc.pid), time.monotonic()
    time.sleep(idle_s)
    cpu = 100 * (cpu_s(proc.pid) - cpu0) / (time.monotonic() - t0)
    rss = rss_mb(proc.pid)
    stopping = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(60)
    return rss, cpu, time.perf_counter() - stopping, code


def baseline_run(idle_s: float) -> tuple[float, float, float, float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen(BASELINE, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", "baseline import failed"
        ready = time.perf_counter() - started
        return (ready, *idle_and_stop(proc, idle_s))
    finally:
        if proc.poll() is None:
            proc.kill()


def daemon_run(command: list[str], data_dir: Path, idle_s: float) -> tuple[float, float, float, float, int]:
    sock_dir = Path(tempfile.mkdtemp(prefix="langso-bench-"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_dir / "notify"))
    env = dict(os.environ, NOTIFY_SOCKET=str(sock_dir / "notify"))
    env.pop("WATCHDOG_USEC", None)
    log = open(data_dir.parent / "bench-daemon.log", "ab")
    started = time.perf_counter()
    proc = subprocess.Popen([*command, str(data_dir)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    try:
        sock.settimeout(120)
        while "READY=1" not in sock.recv(4096).decode().splitlines():
            pass
        ready = time.perf_counter() - started
        return (ready, *idle_and_stop(proc, idle_s))
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        sock.close()
        shutil.rmtree(sock_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=30.0, help="idle seconds over which CPU %% is measured")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="langso-bench-"))
    # one data dir each: run 1 starts on an empty store, later runs on an existing one
    daemons = ("langso demo", "no camera")
    runs = {"bare imports": lambda: baseline_run(args.idle),
            "langso demo": lambda: daemon_run(DEMO, work / "demo", args.idle),
            "no camera": lambda: daemon_run(NO_CAMERA, work / "no-camera", args.idle)}
    rows: dict[str, list[tuple[float, float, float, float, int]]] = {name: [] for name in runs}
    print(f"startup bench: {args.runs} runs, idle {args.idle:.0f} s, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, {os.uname().machine}")
    head = f"{'run':>3}  {'process':<12}  {'ready s':>7}  {'RSS MB':>6}  {'idle CPU %':>10}  {'SIGTERM->exit s':>15}  exit"
    print(head)
    try:
        for i in range(1, args.runs + 1):
            for name, run in runs.items():
                row = run()
                rows[name].append(row)
                print(f"{i:>3}  {name:<12}  {row[0]:>7.3f}  {row[1]:>6.1f}  {row[2]:>10.2f}  {row[3]:>15.3f}  {row[4]}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("median:")
    print(head.replace("run", "   ", 1))
    med = {}
    for name, table in rows.items():
        med[name] = [statistics.median(col) for col in zip(*table)]
        m = med[name]
        print(f"{'':>3}  {name:<12}  {m[0]:>7.3f}  {m[1]:>6.1f}  {m[2]:>10.2f}  {m[3]:>15.3f}  {sorted({r[4] for r in table})}")
    b = med["bare imports"]
    for name in daemons:
        d = med[name]
        print(f"{name} vs bare imports: ready {d[0]:.2f} s vs {b[0]:.2f} s, RSS {d[1]:.0f} MB vs {b[1]:.0f} MB, "
              f"idle CPU {d[2]:.2f} % vs {b[2]:.2f} %, SIGTERM->exit {d[3]:.2f} s vs {b[3]:.2f} s")
    # the bare process dies of SIGTERM (-15); the daemons must exit 0
    return 0 if all(r[4] == 0 for name in daemons for r in rows[name]) else 1


if __name__ == "__main__":
    sys.exit(main())
