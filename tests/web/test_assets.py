"""The page over a slow link: static files under content-hashed URLs, cached for a year;
text (pages, script, JSON) compressed for browsers that accept it; never the live stream,
pictures or clips (tests/web/test_parts_pages.py asks for clips with Range the same way)."""
from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import brotli

import web

STATIC = Path(web.__file__).parent / "static"
YEAR_S = 365 * 86400
CHROMIUM_HTTP = {"Accept-Encoding": "gzip, deflate"}  # what Chromium asks for over plain HTTP (and br, zstd over HTTPS)


def test_static_files_have_content_hashed_urls_kept_for_a_year(session_as):
    client, _ = session_as("head")
    page = client.get("/").text
    for name in ("app.js", "icon.svg"):
        url = f"/static/{name}?v={hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]}"
        assert f'"{url}"' in page, name
        resp = client.get(url)
        assert resp.status_code == 200 and resp.data == (STATIC / name).read_bytes()
        cache = resp.cache_control
        assert (cache.public, cache.max_age, cache.immutable, cache.no_cache) == (True, YEAR_S, True, None), resp.headers
        again = client.get(url, headers={"If-None-Match": resp.headers["ETag"]})  # a reload that asks anyway
        assert again.status_code == 304 and again.data == b""
    # the plain URL (a page still open from before) and another version still work, asked again each time
    for url in ("/static/app.js", "/static/app.js?v=0123456789ab"):
        resp = client.get(url)
        assert resp.status_code == 200 and resp.cache_control.no_cache and not resp.cache_control.max_age, url


def test_text_is_compressed_for_browsers_that_accept_it(session_as):
    client, _ = session_as("head")
    plain = client.get("/")
    assert "Content-Encoding" not in plain.headers
    packed = client.get("/", headers=CHROMIUM_HTTP)
    assert packed.headers["Content-Encoding"] == "gzip" and gzip.decompress(packed.data) == plain.data
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 2
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert packed.headers["Content-Security-Policy"] == plain.headers["Content-Security-Policy"]  # the inline CSS still allowed
    script = re.search(r'src="(/static/app\.js\?v=\w+)"', plain.text).group(1)
    js = client.get(script, headers=CHROMIUM_HTTP)
    assert js.headers["Content-Encoding"] == "gzip" and gzip.decompress(js.data) == (STATIC / "app.js").read_bytes()
    assert js.cache_control.immutable  # compressed and kept
    js = client.get(script, headers={"Accept-Encoding": "gzip, deflate, br, zstd"})  # Chromium over HTTPS
    assert js.headers["Content-Encoding"] == "br" and brotli.decompress(js.data) == (STATIC / "app.js").read_bytes()
    status = client.get("/api/v1/status", headers=CHROMIUM_HTTP)
    assert status.headers["Content-Encoding"] == "gzip" and status.mimetype == "application/json"
    assert gzip.decompress(status.data).startswith(b"{")


def test_the_live_stream_is_never_compressed(client, token_for):
    """Compression would hold the Server-Sent Events back until a block fills."""
    resp = client.get("/api/v1/live", headers=token_for("events:read") | {"Accept-Encoding": "gzip, deflate, br, zstd"},
                      buffered=False)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream" and "Content-Encoding" not in resp.headers
    assert next(iter(resp.response)).startswith(b"retry:")
    resp.close()
