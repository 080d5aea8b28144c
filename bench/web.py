"""Web bench: the phone page's figures side by side with the goals of issue 5.

  .venv/bin/python bench/web.py [--clients 20] [--requests 50]

- home page weight with CSS, JS and icon as Chromium loads it (goal < 100 KB, zero
  external requests);
- p50/p99 latency of GET /api/v1/status and of the home page (logged in) under N
  concurrent keep-alive clients, while `langso camera analyze` runs on Debian's sample
  footage when the camera part is installed (goal p99 < 100 ms); the same with one client
  is printed as the unloaded baseline;
- first render (first-contentful-paint) in headless Chromium at a phone size with
  DevTools' "Slow 3G" profile (Network.emulateNetworkConditions).
"""
from __future__ import annotations

import argparse
import http.client
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# run as a script, this file's folder comes first on sys.path and its name would hide the web package
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from controller.db import Database  # noqa: E402
from controller.passwords import hash_password  # noqa: E402
from controller.store import Store  # noqa: E402
from tests.conftest import Daemon, house_data, write_toml  # noqa: E402
from tests.web.browser import phone_browser  # noqa: E402

SAMPLE = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
PASSWORD = "bench-Tre-xanh-2026"
SLOW_3G = {"offline": False, "latency": 2000, "downloadThroughput": 500 * 1024 / 8 * 0.8, "uploadThroughput": 500 * 1024 / 8 * 0.8}


def session_cookie(url: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(url + "/login").read().decode()
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    opener.open(url + "/login", data=urllib.parse.urlencode({"name": "bench", "password": PASSWORD, "csrf_token": csrf}).encode())
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def load(url: str, path: str, headers: dict[str, str], clients: int, requests: int) -> list[float]:
    host = urllib.parse.urlparse(url)
    times: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        mine = []
        for _ in range(requests):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - started)
            if resp.status != 200:
                errors.append(f"{path}: {resp.status}")
        conn.close()
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"errors under load: {errors[:3]}")
    return times


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else values[0] * 1000


def browser_figures(url: str, cookie: str) -> tuple[int, set[str], int, float]:
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
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", SLOW_3G)
        driver.get(url + "/")
        fcp = driver.execute_script("const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : -1")
        return weight, hosts, len(sizes), fcp
    finally:
        driver.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="requests per client per path")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="langso-bench-web-"))
    # the daemon in its own process, as in production: the load clients do not share its GIL
    config = write_toml(tmp / "langso.toml", house_data(tmp / "data", web={"listen": "127.0.0.1:0", "threads": int(__import__("os").environ.get("BENCH_THREADS", "24"))}))
    daemon = Daemon(config, tmp / "data").start()
    analyzer = None
    try:
        import json

        url = json.loads((tmp / "data" / "cli.json").read_text())["url"]
        store = Store(Database(tmp / "data" / "langso.db"))
        store.add_user("bench", "head", hash_password(PASSWORD))
        token = store.add_token("bench", {"admin"})
        cookie = session_cookie(url)
        weight, hosts, requests, fcp = browser_figures(url, cookie)
        external = sorted(h for h in hosts if h and h != urllib.parse.urlparse(url).netloc)

        camera = importlib.util.find_spec("camera.analyze") is not None and Path(SAMPLE).exists()
        if camera:
            analyzer = subprocess.Popen([sys.executable, "-m", "controller", "camera", "analyze", SAMPLE, "--json"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        rows = []
        for label, path, headers in (("GET /api/v1/status", "/api/v1/status", {"Authorization": f"Bearer {token}"}),
                                     ("GET / (home, logged in)", "/", {"Cookie": cookie})):
            one = load(url, path, headers, 1, args.requests)
            many = load(url, path, headers, args.clients, args.requests)
            rows.append((label, pct(one, 50), pct(one, 99), pct(many, 50), pct(many, 99)))
        analysing = camera and analyzer is not None and analyzer.poll() is None

        print(f"web bench ({args.clients} clients x {args.requests} requests per path; camera analysis "
              f"{'running' if analysing else 'finished early' if camera else 'not available (camera part not installed)'})")
        print(f"{'figure':<34} {'measured':>14} {'goal':>14}")
        print(f"{'home page weight (all assets)':<34} {weight / 1024:>11.1f} KB {'< 100 KB':>14}   ({requests} requests)")
        print(f"{'external requests':<34} {len(external):>14} {'0':>14}   {', '.join(external)}")
        print(f"{'first render, Slow 3G (FCP)':<34} {fcp:>11.0f} ms {'-':>14}   (2 s latency, 400 kbit/s)")
        print(f"{'latency':<34} {'1 client p50/p99':>20} {f'{args.clients} clients p50/p99':>22} {'goal p99':>10}")
        for label, p50, p99, m50, m99 in rows:
            print(f"{label:<34} {p50:>8.1f} / {p99:>6.1f} ms {m50:>10.1f} / {m99:>6.1f} ms {'< 100 ms':>10}")
    finally:
        if analyzer is not None and analyzer.poll() is None:
            analyzer.terminate()
            analyzer.wait()
        daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
