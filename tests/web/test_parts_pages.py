"""The Announce and Camera pages against the real audio and camera parts, through the
phone's own path (session cookie + CSRF header): preview, text and recorded broadcasts
reaching the WAV sink and the log, camera pictures, events and clips with HTTP Range."""
from __future__ import annotations

import io
import time
import wave
from pathlib import Path
from typing import Any

import av
import pytest

from tests.audio.conftest import make_audio
from tests.conftest import wait_until
from tests.web.conftest import PASSWORD, log_in
from web import create_app


def played(client, item_id: str) -> dict[str, Any] | None:
    log = client.get("/api/v1/broadcasts").json["log"]
    return next((r for r in log if r["id"] == item_id), None)


def test_broadcast_page_is_the_real_form(session_as):
    client, _ = session_as("head")
    page = client.get("/broadcasts").text
    for part in ('id="say"', 'name="text"', 'name="repeat"', 'name="at"', 'accept="audio/*"', 'id="preview"', 'id="queue"', 'id="log"'):
        assert part in page, part
    assert "Phát thông báo" in page and "Nghe thử" in page


def test_preview_then_broadcast_text_reaches_the_loudspeaker_and_the_log(app, session_as):
    client, csrf = session_as("head")
    text = "Tối nay 19 giờ họp thôn tại nhà văn hóa."
    preview = client.post("/api/v1/broadcasts/preview", json={"text": text}, headers={"X-CSRFToken": csrf})
    assert preview.status_code == 200 and preview.mimetype == "audio/mpeg"
    with av.open(io.BytesIO(preview.data)) as f:  # a real MP3 the phone can play
        assert f.format.name == "mp3" and f.duration and f.duration > 0
    assert client.post("/api/v1/broadcasts", json={"text": text}).status_code == 400  # no CSRF header
    sent = client.post("/api/v1/broadcasts", json={"text": text, "repeat": 2}, headers={"X-CSRFToken": csrf})
    assert sent.status_code == 201, sent.json
    item = sent.json
    assert (item["text"], item["repeat"], item["who"]) == (text, 2, "web:user-head")
    record = wait_until(lambda: played(client, item["id"]), 60, "the broadcast log record")
    assert record["outcome"] == "played" and record["who"] == "web:user-head"
    assert (record["kind"], record["text"]) == ("text", text)  # the page can show what was read on any phone
    wavs = list((Path(app.config.storage.dir) / "audio-out").glob(f"*{item['id']}*.wav"))
    assert len(wavs) == 1
    with wave.open(str(wavs[0])) as w:
        assert w.getnframes() / w.getframerate() > 1.0  # two readings of the sentence (and the chimes)


@pytest.mark.parametrize("kind", ["m4a", "webm"])
def test_recording_uploaded_from_the_phone_is_broadcast(app, session_as, tmp_path, kind):
    client, csrf = session_as("head")
    recording = make_audio(tmp_path / f"ghi-am.{kind}", kind, seconds=1.5)
    with open(recording, "rb") as f:
        sent = client.post("/api/v1/broadcasts", data={"file": (f, recording.name), "priority": "priority"},
                           content_type="multipart/form-data", headers={"X-CSRFToken": csrf})
    assert sent.status_code == 201, sent.json
    assert sent.json["kind"] == "audio" and sent.json["priority"] == "priority"
    assert wait_until(lambda: played(client, sent.json["id"]), 60, "the log record")["outcome"] == "played"


