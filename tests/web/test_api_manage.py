"""Schedules, users and tokens through the API: validation, storage, and their effects."""
from __future__ import annotations

import json
from pathlib import Path

from controller.passwords import verify_password
from tests.web.conftest import PASSWORD


def test_schedule_add_list_delete(app, client, token_for):
    auth = token_for("control")
    resp = client.post("/api/v1/schedules", json={"kind": "relay", "target": "tv", "start": "18:00", "end": "22:00", "days": [0, 2, 2]}, headers=auth)
    assert resp.status_code == 201, resp.json
    sid = resp.json["id"]
    listed = client.get("/api/v1/schedules", headers=auth).json
    assert listed["kinds"] == ["broadcast", "relay"]  # the audio part adds announcements
    assert [(s["id"], s["target"], s["start"], s["end"], s["days"], s["actor"]) for s in listed["schedules"]] == [(sid, "tv", "18:00", "22:00", [0, 2], "token:t-control")]
    assert [p.id for p in app.house.programmes()] == [sid]  # what the scheduler runs
    assert client.delete(f"/api/v1/schedules/{sid}", headers=auth).json == {"deleted": sid}
    assert client.delete(f"/api/v1/schedules/{sid}", headers=auth).status_code == 404
    assert app.house.programmes() == []


def test_the_same_programme_sent_again_is_not_added_twice(app, session_as):
    """The phone's Lưu whose answer was lost on 3G, tapped again: the same programme is the
    one already saved (200, its id), not a second one that would read the announcement twice
    every morning. A programme that differs in anything is a new one."""
    client, csrf = session_as("head")
    body = {"kind": "broadcast", "target": "loa", "start": "07:00", "end": None, "days": [0, 1, 2, 3, 4, 5, 6],
            "payload": {"text": "Nhắc đóng quỹ khuyến học.", "repeat": 1}}
    first = client.post("/api/v1/schedules", json=body, headers={"X-CSRFToken": csrf})
    again = client.post("/api/v1/schedules", json=body | {"days": [6, 5, 4, 3, 2, 1, 0]}, headers={"X-CSRFToken": csrf})
    assert first.status_code == 201 and again.status_code == 200 and again.json == first.json
    assert [p.id for p in app.house.programmes()] == [first.json["id"]]
    other = client.post("/api/v1/schedules", json=body | {"payload": {"text": "Nhắc đóng quỹ khuyến học.", "repeat": 2}},
                        headers={"X-CSRFToken": csrf})
    assert other.status_code == 201 and len(app.house.programmes()) == 2


def test_schedule_bad_input_names_the_field(app, client, token_for):
    auth = token_for("control")
    cases = [
        ({"kind": "relay", "target": "tv", "start": "25:00"}, "start"),
        ({"kind": "relay", "target": "tv", "start": "6:00"}, "start"),
        ({"kind": "relay", "target": "tv", "start": "06:00", "days": [7]}, "days"),
        ({"kind": "relay", "target": "tv", "start": "06:00", "days": []}, "days"),
        ({"kind": "relay", "target": "tivi", "start": "06:00"}, "target"),
        ({"kind": "fireworks", "target": "loa", "start": "06:00"}, "kind"),
        ({"kind": "relay", "target": "tv", "start": "06:00", "payload": {"text": "x"}}, "payload"),
        ({"kind": "relay", "target": "tv", "start": "06:00", "end": "06:00"}, "end"),
        ({"target": "tv", "start": "06:00"}, "kind"),
    ]
    for body, field in cases:
        resp = client.post("/api/v1/schedules", json=body, headers=auth)
        assert resp.status_code == 400, body
        assert resp.json["error"].startswith(field) or f"{field}:" in resp.json["error"], resp.json
    assert app.house.store.schedules() == []


