"""Broadcast routes on the /api/v1 blueprint: list, queue (text, stream or audio URL as
JSON; a recorded file as multipart/form-data), cancel, approve from the inbox, reorder,
and a spoken preview for the phone."""
from __future__ import annotations

import logging
import sqlite3
from typing import Annotated, Any, Literal

from flask import Response as FlaskResponse
from flask import g, jsonify, request
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field
from spectree import Response
from spectree.model_adapter.pydantic_adapter import BaseFile

from controller.broadcast_request import AnnouncementText, BroadcastRequest, QueueOptions, StartAt
from controller.commands import CancelBroadcast, CommandError, Priority
from web.api import Error, api, command_error, house, spec
from web.auth import require
from web.i18n import refusal_detail

logger = logging.getLogger(__name__)


class BroadcastUpload(QueueOptions):
    """A recording uploaded as multipart/form-data, with the fields of an announcement
    queued now (controller.broadcast_request)."""
    file: BaseFile = Field(description="the recording: MP3, M4A/AAC, WebM/Opus, OGG or WAV")


class Item(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    kind: Literal["text", "audio", "stream"]
    text: str
    priority: Priority
    repeat: int
    at: float | None
    state: str
    created: float
    who: str
    warning: str | None = Field(None, description="set when the item was queued while the sound output does not work: "
                                                   "it waits and plays once the output works")


class LogRecord(BaseModel):
    id: str
    kind: str = Field("", description="text | audio | stream")
    text: str = Field("", description="the announcement's text (text items)")
    source: str
    who: str
    approved_by: str | None = Field(None, description="who let it play from the inbox (district bulletins), if anyone")
    priority: str
    started: float | None
    ended: float
    outcome: Literal["played", "preempted", "failed"]
    reason: str = Field(description="why it ended so, in English (in the page's language for a session)")
    reason_kind: str = Field("", description="the same as a kind (e.g. cancelled, preempted_by_emergency, stream_ended)")
    reason_values: dict[str, Any] = Field(default_factory=dict, description="the kind's values (e.g. who, end)")


class Listing(BaseModel):
    playing: Item | None
    queue: list[Item]
    inbox: list[Item]
    log: list[LogRecord]


class Cancelled(BaseModel):
    id: str
    cancelled: bool


class Approve(BaseModel):
    at: StartAt = None


class Order(BaseModel):
    ids: list[str] = Field(min_length=1, description="queued item ids in the order they should play")


class PreviewIn(BaseModel):
    text: Annotated[AnnouncementText, Field(min_length=1)]


def _service() -> Any:
    service = house().broadcasts
    if service is None:
        raise CommandError("the audio part is not running; see `langso status`", 503, "audio_unavailable")
    return service


@api.get("/broadcasts")
@spec.validate(resp=Response(HTTP_200=Listing, HTTP_401=Error, HTTP_403=Error, HTTP_503=Error), tags=["broadcasts"])
@require("broadcast")
def list_broadcasts():
    """What plays, the queue in order, the inbox awaiting the village head, the proof-of-broadcast log."""
    try:
        listing = _service().listing()
    except CommandError as err:
        return command_error(err)
    if g.get("via_session"):  # the village head reads why each broadcast ended in the page's language
        for record in listing["log"]:
            record["reason"] = record["reason_kind"] and refusal_detail(record["reason_kind"], record["reason_values"]) \
                or record["reason"]
    return jsonify(listing)


@api.post("/broadcasts")
@spec.validate(json=BroadcastRequest, form=BroadcastUpload,
               resp=Response(HTTP_201=Item, HTTP_400=Error, HTTP_401=Error, HTTP_403=Error, HTTP_409=Error,
                             HTTP_413=Error, HTTP_503=Error, HTTP_507=Error), tags=["broadcasts"])
@require("broadcast")
def create_broadcast():
    """Queue an announcement: JSON (text, stream_url or audio_url) or multipart with an audio `file`."""
    try:
        if request.context.form is not None:  # type: ignore[attr-defined]
            form: BroadcastUpload = request.context.form  # type: ignore[attr-defined]
            path = _service().save_upload(form.file.stream, form.file.filename or "")
            command = form.command(g.actor, audio_path=path)
        else:
            body: BroadcastRequest = request.context.json  # type: ignore[attr-defined]
            command = body.command(g.actor)
        item = house().handle(command)
        if item.get("warning") and g.get("via_session"):  # the village head: said in the page's language
            item["warning"] = _("Queued, but the loudspeaker output does not work now: the announcement "
                                "waits and plays once it works. Tell the technician.")
        return jsonify(item), 201
    except CommandError as err:
        return command_error(err)


@api.delete("/broadcasts/<item_id>")
@spec.validate(resp=Response(HTTP_200=Cancelled, HTTP_401=Error, HTTP_403=Error, HTTP_404=Error), tags=["broadcasts"])
@require("broadcast")
def cancel_broadcast(item_id: str):
    """Cancel a queued item, or stop the one playing."""
    try:
        return jsonify(house().handle(CancelBroadcast(item_id, g.actor)))
    except CommandError as err:
        return command_error(err)


@api.post("/broadcasts/<item_id>/approve")
@spec.validate(json=Approve, resp=Response(HTTP_200=Item, HTTP_401=Error, HTTP_403=Error, HTTP_404=Error), tags=["broadcasts"])
@require("broadcast")
def approve_broadcast(item_id: str):
    """The village head lets a district bulletin from the inbox play (now, or at `at`); the
    broadcast log records who approved it (approved_by), and so does the audit log."""
    try:
        body = request.context.json  # type: ignore[attr-defined]
        at = body.at if body else None
        item = _service().approve(item_id, str(g.actor), at)
    except CommandError as err:
        return command_error(err)
    try:
        house().store.audit(str(g.actor), "broadcast.approve", item_id, f"at={at}" if at else "now")
    except sqlite3.OperationalError as err:  # a full disk: approved all the same (its log record names who)
        logger.error("audit not written action=broadcast.approve id=%s by=%s at=%s error=%r", item_id, g.actor, at, str(err))
    return jsonify(item)


@api.post("/broadcasts/order")
@spec.validate(json=Order, resp=Response(HTTP_200=Listing, HTTP_400=Error, HTTP_401=Error, HTTP_403=Error, HTTP_404=Error),
               tags=["broadcasts"])
@require("broadcast")
def order_broadcasts():
    """Reorder queued items (e.g. priority items that collided): they play in the order of `ids`."""
    try:
        return jsonify(_service().reorder(request.context.json.ids, str(g.actor)))  # type: ignore[attr-defined]
    except CommandError as err:
        return command_error(err)


@api.post("/broadcasts/preview")
@spec.validate(json=PreviewIn, resp=Response(HTTP_400=Error, HTTP_401=Error, HTTP_403=Error, HTTP_503=Error), tags=["broadcasts"])
@require("broadcast")
def preview_broadcast():
    """The text as it will be spoken, as a small MP3 (audio/mpeg) for the phone's preview button."""
    try:
        audio = _service().preview(request.context.json.text)  # type: ignore[attr-defined]
    except CommandError as err:
        return command_error(err)
    return FlaskResponse(audio, mimetype="audio/mpeg")
