"""`langso ioc pull` against a stand-in for a site's events API.

The real /api/v1/events endpoints belong to the web and camera wings (built in parallel);
this Flask app serves exactly the documented contract (DESIGN.md: GET /events?since=,
/events/<id>/snapshot.jpg, /events/<id>/clip.mp4 with HTTP Range, bearer token)."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask, abort, jsonify, request, send_file

from controller.cli import main
from web.servers import HttpServer

TOKEN = "events-read-token"


class Site:
    def __init__(self, tmp: Path):
        self.events: list[dict[str, Any]] = []
        self.files = tmp / "site-files"
        self.files.mkdir()
        self.ranges: list[str] = []
        app = Flask(__name__)

        @app.before_request
        def auth() -> None:
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                abort(401)

        @app.get("/api/v1/events")
        def events() -> Any:
            since, limit = int(request.args.get("since", 0)), int(request.args.get("limit", 100))
            return jsonify(events=[e for e in self.events if e["id"] > since][:limit])

        @app.get("/api/v1/events/<int:eid>/<name>")
        def file(eid: int, name: str) -> Any:
            path = self.files / f"{eid}-{name}"
            if not path.exists():
                abort(404)
            if "Range" in request.headers:
                self.ranges.append(request.headers["Range"])
            return send_file(path, conditional=True)

        self.server = HttpServer(app, "127.0.0.1", 0, threads=2)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def add(self, eid: int, end: float | None = 20.0, clip: bytes | None = None) -> None:
        self.events.append({"id": eid, "camera": "cong-lang", "type": "end" if end else "new", "start": 10.0, "end": end})
        (self.files / f"{eid}-snapshot.jpg").write_bytes(b"\xff\xd8jpeg" + bytes([eid]))
        if clip is not None:
            (self.files / f"{eid}-clip.mp4").write_bytes(clip)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)
    yield s
    s.server.close()


def pull(site: Site, out: Path, token: str = TOKEN) -> int:
    return main(["ioc", "pull", site.url, "--token", token, "--out", str(out), "--limit", "2"])


def test_pull_is_incremental_and_resumes_clips(site: Site, tmp_path: Path, capsys):
    out = tmp_path / "ioc"
    clip = bytes(range(256)) * 400
    site.add(1, clip=clip)
    site.add(2)  # snapshot only
    site.add(3, clip=b"clip3" * 1000)
    (out / "3").mkdir(parents=True)
    (out / "3" / "clip.mp4.part").write_bytes((b"clip3" * 1000)[:1234])  # an earlier run was cut off
    assert pull(site, out) == 0
    assert (out / "1" / "clip.mp4").read_bytes() == clip
    assert (out / "2" / "snapshot.jpg").read_bytes() == b"\xff\xd8jpeg\x02" and not (out / "2" / "clip.mp4").exists()
    assert (out / "3" / "clip.mp4").read_bytes() == b"clip3" * 1000 and site.ranges == ["bytes=1234-"]
    assert json.loads((out / "cursor.json").read_text())["since"] == 3
    site.add(4, end=None, clip=b"growing")  # still recording: not yet
    site.add(5)
    assert pull(site, out) == 0
    lines = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["id"] for e in lines] == [1, 2, 3]
    assert lines[1]["files"] == ["snapshot.jpg"]
    site.events[3]["end"] = 30.0
    assert pull(site, out) == 0
    assert [json.loads(line)["id"] for line in (out / "events.jsonl").read_text().splitlines()] == [1, 2, 3, 4, 5]
    assert "event 5" in capsys.readouterr().out


def test_pull_refuses_a_bad_token_and_a_bad_url(site: Site, tmp_path: Path, capsys):
    site.add(1)
    assert pull(site, tmp_path / "ioc", token="wrong") == 2
    assert "401" in capsys.readouterr().err
    assert main(["ioc", "pull", "ftp://x", "--token", "t", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "ioc" / "cursor.json").exists()
