"""/api/v1/schedules: the programmes (TV 18:00-22:00, radio relays, recurring
announcements) over house.store's schedules; the scheduler is poked after each change."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from flask import current_app, g, jsonify
from flask_babel import gettext as _
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from spectree import Response

from controller.broadcast_request import BroadcastContent
from controller.commands import CommandError
from web.api import Error, api, command_error, describe, house, spec
from web.auth import has_scope, require

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# which scope a schedule of each kind needs, beyond "control"
KIND_SCOPE = {"broadcast": "broadcast"}


class ScheduleIn(BaseModel):
    kind: str = Field(description='"relay", or a kind another part adds (e.g. "broadcast"); see GET kinds', max_length=32)
    target: str = Field(description="relay name for kind relay; what the kind acts on", min_length=1, max_length=64)
    days: list[int] = Field(default=[0, 1, 2, 3, 4, 5, 6], description="0 = Monday ... 6 = Sunday", min_length=1, max_length=7)
    start: str = Field(description='"HH:MM", 24-hour, site time zone')
    end: str | None = Field(None, description='"HH:MM" window end (may pass midnight); none = one action at start')
    payload: dict[str, Any] = Field(default={}, description='kind-specific, e.g. {"text": "..."} for broadcast')

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None and not HHMM.match(value):
            raise PydanticCustomError("time_hhmm", 'use "HH:MM" 24-hour time, e.g. "18:00"')
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in value):
            raise PydanticCustomError("weekday", "days are 0 (Monday) ... 6 (Sunday)")
        return sorted(set(value))


class BroadcastPayload(BroadcastContent):
    """What a "broadcast" programme plays: a text read aloud at the start, or a stream
    relayed for the window (controller.broadcast_request's fields). Files on the house's
    disk (audio_path) are not accepted from the API."""

    @model_validator(mode="after")
    def _one_source(self) -> "BroadcastPayload":
        if bool(self.text.strip()) == bool(self.stream_url):
            raise PydanticCustomError("text_or_stream", "give either text (read aloud) or stream_url (relayed), not both or neither")
        return self


def payload_problem(kind: str, payload: dict[str, Any]) -> str | None:
    """A kind's payload problems, named "payload.<field>: ..." (web.api.describe); None when fine."""
    if kind == "relay":
        return "payload: must be empty for a relay programme" if payload else None
    if kind == "broadcast":
        try:  # stored and played later, unattended: a text over the house's limit is refused now
            BroadcastPayload.model_validate(payload, context={"max_text_chars": house().config.audio.max_text_chars})
        except ValidationError as err:
            return describe(err.errors(include_url=False), under="payload")[0]
    return None


class ScheduleOut(BaseModel):
    id: int
    kind: str
    target: str
    days: list[int]
    start: str
    end: str | None
    payload: dict[str, Any]
    enabled: bool
    created_at: float
    actor: str


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]
    kinds: list[str]


class Created(BaseModel):
    id: int
    warning: str | None = Field(None, description="set when a stream relay is longer than audio.max_stream_s: it is "
                                                   "saved, and each relay stops at that limit")


class Deleted(BaseModel):
    deleted: int


def relay_cut(json: ScheduleIn, max_stream_s: float) -> tuple[str, float, str] | None:
    """A stream relay longer than audio.max_stream_s is saved and stops at that limit (the
    technician's, not the village head's to change): (the field that makes it long, its
    length in seconds, the time it stops "HH:MM"), or None when it fits."""
    if json.kind != "broadcast" or not json.payload.get("stream_url"):
        return None
    field, wanted = "payload.duration_s", json.payload.get("duration_s")
    start = datetime.combine(date.today(), dtime.fromisoformat(json.start))
    if json.end is not None:
        end = datetime.combine(date.today(), dtime.fromisoformat(json.end))
        window = ((end - start).total_seconds() % 86400) or 86400.0
        if wanted is None or wanted > window:
            field, wanted = "end", window
    if wanted is None or wanted <= max_stream_s:
        return None
    return field, float(wanted), (start + timedelta(seconds=max_stream_s)).strftime("%H:%M")


