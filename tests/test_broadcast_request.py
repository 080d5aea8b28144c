"""The one definition of an announcement's fields (controller.broadcast_request): its
limits never refuse what the audio wing takes, nor take what it refuses."""
from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from audio.broadcast import AUDIO_URL_RE, ID_RE, URL_RE
from audio.config import AudioConfig
from controller.broadcast_request import MAX_TEXT_CHARS, BroadcastContent, BroadcastRequest, QueueOptions
from controller.commands import Actor, Broadcast


def refusal(data: dict, model: type = BroadcastRequest, **context) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as err:
        model.model_validate(data, context=context or None)
    [e] = err.value.errors()
    return e["loc"], e["msg"]


def test_the_text_cap_is_above_any_limit_a_config_may_set():
    [bound] = [m.le for m in AudioConfig.model_fields["max_text_chars"].metadata if getattr(m, "le", None)]
    assert MAX_TEXT_CHARS >= bound
    assert BroadcastRequest.model_validate({"text": "Họp thôn. " * 300}).text  # 3000 characters: MQTT's old 2000 is gone


@pytest.mark.parametrize("item_id", ["bao-so-3", "b_7.x:1", "A" * 64, "A" * 65, "a b", "có-dấu", "x/y", "x\n", "@ioc"])
def test_an_id_is_taken_exactly_when_the_audio_wing_takes_it(item_id):
    try:
        QueueOptions.model_validate({"id": item_id})
        taken = True
    except ValidationError as err:
        assert err.errors()[0]["loc"] == ("id",) and "at most 64 letters" in err.errors()[0]["msg"]
        taken = False
    assert taken == bool(ID_RE.fullmatch(item_id))


@pytest.mark.parametrize("field,url,taken", [
    ("stream_url", "http://radio.example.vn/vov1.m3u8", True),
    ("stream_url", "rtsp://cam:pw@10.0.0.5/live", True),
    ("stream_url", "rtmp://vov.vn/live", True),
    ("stream_url", "mms://vov.vn/live", False),
    ("stream_url", "http://vov.vn/a b", False),
    ("stream_url", "http:///nohost", False),
    ("audio_url", "https://ioc.example.vn/a.mp3", True),
    ("audio_url", "rtsp://ioc.example.vn/a", False),   # a file to fetch, not a stream
    ("audio_url", "file:///etc/passwd", False),
    ("audio_url", "http://[::1/a.mp3", False),
])
def test_urls_the_schema_takes_are_urls_the_audio_wing_takes(field, url, taken):
    try:
        BroadcastRequest.model_validate({field: url})
    except ValidationError as err:
        assert not taken and err.errors()[0]["loc"] == (field,)
        assert "pw" not in err.errors()[0]["msg"]
    else:
        assert taken and (AUDIO_URL_RE if field == "audio_url" else URL_RE).fullmatch(url)


def test_the_refusals_name_the_field_and_the_fix():
    assert refusal({"text": "x", "at": -1}) == (("at",), "Input should be greater than or equal to 0")
    assert refusal({"text": "x", "at": float("inf")}) == (("at",), "Input should be a finite number")  # MQTT's JSON has Infinity
    assert refusal({"text": "x", "at": float("nan")}) == (("at",), "Input should be a finite number")
    ms = int(time.time() * 1000)  # an easy mistake of a program: milliseconds
    assert refusal({"text": "x", "at": ms}) == (
        ("at",), f"{float(ms)} is more than a year ahead; give Unix epoch seconds, not milliseconds")
    assert QueueOptions(at=time.time() + 300 * 86400).at  # a programme of next season is fine
    assert refusal({"stream_url": "mms://radio:s3cret@vov.vn/live"}) == (
        ("stream_url",), "must be an http(s), rtsp or rtmp URL with a host and no spaces (got 'mms://vov.vn/live')")
    assert refusal({"text": "x", "audio_url": "https://x/a.mp3"}) == (
        (), "send exactly one of text, audio_url or stream_url (got text, audio_url)")
    assert refusal({}) == ((), "send exactly one of text, audio_url or stream_url")


def test_a_text_over_the_configured_limit_is_refused_when_the_limit_is_given():
    text = " ".join(["Họp thôn lúc 19 giờ."] * 10)  # 209 characters
    assert BroadcastContent.model_validate({"text": text + "  "}, context={"max_text_chars": 209}).text  # counted stripped, as the audio wing does
    assert refusal({"text": text}, BroadcastContent, max_text_chars=200) == (
        ("text",), "209 characters is longer than the 200 character limit (audio.max_text_chars); split the announcement")
    assert BroadcastContent.model_validate({"text": text}).text == text  # no limit given: the audio wing's to say


SOON = int(time.time()) + 3600


def test_the_command_carries_every_field():
    request = BroadcastRequest.model_validate({"id": "b-1", "stream_url": "http://r.vn/x", "priority": "priority",
                                               "at": SOON, "duration_s": 60})
    assert request.command(Actor("mqtt", "ioc")) == Broadcast(
        id="b-1", stream_url="http://r.vn/x", priority="priority", at=SOON, duration_s=60, actor=Actor("mqtt", "ioc"))
    upload = QueueOptions.model_validate({"repeat": 2})
    assert upload.command(Actor("web", "lan"), audio_path="/tmp/x.m4a") == Broadcast(
        audio_path="/tmp/x.m4a", repeat=2, actor=Actor("web", "lan"))
