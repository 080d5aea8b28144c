"""Hệ thống's health for the village head, in the page's language. The parts of the house
report what is wrong in free-form English for the technician (`status["problems"]`: a part
name and a text naming the config key and the fix); the page shows each under its part's
name and, where the part's status says it in a fixed form (a state, a flag, a reason's
kind), what it means. The English text stays beside it, marked as the technician's detail:
it is never machine-translated."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from web.i18n import refusal_detail


def part_label(part: str) -> str:
    """A status part or problem's name as the village head reads it (unknown ones as they are)."""
    return {
        "relays": _("Equipment"), "disk": _("Storage"), "database": _("Database"), "store": _("Switching log"),
        "clock": _("Clock"), "uplink": _("District link"), "outbox": _("Messages to the district"),
        "watchdog": _("System watchdog"), "cli": _("Technician's command"), "audio": _("Loudspeaker and announcements"),
        "cameras": _("Cameras"), "schedules": _("Schedules"),
    }.get(part, part)


def uplink_state(state: str) -> str:
    """controller.uplink's states (and "disabled" when mqtt.host is empty)."""
    return {
        "connected": _("connected"), "disabled": _("off (no district server set: mqtt.host)"),
        "starting": _("connecting"), "disconnected": _("disconnected"),
        "refused": _("refused by the district server"), "error": _("not working"), "stopped": _("stopped"),
    }.get(state, _("disconnected"))


def problems(status: Mapping[str, Any], min_free_mb: int) -> list[dict[str, Any]]:
    """Each of status["problems"] as {"part", "label", "said": [what it means], "detail": the English}."""
    return [{"part": part, "label": part_label(part), "said": _meaning(part, status, min_free_mb, detail) or
             [_("Something is wrong here; tell the technician.")], "detail": detail}
            for part, detail in (status.get("problems") or {}).items()]


def _part(status: Mapping[str, Any], name: str) -> Any:
    value = status.get(name)
    return value if isinstance(value, (Mapping, list)) else {}  # a part that failed to report is {"error": ...}


def _meaning(part: str, status: Mapping[str, Any], min_free_mb: int, detail: str) -> list[str]:
    if part == "disk":
        return [_("Only %(free)s MB free (at least %(min)s MB should stay free): ask the technician to free space, "
                  "e.g. delete old camera clips.", free=_part(status, "disk").get("free_mb", "?"), min=min_free_mb)]
    if part == "clock":
        return [_("The clock is not synchronised (no network time yet; the computer has no clock of its own): "
                  "schedules wait until it is.")]
    if part == "uplink":
        state = _part(status, "uplink").get("state", "")
        if state == "refused":
            return [_("The district server refused the connection (user name or password): tell the technician.")]
        return [_("Not connected to the district server: news for the district waits and goes out when the link "
                  "is back.")]
    if part == "audio":
        return _audio(_part(status, "audio"), detail)
    if part == "cameras":
        said = []
        for camera in _part(status, "cameras"):
            if isinstance(camera, Mapping) and not camera.get("connected") and camera.get("error"):
                said.append(_("No picture from camera %(name)s.", name=camera.get("name")))
            if isinstance(camera, Mapping) and camera.get("clip_error"):
                said.append(_("Camera %(name)s: clips cannot be saved.", name=camera.get("name")))
        return said
    if part == "schedules" and _part(status, "schedules").get("failed"):
        return [_("A programme of the schedule could not be carried out at its time.")]
    return {
        "relays": [_("Some equipment can no longer be switched: the technician must restart the service.")],
        "database": [_("The storage is full: nothing new can be saved; what cannot be saved is kept in memory for now.")],
        "store": [_("Some switches are not in the log yet: they are kept and written once the storage takes them.")],
        "outbox": [_("News for the district cannot be saved: it is kept in memory and sent from there.")],
        "watchdog": [_("A part of the system does not respond.")],
        "cli": [_("The technician's command on this machine cannot reach the system.")],
    }.get(part, [])


def _audio(audio: Mapping[str, Any], detail: str) -> list[str]:
    said = []
    failure = last_failure(audio)
    if failure and failure["id"] and failure["id"] in detail:  # the failure is still the audio part's problem
        said.append(_("The last announcement failed: %(why)s", why=failure["said"] or _("see the technician's detail.")))
    if audio.get("output_usable") is False:
        said.append(_("The loudspeaker output does not work: announcements wait in the queue and play once it works."))
    engines = (audio.get("tts") or {}).get("engines") or []
    for engine in engines:
        if engine.get("breaker", "closed") != "closed":
            said.append(_("The voice %(name)s failed and is skipped for a while.", name=engine.get("name")))
    if engines and not any(engine.get("usable", True) for engine in engines):
        said.append(_("No voice can read texts aloud on this machine."))
    return said


def last_failure(audio: Any) -> dict[str, Any] | None:
    """The last announcement that failed: {"at", "said": why in the page's language, or
    None for a reason without a known kind, "detail": the English reason}."""
    failure = audio.get("last_failure") if isinstance(audio, Mapping) else None
    if not failure:
        return None
    kind = failure.get("reason_kind")
    return {"id": failure.get("id"), "at": failure.get("at"), "said": refusal_detail(kind, failure.get("reason_values") or {}) if kind else None,
            "detail": failure.get("reason", "")}