def _poke() -> None:
    poke = current_app.extensions.get("scheduler_poke")
    if poke is not None:
        poke()


@api.get("/schedules")
@spec.validate(resp=Response(HTTP_200=ScheduleList, HTTP_401=Error, HTTP_403=Error), tags=["schedules"])
@require("control")
def schedules():
    """Every programme, and the kinds this house can run."""
    return jsonify(schedules=house().store.schedules(), kinds=house().schedule_kinds())


@api.post("/schedules")
@spec.validate(json=ScheduleIn, resp=Response(HTTP_200=Created, HTTP_201=Created, HTTP_400=Error, HTTP_401=Error,
                                              HTTP_403=Error), tags=["schedules"])
@require("control")
def add_schedule(json: ScheduleIn):
    """Add a programme; it runs from the next matching time. The same programme sent again
    (every field the same) is not added twice: 200 with the saved one's id."""
    h = house()
    if json.kind not in h.schedule_kinds():
        return command_error(CommandError(f"kind: {json.kind!r} is not available here; choose from {h.schedule_kinds()}",
                                          400, "schedule_kind_unknown", name=json.kind, kinds=h.schedule_kinds()))
    needed = KIND_SCOPE.get(json.kind)
    if needed and not has_scope(g.scopes, needed):
        return command_error(CommandError(f"a {json.kind} schedule needs the {needed!r} scope", 403, "scope_missing",
                                          scope=needed))
    if json.kind == "relay":
        names = [r["name"] for r in h.relays()]
        if json.target not in names:
            return command_error(CommandError(f"target: no relay {json.target!r}; choose from {names}", 400,
                                              "relay_unknown", name=json.target))
        if json.end == json.start:
            return command_error(CommandError("end: must differ from start (or leave it empty for a single switch-on)", 400,
                                              "end_is_start"))
    problem = payload_problem(json.kind, json.payload)
    if problem:
        return jsonify(error=problem), 400
    same = _same_programme(h.store.schedules(), json)
    if same is not None:  # sent again (the phone's answer lost on 3G): saved once, not run twice
        sid, status = same, 200
    else:
        sid, status = h.store.add_schedule(json.kind, json.target, json.days, json.start, json.end, json.payload,
                                           str(g.actor)), 201
        _poke()
    limit = h.config.audio.max_stream_s
    cut = relay_cut(json, limit)
    if cut is None:
        return jsonify(id=sid), status
    field, wanted, stop = cut
    if g.get("via_session"):  # the village head: said in the page's language
        warning = _("Saved, but the relay will stop at %(stop)s: a relay lasts at most %(limit)s minutes (the "
                    "technician's limit, audio.max_stream_s). End the window by %(stop)s, or ask the technician to "
                    "raise the limit.", stop=stop, limit=f"{limit / 60:g}")
    else:
        warning = (f"{field}: this relay would last {wanted / 60:g} minutes, but a stream relay stops after {limit / 60:g} "
                   f"minutes (audio.max_stream_s): it is saved and will stop at {stop}. End it by {stop}, or ask the "
                   "technician to raise audio.max_stream_s")
    return jsonify(id=sid, warning=warning), status


def _same_programme(saved: list[dict[str, Any]], json: ScheduleIn) -> int | None:
    """The id of a saved programme, running, that does exactly what `json` asks (the days
    in any order), or None."""
    wanted = (json.kind, json.target, sorted(set(json.days)), json.start, json.end, json.payload)
    return next((s["id"] for s in saved if s["enabled"]
                 and (s["kind"], s["target"], s["days"], s["start"], s["end"], s["payload"]) == wanted), None)


@api.delete("/schedules/<int:schedule_id>")
@spec.validate(resp=Response(HTTP_200=Deleted, HTTP_401=Error, HTTP_403=Error, HTTP_404=Error), tags=["schedules"])
@require("control")
def delete_schedule(schedule_id: int):
    """Remove a programme."""
    if not house().store.delete_schedule(schedule_id, str(g.actor)):
        return command_error(CommandError(f"no schedule {schedule_id}", 404, "schedule_unknown", id=schedule_id))
    _poke()
    return jsonify(deleted=schedule_id)