def test_broadcast_schedule_needs_the_broadcast_scope_and_a_text_or_stream(app, client, token_for):
    body = {"kind": "broadcast", "target": "loa", "start": "07:00", "days": [0], "payload": {"text": "Họp thôn lúc 19 giờ.", "repeat": 3}}
    refused = client.post("/api/v1/schedules", json=body, headers=token_for("control"))
    assert refused.status_code == 403 and "broadcast" in refused.json["error"]
    auth = token_for("control", "broadcast")
    for payload, field in [
        ({}, "payload"),
        ({"text": "a", "stream_url": "http://radio.example/vov1.m3u8"}, "payload"),
        ({"audio_path": "/etc/shadow"}, "payload.audio_path"),  # no files from the disk through the API
        ({"stream_url": "file:///etc/passwd"}, "payload.stream_url"),
        ({"text": "a", "repeat": 11}, "payload.repeat"),
        ({"text": "a", "priority": "urgent"}, "payload.priority"),
    ]:
        resp = client.post("/api/v1/schedules", json=body | {"payload": payload}, headers=auth)
        assert resp.status_code == 400 and resp.json["error"].startswith(field + ":"), (payload, resp.json)
    assert app.house.store.schedules() == []
    made = client.post("/api/v1/schedules", json=body, headers=auth)
    assert made.status_code == 201, made.json
    [programme] = app.house.programmes()
    assert (programme.kind, programme.payload_dict()) == ("broadcast", {"text": "Họp thôn lúc 19 giờ.", "repeat": 3})


def test_a_relay_longer_than_max_stream_s_is_saved_and_its_creator_told_when_it_stops(app, client, token_for, session_as):
    body = {"kind": "broadcast", "target": "vov1", "start": "06:00", "end": "08:00",
            "payload": {"stream_url": "http://radio.example/vov1.m3u8"}}
    made = client.post("/api/v1/schedules", json=body, headers=token_for("control", "broadcast"))
    assert made.status_code == 201 and made.json["warning"] == (
        "end: this relay would last 120 minutes, but a stream relay stops after 60 minutes (audio.max_stream_s): it is "
        "saved and will stop at 07:00. End it by 07:00, or ask the technician to raise audio.max_stream_s")
    fits = client.post("/api/v1/schedules", json=body | {"end": "07:00"}, headers=token_for("control", "broadcast"))
    assert fits.status_code == 201 and fits.json.get("warning") is None
    head, csrf = session_as("head")  # the village head on the phone page: in Vietnamese
    page = head.post("/api/v1/schedules", json=body | {"start": "05:30", "end": "00:30"}, headers={"X-CSRFToken": csrf})
    assert page.status_code == 201 and page.json["warning"].startswith("Đã lưu, nhưng tiếp phát sẽ dừng lúc 06:30")
    assert len(app.house.programmes()) == 3


def test_schedule_via_session_needs_csrf(app, session_as):
    client, csrf = session_as("head")
    body = {"kind": "relay", "target": "radio", "start": "06:00", "end": "06:30"}
    assert client.post("/api/v1/schedules", json=body).status_code == 400
    assert client.post("/api/v1/schedules", json=body, headers={"X-CSRFToken": csrf}).status_code == 201
    assert app.house.store.schedules()[0]["actor"] == "web:user-head"


def test_users_create_list_delete(app, client, token_for):
    auth = token_for("admin")
    resp = client.post("/api/v1/users", json={"name": "lan", "role": "head", "password": PASSWORD}, headers=auth)
    assert resp.status_code == 201 and resp.json["role"] == "head"
    assert verify_password(app.house.store.user("lan")["password_hash"], PASSWORD)
    users = client.get("/api/v1/users", headers=auth).json["users"]
    assert [u["name"] for u in users] == ["lan"] and "password_hash" not in users[0]
    assert users[0]["must_change"] is True  # set by the technician: lan chooses her own at the next login
    assert client.delete("/api/v1/users/lan", headers=auth).json == {"ok": True}
    assert client.delete("/api/v1/users/lan", headers=auth).status_code == 404


