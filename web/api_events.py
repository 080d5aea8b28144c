"""Camera events and pictures for the IOC and the page (scope events:read):
GET /events?since=&camera=&limit= is a cursor (ids only grow: pulling with
since=next_since never misses or repeats an event); snapshots, clips (HTTP Range)
and each camera's latest picture."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response as FlaskResponse
from flask import jsonify, request, url_for
from pydantic import BaseModel, Field
from spectree import Response

from controller.commands import CommandError
from web.api import Error, api, command_error, house, spec
from web.app_factory import SQLITE_INT_MAX
from web.auth import require


class EventQuery(BaseModel):
    since: int | None = Field(None, ge=0, le=SQLITE_INT_MAX,
                              description="return events with a larger id (the previous next_since)")
    camera: str | None = Field(None, max_length=32, description="only this camera (404 when no such camera is "
                               "configured and none has stored events)")
    limit: int = Field(100, ge=1, le=1000, description="at most this many events")


class EventOut(BaseModel):
    id: int
    camera: str
    start: float
    end: float | None
    score: float
    boxes: list[list[int]]
    tags: list[str]
    snapshot_url: str | None
    clip_url: str | None
    closed: bool = Field(description="false while the event goes on and after its `end` while the clip's tail is "
                         "still being written (post_s): a client that wants the whole clip waits for true")
    interrupted: bool = Field(description="closed by the start-up repair after a crash or power cut: `end` is the "
                              "last motion stored before it (a few seconds early at most), and there is no clip")


class EventList(BaseModel):
    events: list[EventOut]
    next_since: int


class CameraOut(BaseModel):
    name: str
    connected: bool
    fps: float
    last_frame: float | None
    reconnects: int
    decode_errors: int
    error: str | None
    clip_error: str | None


class CameraList(BaseModel):
    cameras: list[CameraOut]


def _events() -> Any:
    """The event store, None when the house has no camera wing."""
    return house().events


def _out(event: dict[str, Any]) -> dict[str, Any]:
    out = {k: event[k] for k in ("id", "camera", "start", "end", "score", "boxes", "tags", "closed", "interrupted")}
    out["snapshot_url"] = url_for("api.event_snapshot", event_id=event["id"]) if event["snapshot"] else None
    out["clip_url"] = url_for("api.event_clip", event_id=event["id"]) if event["clip"] else None
    return out


@api.get("/events")
@spec.validate(query=EventQuery, resp=Response(HTTP_200=EventList, HTTP_400=Error, HTTP_401=Error, HTTP_403=Error,
                                               HTTP_404=Error), tags=["events"])
@require("events:read")
def events(query: EventQuery):
    """Camera events oldest first after `since`; without `since`, the newest `limit`."""
    store = _events()
    known = [c.name for c in house().config.cameras]
    if query.camera and query.camera not in known and not (store and store.has_camera(query.camera)):
        message = f"camera: no camera named {query.camera!r}; known cameras: {', '.join(known) or 'none'}"
        return command_error(CommandError(message, 404, "camera_unknown", name=query.camera, known=known))
    found = store.list(since=query.since, camera=query.camera, limit=query.limit) if store else []
    next_since = found[-1]["id"] if found else (query.since if query.since is not None else (store.last_id() if store else 0))
    return jsonify(events=[_out(e) for e in found], next_since=next_since)


def _file(event_id: int, key: str, mimetype: str) -> FlaskResponse | tuple[Any, int]:
    store = _events()
    event = store.get(event_id) if store else None
    if event is None:
        return jsonify(error=f"no event {event_id}"), 404
    path = event[key]
    if not path or not Path(path).is_file():
        what = "clip" if key == "clip" else "snapshot"
        return jsonify(error=f"event {event_id} has no {what} (still recording, not recorded, or removed by retention)"), 404
    # read into memory (clips are a few MB): spectree reads the body of every response, which a
    # streamed send_file cannot give; werkzeug still answers Range / If-None-Match from it
    file = Path(path)
    data = file.read_bytes()
    response = FlaskResponse(data, mimetype=mimetype)
    response.set_etag(f"{event_id}-{file.stat().st_mtime_ns}")
    response.cache_control.max_age = 3600
    return response.make_conditional(request, accept_ranges=True, complete_length=len(data))


@api.get("/events/<int:event_id>/snapshot.jpg")
@spec.validate(resp=Response(HTTP_401=Error, HTTP_403=Error, HTTP_404=Error), tags=["events"])
@require("events:read")
def event_snapshot(event_id: int):
    """The JPEG of the event's frame with the most motion (boxes drawn)."""
    return _file(event_id, "snapshot", "image/jpeg")


@api.get("/events/<int:event_id>/clip.mp4")
@spec.validate(resp=Response(HTTP_401=Error, HTTP_403=Error, HTTP_404=Error), tags=["events"])
@require("events:read")
def event_clip(event_id: int):
    """The event's H.264 MP4 clip (faststart; HTTP Range supported)."""
    return _file(event_id, "clip", "video/mp4")


@api.get("/cameras")
@spec.validate(resp=Response(HTTP_200=CameraList, HTTP_401=Error, HTTP_403=Error), tags=["events"])
@require("events:read")
def cameras():
    """Every camera: connected, frames per second, last frame time, reconnects, corrupt
    packets skipped, error, why clips are being lost (clip_error)."""
    cams = house().cameras
    rows = cams.list() if cams else []
    return jsonify(cameras=[{k: c[k] for k in CameraOut.model_fields} for c in rows])


@api.get("/cameras/<name>/latest.jpg")
@spec.validate(resp=Response(HTTP_401=Error, HTTP_403=Error, HTTP_404=Error), tags=["events"])
@require("events:read")
def camera_latest(name: str):
    """The camera's latest picture as JPEG."""
    cams = house().cameras
    jpeg = cams.latest_jpeg(name) if cams else None
    if jpeg is None:
        return jsonify(error=f"no picture from camera {name!r} (unknown camera, or not connected yet)"), 404
    return FlaskResponse(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})
