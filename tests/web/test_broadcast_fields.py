"""An announcement's fields over HTTP and on the pages: the rules of
controller.broadcast_request (the same as MQTT's), and the text limit the house is
configured with (audio.max_text_chars, here 6000 instead of the default 5000)."""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from controller.app import App
from tests.audio.conftest import make_audio
from tests.conftest import house_data

LIMIT = 6000
SENTENCE = "Mời bà con họp thôn lúc 19 giờ 30 tại nhà văn hóa. "
LATER = time.time() + 30 * 86400  # queued for a month ahead: nothing plays during the test


@pytest.fixture
def app(make_config: Callable[..., Any], start_app: Callable[..., App], tmp_path: Path) -> App:
    audio = house_data(tmp_path / "data")["audio"] | {"max_text_chars": LIMIT}
    return start_app(make_config(audio=audio))


def text_of(n: int) -> str:
    """Vietnamese sentences, n characters long (no space at the end, which would not count)."""
    return (SENTENCE * (n // len(SENTENCE) + 1))[:n - 1] + "."


def programme(text: str) -> dict[str, Any]:
    return {"kind": "broadcast", "target": "loa", "start": "07:00", "days": [0], "payload": {"text": text}}


def test_the_pages_text_boxes_take_the_configured_length(session_as):
    client, _ = session_as("head")
    for page in ("/broadcasts", "/schedules"):
        html = client.get(page).text
        [box] = re.findall(r'<textarea name="text"[^>]*>', html)
        assert f'maxlength="{LIMIT}"' in box, (page, box)


def test_a_text_within_the_configured_limit_is_taken_and_a_longer_one_refused(app, client, token_for):
    auth = token_for("control", "broadcast")
    text = text_of(5500)  # over the default 5000 and the fixed 5000 the schedule API had
    made = client.post("/api/v1/schedules", json=programme(text), headers=auth)
    assert made.status_code == 201, made.json
    queued = client.post("/api/v1/broadcasts", json={"text": text, "at": LATER}, headers=auth)
    assert queued.status_code == 201 and queued.json["state"] == "inbox", queued.json  # a token's: for the head to approve
    too_long = client.post("/api/v1/schedules", json=programme(text_of(LIMIT + 1)), headers=auth)
    assert too_long.status_code == 400
    assert too_long.json["error"] == (f"payload.text: {LIMIT + 1} characters is longer than the {LIMIT} character limit "
                                      "(audio.max_text_chars); split the announcement"), too_long.json
    assert [p.payload_dict()["text"] for p in app.house.programmes()] == [text]


def test_the_page_hears_the_configured_limit_in_its_own_language(session_as):
    client, csrf = session_as("head")
    refused = client.post("/api/v1/schedules", json=programme("x" * (LIMIT + 1)), headers={"X-CSRFToken": csrf})
    assert refused.json["error"] == f"payload.text: quá dài: nhiều nhất {LIMIT} ký tự.", refused.json


@pytest.mark.parametrize("body,error", [
    ({"text": "Họp thôn.", "id": "bão số 3"}, "id: use at most 64 letters, digits, '.', '_', ':' or '-' (got 'bão số 3')"),
    ({"text": "Họp thôn.", "id": "x" * 65}, "id: use at most 64 letters"),
    ({"text": "Họp thôn.", "at": -60}, "at: Input should be greater than or equal to 0"),
    ({"audio_url": "rtsp://ioc.example.vn/a"}, "audio_url: must be an http(s) URL with a host"),
    ({"text": "Họp thôn.", "stream_url": "http://radio.example.vn/vov1"},
     "body: send exactly one of text, audio_url or stream_url (got text, stream_url)"),
])
def test_bad_fields_are_refused_by_name_as_over_mqtt(app, client, token_for, body, error):
    refused = client.post("/api/v1/broadcasts", json=body, headers=token_for("broadcast"))
    assert refused.status_code == 400 and refused.json["error"].startswith(error), refused.json
    assert app.house.broadcasts.listing()["inbox"] == []


def test_an_upload_with_a_bad_id_is_refused_before_the_file_is_kept(app, session_as, tmp_path):
    page, csrf = session_as("head")
    recording = make_audio(tmp_path / "ghi-am.m4a", "m4a", seconds=1.0)  # a good file: only the id is wrong
    with open(recording, "rb") as f:
        refused = page.post("/api/v1/broadcasts", data={"file": (f, recording.name), "id": "a/b"},
                            headers={"X-CSRFToken": csrf}, content_type="multipart/form-data")
    assert refused.status_code == 400 and refused.json["error"] == "id: không đúng dạng.", refused.json
    assert not list((Path(app.config.storage.dir) / "broadcasts" / "uploads").iterdir())


def test_a_text_of_emoji_only_is_refused_now_not_when_it_would_play(app, client, token_for, session_as):
    """An engine reads an emoji's name aloud ("pháo giấy bữa tiệc"); a text with nothing
    else has nothing to say: refused when it is sent or scheduled, by name, not failed at
    its time with the chime already played to the village."""
    auth = token_for("control", "broadcast")
    refused = client.post("/api/v1/broadcasts", json={"text": "🎉🎉 👍"}, headers=auth)
    assert refused.status_code == 400 and refused.json["error"] == (
        "text: has no words to read aloud (emoji and punctuation are not spoken); type the announcement"), refused.json
    scheduled = client.post("/api/v1/schedules", json=programme("❤️!!!"), headers=auth)
    assert scheduled.status_code == 400 and scheduled.json["error"].startswith("payload.text: has no words"), scheduled.json
    assert app.house.programmes() == [] and app.house.broadcasts.listing()["inbox"] == []
    page, csrf = session_as("head")
    shown = page.post("/api/v1/broadcasts", json={"text": "🎉"}, headers={"X-CSRFToken": csrf})
    assert shown.json["error"] == "text: không có chữ nào để đọc (biểu tượng cảm xúc và ký hiệu không được đọc); " \
                                  "hãy nhập nội dung thông báo.", shown.json
    shown = page.post("/api/v1/schedules", json=programme("🎉"), headers={"X-CSRFToken": csrf})
    assert shown.json["error"].startswith("payload.text: không có chữ nào để đọc"), shown.json
    with pytest.raises(Exception, match="has no words"):  # the CLI's way in: the audio wing itself
        app.house.broadcasts.submit(text="🎉", source="cli", who="cli")