def test_user_bad_input(app, client, token_for):
    auth = token_for("admin")
    for body, field in [
        ({"name": "Lan Anh", "role": "head", "password": PASSWORD}, "name"),
        ({"name": "lan", "role": "boss", "password": PASSWORD}, "role"),
        ({"name": "lan", "role": "head", "password": "short"}, "password"),
        ({"name": "lan", "role": "head", "password": "matkhau123"}, "password"),
        ({"name": "lan", "role": "head", "password": "lan-2026-lan"}, "password"),
    ]:
        resp = client.post("/api/v1/users", json=body, headers=auth)
        assert resp.status_code == 400 and resp.json["error"].startswith(field), resp.json
    assert app.house.store.users() == []


def test_last_tech_cannot_be_removed(app, client, token_for, add_user):
    auth = token_for("admin")
    add_user("tech1", "tech")
    resp = client.delete("/api/v1/users/tech1", headers=auth)
    assert resp.status_code == 409 and "last tech" in resp.json["error"]
    add_user("tech2", "tech")
    assert client.delete("/api/v1/users/tech1", headers=auth).status_code == 200


def test_the_last_tech_cannot_be_given_another_role_either(app, session_as):
    """Hệ thống's add-user form with the technician's own name and another role (or the same
    through POST /users) left the house with no technician: nobody could manage it from the
    page. Refused as removing them is, in the page's language; a password reset is fine."""
    client, csrf = session_as("tech")
    name = app.house.store.users()[0]["name"]
    resp = client.post("/api/v1/users", json={"name": name, "role": "head", "password": PASSWORD}, headers={"X-CSRFToken": csrf})
    assert resp.status_code == 409 and "kỹ thuật viên cuối cùng" in resp.json["error"], resp.json
    assert app.house.store.user(name)["role"] == "tech"
    again = client.post("/api/v1/users", json={"name": name, "role": "tech", "password": PASSWORD + "x"}, headers={"X-CSRFToken": csrf})
    assert again.status_code == 201
    client.post("/api/v1/users", json={"name": "kt2", "role": "tech", "password": PASSWORD}, headers={"X-CSRFToken": csrf})
    other = client.post("/api/v1/users", json={"name": "kt2", "role": "head", "password": PASSWORD}, headers={"X-CSRFToken": csrf})
    assert other.status_code == 201 and app.house.store.user("kt2")["role"] == "head"


def test_token_shown_once_works_and_can_be_revoked(client, token_for):
    auth = token_for("admin")
    made = client.post("/api/v1/tokens", json={"name": "ioc-huyen", "scopes": ["events:read"]}, headers=auth)
    assert made.status_code == 201
    new = {"Authorization": "Bearer " + made.json["token"]}
    assert client.get("/api/v1/status", headers=new).status_code == 200
    assert client.get("/api/v1/relays", headers=new).status_code == 403
    listed = client.get("/api/v1/tokens", headers=auth).json["tokens"]
    row = next(t for t in listed if t["name"] == "ioc-huyen")
    assert row["scopes"] == ["events:read"] and made.json["token"] not in str(listed)
    assert row["last_used"] is not None and row["revocable"] is True  # used for /status just above
    assert client.delete(f"/api/v1/tokens/{row['id']}", headers=auth).status_code == 200
    assert client.get("/api/v1/status", headers=new).status_code == 401
    assert client.delete(f"/api/v1/tokens/{row['id']}", headers=auth).status_code == 404


def test_token_names_are_unique_and_the_daemons_own_cannot_be_revoked(app, client, token_for):
    auth = token_for("admin")
    assert client.post("/api/v1/tokens", json={"name": "ioc", "scopes": ["events:read"]}, headers=auth).status_code == 201
    again = client.post("/api/v1/tokens", json={"name": "ioc", "scopes": ["control"]}, headers=auth)
    assert again.status_code == 409 and again.json["error"].startswith("name: a token named 'ioc' exists")
    taken = client.post("/api/v1/tokens", json={"name": "cli", "scopes": ["admin"]}, headers=auth)
    assert taken.status_code == 409 and "the daemon's own" in taken.json["error"]
    [own] = [t for t in client.get("/api/v1/tokens", headers=auth).json["tokens"] if t["name"] == "cli"]
    assert own["revocable"] is False
    refused = client.delete(f"/api/v1/tokens/{own['id']}", headers=auth)
    assert refused.status_code == 409 and "cannot be revoked" in refused.json["error"]
    assert app.house.store.check_token(json.loads((Path(app.config.storage.dir) / "cli.json").read_text())["token"])


