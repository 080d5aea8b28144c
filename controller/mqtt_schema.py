"""What the IOC may send, and how it becomes a typed command: topic parsing and the
pydantic models of inbound payloads; and the outbound JSON payloads made from house-bus
events. Pure functions, no network: the uplink's worker calls `parse_command()` and
hands the result to `house.handle()`.

Topics (root `langso/<site.id>`):
  `…/relay/<name>/set`               ON / OFF / TOGGLE, or JSON {"state": "ON", "cmd_id": "..."}
  `…/broadcast/set`                  JSON, see BroadcastSet
  `langso/group/<group>/broadcast/set`  as `…/broadcast/set`, for every site of the group
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from controller.broadcast_request import BroadcastRequest
from controller.commands import Actor, Broadcast, SetRelay

# bytes; a command is a few hundred, a text of 5000 characters (audio.max_text_chars's
# default) about 6 KB of Vietnamese as UTF-8, 9.5 KB sent as \u escapes (json.dumps's default)
MAX_PAYLOAD = 16 * 1024
CMD_ID = r"^[A-Za-z0-9._:@/-]{1,100}$"


class BadCommand(Exception):
    """The payload or topic is not a valid command; the message names the field and the fix."""


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelaySet(_Payload):
    state: Literal["ON", "OFF", "TOGGLE"] = Field(description="ON, OFF or TOGGLE")
    cmd_id: str | None = Field(None, pattern=CMD_ID, description="idempotency key, echoed in the reply")

    @field_validator("state", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class BroadcastSet(BroadcastRequest):
    """One announcement: the fields every way in takes (controller.broadcast_request), and
    the command's idempotency key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cmd_id: str | None = Field(None, pattern=CMD_ID, description="idempotency key; defaults to id")


@dataclass(frozen=True)
class Inbound:
    """A validated command: what to run, its idempotency key and where it came from."""

    command: SetRelay | Broadcast
    cmd_id: str | None
    topic: str


def _problems(err: ValidationError) -> str:
    out = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "payload"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field; remove it"
        out.append(f"{loc}: {msg}")
    return "; ".join(out)


def _json(payload: bytes) -> dict[str, Any]:
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadCommand(f"payload: not valid UTF-8 JSON ({err}); send a JSON object") from None
    if not isinstance(data, dict):
        raise BadCommand("payload: must be a JSON object")
    return data


def peek_cmd_id(payload: bytes) -> str | None:
    """The cmd_id of a payload that failed validation, so the reply can still name it."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    value = data.get("cmd_id") or data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and re.fullmatch(CMD_ID, value) else None


def command_topics(site_id: str, groups: list[str]) -> list[str]:
    root = f"langso/{site_id}"
    return [f"{root}/relay/+/set", f"{root}/broadcast/set"] + [f"langso/group/{g}/broadcast/set" for g in groups]


def parse_command(topic: str, payload: bytes, site_id: str, groups: list[str]) -> Inbound:
    """Validate one inbound message; raises BadCommand naming the field and the fix."""
    if len(payload) > MAX_PAYLOAD:
        raise BadCommand(f"payload: {len(payload)} bytes is too large (at most {MAX_PAYLOAD}); "
                         "send audio as audio_url, not inline, and a longer text as several announcements")
    root = f"langso/{site_id}/"
    parts = topic.split("/")
    if topic.startswith(root) and len(parts) == 5 and parts[2] == "relay" and parts[4] == "set":
        text = payload.decode("utf-8", "replace").strip()
        data = _json(payload) if text.startswith("{") else {"state": text}
        try:
            relay = RelaySet.model_validate(data)
        except ValidationError as err:
            raise BadCommand(_problems(err)) from None
        return Inbound(SetRelay(parts[3], relay.state.lower(), Actor("mqtt", "ioc")), relay.cmd_id, topic)  # type: ignore[arg-type]
    group = parts[2] if len(parts) == 5 and parts[:2] == ["langso", "group"] and parts[3:] == ["broadcast", "set"] else None
    if topic == root + "broadcast/set" or (group is not None and group in groups):
        try:
            msg = BroadcastSet.model_validate(_json(payload))
        except ValidationError as err:
            raise BadCommand(_problems(err)) from None
        actor = Actor("mqtt", f"group:{group}" if group else "ioc")
        return Inbound(msg.command(actor), msg.cmd_id or msg.id or None, topic)
    raise BadCommand(f"topic: {topic!r} is not a command topic of site {site_id!r} or its groups {groups}")


# out: house-bus payloads as the IOC gets them -------------------------------------
def state_json(listing: dict[str, Any]) -> str:
    """`…/broadcast/state`: what plays now and what is queued."""
    return json.dumps({"playing": listing.get("playing"), "queue": listing.get("queue", [])}, ensure_ascii=False, default=str)


def event_json(p: dict[str, Any], public_url: str) -> dict[str, Any]:
    """`…/camera/<cam>/event`: the bus event with its file paths turned into API URLs."""
    base = f"{public_url}/api/v1/events/{p['id']}"
    out = {k: v for k, v in p.items() if k not in ("snapshot", "clip")}
    out["snapshot_url"] = f"{base}/snapshot.jpg" if p.get("snapshot") else None
    out["clip_url"] = f"{base}/clip.mp4" if p.get("clip") else None
    return out
