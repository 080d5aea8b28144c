"""Page weight over 3G: the bytes a phone's Chromium transfers for the home page (logged in)
with its script and icon (the CSS is inline in the page), on a first visit (empty cache)
and on a second (the cache kept, as when the village head opens the page again), for this
checkout and, side by side, for an earlier revision (before static caching and compression).

  .venv/bin/python bench/bench_page_weight.py [--baseline REV]

Bytes are Chromium's own count of what crossed the wire (DevTools' encodedDataLength:
headers and body as sent, compressed or not); requests are those that left the phone (an
asset served from the browser's cache sends none: no round trip). The live-update stream
(/api/v1/live) is left out: it stays open. The baseline is `git archive REV` run as its own
daemon (default cf7473f, main before this change); without git history only this checkout
is measured.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import io
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/ is not an installed package: the test daemon and phone browser come from the checkout

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from controller.db import Database  # noqa: E402
from controller.store import Store  # noqa: E402
from tests.conftest import Daemon, house_data, write_toml  # noqa: E402
from tests.web.browser import phone_browser  # noqa: E402

PASSWORD = "Tre-xanh-2026-lang"
BASELINE = "cf7473f"


def checkout(rev: str, into: Path) -> Path | None:
    """`rev` of this repository unpacked into `into` (None when there is no such revision)."""
    try:
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def visit(driver, url: str) -> list[dict]:
    """Load `url` and return what each request of the page cost: path, status, bytes on the
    wire, whether it left the phone."""
    driver.get_log("performance")  # drop what came before
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    time.sleep(1)  # the icon is asked for after the page's load (and not at all when the browser has it)
    requests: dict[str, dict] = {}
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg["params"]
        if msg["method"] == "Network.requestWillBeSent":
            path = urllib.parse.urlparse(params["request"]["url"]).path
            requests[params["requestId"]] = {"path": path, "bytes": 0, "status": None, "network": True, "done": False}
        elif params.get("requestId") not in requests:
            continue
        elif msg["method"] == "Network.requestServedFromCache":
            requests[params["requestId"]]["network"] = False
        elif msg["method"] == "Network.responseReceived":
            r = requests[params["requestId"]]
            r["status"] = params["response"]["status"]
            if params["response"].get("fromDiskCache") or params["response"].get("fromPrefetchCache"):
                r["network"] = False
        elif msg["method"] == "Network.responseReceivedExtraInfo":  # what the server sent: 304 for a revalidation
            requests[params["requestId"]]["wire_status"] = params["statusCode"]
        elif msg["method"] == "Network.loadingFinished":
            r = requests[params["requestId"]]
            r["bytes"], r["done"] = int(params["encodedDataLength"]), True
    return [r for r in requests.values() if r["done"] and r["path"] != "/api/v1/live"]


def measure(root: Path, tmp: Path) -> dict[str, list[dict]]:
    """First and second visit of the home page on a daemon of the checkout in `root`."""
    data = tmp / "data"
    data.mkdir(parents=True)
    config = write_toml(tmp / "langso.toml", house_data(data, web={"listen": "127.0.0.1:0"}))
    daemon = Daemon(config, data, root=root).start()
    driver = phone_browser(tmp / "chromium")
    try:
        url = json.loads((data / "cli.json").read_text())["url"]
        Store(Database(data / "langso.db")).add_user("bench", "head", PASSWORD)
        driver.get(url + "/login")
        driver.find_element(By.NAME, "name").send_keys("bench")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-relay]"))
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        driver.get("about:blank")
        first = visit(driver, url + "/")
        driver.get("about:blank")
        second = visit(driver, url + "/")
        return {"first": first, "second": second}
    finally:
        driver.quit()
        daemon.stop()


def summary(rows: list[dict]) -> str:
    sent = [r for r in rows if r["network"]]
    return f"{sum(r['bytes'] for r in rows) / 1024:.1f} KB, {len(sent)} request{'s' * (len(sent) != 1)}"


def detail(row: dict | None) -> str:
    if row is None:
        return "-"
    if not row["network"]:
        return "from cache, 0 B"
    return f"{row.get('wire_status', row['status'])}, {row['bytes']:,} B"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with (default %(default)s)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="langso-bench-weight-"))
    now = measure(ROOT, tmp / "now")
    old_root = checkout(args.baseline, tmp / "baseline-src")
    before = measure(old_root, tmp / "before") if old_root else None
    label = f"before ({args.baseline})"
    print("page weight: home page (logged in) + app.js + icon.svg as a phone's Chromium loads them; app.css is inline in the page")
    print(f"{'':<28} {label if before else '':>30} {'now':>30}")
    for visit_name, title in (("first", "first visit (empty cache)"), ("second", "second visit (cache kept)")):
        print(f"{title:<28} {summary(before[visit_name]) if before else '':>30} {summary(now[visit_name]):>30}")
        paths = sorted({r["path"] for r in now[visit_name] + (before[visit_name] if before else [])})
        for path in paths:
            mine = next((r for r in now[visit_name] if r["path"] == path), None)
            theirs = next((r for r in before[visit_name] if r["path"] == path), None) if before else None
            print(f"  {path:<26} {detail(theirs) if before else '':>30} {detail(mine):>30}")
    if before is None:
        print(f"(no baseline: revision {args.baseline} is not in this checkout's git history)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
