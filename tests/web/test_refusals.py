"""Refusals by the parts of the house themselves (the audio part, the relays, the
schedules), not by request validation: the phone page (a session) reads them in its own
language, field first; programs (a token: the IOC, the CLI) get the English message
unchanged. Against the real audio part (PyAV, the TTS chain) and MockFactory relays."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import encode_multipart

from tests.audio.conftest import make_audio
from tests.conftest import wait_until
from web import create_app

MB = 2**20


@pytest.fixture
def app(make_config, start_app, tmp_path: Path):
    """Uploads up to 1 MB, and a TTS chain that cannot speak (piper without its voice model)."""
    audio = {"output": f"wav:{tmp_path / 'data' / 'audio-out'}", "tts": ["piper"], "piper_model": str(tmp_path / "no-voice.onnx"),
             "amp_warmup_s": 0, "amp_tail_s": 0, "max_upload_mb": 1}
    return start_app(make_config(audio=audio))


@pytest.fixture
def web(app):
    """Bodies up to 2 MB (the daemon allows max_upload_mb + 1, at least 32 MB)."""
    flask_app = create_app(app.house, {"TESTING": True, "MAX_CONTENT_LENGTH": 2 * MB})
    yield flask_app
    flask_app.extensions["live_close"]()


def upload(client, headers: dict, data: bytes, name: str = "ghi-am.m4a"):
    """A multipart upload encoded in memory (the test client's own spills large bodies to
    a temporary file it leaves open when the server refuses the body unread)."""
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), name)})
    return client.post("/api/v1/broadcasts", data=body, content_type=f"multipart/form-data; boundary={boundary}", headers=headers)


def test_text_refusals_are_vietnamese_for_the_page_and_unchanged_for_programs(client, session_as, token_for):
    long_text = "Họp thôn tại nhà văn hóa. " * 230 + "Mời bà con đúng giờ!"  # 6000 characters
    machine = client.post("/api/v1/broadcasts", json={"text": long_text}, headers=token_for("broadcast"))
    assert machine.status_code == 400
    assert machine.json == {"error": "text: 6000 characters is longer than the 5000 character limit (audio.max_text_chars); "
                                     "split the announcement", "kind": "text_too_long", "values": {"length": 6000, "limit": 5000}}
    page, csrf = session_as("head")
    shown = page.post("/api/v1/broadcasts", json={"text": long_text}, headers={"X-CSRFToken": csrf})
    assert (shown.status_code, shown.json) == (400, {"error": "text: dài 6000 ký tự, quá giới hạn 5000 ký tự; hãy chia thành nhiều thông báo."})
    shown = page.post("/api/v1/broadcasts", json={"text": "   "}, headers={"X-CSRFToken": csrf})
    assert shown.json == {"error": "text: đang trống; hãy nhập nội dung thông báo."}
    # the spoken preview says the same; the house cannot speak here (503), and says that too
    shown = page.post("/api/v1/broadcasts/preview", json={"text": long_text}, headers={"X-CSRFToken": csrf})
    assert shown.json["error"].startswith("text: dài 6000 ký tự"), shown.json
    machine = client.post("/api/v1/broadcasts/preview", json={"text": "Họp thôn."}, headers=token_for("broadcast"))
    assert machine.status_code == 503 and machine.json["error"].startswith("no TTS engine worked: piper: audio.piper_model")
    shown = page.post("/api/v1/broadcasts/preview", json={"text": "Họp thôn."}, headers={"X-CSRFToken": csrf})
    assert (shown.status_code, shown.json) == (503, {"error": "lúc này không có giọng đọc nào hoạt động; hãy gửi bản ghi âm thay thế."})
    # in English when the page is in English (its own words, not the programs' message)
    page.post("/language", data={"lang": "en", "csrf_token": csrf})
    shown = page.post("/api/v1/broadcasts", json={"text": long_text}, headers={"X-CSRFToken": csrf})
    assert shown.json == {"error": "text: 6000 characters, over the limit of 5000; split the announcement."}


def test_recording_refusals_are_vietnamese_for_the_page_and_unchanged_for_programs(app, client, session_as, token_for, tmp_path):
    token = token_for("broadcast")
    page, csrf = session_as("head")
    session = {"X-CSRFToken": csrf}
    junk = os.urandom(4000)
    machine = upload(client, token, junk)
    assert machine.status_code == 400 and machine.json["error"].startswith("file: not a playable audio file (")
    assert machine.json["error"].endswith("; send an MP3, M4A, WebM/Opus, OGG or WAV recording")
    shown = upload(page, session, junk)
    assert (shown.status_code, shown.json) == (400, {
        "error": "file: không phát được tệp này; hãy chọn bản ghi âm (MP3, M4A, WebM, OGG hoặc WAV)."})
    assert upload(page, session, b"").json == {"error": "file: tệp trống; hãy chọn hoặc ghi âm lại."}
    # over audio.max_upload_mb (checked by the audio part while it saves the file) ...
    big = os.urandom(3 * MB // 2)
    machine = upload(client, token, big)
    assert (machine.status_code, machine.json) == (413, {"error": "file: larger than the 1 MB limit (audio.max_upload_mb)",
                                                         "kind": "file_too_large", "values": {"limit_mb": 1}})
    shown = upload(page, session, big)
    assert (shown.status_code, shown.json) == (413, {"error": "file: lớn hơn giới hạn 1 MB; hãy gửi bản ghi âm ngắn hơn."})
    # ... and over the whole request's limit (refused before it is read): the same words on the page
    huge = os.urandom(3 * MB)
    machine = upload(client, token, huge)
    assert (machine.status_code, machine.json) == (413, {"error": RequestEntityTooLarge.description, "kind": "file_too_large",
                                                         "values": {"limit_mb": 1}})
    shown = upload(page, session, huge)
    assert (shown.status_code, shown.json) == (413, {"error": "file: lớn hơn giới hạn 1 MB; hãy gửi bản ghi âm ngắn hơn."})
    assert not list((Path(app.config.storage.dir) / "broadcasts" / "uploads").iterdir())  # nothing refused is kept
    # a real recording within the limits is taken
    recording = make_audio(tmp_path / "ghi-am.m4a", "m4a", seconds=1.0)
    assert upload(page, session, recording.read_bytes()).status_code == 201


def test_relay_schedule_and_queue_refusals_for_the_page(client, session_as, token_for):
    token = token_for("control", "broadcast")
    page, csrf = session_as("head")
    session = {"X-CSRFToken": csrf}
    assert page.post("/api/v1/relays/tv", json={"state": "on"}, headers=session).status_code == 200
    machine = client.post("/api/v1/relays/tv", json={"state": "off"}, headers=token)
    assert machine.status_code == 409
    assert machine.json["error"].startswith("relay 'tv' was switched less than its min_interval_s ago; try again in ")
    shown = page.post("/api/v1/relays/tv", json={"state": "off"}, headers=session)
    assert shown.status_code == 409 and shown.json["error"].startswith("tv: hãy thử lại sau "), shown.json
    assert shown.json["error"].endswith(" giây.")
    machine = client.post("/api/v1/relays/quat", json={"state": "on"}, headers=token)
    assert (machine.status_code, machine.json) == (404, {"error": "no relay named 'quat'; known relays: tv, radio, amp",
                                                         "kind": "relay_unknown", "values": {"name": "quat"}})
    shown = page.post("/api/v1/relays/quat", json={"state": "on"}, headers=session)
    assert (shown.status_code, shown.json) == (404, {"error": "Không có thiết bị tên quat; hãy tải lại trang."})
    # a programme that would switch on and off at the same minute
    body = {"kind": "relay", "target": "tv", "start": "18:00", "end": "18:00"}
    machine = client.post("/api/v1/schedules", json=body, headers=token)
    assert machine.json == {"error": "end: must differ from start (or leave it empty for a single switch-on)", "kind": "end_is_start",
                            "values": {}}
    shown = page.post("/api/v1/schedules", json=body, headers=session)
    assert (shown.status_code, shown.json) == (400, {"error": "end: phải khác giờ bắt đầu; để trống nếu chỉ cần bật."})
    # cancel or approve what has already gone (another phone, the district)
    machine = client.delete("/api/v1/broadcasts/da-xong", headers=token)
    assert machine.json == {"error": "no queued or playing broadcast with id 'da-xong'", "kind": "not_queued", "values": {"id": "da-xong"}}
    shown = page.delete("/api/v1/broadcasts/da-xong", headers=session)
    assert (shown.status_code, shown.json) == (404, {"error": "Thông báo này không còn chờ hay đang phát: đã phát xong hoặc đã bị hủy."})
    shown = page.post("/api/v1/broadcasts/da-xong/approve", json={}, headers=session)
    assert (shown.status_code, shown.json) == (404, {"error": "Thông báo này không còn chờ duyệt: đã có người cho phát hoặc hủy."})


def test_an_announcement_queued_while_the_output_does_not_work_says_so_to_the_page(house_without_output):
    """Not a refusal: it is queued and plays once the output works, and the reply warns
    (the page in its language, programs in English)."""
    house, web, page, csrf = house_without_output
    said = page.post("/api/v1/broadcasts", json={"text": "Thử loa"}, headers={"X-CSRFToken": csrf})
    assert said.status_code == 201 and said.json["state"] == "queued"
    assert said.json["warning"].startswith("Đã xếp hàng, nhưng đầu ra loa hiện không hoạt động")
    token = house.house.store.add_token("ioc", {"broadcast"})
    program = web.test_client().post("/api/v1/broadcasts", json={"text": "Thử loa 2"}, headers={"Authorization": f"Bearer {token}"})
    assert program.status_code == 201 and program.json["warning"].startswith("the sound output does not work")


LATER = time.time() + 30 * 86400  # queued to play in a month: it waits


def test_queue_order_and_id_refusals_for_the_page(client, session_as, token_for):
    """Reordering what is no longer queued, or one item twice; an id a finished broadcast used."""
    token = token_for("broadcast")
    page, csrf = session_as("head")
    session = {"X-CSRFToken": csrf}
    first = page.post("/api/v1/broadcasts", json={"text": "Họp thôn.", "at": LATER}, headers=session).json
    second = page.post("/api/v1/broadcasts", json={"text": "Tiêm phòng.", "at": LATER}, headers=session).json
    machine = client.post("/api/v1/broadcasts/order", json={"ids": ["da-xong", first["id"]]}, headers=token)
    assert (machine.status_code, machine.json) == (404, {
        "error": "ids: not queued: da-xong; send the ids of the queue as it is now", "kind": "order_not_queued",
        "values": {"ids": "da-xong"}})
    shown = page.post("/api/v1/broadcasts/order", json={"ids": ["da-xong", first["id"]]}, headers=session)
    assert (shown.status_code, shown.json) == (404, {
        "error": "Một số thông báo không còn trong hàng chờ (da-xong); hãy tải lại trang rồi sắp xếp lại."})
    twice = {"ids": [first["id"], second["id"], first["id"]]}
    machine = client.post("/api/v1/broadcasts/order", json=twice, headers=token)
    assert (machine.status_code, machine.json) == (400, {"error": "ids: an id is given more than once; give each queued id once",
                                                         "kind": "order_repeated", "values": {}})
    shown = page.post("/api/v1/broadcasts/order", json=twice, headers=session)
    assert (shown.status_code, shown.json) == (400, {
        "error": "Một thông báo có mặt hai lần trong thứ tự mới; hãy tải lại trang rồi sắp xếp lại."})
    # an id used by a broadcast that has ended (here: cancelled) cannot be used again
    page.post("/api/v1/broadcasts", json={"text": "Họp chi bộ.", "at": LATER, "id": "hop-chi-bo"}, headers=session)
    assert page.delete("/api/v1/broadcasts/hop-chi-bo", headers=session).status_code == 200
    machine = client.post("/api/v1/broadcasts", json={"text": "Họp chi bộ.", "id": "hop-chi-bo"}, headers=token)
    assert (machine.status_code, machine.json) == (409, {
        "error": "id: 'hop-chi-bo' was already used by a finished broadcast; send a new id", "kind": "id_used",
        "values": {"id": "hop-chi-bo"}})
    shown = page.post("/api/v1/broadcasts", json={"text": "Họp chi bộ.", "id": "hop-chi-bo"}, headers=session)
    assert (shown.status_code, shown.json) == (409, {
        "error": "id: hop-chi-bo đã được dùng cho một thông báo đã kết thúc; hãy gửi với mã mới."})


def test_a_role_without_the_scope_is_told_in_the_page_language(client, session_as, token_for):
    machine = client.post("/api/v1/relays/tv", json={"state": "on"}, headers=token_for("events:read"))
    assert (machine.status_code, machine.json) == (403, {"error": "this token lacks the 'control' scope"})
    page, csrf = session_as("viewer")
    shown = page.post("/api/v1/relays/tv", json={"state": "on"}, headers={"X-CSRFToken": csrf})
    assert (shown.status_code, shown.json) == (403, {"error": "việc này cần quyền bật tắt thiết bị, vai trò của bạn không có quyền đó."})
    shown = page.get("/api/v1/broadcasts")
    assert shown.json == {"error": "việc này cần quyền phát thông báo, vai trò của bạn không có quyền đó."}
    page.post("/language", data={"lang": "en", "csrf_token": csrf})
    shown = page.get("/api/v1/users")
    assert shown.json == {"error": "it needs the right to manage the system, which your role does not have."}


def test_why_a_broadcast_ended_is_said_in_the_page_language(app, client, session_as, token_for, tmp_path):
    """Real ends: a text no voice can read (this house has none), a recording the village
    head stops; the log keeps the English reason for programs."""
    token = token_for("broadcast")
    page, csrf = session_as("head")
    session = {"X-CSRFToken": csrf}
    text = page.post("/api/v1/broadcasts", json={"text": "Họp thôn."}, headers=session).json
    recording = make_audio(tmp_path / "dai.m4a", "m4a", seconds=50.0)
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(recording.read_bytes()), "dai.m4a")})
    long = page.post("/api/v1/broadcasts", data=body, content_type=f"multipart/form-data; boundary={boundary}",
                     headers=session).json
    wait_until(lambda: (page.get("/api/v1/broadcasts").json["playing"] or {}).get("id") == long["id"], what="the recording playing")
    assert page.delete(f"/api/v1/broadcasts/{long['id']}", headers=session).status_code == 200
    wait_until(lambda: len(page.get("/api/v1/broadcasts").json["log"]) == 2, what="two records")
    machine = {r["id"]: r for r in client.get("/api/v1/broadcasts", headers=token).json["log"]}
    assert machine[text["id"]]["reason"].startswith("no TTS engine worked: piper: audio.piper_model")
    assert machine[text["id"]]["reason_kind"] == "tts_unavailable"
    assert machine[long["id"]]["reason"] == "cancelled by web:user-head"
    shown = {r["id"]: r for r in page.get("/api/v1/broadcasts").json["log"]}
    assert shown[text["id"]]["reason"] == "lúc này không có giọng đọc nào hoạt động; hãy gửi bản ghi âm thay thế."
    assert shown[long["id"]]["reason"] == "bị dừng bởi user-head."


@pytest.mark.parametrize("kind, values, said", [
    ("preempted_by_emergency", {"id": "lu-ve"}, "có thông báo khẩn cấp chen vào; thông báo này sẽ phát lại sau đó."),
    ("paused_for_announcement", {"id": "hop-thon"}, "tạm dừng để đọc một thông báo; sau đó tiếp phát cho hết thời gian còn lại."),
    ("cancelled", {"who": "mqtt:ioc"}, "bị dừng bởi huyện (IOC)."),
    ("window_ended", {"schedule": 3}, "đã hết khung giờ theo lịch."),
    ("daemon_stopping", {}, "hệ thống đang dừng hoặc khởi động lại; thông báo sẽ phát lại sau khi khởi động."),
    ("stopped", {}, "đã dừng."),
    ("stream_ended", {"played_s": 2, "limit_s": 10}, "luồng tiếp phát ngừng sau 2 trên 10 giây."),
    ("stream_reconnected", {"cuts": 2, "played_s": 1700, "limit_s": 1800},
     "luồng tiếp phát bị ngắt 2 lần, được nối lại khi còn thời gian; đã phát 1700 trên 1800 giây."),
    ("window_over", {"end": "06:30"}, "không phát: khung giờ theo lịch đã hết lúc 06:30 khi còn đang chờ."),
    ("window_over_restart", {"end": "06:30"}, "không phát lại: bị ngắt do mất điện hoặc khởi động lại, và khung giờ theo "
                                              "lịch đã hết lúc 06:30 trước khi hệ thống chạy lại."),
    ("source_unreachable", {"source": "http://radio/vov1"}, "không mở được âm thanh (http://radio/vov1); hãy kiểm tra địa chỉ hoặc tệp."),
    ("source_no_audio", {"source": "http://radio/vov1"}, "không có âm thanh trong http://radio/vov1."),
    ("source_stopped", {"source": "http://radio/vov1", "seconds": 3.0}, "âm thanh ngừng truyền sau 3.0 giây (http://radio/vov1)."),
])
def test_each_kind_of_end_is_worded_for_the_page(app, client, session_as, token_for, kind, values, said):
    """A record as the audio part writes it (each kind is made by the real part in
    tests/audio and tests/mqtt); the page reads it in Vietnamese, programs in English."""
    from audio.broadcast_items import Item, Reason

    queue = app.house.broadcasts.queue
    queue.items.log(queue._record(Item(id="thu", kind="stream", priority="normal", source="web", who="web:lan"), 1.0,
                                  "failed", Reason("the English reason", kind, values)))
    page, _ = session_as("head")
    assert page.get("/api/v1/broadcasts").json["log"][0]["reason"] == said
    machine = client.get("/api/v1/broadcasts", headers=token_for("broadcast")).json["log"][0]
    assert (machine["reason"], machine["reason_kind"], machine["reason_values"]) == ("the English reason", kind, values)


def test_token_refusals_are_said_for_the_technicians_page(app, client, session_as, token_for):
    """A name taken, or the langso command's own; revoking what another phone revoked, or
    what has become the command's own since (its token is made again at each start):
    Vietnamese for the page, the English unchanged for programs."""
    admin = token_for("admin")
    page, csrf = session_as("tech")
    session = {"X-CSRFToken": csrf}
    made = page.post("/api/v1/tokens", json={"name": "ioc", "scopes": ["events:read"]}, headers=session).json
    shown = page.post("/api/v1/tokens", json={"name": "ioc", "scopes": ["control"]}, headers=session)
    assert (shown.status_code, shown.json) == (409, {
        "error": "name: đã có mã tên ioc; hãy thu hồi mã đó trước (trong danh sách ở trên) hoặc chọn tên khác."})
    machine = client.post("/api/v1/tokens", json={"name": "ioc", "scopes": ["control"]}, headers=admin)
    assert (machine.status_code, machine.json) == (409, {
        "error": f"name: a token named 'ioc' exists (id {made['id']}); revoke it first (Hệ thống page, or "
                 f"DELETE /api/v1/tokens/{made['id']}) or choose another name",
        "kind": "token_name_used", "values": {"name": "ioc", "id": made["id"]}})
    shown = page.post("/api/v1/tokens", json={"name": "cli", "scopes": ["admin"]}, headers=session)
    assert (shown.status_code, shown.json) == (409, {
        "error": "name: cli là tên mã riêng của lệnh langso trên máy này; hãy chọn tên khác."})

    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 200  # another phone, the CLI
    shown = page.delete(f"/api/v1/tokens/{made['id']}", headers=session)
    assert (shown.status_code, shown.json) == (404, {"error": "Mã này không còn nữa: đã có người thu hồi. Hãy tải lại trang."})
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=admin).json == {
        "error": f"no token {made['id']}", "kind": "token_unknown", "values": {"id": made["id"]}}
    [own] = [t["id"] for t in app.house.store.tokens() if t["name"] == "cli"]
    shown = page.delete(f"/api/v1/tokens/{own}", headers=session)
    assert (shown.status_code, shown.json) == (409, {
        "error": "Đây là mã riêng của lệnh langso trên máy này (được làm mới mỗi lần khởi động); không thu hồi được. "
                 "Hãy tải lại trang."})
    assert client.delete(f"/api/v1/tokens/{own}", headers=admin).json["error"].startswith(
        f"id: token {own} is the daemon's own token for the langso command")

    page.post("/language", data={"lang": "en", "csrf_token": csrf})  # the page's own words in English
    shown = page.post("/api/v1/tokens", json={"name": "cli", "scopes": ["admin"]}, headers=session)
    assert shown.json == {"error": "name: cli is the name of the langso command's own token on this machine; choose another name."}


def test_a_kind_of_programme_or_a_camera_no_longer_there_is_said_for_the_page(app, client, session_as, token_for, monkeypatch):
    """A schedule form and a camera filter from before a change of the house (the audio part
    not running, a camera taken out of the config): Vietnamese for the page, the kinds and
    the choices worded as the form words them; programs keep the English."""
    monkeypatch.delitem(app.house._schedule_kinds, "broadcast")  # the audio part adds it when it runs
    body = {"kind": "broadcast", "target": "loa", "start": "07:00", "payload": {"text": "Họp thôn."}}
    page, csrf = session_as("head")
    shown = page.post("/api/v1/schedules", json=body, headers={"X-CSRFToken": csrf})
    assert (shown.status_code, shown.json) == (400, {
        "error": "kind: nhà văn hóa này hiện không đặt lịch được thông báo; hãy tải lại trang và chọn một trong: bật/tắt thiết bị."})
    machine = client.post("/api/v1/schedules", json=body, headers=token_for("control", "broadcast"))
    assert (machine.status_code, machine.json) == (400, {"error": "kind: 'broadcast' is not available here; choose from ['relay']",
                                                         "kind": "schedule_kind_unknown", "values": {"name": "broadcast", "kinds": ["relay"]}})
    assert app.house.store.schedules() == []

    shown = page.get("/api/v1/events?camera=ao-ca")
    assert (shown.status_code, shown.json) == (404, {"error": "camera: không có camera tên ao-ca; hãy tải lại trang."})
    machine = client.get("/api/v1/events?camera=ao-ca", headers=token_for("events:read"))
    assert (machine.status_code, machine.json) == (404, {"error": "camera: no camera named 'ao-ca'; known cameras: none",
                                                         "kind": "camera_unknown", "values": {"name": "ao-ca", "known": []}})
