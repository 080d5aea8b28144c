"""API gate: bearer tokens with scopes, sessions by role, CSRF on cookie writes, expiry."""
from __future__ import annotations

import time

import pytest

from tests.web.conftest import PASSWORD, csrf_of, log_in


def test_nothing_without_credentials(client):
    for method, path in [("GET", "/api/v1/status"), ("GET", "/api/v1/relays"), ("POST", "/api/v1/relays/tv"),
                         ("GET", "/api/v1/schedules"), ("GET", "/api/v1/users"), ("GET", "/api/v1/tokens"), ("GET", "/api/v1/live")]:
        resp = client.open(path, method=method, json={"state": "on"})
        assert resp.status_code == 401, path
        assert "Bearer" in resp.json["error"]


def test_unknown_token_is_refused(client):
    resp = client.get("/api/v1/status", headers={"Authorization": "Bearer lsk_not-a-token"})
    assert resp.status_code == 401


@pytest.mark.parametrize("scope, path, expected", [
    ("events:read", "/api/v1/relays", 403),
    ("control", "/api/v1/relays", 200),
    ("admin", "/api/v1/relays", 200),
    ("control", "/api/v1/users", 403),
    ("admin", "/api/v1/users", 200),
    ("broadcast", "/api/v1/schedules", 403),
    ("control", "/api/v1/schedules", 200),
])
def test_token_scopes(client, token_for, scope, path, expected):
    resp = client.get(path, headers=token_for(scope))
    assert resp.status_code == expected, resp.json
    if expected == 403:
        assert "lacks the" in resp.json["error"]


def test_token_writes_need_no_csrf_but_the_scope(app, client, token_for):
    assert client.post("/api/v1/relays/tv", json={"state": "on"}, headers=token_for("events:read")).status_code == 403
    assert app.house.board.get("tv").is_on is False
    resp = client.post("/api/v1/relays/tv", json={"state": "on"}, headers=token_for("control"))
    assert resp.status_code == 200 and resp.json == {"name": "tv", "on": True, "changed": True}
    assert app.house.board.get("tv").is_on is True
    assert app.house.store.relay_states()["tv"].actor == "token:t-control"


def test_session_write_needs_the_csrf_token(app, session_as):
    client, csrf = session_as("head")
    refused = client.post("/api/v1/relays/tv", json={"state": "on"})
    assert refused.status_code == 400 and "CSRF" in refused.json["error"]
    assert app.house.board.get("tv").is_on is False
    wrong = client.post("/api/v1/relays/tv", json={"state": "on"}, headers={"X-CSRFToken": "forged"})
    assert wrong.status_code == 400
    ok = client.post("/api/v1/relays/tv", json={"state": "on"}, headers={"X-CSRFToken": csrf})
    assert ok.status_code == 200 and app.house.board.get("tv").is_on is True
    assert app.house.store.relay_states()["tv"].actor == "web:user-head"


@pytest.mark.parametrize("role, path, expected", [
    ("viewer", "/api/v1/status", 200),
    ("viewer", "/api/v1/relays", 403),
    ("head", "/api/v1/relays", 200),
    ("head", "/api/v1/users", 403),
    ("tech", "/api/v1/users", 200),
])
def test_session_roles(session_as, role, path, expected):
    client, _ = session_as(role)
    assert client.get(path).status_code == expected


def test_viewer_cannot_switch(app, session_as):
    client, csrf = session_as("viewer")
    resp = client.post("/api/v1/relays/tv", json={"state": "on"}, headers={"X-CSRFToken": csrf})
    assert (resp.status_code, resp.json) == (403, {"error": "việc này cần quyền bật tắt thiết bị, vai trò của bạn không có quyền đó."})
    assert app.house.board.get("tv").is_on is False


def test_expired_session_says_so(web, session_as):
    client, _ = session_as("head")
    with client.session_transaction() as sess:
        sess["seen"] = time.time() - web.config["SESSION_IDLE_S"] - 1
    resp = client.get("/api/v1/relays")
    assert resp.status_code == 401 and resp.json["error"] == "Phiên đăng nhập đã hết hạn; vui lòng đăng nhập lại."  # the page's language
    assert client.get("/api/v1/relays").status_code == 401  # the session is gone, not revived


def test_expired_session_on_a_page_goes_to_login_with_a_message(web, session_as):
    client, _ = session_as("head")
    with client.session_transaction() as sess:
        sess["login_at"] = time.time() - web.config["SESSION_MAX_S"] - 1
    resp = client.get("/", follow_redirects=True)
    assert "hết hạn" in resp.text and 'name="password"' in resp.text


def test_removed_user_loses_the_session(app, session_as, token_for):
    client, _ = session_as("head")
    assert client.get("/api/v1/relays").status_code == 200  # the user is now in the credentials cache
    assert client.delete("/api/v1/users/user-head", headers=token_for("admin")).status_code == 200
    assert client.get("/api/v1/relays").status_code == 401  # at once: removing a user clears the cache