def test_upload_bad_input_is_a_4xx_that_names_the_field(app, session_as):
    client, csrf = session_as("head")
    headers = {"X-CSRFToken": csrf}
    not_audio = client.post("/api/v1/broadcasts", data={"file": (io.BytesIO(b"<html>not audio</html>"), "x.m4a")},
                            content_type="multipart/form-data", headers=headers)
    assert not_audio.status_code == 400 and not_audio.json["error"].startswith("file"), not_audio.json
    no_file = client.post("/api/v1/broadcasts", data={"priority": "normal"}, content_type="multipart/form-data", headers=headers)
    assert no_file.status_code == 400 and "file" in no_file.json["error"]
    wrong_type = client.post("/api/v1/broadcasts", data=b"text=hello", headers=headers | {"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and "application/json" in wrong_type.json["error"]
    bad_repeat = client.post("/api/v1/broadcasts", json={"text": "a", "repeat": 99}, headers=headers)
    assert bad_repeat.status_code == 400 and bad_repeat.json["error"].startswith("repeat")
    # encoded by hand: werkzeug's test client spools a body this big into a file it never closes
    boundary = "langso-test-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.m4a"\r\n'
            f"Content-Type: audio/mp4\r\n\r\n").encode() + b"\0" * (app.config.audio.max_upload_mb * 2**20 + 1) + f"\r\n--{boundary}--\r\n".encode()
    too_big = client.post("/api/v1/broadcasts", data=body, content_type=f"multipart/form-data; boundary={boundary}", headers=headers)
    assert too_big.status_code == 413 and too_big.is_json
    traversal = client.delete("/api/v1/broadcasts/..%2F..%2Flangso.db", headers=headers)
    assert traversal.status_code == 404 and traversal.is_json
    assert Path(app.config.storage.dir, "langso.db").exists()
    assert client.get("/api/v1/broadcasts").json["queue"] == []


def test_camera_page_pictures_events_and_clip_with_range(make_config, start_app, fast_walker):
    app = start_app(make_config(cameras=[{"name": "san", "source": str(fast_walker), "pre_s": 1, "post_s": 1}]))
    flask_app = create_app(app.house, {"TESTING": True})
    try:
        client = flask_app.test_client()
        app.house.store.add_user("xem", "viewer", PASSWORD)
        log_in(client, "xem")
        page = client.get("/cameras").text
        assert 'id="cameras"' in page and 'id="camera-filter"' in page and 'id="clip"' in page
        assert "bị ngắt do mất điện hoặc khởi động lại" in page  # how the list says an event a crash closed (interrupted)
        latest = wait_until(lambda: (r := client.get("/api/v1/cameras/san/latest.jpg", headers={"Accept-Encoding": "gzip"})).status_code == 200
                            and r, 30, "a picture")
        assert latest.mimetype == "image/jpeg" and latest.data[:2] == b"\xff\xd8" and latest.headers["Cache-Control"] == "no-store"
        assert "Content-Encoding" not in latest.headers
        assert client.get("/api/v1/cameras/..%2F..%2Fetc/latest.jpg").status_code == 404
        event = wait_until(lambda: [e for e in client.get("/api/v1/events?camera=san").json["events"] if e["clip_url"] and e["end"]],
                           90, "a finished event with a clip")[0]
        assert all(e["camera"] == "san" for e in client.get("/api/v1/events?camera=san").json["events"])  # the page's filter
        nobody = client.get("/api/v1/events?camera=nobody")  # the filter offers configured cameras only
        assert nobody.status_code == 404 and nobody.json["error"] == "camera: không có camera tên nobody; hãy tải lại trang."
        [cam] = client.get("/api/v1/cameras").json["cameras"]
        assert cam["name"] == "san" and cam["connected"] is True
        browser = {"Accept-Encoding": "gzip, deflate, br, zstd"}  # pictures and clips are sent as they are all the same
        snap = client.get(event["snapshot_url"], headers=browser)
        assert snap.status_code == 200 and snap.data[:2] == b"\xff\xd8" and "Content-Encoding" not in snap.headers
        full = client.get(event["clip_url"], headers=browser)
        assert full.status_code == 200 and full.mimetype == "video/mp4" and full.headers["Accept-Ranges"] == "bytes"
        assert "Content-Encoding" not in full.headers
        part = client.get(event["clip_url"], headers=browser | {"Range": "bytes=100-199"})  # what a <video> asks when seeking
        assert part.status_code == 206 and part.data == full.data[100:200] and "Content-Encoding" not in part.headers
        assert part.headers["Content-Range"] == f"bytes 100-199/{len(full.data)}"
        beyond = client.get(event["clip_url"], headers=browser | {"Range": f"bytes={len(full.data) + 10}-"})
        assert beyond.status_code == 416
        with av.open(io.BytesIO(full.data)) as clip:
            assert clip.streams.video[0].codec_context.name == "h264"
        assert client.get(f"/api/v1/events/{event['id'] + 1000}/clip.mp4").status_code == 404
        assert client.post("/api/v1/relays/tv", json={"state": "on"}).status_code in (400, 403)  # a viewer switches nothing
        assert app.house.board.get("tv").is_on is False
    finally:
        flask_app.extensions["live_close"]()


def test_district_bulletin_waits_in_the_inbox_until_the_head_approves_it(app, session_as, token_for):
    ioc = token_for("broadcast")
    client, csrf = session_as("head")
    sent = client.post("/api/v1/broadcasts", json={"text": "Thông báo của huyện."}, headers=ioc)  # the token wins over the cookie
    assert sent.status_code == 201 and sent.json["state"] == "inbox" and sent.json["who"].startswith("token:")
    listing = client.get("/api/v1/broadcasts").json
    assert [i["id"] for i in listing["inbox"]] == [sent.json["id"]] and played(client, sent.json["id"]) is None
    assert client.post(f"/api/v1/broadcasts/{sent.json['id']}/approve", json={}).status_code == 400  # CSRF
    bus: list[dict[str, Any]] = []
    unsubscribe = app.house.bus.subscribe(lambda topic, payload: topic == "broadcast.log" and bus.append(payload))
    approved = client.post(f"/api/v1/broadcasts/{sent.json['id']}/approve", json={}, headers={"X-CSRFToken": csrf})
    assert approved.status_code == 200 and approved.json["state"] == "queued"
    # proof of broadcast: who sent it, and who let it play (on the bus, so to the IOC over MQTT, and in the log)
    [sent_out] = wait_until(lambda: [r for r in bus if r["id"] == sent.json["id"]], 60, "the bulletin played")
    unsubscribe()
    assert (sent_out["outcome"], sent_out["who"], sent_out["approved_by"]) == ("played", sent.json["who"], "web:user-head")
    record = played(client, sent.json["id"])
    assert (record["outcome"], record["who"], record["approved_by"]) == ("played", sent.json["who"], "web:user-head")
    [audit] = app.house.store.audit_log(sent.json["id"])
    assert (audit["actor"], audit["action"]) == ("web:user-head", "broadcast.approve")
    assert client.post("/api/v1/broadcasts/nope/approve", json={}, headers={"X-CSRFToken": csrf}).status_code == 404


def test_head_reorders_waiting_announcements(app, session_as):
    client, csrf = session_as("head")
    later = time.time() + 3600
    ids = [client.post("/api/v1/broadcasts", json={"text": f"Tin số {n}.", "at": later}, headers={"X-CSRFToken": csrf}).json["id"]
           for n in (1, 2)]
    assert [i["id"] for i in client.get("/api/v1/broadcasts").json["queue"]] == ids
    done = client.post("/api/v1/broadcasts/order", json={"ids": ids[::-1]}, headers={"X-CSRFToken": csrf})
    assert done.status_code == 200 and [i["id"] for i in done.json["queue"]] == ids[::-1]
    bad = client.post("/api/v1/broadcasts/order", json={"ids": ["nope"]}, headers={"X-CSRFToken": csrf})
    assert bad.status_code == 404 and bad.json["error"].startswith("Một số thông báo không còn trong hàng chờ (nope)")
    for item_id in ids:
        assert client.delete(f"/api/v1/broadcasts/{item_id}", headers={"X-CSRFToken": csrf}).json == {"id": item_id, "cancelled": True}
    assert client.get("/api/v1/broadcasts").json["queue"] == []


def test_selftest_is_for_the_technician_only(app, client, token_for):
    assert client.post("/api/v1/selftest", headers=token_for("control", "broadcast", "events:read")).status_code == 403
    resp = client.post("/api/v1/selftest", headers=token_for("admin"))
    assert resp.status_code == 200
    results = {row["part"]: row for row in resp.json["results"]}
    assert {"relays", "audio", "cameras", "broker"} <= set(results), results
    assert results["relays"]["ok"] is True and "tv" in results["relays"]["detail"]  # clicked for real (MockFactory pins)
    assert results["audio"]["ok"] is True  # the test tone went into the WAV sink
    assert app.house.board.get("tv").is_on is False
