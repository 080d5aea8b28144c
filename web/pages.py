"""The village head's phone pages: server-rendered Jinja, Vietnamese first. Data that
changes live is fetched by web/static/app.js from the JSON API with the session cookie."""
from __future__ import annotations

import functools
import logging
import threading
from typing import Any, Callable

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _

from controller.passwords import WeakPassword, verify_password
from web import health
from web.api import STATUS_MAX_AGE_S
from web.i18n import refusal_detail
from web.auth import (ROLE_SCOPES, LoginThrottle, fresh_session, has_scope, keep_session, login, recent, session_ended,
                      session_user)

logger = logging.getLogger(__name__)

pages = Blueprint("pages", __name__)
_setup_lock = threading.Lock()
OPEN_PAGES = {"pages.login", "pages.setup", "pages.language", "static"}
# what a user whose password was set by someone else may open before choosing their own
MUST_CHANGE_PAGES = {"pages.password", "pages.logout", "pages.language"}


def _house() -> Any:
    return current_app.extensions["house"]


@pages.before_app_request
def _first_run_and_login() -> Any:
    if request.path.startswith("/api/") or request.endpoint in ("static",):
        return None
    # "is there a user yet?" on every page, answered from the credentials cache once there is
    set_up = recent().get("users", "any", lambda _key: bool(_house().store.users()) or None)
    if not set_up and request.endpoint not in ("pages.setup", "pages.language"):
        return redirect(url_for("pages.setup"))
    g.user = session_user()
    if g.user is None and request.endpoint not in OPEN_PAGES:
        ended = g.get("session_ended")
        if ended:
            flash(session_ended(ended))
        return redirect(url_for("pages.login", next=request.path))
    if g.user is not None and g.user["must_change"] and request.endpoint not in MUST_CHANGE_PAGES:
        return redirect(url_for("pages.password"))
    return None


@pages.app_context_processor
def _page_globals() -> dict[str, Any]:
    user = g.get("user")
    scopes = ROLE_SCOPES[user["role"]] if user else frozenset()
    return {"user": user, "can": lambda scope: bool(user) and has_scope(scopes, scope),
            "site": _house().config.site, "lang": session.get("lang", "vi")}


def needs(scope: str) -> Callable:
    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if not has_scope(ROLE_SCOPES[g.user["role"]], scope):
                abort(403, _("Your account may not open this page."))
            return view(*args, **kwargs)
        return inner
    return wrap


def _safe_next(target: str | None) -> str:
    """Where to go after logging in or choosing a language: a path on this house only. A
    browser drops tabs and newlines from a URL and reads a backslash as a slash, so
    "/<tab>/evil.example" or "/\\evil.example" would be another site: anything with a
    control character, a space or a backslash goes home instead."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.home")
    if "\\" in target or any(c.isspace() or not c.isprintable() for c in target):
        return url_for("pages.home")
    return target


def _throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]


def _password_tries(what: str, name: str) -> tuple[tuple[str, ...], str | None]:
    """The throttle keys for a password typed for `name` from this address (the login and
    the password change count together), and the refusal when too many were wrong lately."""
    keys = (f"ip:{request.remote_addr}", f"user:{name.lower()}")
    wait = _throttle().retry_after(*keys)
    if wait <= 0:
        return keys, None
    logger.warning("%s throttled user=%s ip=%s", what, name, request.remote_addr)
    return keys, _("Too many wrong passwords. Try again in %(minutes)d minutes.", minutes=int(wait // 60) + 1)


@pages.route("/login", methods=["GET", "POST"], endpoint="login")
def login_page() -> Any:
    error = None
    if request.method == "POST":
        name = request.form.get("name", "").strip()[:64]
        keys, refused = _password_tries("login", name)
        if refused:
            return render_template("login.html", error=refused, name=name), 429
        user = _house().store.user(name)
        if user and verify_password(user["password_hash"], request.form.get("password", "")):
            _throttle().succeeded(*keys)
            login(user)
            logger.info("login user=%s ip=%s", name, request.remote_addr)
            return redirect(url_for("pages.password") if user["must_change"] else _safe_next(request.args.get("next")))
        _throttle().failed(*keys)
        logger.warning("login failed user=%s ip=%s", name, request.remote_addr)
        return render_template("login.html", error=_("Wrong user name or password."), name=name), 401
    return render_template("login.html", error=error, name="")


@pages.post("/logout")
def logout():
    fresh_session()
    return redirect(url_for("pages.login"))


@pages.route("/setup", methods=["GET", "POST"])
def setup():
    """First run: no user exists yet, so the first one (tech or head) is made here with a
    real password. Afterwards this page is gone."""
    store = _house().store
    if store.users():
        abort(404)
    form = {"name": request.form.get("name", "").strip(), "role": request.form.get("role", "tech")}
    if request.method == "POST":
        problem = None
        if not form["name"] or len(form["name"]) > 32 or not all(c.isalnum() or c in "._-" for c in form["name"]) or not form["name"].isascii():
            problem = _("User name: use letters, digits, . _ - only (no spaces or accents).")
        elif form["role"] not in ("tech", "head"):
            problem = _("Role: choose technician or village head.")
        else:
            with _setup_lock:
                if store.users():
                    abort(409, _("A user was created meanwhile; log in."))
                problem = _new_password(lambda password: store.add_user(form["name"], form["role"], password))
        if problem:
            return render_template("setup.html", error=problem, form=form), 400
        store.audit(f"web:{form['name']}", "user.add", form["name"], "first run")
        logger.info("first user created user=%s role=%s", form["name"], form["role"])
        login(store.user(form["name"]))
        return redirect(url_for("pages.home"))
    return render_template("setup.html", error=None, form=form)


def _new_password(save: Callable[[str], Any]) -> str | None:
    """The new password typed twice in the form (password, password2), handed to `save`
    (the store checks its strength and hashes it); what is wrong, in the page's words, or None."""
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        return _("The two passwords differ.")
    try:
        save(password)
    except WeakPassword:
        return _("Password: at least 8 characters, not a common password and not the user name.")
    return None