def test_token_bad_scope_is_refused(client, token_for):
    resp = client.post("/api/v1/tokens", json={"name": "x", "scopes": ["root"]}, headers=token_for("admin"))
    assert resp.status_code == 400 and resp.json["error"].startswith("scopes")


def test_bad_requests_are_json_4xx(client, token_for):
    auth = token_for("admin")
    cases = [
        client.post("/api/v1/relays/tv", data="state=on", headers=auth | {"Content-Type": "application/x-www-form-urlencoded"}),
        client.post("/api/v1/relays/tv", data="{not json", headers=auth | {"Content-Type": "application/json"}),
        client.post("/api/v1/relays/tv", json={"state": "maybe"}, headers=auth),
        client.post("/api/v1/relays/tv", headers=auth),
        client.post("/api/v1/relays/tv", data={"state": "on"}, content_type="multipart/form-data", headers=auth),
        client.post("/api/v1/schedules", json=["not", "an", "object"], headers=auth),
        client.post("/api/v1/relays/..%2F..%2Fetc%2Fpasswd", json={"state": "on"}, headers=auth),
        client.delete("/api/v1/schedules/..%2F1", headers=auth),
        client.post("/api/v1/schedules", data=b"x" * (33 * 2**20), headers=auth | {"Content-Type": "application/json"}),
        client.put("/api/v1/relays/tv", json={"state": "on"}, headers=auth),
    ]
    for resp in cases:
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:200])
        assert resp.is_json and resp.json["error"], resp.text[:200]
    assert [c.status_code for c in cases][-2:] == [413, 405]


