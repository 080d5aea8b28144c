"""What the page says when the login ends, when the password is someone else's, when the
house's computer fails, and on Hệ thống when a part of the house reports a problem: in the
page's language (Vietnamese by default, English when chosen), while tokens (the IOC, the
CLI) keep the English. Against a started house: real uplink, cameras, audio and clock seam."""
from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from controller.clock import ClockStatus
from tests.conftest import cli_client, wait_until
from tests.web.conftest import PASSWORD, csrf_of, log_in
from web import create_app

UNSYNCED = ClockStatus(False, "system clock not synchronised (no NTP yet; a Pi has no RTC): schedules wait; "
                              "check the network and `timedatectl`")


def technician_part(html: str) -> str:
    """The page without the technician's detail (the parts' own English, kept as it is)."""
    return re.sub(r'<span lang="en">.*?</span>', "", html, flags=re.S)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


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
    assert client.delete(f"/api/v1/schedules/{sid}", headers=admin).json == {
        "error": f"no schedule {sid}", "kind": "schedule_unknown", "values": {"id": sid}}

    weak = page.post("/api/v1/users", json={"name": "lan", "role": "head", "password": "12345678"}, headers=headers)
    assert (weak.status_code, weak.json["error"]) == (400, "password: ít nhất 8 ký tự, không phải mật khẩu phổ biến và không chứa tên đăng nhập.")
    assert client.post("/api/v1/users", json={"name": "lan", "role": "head", "password": "12345678"},
                       headers=admin).json["error"].startswith("password: too easy to guess")
    unknown = page.delete("/api/v1/users/nobody", headers=headers)
    assert (unknown.status_code, unknown.json["error"]) == (404, "Không có người dùng tên nobody; hãy tải lại trang.")
    last = page.delete("/api/v1/users/user-tech", headers=headers)
    assert last.status_code == 409 and last.json["error"].startswith("Đây là kỹ thuật viên cuối cùng")
    assert client.delete("/api/v1/users/user-tech", headers=admin).json == {
        "error": "this is the last tech user; add another tech user first", "kind": "last_tech", "values": {}}


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


@pytest.fixture
def troubled(make_config, start_app, tmp_path: Path):
    """A house where much goes wrong: its camera's file is missing, the district server does
    not answer, the clock is not synchronised (the App's clock seam), the storage keeps more
    free than the disk has, and an announcement's audio address cannot be opened."""
    config = make_config(
        cameras=[{"name": "cong", "source": str(tmp_path / "missing.mp4")}],
        mqtt={"host": "127.0.0.1", "port": closed_port(), "tls": False},
        storage={"dir": str(tmp_path / "data"), "min_free_mb": 1_000_000},
    )
    app = start_app(config, clock=lambda: UNSYNCED)
    # sent by the technician's command (queued at once; the district's wait for the head's approval)
    queued = cli_client(config.storage.dir).request("POST", "/broadcasts",
                                                    {"audio_url": f"http://127.0.0.1:{closed_port()}/ban-tin.mp3"})
    assert queued["state"] == "queued", queued
    flask_app = create_app(app.house, {"TESTING": True})
    wait_until(lambda: (s := app.house.status())["audio"]["last_failure"] and s["cameras"][0]["error"]
               and s["uplink"]["last_error"], 60, "the failure, the camera error and the uplink's")
    yield app, flask_app
    flask_app.extensions["live_close"]()


def test_hệ_thống_says_what_each_problem_means_and_keeps_the_technicians_english_apart(troubled):
    app, web = troubled
    app.house.store.add_user("lan", "head", PASSWORD)
    client = web.test_client()
    log_in(client, "lan")
    html = client.get("/system").text
    status = app.house.status()
    for part in ("disk", "clock", "uplink", "cameras", "audio"):
        assert part in status["problems"], status["problems"]
    for said in ("<b>Kết nối huyện</b>: Chưa kết nối được với máy chủ của huyện",
                 "<b>Camera</b>: Không có hình từ camera cong.",
                 "<b>Đồng hồ</b>: Đồng hồ chưa được đồng bộ",
                 "<b>Bộ nhớ lưu trữ</b>: Chỉ còn trống ",
                 "<b>Loa và thông báo</b>: Thông báo gần nhất bị lỗi: không mở được âm thanh (http://127.0.0.1:",
                 "(cần giữ trống ít nhất 1000000 MB)",
                 "chưa đồng bộ: lịch phát đang chờ",  # the Clock row
                 "mất kết nối (127.0.0.1:",  # the District link row, in words
                 "cong: mất kết nối<br>",  # the Cameras row
                 "đang chờ đồng hồ được đồng bộ",  # the Schedules row
                 "Lần lỗi gần nhất",  # the Announcements row: why the last one failed, as the log says it
                 "không mở được âm thanh (http://127.0.0.1:"):
        assert said in html, said
    # the parts' English is there for the technician, marked as such, and nowhere else
    assert html.count("Chi tiết cho kỹ thuật viên:") >= 4
    assert 'refused the connection: no broker listens there' in html and "no such file" in html
    shown = technician_part(html)
    for english in ("no broker listens", "retrying", "no such file", "not synchronised (no NTP", "MB free on", "<b>uplink</b>",
                    "<b>clock</b>", "<b>disk</b>", "<b>cameras</b>", "cannot open"):
        assert english not in shown, english

    # the page in English says the same in English; the API keeps the parts' own text for programs
    client.post("/language", data={"lang": "en", "next": "/system", "csrf_token": csrf_of(html)})
    english = client.get("/system").text
    assert "<b>District link</b>: Not connected to the district server" in english and "not synchronised: schedules wait" in english
    problems = client.get("/api/v1/status").json["problems"]
    assert problems["uplink"].startswith("disconnected: 127.0.0.1:") and "no such file" in problems["cameras"]


def test_a_loudspeaker_output_that_does_not_work_is_said_on_hệ_thống(house_without_output):
    _, _, page, _ = house_without_output
    html = page.get("/system").text
    assert "<b>Loa và thông báo</b>: Đầu ra loa không hoạt động: thông báo chờ trong hàng đợi" in html
    assert '<td id="audio-health">đầu ra loa không hoạt động' in html
    assert "unusable" in html and "unusable" not in technician_part(html)  # the audio part's English, for the technician
