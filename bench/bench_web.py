"""Web bench: the phone page's figures side by side with the goals of issue 5.

  .venv/bin/python bench/bench_web.py [--clients 20] [--requests 50]

- home page weight with CSS, JS and icon as Chromium loads it (goal < 100 KB, zero
  external requests);
- p50/p99 latency of GET /api/v1/status and of the home page (logged in) under N
  concurrent keep-alive clients while the daemon analyses a camera (a file camera on
  Debian's sample footage vtest.avi, looped in real time, in the daemon's own process)
  (goal p99 < 100 ms); baseline: one client, same daemon;
- first render (first-contentful-paint) in headless Chromium at a phone size with
  DevTools' "Slow 3G" profile (Network.emulateNetworkConditions); baseline: no throttling.
"""
from __future__ import annotations

import argparse
import os
import random
import http.client
import statistics
import sys
import tempfile
import multiprocessing
import multiprocessing.pool
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from controller.db import Database
from controller.store import Store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/ is not an installed package: the test daemon and phone browser come from the checkout

from tests.conftest import Daemon, house_data, write_toml  # noqa: E402
from tests.web.browser import phone_browser  # noqa: E402

SAMPLE = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
PASSWORD = "Tre-xanh-2026-lang"
SLOW_3G = {"offline": False, "latency": 2000, "downloadThroughput": 500 * 1024 / 8 * 0.8, "uploadThroughput": 500 * 1024 / 8 * 0.8}


