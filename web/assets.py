"""The page over a slow link (3G on a cheap phone).

- Static files (web/static) are read once at start and served from memory under URLs that
  carry a hash of their content (`url_for("static", filename="app.js")` ->
  `/static/app.js?v=3f2a...`): the browser keeps them for a year without asking again, and
  a new version (after an update and restart) is a new URL. The bytes served are the bytes
  hashed, so a URL never names two contents.
- Text (pages, the script, JSON) is compressed for browsers that accept it (Flask-Compress:
  brotli or gzip). Streamed responses never are: the live stream (Server-Sent Events
  would be held back until a compressed block fills), clips (already compressed, and
  answered in HTTP Range parts), snapshots and recordings (their types are not listed
  either)."""
from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from flask import Flask, Response, abort, request
from flask_compress import Compress

YEAR_S = 365 * 86400
COMPRESSED = ["text/html", "text/css", "text/javascript", "application/javascript", "application/json", "image/svg+xml"]


class StaticFile:
    def __init__(self, path: Path):
        self.data = path.read_bytes()
        self.mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self.version = hashlib.sha256(self.data).hexdigest()[:12]


def read_static(folder: Path) -> dict[str, StaticFile]:
    """Every file under `folder`, by its path relative to it."""
    return {path.relative_to(folder).as_posix(): StaticFile(path) for path in sorted(folder.rglob("*")) if path.is_file()}


def init_assets(app: Flask, folder: Path) -> None:
    """Serve `folder` at /static/ (the app is made with static_folder=None) and compress text."""
    files = read_static(folder)

    def static(filename: str) -> Response:
        found = files.get(filename)
        if found is None:
            abort(404)
        resp = Response(found.data, mimetype=found.mimetype)
        resp.set_etag(found.version)
        if request.args.get("v") == found.version:  # this version's URL: kept, never asked again
            resp.cache_control.public = True
            resp.cache_control.max_age = YEAR_S
            resp.cache_control.immutable = True
        else:  # the plain URL, or an old version's (a page open since before a restart): asked each time
            resp.cache_control.no_cache = True
        return resp.make_conditional(request)

    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=static)

    @app.url_defaults
    def _versioned(endpoint: str, values: dict[str, str]) -> None:
        if endpoint == "static" and values.get("filename") in files:
            values.setdefault("v", files[values["filename"]].version)

    app.config.update(
        COMPRESS_MIMETYPES=COMPRESSED,
        # brotli first (quality 5: app.js 5.5 KB against gzip's 5.8, well under a millisecond);
        # Chromium offers it over HTTPS only, gzip everywhere
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_BR_LEVEL=5,
        COMPRESS_STREAMS=False,
    )
    Compress(app)
