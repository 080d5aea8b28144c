"""Flask app factory: `create_app(house, test_config=None)`.

`house` is the controller's House (duck-typed: handle, status, relays, store ...);
web/ never builds parts of the house itself.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


def create_app(house: Any, test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=32 * 2**20,
        JSON_AS_ASCII=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["house"] = house
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    from web.api import api, spec
    import web.api_broadcasts  # noqa: F401  (broadcast routes on the api blueprint)
    import web.api_events  # noqa: F401  camera events routes on the api blueprint

    app.register_blueprint(api)
    spec.register(app)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return jsonify(error=err.description or err.name), err.code

    @app.errorhandler(Exception)
    def _crash(err: Exception):  # never a traceback to a phone
        logger.exception("request failed")
        return jsonify(error="internal error; the technician can read the log (journalctl -u langso)"), 500

    return app