def session_cookie(url: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(url + "/login").read().decode()
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    opener.open(url + "/login", data=urllib.parse.urlencode({"name": "bench", "password": PASSWORD, "csrf_token": csrf}).encode())
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def one_client(job: tuple[str, str, dict[str, str], int, float]) -> tuple[list[float], list[str]]:
    """One keep-alive client doing `requests` GETs, back to back (pace 0) or one every
    `pace` seconds; returns times and errors."""
    url, path, headers, requests, pace = job
    host = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    times, errors = [], []
    next_at = time.perf_counter() + random.uniform(0, pace)  # clients out of step, as phones are
    for _ in range(requests):
        if pace:
            time.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += pace
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        times.append(time.perf_counter() - started)
        if resp.status != 200:
            errors.append(f"{path}: {resp.status}")
    conn.close()
    return times, errors


def load(pool: multiprocessing.pool.Pool, url: str, path: str, headers: dict[str, str], clients: int, requests: int,
         pace: float = 0.0) -> list[float]:
    """`clients` concurrent clients, each in its own process (so the load generator's own
    GIL does not add to the latencies it measures)."""
    results = pool.map(one_client, [(url, path, headers, requests, pace)] * clients, chunksize=1)
    errors = [e for _, errs in results for e in errs]
    if errors:
        raise SystemExit(f"errors under load: {errors[:3]}")
    return [t for times, _ in results for t in times]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else values[0] * 1000


def browser_figures(url: str, cookie: str) -> tuple[int, set[str], int, float, float]:
    driver = phone_browser()
    try:
        driver.get(url + "/login")
        name, value = cookie.split("=", 1)
        driver.add_cookie({"name": name, "value": value, "path": "/"})
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        driver.get_log("performance")
        driver.get(url + "/")
        time.sleep(1)  # let the icon and the live stream's first bytes arrive
        sizes, hosts = {}, set()
        import json
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                hosts.add(urllib.parse.urlparse(msg["params"]["request"]["url"]).netloc)
            if msg["method"] == "Network.loadingFinished":
                sizes[msg["params"]["requestId"]] = msg["params"]["encodedDataLength"]
        weight = int(sum(sizes.values()))
        fcp = []
        for conditions in (None, SLOW_3G):
            if conditions:
                driver.execute_cdp_cmd("Network.emulateNetworkConditions", conditions)
            driver.get(url + "/")
            for _ in range(100):  # the paint entry can land just after get() returns
                paint = driver.execute_script(
                    "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null")
                if paint is not None:
                    break
                time.sleep(0.1)
            fcp.append(paint if paint is not None else float("nan"))
        return weight, hosts, len(sizes), fcp[0], fcp[1]
    finally:
        driver.quit()


def camera_state(url: str, token: str) -> dict:
    import json

    req = urllib.request.Request(url + "/api/v1/cameras", headers={"Authorization": f"Bearer {token}"})
    cams = json.loads(urllib.request.urlopen(req, timeout=30).read())["cameras"]
    return cams[0] if cams else {"fps": 0.0, "connected": False}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="requests per client per path")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the concurrent load (this machine is shared: see the spread)")
    parser.add_argument("--pace", type=float, default=0.1, help="seconds between a paced client's requests (second load pattern)")
    parser.add_argument("--threads", type=int, default=16, help="web.threads of the daemon (default: the config default)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="langso-bench-web-"))
    # the daemon in its own process, as in production: the load clients do not share its GIL
    camera = [{"name": "san", "source": SAMPLE, "pre_s": 1, "post_s": 2}]
    config = write_toml(tmp / "langso.toml", house_data(tmp / "data", web={"listen": "127.0.0.1:0", "threads": args.threads},
                                                        cameras=camera))
    daemon = Daemon(config, tmp / "data").start()
    try:
        import json

        url = json.loads((tmp / "data" / "cli.json").read_text())["url"]
        store = Store(Database(tmp / "data" / "langso.db"))
        store.add_user("bench", "head", PASSWORD)
        token = store.add_token("bench", {"admin"})
        cookie = session_cookie(url)
        weight, hosts, requests, fcp_fast, fcp_slow = browser_figures(url, cookie)
        external = sorted(h for h in hosts if h and h != urllib.parse.urlparse(url).netloc)
        cam = camera_state(url, token)
        pool = multiprocessing.Pool(args.clients)
        rows = []
        for label, path, headers in (("GET /api/v1/status", "/api/v1/status", {"Authorization": f"Bearer {token}"}),
                                     ("GET / (home, logged in)", "/", {"Cookie": cookie})):
            one = load(pool, url, path, headers, 1, args.requests)
            rounds = [load(pool, url, path, headers, args.clients, args.requests) for _ in range(args.rounds)]
            many = [t for r in rounds for t in r]
            paced = load(pool, url, path, headers, args.clients, args.requests, pace=args.pace)
            rows.append((label, pct(one, 50), pct(one, 99), pct(many, 50), pct(many, 99), [pct(r, 99) for r in rounds],
                         pct(paced, 50), pct(paced, 99)))
        after = camera_state(url, token)
        pool.close()

        print(f"web bench: daemon with web.threads={args.threads}, {args.clients} clients x {args.requests} requests per path; "
              f"camera 'san' analysed in the daemon: {cam['fps']:.1f} -> {after['fps']:.1f} fps, connected={after['connected']}")
        print(f"{'figure':<34} {'measured':>14} {'goal / baseline':>18}")
        print(f"{'home page weight (all assets)':<34} {weight / 1024:>11.1f} KB {'< 100 KB':>18}   ({requests} requests)")
        print(f"{'external requests':<34} {len(external):>14} {'0':>18}   {', '.join(external)}")
        print(f"{'first render, Slow 3G (FCP)':<34} {fcp_slow:>11.0f} ms {f'{fcp_fast:.0f} ms unthrottled':>18}   (2 s latency, 400 kbit/s)")
        print(f"{'latency':<34} {f'{args.clients} clients p50/p99':>22} {'1 client p50/p99':>20} {'goal p99':>10}")
        for label, p50, p99, m50, m99, per_round, s50, s99 in rows:
            print(f"{label:<34} {m50:>10.1f} / {m99:>6.1f} ms {p50:>8.1f} / {p99:>6.1f} ms {'< 100 ms':>10}"
                  f"   (back to back; p99 per round: {', '.join(f'{x:.0f}' for x in per_round)} ms)")
            print(f"{'  same, each client every ' + f'{args.pace * 1000:.0f} ms':<34} {s50:>10.1f} / {s99:>6.1f} ms {'':>20} {'< 100 ms':>10}"
                  f"   ({args.clients / args.pace:.0f} requests/s in all)")
        print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (other work on this machine counts)")
    finally:
        daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