def test_a_body_that_is_not_a_json_object_is_refused_as_such_on_every_route(app, client, token_for):
    """Malformed JSON is not taken for an empty body ("state: Field required", "send exactly
    one of text, ..."): the answer says the body is not JSON, with the parser's reason, as
    the MQTT side does; a JSON value that is not an object is refused the same way."""
    auth = token_for("admin") | {"Content-Type": "application/json"}
    for path, body, reason in [
        ("/api/v1/relays/radio", b'{"state": "on"', "Expecting ',' delimiter: line 1 column 15 (char 14)"),
        ("/api/v1/broadcasts", b'{"text":"x}', "Unterminated string starting at: line 1 column 9 (char 8)"),
        ("/api/v1/schedules", b"{kind: relay}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        ("/api/v1/broadcasts", b'{"text": "H\xffp"}', "'utf-8' codec can't decode byte 0xff in position 11: invalid start byte"),
    ]:
        resp = client.post(path, data=body, headers=auth)
        assert resp.status_code == 400, (path, resp.json)
        error = resp.json["error"]
        assert error == f"body: not valid JSON ({reason}); send a JSON object", error
    for body, what in [(b"[1]", "an array"), (b"[]", "an array"), (b'"x"', "a string"), (b"0", "a number"), (b"null", "null"),
                       (b"true", "true")]:
        resp = client.post("/api/v1/relays/radio", data=body, headers=auth)
        assert (resp.status_code, resp.json) == (400, {"error": f"body: {what} is not a JSON object; send a JSON object"}), body
    # an empty body is still no body
    resp = client.post("/api/v1/relays/radio", headers=auth)
    assert (resp.status_code, resp.json["error"]) == (400, "state: Field required")
    assert not any(r["on"] for r in app.house.relays())
    assert app.house.store.schedules() == [] and app.house.broadcasts.listing()["queue"] == []


def test_openapi_lists_the_api_and_not_the_pages(client):
    doc = client.get("/api/v1/openapi.json").json
    paths = set(doc["paths"])
    assert {"/api/v1/status", "/api/v1/relays", "/api/v1/relays/{name}", "/api/v1/schedules", "/api/v1/tokens", "/api/v1/users"} <= paths
    assert not any(p in paths for p in ("/", "/login", "/setup", "/api/v1/live"))
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_status_matches_its_documented_model(client, token_for):
    """/status skips spectree's per-call response check (speed), so the contract is checked here."""
    from web.api import Status

    body = client.get("/api/v1/status", headers=token_for("events:read")).json
    status = Status.model_validate(body)
    assert {r.name for r in status.relays} == {"tv", "radio", "amp"} and "audio" in body and "cameras" in body


def test_validation_detail_is_vietnamese_for_the_page_and_english_for_programs(app, client, session_as, token_for):
    body = {"text": "Họp thôn lúc 19 giờ.", "repeat": 11, "priority": "urgent", "colour": "red"}
    machine = client.post("/api/v1/broadcasts", json=body, headers=token_for("broadcast"))
    assert machine.status_code == 400
    assert "repeat: Input should be less than or equal to 10" in machine.json["error"], machine.json
    page, csrf = session_as("head")
    shown = page.post("/api/v1/broadcasts", json=body, headers={"X-CSRFToken": csrf})
    assert shown.status_code == 400
    error = shown.json["error"]
    assert "repeat: quá lớn: nhiều nhất là 10." in error, error
    assert "priority: hãy chọn một trong: 'emergency', 'priority', 'normal'" in error, error
    assert "colour: không thuộc biểu mẫu này" in error, error
    assert shown.json["problems"] == machine.json["problems"]             # the English list stays for programs


def test_the_houses_own_schedule_checks_are_vietnamese_for_the_page_too(client, session_as, token_for):
    body = {"kind": "broadcast", "target": "loa", "days": [0, 9], "start": "25:00",
            "payload": {"text": "Họp thôn.", "stream_url": "http://radio.example/vov1"}}
    machine = client.post("/api/v1/schedules", json=body, headers=token_for("control", "broadcast"))
    assert machine.status_code == 400
    assert 'start: use "HH:MM" 24-hour time' in machine.json["error"], machine.json  # programs keep the English
    page, csrf = session_as("head")
    error = page.post("/api/v1/schedules", json=body, headers={"X-CSRFToken": csrf}).json["error"]
    assert "start: ghi giờ theo dạng 24 giờ GG:PP" in error and "days: ngày là 0 (thứ Hai) đến 6 (Chủ nhật)." in error, error
    body.update(days=[0], start="18:00")
    error = page.post("/api/v1/schedules", json=body, headers={"X-CSRFToken": csrf}).json["error"]
    assert error == "payload: nhập văn bản để đọc hoặc luồng phát để tiếp sóng, chỉ một trong hai.", error
    body["payload"] = {"stream_url": "radio.example/vov1"}
    error = page.post("/api/v1/schedules", json=body, headers={"X-CSRFToken": csrf}).json["error"]
    assert error == "payload.stream_url: không đúng dạng.", error


def test_too_few_or_too_many_items_in_a_list_are_said_in_the_pages_language(client, session_as, token_for):
    """Lịch with every day unticked: the page reads pydantic's list kinds (too_short /
    too_long) in Vietnamese, not "List should have at least 1 item after validation"."""
    body = {"kind": "relay", "target": "tv", "start": "18:00", "days": []}
    machine = client.post("/api/v1/schedules", json=body, headers=token_for("control"))
    assert machine.json["error"] == "days: List should have at least 1 item after validation, not 0"  # programs: as before
    page, csrf = session_as("head")
    shown = page.post("/api/v1/schedules", json=body, headers={"X-CSRFToken": csrf})
    assert (shown.status_code, shown.json["error"]) == (400, "days: hãy chọn ít nhất 1.")
    shown = page.post("/api/v1/schedules", json=body | {"days": [0, 1, 2, 3, 4, 5, 6, 0]}, headers={"X-CSRFToken": csrf})
    assert shown.json["error"] == "days: quá nhiều: nhiều nhất là 7.", shown.json