@pages.route("/password", methods=["GET", "POST"])
def password():
    """Any logged-in user changes their own password: the current one first (wrong ones
    count toward the login throttling), then the new one twice. This session goes on;
    the user's other sessions (a lost phone) end at once."""
    user, store = g.user, _house().store
    if request.method == "POST":
        keys, refused = _password_tries("password change", user["name"])
        if refused:
            return render_template("password.html", error=refused), 429
        if not verify_password(user["password_hash"], request.form.get("current", "")):
            _throttle().failed(*keys)
            logger.warning("password change refused user=%s ip=%s reason=wrong-current", user["name"], request.remote_addr)
            return render_template("password.html", error=_("The current password is wrong.")), 403
        _throttle().succeeded(*keys)
        problem = _new_password(lambda new: store.set_password(user["name"], new))
        if problem:
            return render_template("password.html", error=problem), 400
        recent().clear()  # the user's other sessions see the new password with their next request
        changed = store.user(user["name"])
        if changed is None:  # removed meanwhile
            fresh_session()
            return redirect(url_for("pages.login"))
        keep_session(changed)
        store.audit(f"web:{user['name']}", "user.password", user["name"], "own")
        logger.info("password changed user=%s ip=%s", user["name"], request.remote_addr)
        flash(_("Password changed. Your other logins (another phone) have ended; this one goes on."))
        return redirect(url_for("pages.home") if user["must_change"] else url_for("pages.system"))
    return render_template("password.html", error=None)


@pages.post("/language")
def language():
    lang = request.form.get("lang")
    if lang not in ("vi", "en"):
        abort(400, _("Language: choose vi or en."))
    session["lang"] = lang
    return redirect(_safe_next(request.form.get("next")))


@pages.get("/")
def home():
    # on/off read now, who/when kept in memory between switches (House.relays)
    return render_template("home.html", relays=_house().relays(max_age_s=STATUS_MAX_AGE_S))


@pages.get("/broadcasts")
@needs("broadcast")
def broadcasts():
    audio = _house().config.audio
    # a file over the limit is refused on the phone, before minutes of uploading it over 3G
    return render_template("broadcasts.html", max_text_chars=audio.max_text_chars, max_upload_mb=audio.max_upload_mb,
                           too_large=refusal_detail("file_too_large", {"limit_mb": audio.max_upload_mb}))


@pages.get("/schedules")
@needs("control")
def schedules():
    h = _house()
    return render_template("schedules.html", relays=h.relays(), kinds=h.schedule_kinds(),
                           max_text_chars=h.config.audio.max_text_chars)


@pages.get("/cameras")
@needs("events:read")
def cameras():
    return render_template("cameras.html", cameras=[c.name for c in _house().config.cameras])


@pages.get("/system")
def system():
    h = _house()
    status = h.status()
    return render_template("system.html", status=status, problems=health.problems(status, h.config.storage.min_free_mb),
                           last_failure=health.last_failure(status.get("audio")), uplink_state=health.uplink_state)
