"""Inbound payload validation: pure, no broker."""
from __future__ import annotations

import json

import pytest

from controller.commands import Broadcast, SetRelay
from controller.mqtt_schema import MAX_PAYLOAD, BadCommand, command_topics, parse_command, peek_cmd_id

GROUPS = ["yen-dinh", "dinh-hung"]


def parse(topic: str, payload: bytes | dict) -> object:
    body = json.dumps(payload).encode() if isinstance(payload, dict) else payload
    return parse_command(topic, body, "ho-thon", GROUPS)


def test_relay_payloads_plain_and_json():
    assert parse("langso/ho-thon/relay/tv/set", b"on").command == SetRelay("tv", "on", parse("langso/ho-thon/relay/tv/set", b"ON").command.actor)
    cmd = parse("langso/ho-thon/relay/amp/set", {"state": "TOGGLE", "cmd_id": "x-1"})
    assert cmd.command.action == "toggle" and cmd.cmd_id == "x-1" and str(cmd.command.actor) == "mqtt:ioc"


def test_broadcast_payload_becomes_the_typed_command():
    inbound = parse("langso/group/dinh-hung/broadcast/set",
                    {"id": "b-7", "audio_url": "https://ioc.example.vn/a.mp3", "priority": "priority", "repeat": 2})
    assert isinstance(inbound.command, Broadcast)
    assert inbound.command.audio_url == "https://ioc.example.vn/a.mp3" and inbound.cmd_id == "b-7"
    assert str(inbound.command.actor) == "mqtt:group:dinh-hung"


@pytest.mark.parametrize("topic,payload,field", [
    ("langso/ho-thon/broadcast/set", {"text": "a", "audio_url": "https://x/a.mp3"}, "exactly one"),
    ("langso/ho-thon/broadcast/set", {"priority": "normal"}, "exactly one"),
    ("langso/ho-thon/broadcast/set", {"audio_url": "file:///etc/passwd"}, "audio_url"),
    ("langso/ho-thon/broadcast/set", {"text": "a", "repeat": 0}, "repeat"),
    ("langso/ho-thon/broadcast/set", {"text": "a", "volume": 100}, "volume: unknown field"),
    ("langso/ho-thon/broadcast/set", {"text": "a", "cmd_id": "có dấu"}, "cmd_id"),
    ("langso/ho-thon/broadcast/set", {"text": "a", "id": "bão số 3"}, "id: use at most 64 letters"),
    ("langso/ho-thon/broadcast/set", {"text": "a", "at": -1}, "at: Input should be greater than or equal to 0"),
    ("langso/ho-thon/broadcast/set", b"[1, 2]", "JSON object"),
    ("langso/ho-thon/broadcast/set", b"\xff\xfe", "UTF-8"),
    ("langso/ho-thon/relay/tv/set", b"BLINK", "state"),
    ("langso/other/relay/tv/set", b"ON", "not a command topic"),
    ("langso/group/khac/broadcast/set", {"text": "a"}, "not a command topic"),
    ("langso/ho-thon/relay/tv/set", b"O" * (MAX_PAYLOAD + 1), "too large"),
])
def test_bad_commands_name_the_field(topic, payload, field):
    with pytest.raises(BadCommand, match=field):
        parse(topic, payload)


def test_a_long_text_is_left_to_the_audio_wings_configured_limit():
    text = ("Mời bà con họp thôn lúc 19 giờ 30 tại nhà văn hóa. " * 60)[:3000]  # over the old fixed 2000
    inbound = parse("langso/ho-thon/broadcast/set", {"id": "hop-thon", "text": text})
    assert inbound.command.text == text


def test_a_rejected_url_is_not_echoed_with_its_password():
    with pytest.raises(BadCommand) as err:
        parse("langso/ho-thon/broadcast/set", {"stream_url": "mms://radio:s3cret@vov.vn/live"})
    assert "s3cret" not in str(err.value) and "mms://vov.vn/live" in str(err.value)


def test_cmd_id_of_a_bad_payload_is_still_found_for_the_reply():
    assert peek_cmd_id(b'{"cmd_id": "c-9", "text": 5}') == "c-9"
    assert peek_cmd_id(b"garbage") is None


def test_command_topics_cover_site_and_groups():
    assert command_topics("ho-thon", GROUPS) == [
        "langso/ho-thon/relay/+/set", "langso/ho-thon/broadcast/set",
        "langso/group/yen-dinh/broadcast/set", "langso/group/dinh-hung/broadcast/set"]
