"""Run every bench/bench_*.py script in turn (each prints its own figures); `make bench` calls this.
The other files here (localbroker.py, this one) are helpers, not benches.

    .venv/bin/python bench/run_all.py [NAME ...]    # NAME: only scripts whose name contains it
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts(only: list[str]) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))
    return [p for p in found if not only or any(name in p.stem for name in only)]


def main(argv: list[str]) -> int:
    results = []
    for script in scripts(argv):
        print(f"==> {script.name}", flush=True)
        started = time.perf_counter()
        code = subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
        results.append((script.name, code, time.perf_counter() - started))
        print(flush=True)
    print("bench summary")
    for name, code, seconds in results:
        print(f"  {'ok    ' if code == 0 else f'FAILED ({code})'}  {name}  ({seconds:.0f} s)")
    if not results:
        print("  no bench scripts found")
    return 0 if results and all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
