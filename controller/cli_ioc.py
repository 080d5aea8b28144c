"""`langso ioc pull URL --token T --out DIR`: the district side's reference client.

It pulls a site's new camera events with their snapshots and clips from the site's HTTP
API (`GET /api/v1/events?since=<id>`, `/events/<id>/snapshot.jpg`, `/events/<id>/clip.mp4`)
into DIR, incrementally: the cursor is kept in DIR/cursor.json and only advanced after
an event and its files are on disk, and clips continue with HTTP Range where a previous
run stopped. An event still open (no end yet) stops the pull, so its clip is fetched
complete next time. District IT builds on this; MQTT tells it when to pull.

DIR layout: cursor.json, events.jsonl (one event per line), <event id>/snapshot.jpg, clip.mp4
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from controller.client import ApiError, Client, DaemonUnreachable

logger = logging.getLogger(__name__)

OK, FAILED, BAD_INPUT = 0, 1, 2
CHUNK = 256 * 1024


class PullError(Exception):
    pass


def download(url: str, token: str, dest: Path, timeout: float = 60) -> bool:
    """Fetch url into dest, resuming a DEST.part left by an earlier run; False on 404."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            mode = "ab" if have and resp.status == 206 else "wb"
            with open(part, mode) as f:
                while chunk := resp.read(CHUNK):
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return False
        if err.code == 416 and have:  # the .part is already whole
            os.replace(part, dest)
            return True
        raise PullError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
        raise PullError(f"{url}: {getattr(err, 'reason', err)} (partial file kept, the next run resumes)") from None
    os.replace(part, dest)
    return True


def read_cursor(out: Path) -> int:
    try:
        return int(json.loads((out / "cursor.json").read_text())["since"])
    except FileNotFoundError:
        return 0
    except (ValueError, KeyError, TypeError) as err:
        raise PullError(f"{out / 'cursor.json'}: unreadable ({err}); fix it or delete it to pull everything again") from None


def write_cursor(out: Path, since: int) -> None:
    tmp = out / "cursor.json.tmp"
    tmp.write_text(json.dumps({"since": since, "updated": time.time()}))
    os.replace(tmp, out / "cursor.json")


def pull(url: str, token: str, out: Path, limit: int = 100, say: Callable[[str], None] = print) -> int:
    """Pull every new event once; returns how many events were stored."""
    out.mkdir(parents=True, exist_ok=True)
    site = Client(url, token, timeout=60)
    base = url.rstrip("/") + "/api/v1"
    since, stored = read_cursor(out), 0
    logger.info("ioc pull start url=%s since=%d", url, since)
    while True:
        page = site.request("GET", f"/events?since={since}&limit={limit}")
        events = page.get("events", []) if isinstance(page, dict) else page
        for event in sorted(events, key=lambda e: e["id"]):
            if event.get("end") is None:  # still recording: fetch it whole next time
                logger.info("ioc pull stop at open event id=%s", event["id"])
                return stored
            folder = out / str(event["id"])
            folder.mkdir(exist_ok=True)
            files = [name for name in ("snapshot.jpg", "clip.mp4")
                     if download(f"{base}/events/{event['id']}/{name}", token, folder / name)]
            with open(out / "events.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({**event, "files": files}, ensure_ascii=False) + "\n")
            since = int(event["id"])
            write_cursor(out, since)
            stored += 1
            say(f"event {event['id']} {event.get('camera', '')} {event.get('type', '')}: {', '.join(files) or 'no files'}")
        if len(events) < limit:
            logger.info("ioc pull done url=%s stored=%d since=%d", url, stored, since)
            return stored


def cmd_ioc_pull(args: argparse.Namespace) -> int:
    if not args.url.startswith(("http://", "https://")):
        print("error: URL must start with http:// or https:// (the site's API, e.g. https://ho-thon.vpn:8080)", file=sys.stderr)
        return BAD_INPUT
    token = args.token or os.environ.get("LANGSO_TOKEN", "")
    if not token:
        print("error: --token (or $LANGSO_TOKEN) is required: an events:read token from `langso token add`", file=sys.stderr)
        return BAD_INPUT
    while True:
        try:
            n = pull(args.url, token, Path(args.out), args.limit)
            print(f"{n} new event(s) in {args.out}")
        except (PullError, DaemonUnreachable) as err:
            print(f"error: {err}", file=sys.stderr)
            if not args.follow:
                return FAILED
        except ApiError as err:
            print(f"error: the site answered {err.status}: {err.message}", file=sys.stderr)
            return BAD_INPUT if err.status in (400, 401, 403, 404) else FAILED
        if not args.follow:
            return OK
        time.sleep(args.follow)


def add_commands(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    ioc = sub.add_parser("ioc", help="district IOC side: pull events from a site").add_subparsers(dest="ioc_command", required=True)
    p = add("pull", cmd_ioc_pull, "pull new events, snapshots and clips from a site's API into DIR (resumable)", ioc)
    p.add_argument("url", help="the site's base URL, e.g. https://ho-thon.vpn.example.vn:8080")
    p.add_argument("--token", help="API token with scope events:read (or $LANGSO_TOKEN)")
    p.add_argument("--out", required=True, help="directory for events.jsonl, files and the cursor")
    p.add_argument("--limit", type=int, default=100, help="events per request")
    p.add_argument("--follow", type=float, default=0, metavar="SECONDS", help="keep pulling every SECONDS")
