"""What the page says when the login ends, when the password is someone else's, when a
programme or user is gone meanwhile and when the house's computer fails: in the page's
language (Vietnamese by default, English when chosen), while tokens (the IOC, the CLI)
keep the English."""
from __future__ import annotations

import time

from tests.web.conftest import PASSWORD, log_in


def test_an_ended_login_is_said_in_the_pages_language_by_the_api_and_on_the_login_page(web, session_as):
    client, _ = session_as("head")
    with client.session_transaction() as sess:
        sess["seen"] = time.time() - web.config["SESSION_IDLE_S"] - 1
    refused = client.get("/api/v1/broadcasts")  # what the page's script called when the login had ended
    assert (refused.status_code, refused.json) == (401, {"error": "Phiên đăng nhập đã hết hạn; vui lòng đăng nhập lại."})
    login = client.get("/login?next=/broadcasts")  # where the script sends the phone: it says why
    assert "Phiên đăng nhập đã hết hạn; vui lòng đăng nhập lại." in login.text
    assert "hết hạn" not in client.get("/login").text  # said once

    english, _ = session_as("tech")
    with english.session_transaction() as sess:
        sess["lang"], sess["seen"] = "en", time.time() - web.config["SESSION_IDLE_S"] - 1
    assert english.get("/api/v1/relays").json == {"error": "Your session expired; please log in again."}
    assert "Your session expired; please log in again." in english.get("/login").text


def test_a_password_set_by_someone_else_is_said_in_the_pages_language_with_its_kind(client, token_for):
    admin = token_for("admin")
    assert client.post("/api/v1/users", json={"name": "lan", "role": "head", "password": PASSWORD}, headers=admin).status_code == 201
    log_in(client, "lan")
    refused = client.get("/api/v1/relays")
    assert refused.status_code == 403
    assert refused.json == {"kind": "password_must_change",  # the page's script goes to /password on it
                            "error": "Mật khẩu của bạn do người khác đặt: trước hết hãy tự chọn mật khẩu riêng ở trang "
                                     "Đổi mật khẩu (/password)."}


def test_a_programme_or_user_gone_meanwhile_and_a_weak_password_are_said_for_the_page(app, client, session_as, token_for):
    admin = token_for("admin")
    sid = app.house.store.add_schedule("relay", "tv", [0], "18:00", None, {}, "test")
    page, csrf = session_as("tech")
    headers = {"X-CSRFToken": csrf}
    assert page.delete(f"/api/v1/schedules/{sid}", headers=headers).status_code == 200
    gone = page.delete(f"/api/v1/schedules/{sid}", headers=headers)  # a second phone with the old list
    assert (gone.status_code, gone.json["error"]) == (404, "Chương trình này không còn trong lịch: đã có người xóa. Hãy tải lại trang.")
    assert client.delete(f"/api/v1/schedules/{sid}", headers=admin).json == {"error": f"no schedule {sid}"}

    weak = page.post("/api/v1/users", json={"name": "lan", "role": "head", "password": "12345678"}, headers=headers)
    assert (weak.status_code, weak.json["error"]) == (400, "password: ít nhất 8 ký tự, không phải mật khẩu phổ biến và không chứa tên đăng nhập.")
    assert client.post("/api/v1/users", json={"name": "lan", "role": "head", "password": "12345678"},
                       headers=admin).json["error"].startswith("password: too easy to guess")
    unknown = page.delete("/api/v1/users/nobody", headers=headers)
    assert (unknown.status_code, unknown.json["error"]) == (404, "Không có người dùng tên nobody; hãy tải lại trang.")
    last = page.delete("/api/v1/users/user-tech", headers=headers)
    assert last.status_code == 409 and last.json["error"].startswith("Đây là kỹ thuật viên cuối cùng")
    assert client.delete("/api/v1/users/user-tech", headers=admin).json == {
        "error": "this is the last tech user; add another tech user first"}


def test_errors_of_the_house_itself_are_said_in_the_pages_language(app, web, session_as, token_for, monkeypatch):
    page, _ = session_as("head")
    gone = page.get("/setup")  # set up already: gone (a bookmark from the first day)
    assert gone.status_code == 404 and "Trang hoặc mục này không tồn tại" in gone.text and "requested URL" not in gone.text
    wrong = page.get("/logout")  # a form's address opened as a page
    assert wrong.status_code == 405 and "Không dùng được địa chỉ này" in wrong.text and "not allowed" not in wrong.text

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.house, "status", broken)  # a bug in a part: what the phone sees of it
    crashed = page.get("/system")
    assert crashed.status_code == 500 and "Máy tính ở nhà văn hóa gặp lỗi bên trong" in crashed.text
    said = page.get("/api/v1/status")
    assert said.status_code == 500 and said.json["error"].startswith("Máy tính ở nhà văn hóa gặp lỗi bên trong")
    machine = page.get("/api/v1/status", headers=token_for("control"))
    assert machine.json == {"error": "internal error; the technician can read the log (journalctl -u langso)"}
