"""Flask app factory: `create_app(house, test_config=None)` (re-exported as `web.create_app`).

`house` is the controller's House (duck-typed: handle, status, relays, store ...);
web/ never builds parts of the house itself.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from controller.commands import CommandError, is_storage_full, storage_full

logger = logging.getLogger(__name__)


def secret_key(data_dir: Path) -> bytes:
    """The session-signing key, made once per house and kept (0600) so a restart does not
    log everyone out."""
    path = Path(data_dir) / "web-secret"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key)
        except OSError as err:  # a full disk: this start's sessions end with it; no empty key is left for the next
            path.unlink(missing_ok=True)
            logger.error("web secret not kept path=%s error=%r (logins last until the next start)", path, str(err))
        return key


SQLITE_INT_MAX = 2**63 - 1  # SQLite's INTEGER (64-bit signed): ids and cursors in requests stay within it


class RowId(IntegerConverter):
    """`<int:...>` in every route: ids fit SQLite's INTEGER, so a huge number in a path is a
    404 like any other unknown id (not an OverflowError deep in the store)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", SQLITE_INT_MAX)
        super().__init__(map, *args, **kwargs)


STATIC = Path(__file__).parent / "static"


@functools.cache
def inline_css() -> Markup:
    """web/static/app.css, put into every page's <head>: on a 3G link (2 s round trips) a
    separate stylesheet would hold the first paint for one more round trip."""
    return Markup((STATIC / "app.css").read_text(encoding="utf-8"))


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def reload_url() -> str | None:
    """Where "reload the page" leads after a refused form: the form's own page (with its
    query, e.g. the login's `next`) when it can be opened; None for a form that is only ever
    posted (log out, language)."""
    rule = request.url_rule
    return request.full_path.rstrip("?") if rule is not None and "GET" in (rule.methods or ()) else None


def http_error(err: HTTPException) -> str:
    """An HTTP error for the page: the words given with abort() (the pages give them in the
    page's language), or for werkzeug's own English default (an address that does not exist,
    a method not allowed ...) what it means, in the page's language."""
    if err.description and err.description != type(err).description:
        return err.description
    if err.code == 404:
        return _("This page or item does not exist (any more). Go back to the home page.")
    if err.code == 405:
        return _("This address cannot be used this way. Go back to the home page.")
    return _("The house's computer could not handle this request (error %(code)s). Reload the page and try again.",
             code=err.code)


def create_app(house: Any, test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)  # web.assets serves web/static
    app.url_map.converters["int"] = RowId
    web_cfg = house.config.web
    app.config.update(
        # bodies over this are refused (413) before they are read; uploads may use all of
        # audio.max_upload_mb (the audio part then checks the file itself)
        MAX_CONTENT_LENGTH=max(32, house.config.audio.max_upload_mb + 1) * 2**20,
        JSON_AS_ASCII=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="langso_session",
        SESSION_COOKIE_SECURE=bool(web_cfg.tls_cert),
        # the cookie is re-signed when the session changes (web.auth refreshes "seen" once a
        # minute for the idle timeout), not on every request
        SESSION_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=web_cfg.session_days * 86400,
        SESSION_MAX_S=web_cfg.session_days * 86400,
        SESSION_IDLE_S=web_cfg.session_idle_hours * 3600,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        SECRET_KEY=secret_key(house.config.storage.dir),
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["house"] = house
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    from web.api import api, command_error, spec
    import web.api_broadcasts  # noqa: F401  (broadcast routes on the api blueprint)
    import web.api_events  # noqa: F401  camera events routes on the api blueprint
    from web import api_admin, api_schedules, live  # noqa: F401  (routes on the api blueprint)

    app.register_blueprint(api)
    spec.register(app)

    from web.assets import init_assets
    from web.i18n import init_i18n, refusal_detail, stale_page
    from web.auth import LoginThrottle, Recent
    from web.pages import pages

    init_i18n(app, house.config.site.timezone)
    init_assets(app, STATIC)
    csrf = CSRFProtect(app)
    csrf.exempt(api)  # API writes are checked in web.auth.require (session) or need a bearer token
    app.register_blueprint(pages)
    app.jinja_env.globals["inline_css"] = inline_css
    app.extensions["login_throttle"] = LoginThrottle()
    app.extensions["recent_credentials"] = Recent()
    live.attach(app, house.bus, max_clients=max(1, web_cfg.threads - 4))

    css_hash = base64.b64encode(hashlib.sha256(str(inline_css()).encode()).digest()).decode()
    policy = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
              f"style-src 'self' 'sha256-{css_hash}'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

    @app.after_request
    def _security_headers(resp):  # type: ignore[no-untyped-def]
        """The browser itself refuses anything not from this house (no CDN, no injected
        script), and no other site may frame the control page."""
        resp.headers.setdefault("Content-Security-Policy", policy)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        if wants_json():
            if isinstance(err, RequestEntityTooLarge):  # a body over the limit is a recording: said as the audio part says it
                return command_error(CommandError(err.description or err.name, 413, "file_too_large",
                                                  limit_mb=house.config.audio.max_upload_mb))
            # the page (a session) gets werkzeug's own English ("The requested URL was not found ...") in its words
            page = g.get("via_session") and not isinstance(err, CSRFError)  # app.js tells a CSRF refusal by its English
            said = http_error(err) if page else err.description or err.name
            return jsonify(error=said), err.code
        if isinstance(err, CSRFError):  # a form from a page open for days, or a browser that dropped its cookie
            return render_template("error.html", code=err.code, message=stale_page(), retry=reload_url()), err.code
        return render_template("error.html", code=err.code, message=http_error(err)), err.code

    @app.errorhandler(Exception)
    def _crash(err: Exception):  # never a traceback to a phone
        if is_storage_full(err):  # a full disk: said as such (507), with the fix, not as an internal error
            logger.error("request refused, disk full path=%s error=%r", request.path, str(err))
            refused = storage_full(house.config.storage.dir, err)
            if wants_json():
                return command_error(refused)
            return render_template("error.html", code=507, message=refusal_detail(refused.kind, refused.values)), 507
        logger.exception("request failed path=%s", request.path)
        if wants_json() and not g.get("via_session"):
            return jsonify(error="internal error; the technician can read the log (journalctl -u langso)"), 500
        message = _("Something went wrong inside the house's computer. Try again; if it happens again, tell the "
                    "technician (the log: journalctl -u langso).")
        if wants_json():
            return jsonify(error=message), 500
        return render_template("error.html", code=500, message=message), 500

    return app
