"""Who is asking: a bearer token with scopes (the IOC, the CLI) or a logged-in user
whose role grants scopes (the phone page). Cookie-authenticated writes are CSRF-checked.

`require(scope)` is the one gate every API route uses (other wings' routes too)."""
from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from flask import current_app, flash, g, jsonify, request, session

from controller.commands import Actor
from controller.store import CLI_TOKEN
from web.i18n import LANGUAGES, refusal_detail

ROLES = ("head", "tech", "viewer")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "head": frozenset({"control", "broadcast", "events:read"}),
    "tech": frozenset({"control", "broadcast", "events:read", "admin"}),
    "viewer": frozenset({"events:read"}),
}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _house() -> Any:
    return current_app.extensions["house"]


class Recent:
    """Credentials looked up in the last `max_age_s` (token -> TokenInfo, user name -> user
    row), so a busy phone page or IOC does not queue on the shared database for every
    request. Only hits are kept (a new token or user works at once); the admin API and the
    password page clear it when they revoke a token or remove or change a user, so those
    take effect at once (other logins of a user whose password changed end with the next
    request); a change written to the database by another process (`langso user add`
    resetting a role or password) takes effect within `max_age_s`."""

    def __init__(self, max_age_s: float = 1.0, max_keys: int = 1000):
        self.max_age_s, self.max_keys = max_age_s, max_keys
        self._items: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._cleared = 0  # a lookup that overlapped a clear() is not kept

    def get(self, kind: str, key: str, load: Callable[[str], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit, cleared = self._items.get((kind, key)), self._cleared
        if hit is not None and now - hit[0] < self.max_age_s:
            return hit[1]
        value = load(key)
        if value is not None:
            with self._lock:
                if cleared != self._cleared:
                    return value
                if len(self._items) >= self.max_keys:
                    self._items.clear()
                self._items[(kind, key)] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._cleared += 1


def recent() -> Recent:
    return current_app.extensions["recent_credentials"]


def has_scope(scopes: frozenset[str], scope: str | None) -> bool:
    return scope is None or scope in scopes or "admin" in scopes


def password_mark(password_hash: str) -> str:
    """What a session keeps of the password it was made with: a new password (the user's
    own, or a reset by the technician) ends every session made with the old one."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def session_user() -> dict[str, Any] | None:
    """The logged-in user, or None (no session, expired, the password changed since, or the
    user was removed). An ended session is cleared and why is remembered in
    `g.session_ended` ("expired" or "password")."""
    name = session.get("user")
    if not name:
        return None
    now = time.time()
    idle = current_app.config["SESSION_IDLE_S"]
    if now - session.get("login_at", 0) > current_app.config["SESSION_MAX_S"] or now - session.get("seen", 0) > idle:
        fresh_session()
        g.session_ended = "expired"
        return None
    user = recent().get("user", name, _house().store.user)
    if user is None or user["role"] not in ROLE_SCOPES:
        fresh_session()
        return None
    mark = session.get("pw")
    if mark != password_mark(user["password_hash"]):
        fresh_session()
        g.session_ended = "password" if mark else "expired"  # no mark: a login from before marks
        return None
    if now - session.get("seen", 0) > 60:  # keep the cookie small and writes rare
        session["seen"] = now
    return user


def fresh_session() -> None:
    """Start the session afresh: nothing of the old one goes on (no session fixation: no
    CSRF token, user or mark from before), only the page's language, a choice from a
    closed list made on this phone, which logging in or out should not undo."""
    lang = session.get("lang")
    session.clear()
    if lang in LANGUAGES:
        session["lang"] = lang


def login(user: dict[str, Any]) -> None:
    fresh_session()
    session.permanent = True
    now = time.time()
    session.update(user=user["name"], login_at=now, seen=now)
    keep_session(user)


def keep_session(user: dict[str, Any]) -> None:
    """This session goes on with the user's (new) password; the others end."""
    session["pw"] = password_mark(user["password_hash"])


def session_ended(why: str) -> str:
    """Why this phone must log in again ("expired" or "password", `g.session_ended`), in the
    page's language: the page that leads to the login and the API's 401 to the page say it."""
    return refusal_detail("session_expired" if why == "expired" else "session_password_changed", {})


def current_principal() -> tuple[Actor, frozenset[str]] | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        info = recent().get("token", header[7:].strip(), _house().store.check_token)
        if info is not None:
            # the daemon's own local token (cli.json) is the technician's CLI
            return (Actor("cli") if info.name == CLI_TOKEN else Actor("token", info.name)), info.scopes
        return None
    user = session_user()
    if user is not None:
        g.via_session, g.must_change = True, bool(user["must_change"])
        return Actor("web", user["name"]), ROLE_SCOPES[user["role"]]
    return None


def check(scope: str | None) -> Any:
    """The gate for this request: None when a valid token or session has `scope` (any scope
    when None), else the 401/403 answer. Session writes must carry the CSRF token (a
    CSRFError, 400). A session whose password was set by someone else gets 403 until the
    user has chosen their own. Sets g.actor and g.scopes."""
    principal = current_principal()
    if principal is None:
        ended = g.get("session_ended")
        if ended:  # only a session (the page) ends: said in its language, and again on the login page it is sent to
            said = session_ended(ended)
            flash(said)
            return jsonify(error=said), 401
        return jsonify(error="authentication required: log in, or send 'Authorization: Bearer <token>' (langso token add)"), 401
    actor, scopes = principal
    if g.get("must_change"):  # a session only (tokens are not users): the page goes to /password on this kind
        return jsonify(error=refusal_detail("password_must_change", {}), kind="password_must_change"), 403
    if not has_scope(scopes, scope):
        if g.get("via_session"):  # the page: in its language (kind scope_missing)
            return jsonify(error=refusal_detail("scope_missing", {"scope": scope})), 403
        return jsonify(error=f"this token lacks the {scope!r} scope"), 403
    if g.get("via_session") and request.method not in SAFE_METHODS:
        current_app.extensions["csrf"].protect()  # raises CSRFError (400) with the reason
    g.actor, g.scopes = actor, scopes
    return None


def require(scope: str | None) -> Callable:
    """Decorator: the route needs `scope` (None: any valid credentials). The API blueprint
    runs the check before the request body is validated (`gate`), so a caller without the
    right credentials learns nothing from 400s; the decorator checks again if a route is
    reached another way."""

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any):
            if "actor" not in g:
                refused = check(scope)
                if refused is not None:
                    return refused
            return view(*args, **kwargs)

        inner.required_scope = scope  # type: ignore[attr-defined]  (read by gate)
        return inner

    return wrap


def gate() -> Any:
    """before_request of the API: 401/403 before anything else looks at the request."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or not hasattr(view, "required_scope"):
        return None
    return check(view.required_scope)


class LoginThrottle:
    """Login rate limiting: after `limit` failures inside `window_s` for one address or
    one user name, refuse further tries until the window has passed. Bounded memory."""

    def __init__(self, limit: int = 5, window_s: float = 900, max_keys: int = 10000):
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def retry_after(self, *keys: str, now: float | None = None) -> float:
        """Seconds to wait before another try (0 = allowed)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            wait = 0.0
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.limit:
                    wait = max(wait, times[-self.limit] + self.window_s - now)
            return wait

    def failed(self, *keys: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, []).append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
