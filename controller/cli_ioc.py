"""`langso ioc pull URL --token T --out DIR`: the district side's reference client.

It pulls a site's camera events with their snapshots and clips from the site's HTTP API
(`GET /api/v1/events?since=<id>`, `/events/<id>/snapshot.jpg`, `/events/<id>/clip.mp4`)
into DIR, incrementally. Every closed event is pulled, of every camera; an event still
open (motion going on, or its clip's tail still being written: `closed` false) is left
for a later run, which fetches its clip whole, and does not hold back the events after
it. DIR/cursor.json keeps `since` below the oldest open event and, in `done`, the ids
above it already pulled, so that across runs no event is fetched twice nor skipped; it is
written after an event and its files are on disk. events.jsonl has the last word: an
event already there is not stored again (a run cut off between its line and the cursor),
and a partial last line (a power cut mid-write) is removed, said on stderr, and its event
pulled again. Clips continue with HTTP Range where a previous run stopped. District IT
builds on this; MQTT tells it when to pull.

DIR layout: cursor.json, events.jsonl (one event per line, in the order pulled),
<event id>/snapshot.jpg, clip.mp4
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


class Cursor:
    """Where the pull stands, in DIR/cursor.json: every event up to `since` is on disk, and
    so are the later ones in `done` (closed while an earlier event was still open)."""

    def __init__(self, out: Path):
        self.path = out / "cursor.json"
        try:
            data = json.loads(self.path.read_text())
            self.since, self.done = int(data["since"]), {int(i) for i in data.get("done", [])}
        except FileNotFoundError:
            self.since, self.done = 0, set()
        except (ValueError, KeyError, TypeError) as err:
            raise PullError(f"{self.path}: unreadable ({err}); fix it or delete it to pull everything again") from None

    def save(self) -> None:
        tmp = self.path.with_name("cursor.json.tmp")
        tmp.write_text(json.dumps({"since": self.since, "done": sorted(self.done), "updated": time.time()}))
        os.replace(tmp, self.path)


def pulled_ids(path: Path, warn: Callable[[str], None], reported: set[tuple[int, bytes]] | None = None) -> set[int]:
    """The ids of the events in events.jsonl. A last line without its newline was cut off
    mid-write: it is removed (its event is pulled again), or, when it is whole but for the
    newline, completed. Any other line that is not an event is left as it is, and said
    once: `reported` keeps the lines said already (`--follow` reads the file every pass)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    if tail:
        try:
            json.loads(tail)["id"]
        except (ValueError, KeyError, TypeError):
            with open(path, "r+b") as f:
                f.truncate(len(data) - len(tail))
                os.fsync(f.fileno())
            warn(f"{path}: removed a partial last line ({len(tail)} bytes, cut off by an interrupted pull); "
                 "its event is pulled again")
        else:
            with open(path, "ab") as f:
                f.write(b"\n")
                os.fsync(f.fileno())
            warn(f"{path}: completed the last line (its newline was missing after an interrupted pull)")
            lines.append(tail)
    ids, reported = set(), set() if reported is None else reported
    for number, line in enumerate(lines, 1):
        try:
            ids.add(int(json.loads(line)["id"]))
        except (ValueError, KeyError, TypeError):
            if line.strip() and (number, line) not in reported:
                reported.add((number, line))
                warn(f"{path}: line {number} is not an event; left as it is")
    return ids


def warn_stderr(message: str) -> None:
    logger.warning("ioc pull repair %s", message)
    print(f"warning: {message}", file=sys.stderr)


def is_open(event: dict[str, Any]) -> bool:
    """Still going on, or its clip still being written (`closed`); a site older than that
    field says only `end`."""
    return not event["closed"] if "closed" in event else event.get("end") is None


def pull(url: str, token: str, out: Path, limit: int = 100, say: Callable[[str], None] = print,
         warn: Callable[[str], None] = warn_stderr, reported: set[tuple[int, bytes]] | None = None) -> int:
    """Pull every closed event not pulled yet; returns how many were stored. Open events
    are left for a later run, and the cursor stays below the oldest of them. `reported`:
    the damaged lines of events.jsonl said already, by an earlier pass (see pulled_ids)."""
    out.mkdir(parents=True, exist_ok=True)
    site = Client(url, token, timeout=60)
    base = url.rstrip("/") + "/api/v1"
    cursor, stored, waiting = Cursor(out), 0, []
    cursor.done |= {i for i in pulled_ids(out / "events.jsonl", warn, reported) if i > cursor.since}  # stored, cursor not yet
    after = cursor.since
    logger.info("ioc pull start url=%s since=%d done_after=%d", url, cursor.since, len(cursor.done))
    while True:
        page = site.request("GET", f"/events?since={after}&limit={limit}")
        events = sorted(page.get("events", []) if isinstance(page, dict) else page, key=lambda e: e["id"])
        for event in events:
            eid = int(event["id"])
            if is_open(event):
                waiting.append(eid)  # fetched whole by a later run
            elif eid not in cursor.done:
                store_event(event, base, token, out)
                cursor.done.add(eid)
                stored += 1
                say(f"event {eid} {event.get('camera', '')} {event.get('type', '')}: {', '.join(event['files']) or 'no files'}")
                if waiting:
                    cursor.save()
            if not waiting:  # nothing open below: the cursor moves on, `done` keeps only what is above it
                cursor.since = eid
                cursor.done = {i for i in cursor.done if i > eid}
                cursor.save()
        if events:
            after = int(events[-1]["id"])
        if len(events) < limit:
            logger.info("ioc pull done url=%s stored=%d since=%d open=%s", url, stored, cursor.since,
                        ",".join(map(str, waiting)) or "-")
            return stored


def store_event(event: dict[str, Any], base: str, token: str, out: Path) -> None:
    """The event's snapshot and clip into out/<id>/, then its line in events.jsonl (with
    `files`: what the site had)."""
    folder = out / str(event["id"])
    folder.mkdir(exist_ok=True)
    event["files"] = [name for name in ("snapshot.jpg", "clip.mp4")
                      if download(f"{base}/events/{event['id']}/{name}", token, folder / name)]
    with open(out / "events.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(event, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())  # on disk before the cursor says so


def cmd_ioc_pull(args: argparse.Namespace) -> int:
    if not args.url.startswith(("http://", "https://")):
        print("error: URL must start with http:// or https:// (the site's API, e.g. https://ho-thon.vpn:8080)", file=sys.stderr)
        return BAD_INPUT
    token = args.token or os.environ.get("LANGSO_TOKEN", "")
    if not token:
        print("error: --token (or $LANGSO_TOKEN) is required: an events:read token from `langso token add`", file=sys.stderr)
        return BAD_INPUT
    reported: set[tuple[int, bytes]] = set()  # with --follow: each damaged line of events.jsonl is said once
    while True:
        try:
            n = pull(args.url, token, Path(args.out), args.limit, reported=reported)
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
