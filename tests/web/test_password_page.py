"""Đổi mật khẩu: a user changes their own password (current one first, throttled like the
login), the other sessions end at once, and a user whose password was set by someone else
chooses their own before anything else. Real SQLite, real Argon2, the real Flask app."""
from __future__ import annotations

from controller.passwords import verify_password
from tests.web.conftest import PASSWORD, csrf_of, log_in

NEW = "Lua-chin 2027 vang"


def change(client, csrf, current=PASSWORD, new=NEW, again=None):
    return client.post("/password", data={"current": current, "password": new,
                                          "password2": new if again is None else again, "csrf_token": csrf})


def test_system_page_leads_to_the_change_password_form(session_as):
    client, _ = session_as("viewer")  # every role may change its own password
    assert 'href="/password"' in client.get("/system").text
    page = client.get("/password")
    assert page.status_code == 200 and "Đổi mật khẩu" in page.text and "Mật khẩu hiện tại" in page.text
    assert 'name="csrf_token"' in page.text and 'autocomplete="new-password"' in page.text


def test_wrong_current_weak_and_differing_passwords_are_refused(app, session_as):
    client, csrf = session_as("head")
    wrong = change(client, csrf, current="not my password")
    assert wrong.status_code == 403 and "Mật khẩu hiện tại không đúng" in wrong.text
    weak = change(client, csrf, new="12345678")
    assert weak.status_code == 400 and "ít nhất 8 ký tự" in weak.text
    named = change(client, csrf, new="user-head-2026")
    assert named.status_code == 400 and "tên đăng nhập" in named.text
    differ = change(client, csrf, again=NEW + "x")
    assert differ.status_code == 400 and "Hai mật khẩu không giống nhau" in differ.text
    no_csrf = client.post("/password", data={"current": PASSWORD, "password": NEW, "password2": NEW})
    assert no_csrf.status_code == 400 and "hãy tải lại trang rồi thử lại" in no_csrf.text
    assert verify_password(app.house.store.user("user-head")["password_hash"], PASSWORD)  # nothing changed


def test_wrong_current_passwords_count_toward_the_login_throttling(web, session_as):
    client, csrf = session_as("head")
    for _ in range(5):
        assert change(client, csrf, current="guess guess").status_code == 403
    blocked = change(client, csrf)  # even the right one, for the rest of the window
    assert blocked.status_code == 429 and "quá nhiều" in blocked.text
    other = web.test_client()  # and the login of that user name
    login = other.post("/login", data={"name": "user-head", "password": PASSWORD, "csrf_token": csrf_of(other.get("/login").text)})
    assert login.status_code == 429


def test_success_keeps_this_session_and_ends_the_others_at_once(app, web, session_as):
    phone, csrf = session_as("head")
    lost_phone = web.test_client()
    log_in(lost_phone, "user-head")
    assert lost_phone.get("/api/v1/relays").status_code == 200  # its user row is in the credentials cache now

    done = change(phone, csrf)
    assert done.status_code == 302 and done.headers["Location"] == "/system"
    assert "Đã đổi mật khẩu" in phone.get("/system").text
    assert phone.get("/api/v1/relays").status_code == 200  # this session goes on
    assert phone.post("/api/v1/relays/tv", json={"state": "on"}, headers={"X-CSRFToken": csrf}).status_code == 200

    ended = lost_phone.get("/api/v1/relays")
    assert ended.status_code == 401 and ended.json["error"].startswith("Mật khẩu đã được đổi")
    assert lost_phone.get("/api/v1/relays").status_code == 401  # gone, not revived
    log_in(lost_phone, "user-head", NEW)  # whoever knows the new password logs in again

    user = app.house.store.user("user-head")
    assert verify_password(user["password_hash"], NEW) and user["must_change"] == 0
    assert app.house.store.audit_log("user-head")[0]["action"] == "user.password"


def test_a_page_of_an_ended_session_says_why(web, session_as):
    phone, csrf = session_as("head")
    other = web.test_client()
    log_in(other, "user-head")
    assert change(phone, csrf).status_code == 302
    page = other.get("/", follow_redirects=True)
    assert "Mật khẩu đã được đổi" in page.text and 'name="password"' in page.text


def test_a_login_from_before_password_marks_counts_as_expired(session_as):
    client, _ = session_as("head")
    with client.session_transaction() as sess:
        del sess["pw"]
    resp = client.get("/api/v1/relays")
    assert resp.status_code == 401 and "hết hạn" in resp.json["error"]


def test_a_user_created_by_the_technician_chooses_their_own_password_first(app, client, token_for):
    admin = token_for("admin")
    assert client.post("/api/v1/users", json={"name": "lan", "role": "head", "password": PASSWORD}, headers=admin).status_code == 201
    assert app.house.store.user("lan")["must_change"] == 1

    login = client.post("/login?next=/cameras", data={"name": "lan", "password": PASSWORD, "csrf_token": csrf_of(client.get("/login").text)})
    assert login.status_code == 302 and login.headers["Location"] == "/password"
    for path in ("/", "/system", "/broadcasts", "/cameras"):
        assert client.get(path).headers["Location"] == "/password", path
    page = client.get("/password")
    assert "do người khác đặt" in page.text and "<nav>" not in page.text
    refused = client.get("/api/v1/relays")  # the API with this session names the fix
    assert refused.status_code == 403 and "/password" in refused.json["error"]
    assert client.get("/api/v1/relays", headers=token_for("control")).status_code == 200  # tokens are not users

    done = change(client, csrf_of(page.text))
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert client.get("/").status_code == 200 and client.get("/api/v1/relays").status_code == 200
    assert app.house.store.user("lan")["must_change"] == 0



def test_a_technician_resetting_their_own_password_is_not_asked_again(app, session_as):
    client, csrf = session_as("tech")
    body = {"name": "user-tech", "role": "tech", "password": NEW}
    assert client.post("/api/v1/users", json=body, headers={"X-CSRFToken": csrf}).status_code == 201
    user = app.house.store.user("user-tech")
    assert verify_password(user["password_hash"], NEW) and user["must_change"] == 0
    assert client.get("/system").status_code == 200  # this session goes on with the new password