def test_revoked_token_stops_at_once(client, token_for):
    headers = token_for("control")
    assert client.get("/api/v1/relays", headers=headers).status_code == 200  # cached now
    listed = client.get("/api/v1/tokens", headers=token_for("admin")).json["tokens"]
    token_id = next(t["id"] for t in listed if t["name"] == "t-control")
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=token_for("admin")).status_code == 200
    assert client.get("/api/v1/relays", headers=headers).status_code == 401


def test_credentials_changed_by_another_process_apply_when_the_cache_ages(app, web, session_as):
    client, _ = session_as("head")
    assert client.get("/api/v1/relays").status_code == 200
    app.house.store.delete_user("user-head")  # as another process writing the database would
    assert client.get("/api/v1/relays").status_code == 200  # remembered for up to max_age_s
    web.extensions["recent_credentials"].max_age_s = 0
    assert client.get("/api/v1/relays").status_code == 401


def test_role_change_ends_the_open_session_and_the_new_role_applies(app, session_as, token_for):
    client, _ = session_as("head")
    assert client.get("/api/v1/relays").status_code == 200
    changed = client.post("/api/v1/users", json={"name": "user-head", "role": "viewer", "password": PASSWORD},
                          headers=token_for("admin"))
    assert changed.status_code == 201
    ended = client.get("/api/v1/relays")  # a reset by the technician ends the user's open logins
    assert ended.status_code == 401 and ended.json["error"].startswith("Mật khẩu đã được đổi")
    csrf = log_in(client, "user-head")
    assert client.get("/api/v1/status").status_code == 403  # first their own password (test_password_page)
    form = {"current": PASSWORD, "password": "Lua-chin 2027 vang", "password2": "Lua-chin 2027 vang", "csrf_token": csrf}
    assert client.post("/password", data=form).status_code == 302
    refused = client.get("/api/v1/relays")
    assert refused.status_code == 403 and refused.json["error"].startswith("việc này cần quyền bật tắt thiết bị")


def test_logout_form_needs_csrf(client, add_user):
    add_user("lan", "head")
    log_in(client, "lan")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)}).status_code == 302


# the scope each tag of the OpenAPI document needs (None: any valid credentials)
TAG_SCOPE = {"relays": "control", "schedules": "control", "broadcasts": "broadcast", "events": "events:read", "admin": "admin"}
SAMPLE_BODY = {"state": "on", "text": "Thử.", "kind": "relay", "target": "tv", "start": "06:00", "name": "lan2",
               "role": "head", "password": "Tre-xanh 2026 rice", "scopes": ["admin"], "ids": ["x"]}


def test_every_api_operation_refuses_no_login_and_the_wrong_scope(app, client, token_for):
    """Walks /api/v1/openapi.json: without credentials, or with a token lacking the
    operation's scope, nothing is switched, queued, created or read."""
    doc = client.get("/api/v1/openapi.json").json
    wrong = {scope: token_for(scope) for scope in ("control", "broadcast", "events:read")}
    checked = 0
    for path, operations in doc["paths"].items():
        url = (path.replace("{name}", "tv").replace("{item_id}", "x").replace("{event_id}", "1")
               .replace("{schedule_id}", "1").replace("{token_id}", "1"))
        for method, op in operations.items():
            needed = "admin" if path.endswith("/selftest") else TAG_SCOPE.get(op["tags"][0])
            body = SAMPLE_BODY if method in ("post", "put") else None
            resp = client.open(url, method=method.upper(), json=body)
            assert resp.status_code == 401, (method, path, resp.status_code)
            for scope, auth in wrong.items():
                if needed is None or scope == needed:
                    continue
                resp = client.open(url, method=method.upper(), json=body, headers=auth)
                assert resp.status_code == 403 and needed in resp.json["error"], (method, path, scope, resp.json)
                checked += 1
    assert checked > 40
    assert not any(r["on"] for r in app.house.relays())
    assert app.house.store.schedules() == [] and app.house.store.users() == []
    listing = app.house.broadcasts.listing()
    assert listing["queue"] == [] and listing["inbox"] == [] and listing["playing"] is None


def test_credentials_read_while_the_cache_is_cleared_are_not_kept():
    from web.auth import Recent

    recent = Recent(max_age_s=60)
    loads: list[str] = []

    def load_and_revoke(key: str) -> str:  # the admin API revokes while this lookup runs
        loads.append(key)
        recent.clear()
        return "old row"

    assert recent.get("token", "t", load_and_revoke) == "old row"
    assert recent.get("token", "t", lambda key: None) is None  # read again, not the old row
    assert recent.get("user", "lan", lambda key: "row") == "row"
    assert recent.get("user", "lan", lambda key: "newer") == "row"  # kept for max_age_s
