"""Web wing fixtures: a Flask test client on a started house (MockFactory pins, real
SQLite), users with real Argon2 hashes, and a logged-in session with its CSRF token."""
from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from camera.synthetic import Scene, Walk, write_scene
from controller.app import App
from web import create_app

PASSWORD = "Tre-xanh 2026 rice"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture
def web(app: App) -> Flask:
    """A second Flask app over the started house (same store, bus, relays)."""
    flask_app = create_app(app.house, {"TESTING": True})
    yield flask_app
    flask_app.extensions["live_close"]()


@pytest.fixture
def client(web: Flask) -> FlaskClient:
    return web.test_client()


@pytest.fixture
def add_user(app: App) -> Callable[..., str]:
    def add(name: str, role: str, password: str = PASSWORD) -> str:
        app.house.store.add_user(name, role, password)
        return name

    return add


def log_in(client: FlaskClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form (with its CSRF token); returns the session's CSRF token (a
    user who must choose their own password first lands on /password)."""
    page = client.get("/login")
    resp = client.post("/login", data={"name": name, "password": password, "csrf_token": csrf_of(page.text)})
    assert resp.status_code == 302, resp.text
    return csrf_of(client.get("/", follow_redirects=True).text)


@pytest.fixture
def session_as(client: FlaskClient, add_user: Callable[..., str]) -> Callable[[str], tuple[FlaskClient, str]]:
    """session_as(role) -> (client logged in as a user with that role, its CSRF token)."""
    def make(role: str) -> tuple[FlaskClient, str]:
        add_user(f"user-{role}", role)
        return client, log_in(client, f"user-{role}")

    return make


@pytest.fixture
def house_without_output(make_config: Callable[..., Any], start_app: Callable[..., Any], tmp_path: Path):
    """A started house whose loudspeaker output cannot work (its WAV folder would be under a
    file), a Flask app over it, and the village head "lan" logged in there:
    (app, flask app, the head's client, its CSRF token)."""
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    app = start_app(make_config(audio={"output": f"wav:{blocked / 'out'}", "tts": ["espeak"]}))
    flask_app = create_app(app.house, {"TESTING": True})
    app.house.store.add_user("lan", "head", PASSWORD)
    page = flask_app.test_client()
    csrf = log_in(page, "lan")
    yield app, flask_app, page, csrf
    flask_app.extensions["live_close"]()


@pytest.fixture
def token_for(app: App) -> Callable[..., dict[str, Any]]:
    """token_for("control", ...) -> Authorization header for a new token with those scopes."""
    made: collections.Counter[str] = collections.Counter()

    def make(*scopes: str) -> dict[str, Any]:
        name = "t-" + "-".join(scopes).replace(":", "")
        made[name] += 1
        if made[name] > 1:
            name += f"-{made[name]}"  # token names are unique
        return {"Authorization": "Bearer " + app.house.store.add_token(name, set(scopes))}

    return make


@pytest.fixture(scope="session")
def fast_walker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A camera file (H.264, made with PyAV): one figure crossing quickly, then calm, so
    an event with its clip is finished within seconds of the camera starting."""
    return write_scene(Scene(seconds=12, walks=(Walk(1.0, speed=220),), seed=11),
                       tmp_path_factory.mktemp("camera") / "fast-walker.mp4")
