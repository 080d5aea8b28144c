"""`langso ioc pull` against a stand-in for a site's events API.

The real /api/v1/events endpoints belong to the web and camera wings (built in parallel);
this Flask app serves exactly the documented contract (DESIGN.md: GET /events?since=,
/events/<id>/snapshot.jpg, /events/<id>/clip.mp4 with HTTP Range, bearer token)."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
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

    def add(self, eid: int, end: float | None = 20.0, clip: bytes | None = None, camera: str = "cong-lang",
            closed: bool | None = None) -> None:
        """closed=None: as a site before `closed` was in the API (open = no end yet)."""
        event = {"id": eid, "camera": camera, "type": "end" if end else "new", "start": 10.0, "end": end}
        self.events.append(event if closed is None else {**event, "closed": closed})
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
    site.add(4, end=None, clip=b"growing")  # still recording: not yet, but the events after it
    site.add(5)
    assert pull(site, out) == 0
    lines = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["id"] for e in lines] == [1, 2, 3, 5]
    assert lines[1]["files"] == ["snapshot.jpg"]
    site.events[3]["end"] = 30.0
    assert pull(site, out) == 0
    assert [json.loads(line)["id"] for line in (out / "events.jsonl").read_text().splitlines()] == [1, 2, 3, 5, 4]
    assert "event 5" in capsys.readouterr().out


def test_pull_refuses_a_bad_token_and_a_bad_url(site: Site, tmp_path: Path, capsys):
    site.add(1)
    assert pull(site, tmp_path / "ioc", token="wrong") == 2
    assert "401" in capsys.readouterr().err
    assert main(["ioc", "pull", "ftp://x", "--token", "t", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "ioc" / "cursor.json").exists()


def pulled(out: Path) -> list[int]:
    return [json.loads(line)["id"] for line in (out / "events.jsonl").read_text().splitlines()]


def test_one_camera_in_long_motion_does_not_hold_back_the_others(site: Site, tmp_path: Path):
    """An open event is left for a later run; the closed events after it, of every camera,
    are pulled now; across runs none is fetched twice and none skipped."""
    out = tmp_path / "ioc"
    site.add(1, closed=True)
    site.add(2, end=None, camera="san-dinh", closed=False, clip=b"half")   # a long motion
    site.add(3, closed=True, clip=b"clip3")
    site.add(4, end=25.0, camera="ben-do", closed=False)  # motion over, clip's tail still being written
    site.add(5, closed=True)
    site.add(6, closed=True)
    assert pull(site, out) == 0  # --limit 2: three pages
    assert pulled(out) == [1, 3, 5, 6]
    assert json.loads((out / "cursor.json").read_text()) | {"updated": 0} == {"since": 1, "done": [3, 5, 6], "updated": 0}
    assert not (out / "2").exists()
    site.add(7, closed=True)
    assert pull(site, out) == 0
    assert pulled(out) == [1, 3, 5, 6, 7]
    site.events[3]["closed"] = True
    (site.files / "4-clip.mp4").write_bytes(b"clip4 whole")
    assert pull(site, out) == 0
    assert pulled(out) == [1, 3, 5, 6, 7, 4] and (out / "4" / "clip.mp4").read_bytes() == b"clip4 whole"
    site.events[1].update(end=90.0, closed=True)
    (site.files / "2-clip.mp4").write_bytes(b"the whole long motion")
    site.add(8, closed=True)
    assert pull(site, out) == 0
    assert pulled(out) == [1, 3, 5, 6, 7, 4, 2, 8]
    assert (out / "2" / "clip.mp4").read_bytes() == b"the whole long motion"
    assert json.loads((out / "cursor.json").read_text())["since"] == 8
    assert json.loads((out / "cursor.json").read_text())["done"] == []
    assert pull(site, out) == 0 and pulled(out) == [1, 3, 5, 6, 7, 4, 2, 8]


def test_a_cursor_of_the_earlier_version_is_read(site: Site, tmp_path: Path):
    out = tmp_path / "ioc"
    out.mkdir()
    (out / "cursor.json").write_text(json.dumps({"since": 1, "updated": 0}))
    site.add(1)
    site.add(2)
    assert pull(site, out) == 0 and pulled(out) == [2]


def crash_after_the_line_of_event_2(site: Site, out: Path, cut: int = 0) -> None:
    """The files of a pull stopped (power cut) after event 2's line was written and before
    the cursor said so; `cut` bytes of that line had not reached the disk."""
    site.add(1)
    site.add(2, clip=b"clip2")
    assert pull(site, out) == 0 and pulled(out) == [1, 2]
    (out / "cursor.json").write_text(json.dumps({"since": 1, "done": [], "updated": 0}))
    if cut:
        data = (out / "events.jsonl").read_bytes()
        (out / "events.jsonl").write_bytes(data[:-cut])


def test_a_pull_cut_off_before_its_cursor_does_not_store_an_event_twice(site: Site, tmp_path: Path, capsys):
    out = tmp_path / "ioc"
    crash_after_the_line_of_event_2(site, out)
    site.add(3)
    assert pull(site, out) == 0
    assert pulled(out) == [1, 2, 3] and json.loads((out / "cursor.json").read_text())["since"] == 3
    assert capsys.readouterr().err == ""


def test_a_partial_last_line_is_removed_and_its_event_pulled_again(site: Site, tmp_path: Path, capsys):
    out = tmp_path / "ioc"
    crash_after_the_line_of_event_2(site, out, cut=20)
    capsys.readouterr()
    assert pull(site, out) == 0
    assert pulled(out) == [1, 2] and (out / "2" / "clip.mp4").read_bytes() == b"clip2"
    bytes_ = len(json.dumps({**site.events[1], "files": ["snapshot.jpg", "clip.mp4"]})) + 1 - 20
    assert capsys.readouterr().err == (f"warning: {out / 'events.jsonl'}: removed a partial last line ({bytes_} bytes, "
                                       "cut off by an interrupted pull); its event is pulled again\n")
    site.add(3)
    assert pull(site, out) == 0 and pulled(out) == [1, 2, 3] and capsys.readouterr().err == ""


def test_a_last_line_short_of_its_newline_is_completed(site: Site, tmp_path: Path, capsys):
    out = tmp_path / "ioc"
    crash_after_the_line_of_event_2(site, out, cut=1)
    capsys.readouterr()
    site.add(3)
    assert pull(site, out) == 0 and pulled(out) == [1, 2, 3]
    assert "completed the last line" in capsys.readouterr().err


def test_a_damaged_line_inside_events_jsonl_is_kept_and_named(site: Site, tmp_path: Path, capsys):
    """An earlier version appended the next event onto a cut-off line: that line is not
    JSON; it stays as it is (nothing stored is lost), is named, and the pull goes on."""
    out = tmp_path / "ioc"
    out.mkdir()
    damaged = b'{"id": 1, "cam{"id": 2, "camera": "cong-lang"}\n'
    (out / "events.jsonl").write_bytes(damaged)
    (out / "cursor.json").write_text(json.dumps({"since": 2, "done": []}))
    site.add(1)
    site.add(2)
    site.add(3)
    assert pull(site, out) == 0
    assert (out / "events.jsonl").read_bytes().startswith(damaged)
    assert [json.loads(line)["id"] for line in (out / "events.jsonl").read_text().splitlines()[1:]] == [3]
    assert capsys.readouterr().err == f"warning: {out / 'events.jsonl'}: line 1 is not an event; left as it is\n"


def test_with_follow_a_damaged_line_is_named_once_and_later_events_still_pulled(site: Site, tmp_path: Path, capsys,
                                                                                 monkeypatch):
    """--follow reads events.jsonl again on every pass: the damaged line stays skipped,
    but the warning is said once, not every pass. Ctrl-C (from the sleep) ends it."""
    import controller.cli_ioc as cli_ioc

    out = tmp_path / "ioc"
    out.mkdir()
    damaged = b'{"id": 1, "cam{"id": 2, "camera": "cong-lang"}\n'
    (out / "events.jsonl").write_bytes(damaged)
    (out / "cursor.json").write_text(json.dumps({"since": 2, "done": []}))
    for eid in (1, 2, 3):
        site.add(eid)
    passes: list[int] = []

    def sleep(_seconds: float) -> None:
        passes.append(1)
        site.add(3 + len(passes))  # a new event for the next pass
        if len(passes) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli_ioc, "time", SimpleNamespace(time=time.time, sleep=sleep))
    assert main(["ioc", "pull", site.url, "--token", TOKEN, "--out", str(out), "--follow", "1"]) == 1  # Ctrl-C
    assert (out / "events.jsonl").read_bytes().startswith(damaged)
    assert [json.loads(line)["id"] for line in (out / "events.jsonl").read_text().splitlines()[1:]] == [3, 4, 5]
    assert capsys.readouterr().err == f"warning: {out / 'events.jsonl'}: line 1 is not an event; left as it is\n"


def test_pull_from_a_daemon_waits_for_the_clip_of_an_ended_event(make_config, start_app, tmp_path: Path):
    """The real API: an event whose motion has ended but whose clip's tail is still being
    written says closed = false, and the pull leaves it until its clip is there."""
    app = start_app(make_config())
    events, clips = app.house.events, Path(app.config.storage.dir) / "clips" / "cam"
    clips.mkdir(parents=True)
    token = app.house.store.add_token("ioc", {"events:read"})
    first = events.open("cam", 100.0, 0.2, [], [])
    events.update(first, end=104.0)  # the recorder goes on for post_s
    second = events.open("cam", 200.0, 0.2, [], [])
    (clips / "2.mp4").write_bytes(b"clip 2")
    events.update(second, end=203.0, clip=str(clips / "2.mp4"), closed=1)
    out = tmp_path / "ioc"
    run = ["ioc", "pull", app.url, "--token", token, "--out", str(out)]
    assert main(run) == 0 and pulled(out) == [second]
    (clips / "1.mp4").write_bytes(b"clip 1, tail included")
    events.update(first, clip=str(clips / "1.mp4"), closed=1)
    assert main(run) == 0 and pulled(out) == [second, first]
    assert (out / str(first) / "clip.mp4").read_bytes() == b"clip 1, tail included"

