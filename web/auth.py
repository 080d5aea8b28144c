"""Who is asking: bearer tokens with scopes (the IOC, the CLI)."""
from __future__ import annotations

import functools
from typing import Any, Callable

from flask import current_app, g, jsonify, request

from controller.commands import Actor


def _house() -> Any:
    return current_app.extensions["house"]


def current_principal() -> tuple[Actor, frozenset[str]] | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        info = _house().store.check_token(header[7:].strip())
        if info is not None:
            # the daemon's own local token (cli.json) is the technician's CLI
            return (Actor("cli") if info.name == "cli" else Actor("token", info.name)), info.scopes
    return None


def require(scope: str | None) -> Callable:
    """Decorator: a valid token (any scope when `scope` is None) with `scope` or admin."""

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any):
            principal = current_principal()
            if principal is None:
                return jsonify(error="authentication required: send 'Authorization: Bearer <token>' (langso token add)"), 401
            actor, scopes = principal
            if scope is not None and scope not in scopes and "admin" not in scopes:
                return jsonify(error=f"this token lacks the {scope!r} scope"), 403
            g.actor = actor
            return view(*args, **kwargs)

        return inner

    return wrap
