"""What a request for an announcement may say, defined once: its fields, their limits and
the wording of each refusal, for every way in. MQTT `…/broadcast/set` takes a
BroadcastRequest plus cmd_id (controller.mqtt_schema.BroadcastSet), the JSON API's
`POST /api/v1/broadcasts` a BroadcastRequest, its multipart upload QueueOptions besides the
file, and a "broadcast" programme a BroadcastContent (web.api_schedules.BroadcastPayload).

The audio wing checks every item again when it is submitted (audio.broadcast), for every
path, the CLI included, against the house's config. The limits here never refuse what a
valid config lets the audio wing take: a text is capped only at the largest
audio.max_text_chars a config may set, and the configured limit is the audio wing's to
say ("text: 6000 characters is longer than the 5000 character limit
(audio.max_text_chars)"), or this model's when the caller passes it as validation context
(a programme is stored now and played later, unattended, so it is checked at once). A
text of emoji and punctuation only is refused here for every way in ("text_no_words")."""
from __future__ import annotations

import dataclasses
import functools
import re
import time
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from audio.normalize import NO_WORDS, has_words
from controller.commands import MAX_REPEAT, Actor, Broadcast, Priority

ID_CHARS = r"[A-Za-z0-9._:-]{0,64}"  # as the audio wing's ids; empty = the house makes one
# a sanity cap, not the limit users meet: at least the largest audio.max_text_chars a config
# may set (AudioConfig's le; tests/test_broadcast_request.py holds the two together)
MAX_TEXT_CHARS = 100_000
MAX_URL_CHARS = 2000
MAX_DURATION_S = 24 * 3600
AUDIO_URL = ("http", "https")                    # a file to fetch
STREAM_URL = ("http", "https", "rtsp", "rtmp")   # a live stream to relay
_COMMAND_FIELDS = {f.name for f in dataclasses.fields(Broadcast)} - {"actor"}


def _url(value: str, schemes: tuple[str, ...], said: str) -> str:
    """`value` when it is empty or a URL of one of `schemes` with a host and no spaces (as
    the audio wing takes it); the refusal shows it without its password."""
    if not value:
        return value
    try:
        parts = urlsplit(value)
        if parts.scheme in schemes and parts.hostname and not any(c.isspace() for c in value):
            return value
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    except ValueError:  # e.g. an unclosed [IPv6 address]
        shown = value.partition("://")[0] + "://..."
    raise PydanticCustomError("url", "must be {said} URL with a host and no spaces (got {shown})",
                              {"said": said, "shown": repr(shown[:80])})


def _schema_pattern(schemes: tuple[str, ...]) -> dict[str, Any]:
    """The URL's shape for the OpenAPI document (_url also wants a host)."""
    return {"pattern": rf"^(({'|'.join(schemes)})://\S+)?$"}


AnnouncementText = Annotated[str, Field(
    max_length=MAX_TEXT_CHARS,
    description="the announcement (Vietnamese), read aloud; at most audio.max_text_chars characters (5000 by default)")]
AudioUrl = Annotated[str, Field(max_length=MAX_URL_CHARS, json_schema_extra=_schema_pattern(AUDIO_URL),
                                description="an audio file to fetch over http(s) and play"),
                     AfterValidator(functools.partial(_url, schemes=AUDIO_URL, said="an http(s)"))]
StreamUrl = Annotated[str, Field(max_length=MAX_URL_CHARS, json_schema_extra=_schema_pattern(STREAM_URL),
                                 description="a live stream to relay (radio: HTTP/HLS, RTSP or RTMP)"),
                      AfterValidator(functools.partial(_url, schemes=STREAM_URL, said="an http(s), rtsp or rtmp"))]
MAX_AHEAD_S = 366 * 86400  # an announcement queued more than a year ahead is a mistake (milliseconds, most often)


def _not_too_far(at: float | None) -> float | None:
    if at is not None and at > time.time() + MAX_AHEAD_S:
        raise PydanticCustomError("start_too_far", "{at} is more than a year ahead; give Unix epoch seconds, not milliseconds",
                                  {"at": at})
    return at


StartAt = Annotated[float | None, Field(ge=0, allow_inf_nan=False,
                                        description="start time, Unix epoch seconds (at most a year ahead); empty = now"),
                    AfterValidator(_not_too_far)]


class BroadcastOptions(BaseModel):
    """How an announcement plays: every way of asking for one has these."""

    model_config = ConfigDict(extra="forbid")

    priority: Priority = Field(
        "normal", description="emergency / priority / normal (khẩn cấp / ưu tiên / thông thường, TT 39/2020/TT-BTTTT)")
    repeat: int = Field(1, ge=1, le=MAX_REPEAT, description="how many times to play it (a stream plays once)")

    def command(self, actor: Actor, **more: Any) -> Broadcast:
        """The typed command with these fields, and `more` (the audio_path of an upload)."""
        fields = {name: getattr(self, name) for name in type(self).model_fields if name in _COMMAND_FIELDS}
        return Broadcast(**fields, **more, actor=actor)


class QueueOptions(BroadcastOptions):
    """How it plays, and the caller's id and the start time: an announcement queued now
    (all that a recorded file uploaded with it carries)."""

    id: str = Field("", description="the caller's id (letters, digits . _ : -, at most 64): the same id sent again "
                    "while it waits or plays is not queued twice; empty = the house makes one",
                    json_schema_extra={"pattern": f"^{ID_CHARS}$"})
    at: StartAt = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not re.fullmatch(ID_CHARS, value):
            raise PydanticCustomError("broadcast_id", "use at most 64 letters, digits, '.', '_', ':' or '-' (got {shown})",
                                      {"shown": repr(value[:80])})
        return value


class BroadcastContent(BroadcastOptions):
    """How it plays, and what it says or relays: a text read aloud or a stream relayed
    (all that a programme holds). Validated with `context={"max_text_chars": N}`, a text
    over the house's limit is refused at once."""

    text: AnnouncementText = ""
    stream_url: StreamUrl = ""
    duration_s: float | None = Field(None, gt=0, le=MAX_DURATION_S,
                                     description="streams: stop after this many seconds (at most audio.max_stream_s)")

    @field_validator("text")
    @classmethod
    def _fits_the_house(cls, text: str, info: ValidationInfo) -> str:
        limit = (info.context or {}).get("max_text_chars")
        if limit is not None and len(text.strip()) > limit:
            raise PydanticCustomError(
                "text_too_long", "{n} characters is longer than the {max_length} character limit "
                "(audio.max_text_chars); split the announcement", {"n": len(text.strip()), "max_length": limit})
        if text.strip() and not has_words(text):  # "🎉🎉": refused now, not at its time with nobody there
            raise PydanticCustomError("text_no_words", NO_WORDS)
        return text


class BroadcastRequest(QueueOptions, BroadcastContent):
    """One announcement queued now: exactly one of text, audio_url or stream_url."""

    audio_url: AudioUrl = ""

    @model_validator(mode="after")
    def _one_source(self) -> "BroadcastRequest":
        given = [name for name in ("text", "audio_url", "stream_url") if getattr(self, name)]
        if len(given) != 1:
            raise PydanticCustomError("one_source", "send exactly one of text, audio_url or stream_url{got}",
                                      {"got": f" (got {', '.join(given)})" if given else ""})
        return self
