"""Vietnamese first, English switchable: Flask-Babel, with each catalogue read from
web/translations/*/LC_MESSAGES/messages.po at start and compiled in memory. No .mo file is
written or shipped, so an install the service cannot write to (/opt/langso under
ProtectSystem=strict) is as Vietnamese as a checkout, and the page always has the .po's
current words."""
from __future__ import annotations

import functools
import io
import logging
import math
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from babel import Locale
from babel.support import Translations
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request, session
from flask_babel import Babel, get_locale, get_translations, gettext as _

logger = logging.getLogger(__name__)

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("vi", "en")  # msgids are English; vi is the default catalogue


def load_catalogues(root: Path = TRANSLATIONS) -> dict[str, Translations]:
    """Every messages.po under `root`, compiled in memory, by language."""
    catalogues = {}
    for po in sorted(root.glob("*/LC_MESSAGES/messages.po")):
        lang = po.parent.parent.name
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang)
        mo = io.BytesIO()
        write_mo(mo, catalog, use_fuzzy=False)
        mo.seek(0)
        catalogues[lang] = Translations(mo)
        logger.debug("translations loaded lang=%s messages=%d", lang, len(catalog))
    return catalogues


def select_locale() -> Locale:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return _locale(chosen)
    return _locale("vi")  # the village head's language, whatever the phone's browser says


@functools.cache
def _locale(lang: str) -> Locale:
    """Parsed once: flask-babel parses what select_locale returns on every request, and
    parsing a name looks for babel's data file on disk; a Locale is taken as it is."""
    return Locale.parse(lang)


def init_i18n(app: Flask, timezone: str) -> Babel:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "vi")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", timezone)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    babel = Babel(app, locale_selector=select_locale)
    # flask-babel's documented cache of (locale, domain) -> translations, filled before the
    # first request so it never looks for .mo files; English is the msgids themselves
    with app.app_context():
        domain = babel.domain_instance  # made once per Babel (a cached property that reads the app's config)
    domain.cache.update({(lang, "messages"): t for lang, t in load_catalogues().items()})
    domain.cache.setdefault(("en", "messages"), Translations())
    # the same catalogue, looked up once per request: flask-babel's own template callables
    # look it up again for every string (a third of the home page's render time)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _request_translations().ugettext(s),
        ngettext=lambda s, p, n: _request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _request_translations().unpgettext(c, s, p, n),
    )
    app.extensions["site_tz"] = ZoneInfo(timezone)
    app.jinja_env.globals["js_strings"] = js_strings
    app.jinja_env.globals["role_labels"] = role_labels
    app.jinja_env.globals["scope_labels"] = scope_labels
    app.jinja_env.globals["schedule_kind_labels"] = schedule_kind_labels
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["who"] = who
    return babel


def _request_translations():  # type: ignore[no-untyped-def]
    translations = g.get("_langso_translations")
    if translations is None:
        translations = g._langso_translations = get_translations()
    return translations


def when(epoch: float | None) -> str:
    """Epoch seconds as the house's local time, "18:05 23/11/2026" (how both Vietnamese and
    British English write it; the page's script re-renders it in the phone's locale)."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz=current_app.extensions["site_tz"]).strftime("%H:%M %d/%m/%Y")


def actor_labels() -> dict[str, str]:
    """Who switched or sent something, as the village head says it: Actor kinds, and the
    known actors of a kind worded whole ("system:broadcast", "mqtt:group"); translated once
    per language (the home page shows one per relay)."""
    return _per_language(_LABELS_CACHE, _actor_labels)


def _per_language(cache: dict[str, dict[str, str]], make: Callable[[], dict[str, str]]) -> dict[str, str]:
    lang = str(get_locale())
    if lang not in cache:
        cache[lang] = make()
    return cache[lang]


_LABELS_CACHE: dict[str, dict[str, str]] = {}


def _actor_labels() -> dict[str, str]:
    return {"web": "", "token": _("API token"), "cli": _("technician (command line)"),
            "mqtt": _("district (IOC)"), "mqtt:ioc": _("district (IOC)"), "mqtt:group": _("district (IOC), group"),
            "button": _("button in the house"), "schedule": _("schedule"), "auto-off": _("automatic switch-off"),
            # the amplifier, switched on and off around each announcement by the broadcast worker
            "system": _("the system"), "system:broadcast": _("announcement (automatic)")}


def who(actor: str | None) -> str:
    """"web:lan" -> "lan", "schedule:3" -> "lịch 3", "system:broadcast" -> "phát thông báo
    (tự động)", "mqtt:group:yen-dinh" -> "huyện (IOC), nhóm yen-dinh": the longest known
    start of the actor worded, the rest (a name) as it is. app.js's who() does the same."""
    if not actor:
        return ""
    labels, parts = actor_labels(), actor.split(":")
    for n in range(len(parts), 0, -1):
        label = labels.get(":".join(parts[:n]))
        if label is not None:
            return " ".join(part for part in (label, ":".join(parts[n:])) if part)
    return actor


def role_labels() -> dict[str, str]:
    """Web roles as the village head says them (the footer, the add-user form, Hệ thống's
    user list), in the add-user form's order; translated once per language."""
    return _per_language(_ROLES_CACHE, lambda: {"head": _("village head"), "viewer": _("viewer"), "tech": _("technician")})


_ROLES_CACHE: dict[str, dict[str, str]] = {}


def js_strings() -> dict[str, str]:
    """The few strings the page's script shows, translated on the server (once per language)."""
    return _per_language(_JS_CACHE, _js_strings)


_JS_CACHE: dict[str, dict[str, str]] = {}


def _js_strings() -> dict[str, str]:
    return {
        "on": _("On"), "off": _("Off"), "saved": _("Saved"),
        "confirm_delete": _("Delete this?"), "cancel": _("Cancel"), "delete": _("Delete"),
        "password_pending": _("has not chosen their own password yet"),
        "playing": _("Playing now"), "queue_empty": _("Nothing waiting."), "log_empty": _("No broadcasts yet."),
        "no_events": _("No events."), "offline": _("Connection lost, retrying..."),
        "no_answer": _("No answer from the house (the connection dropped); try again when the signal is back."),
        "recording": _("Recording... tap again to stop"), "record": _("Record on the phone"),
        "token_once": _("Copy this token now; it is shown only once:"),
        "sending": _("Sending..."), "sent": _("Sent to the loudspeakers."), "disconnected": _("disconnected"),
        "lost_answer": _("The connection dropped before the house answered: the announcement may have reached it. "
                         "When the signal is back, tap Broadcast again: it will not be played twice."),
        "sent_before": _("Sent: the announcement had reached the house the first time (see Recent broadcasts)."),
        "connected": _("connected"), "picture_at": _("picture at"), "revoke": _("Revoke"), "last_used": _("last used"),
        "interrupted": _("cut short by a power cut or restart"), "for_technician": _("For the technician:"),
        "cli_token": _("the langso command on this machine"),
        # a programme in the schedule list; app.js fills the %(...)s places
        "sched_relay_window": _("%(label)s on at %(start)s, off at %(end)s"), "sched_relay_on": _("%(label)s on at %(start)s"),
        "sched_read": _("Read aloud at %(start)s: %(text)s"), "sched_play": _("Play a recording at %(start)s"),
        "sched_stream_window": _("Relay from %(start)s to %(end)s: %(url)s"), "sched_stream": _("Relay from %(start)s: %(url)s"),
        "every_day": _("every day"), "days_short": _("Mon Tue Wed Thu Fri Sat Sun"), "stop": _("Stop"), "approve": _("Play it"), "in_inbox": _("Waiting for approval."),
        "approved_by": _("approved by %(who)s"),
        "recording_item": _("recording"), "recording_now": _("recording now"), "play_clip": _("Play the clip"),
        "prio_emergency": _("emergency"), "prio_priority": _("priority"), "prio_normal": _("normal"),
        "outcome_played": _("played"), "outcome_preempted": _("interrupted"), "outcome_failed": _("failed"),
        "tag_person": _("person"),
        "need_text": _("Type the announcement, or choose or record an audio file."),
        "bad_repeat": _("Repeat: choose 1 to 10 times."),
        "need_text_or_stream": _("Type the announcement, or give the address of the radio stream to relay."),
        "text_or_stream": _("Give either a text or a stream address, not both."),
        "past_time": _("At: this time has passed; choose a later time or leave it empty for now."),
        "no_microphone": _("The phone did not allow the microphone; allow it in the browser's settings."),
        "text_and_audio": _("There is both typed text and a recording (or a file): clear the text to broadcast the "
                            "recording, or tap “Drop the recording” to broadcast the text."),
        "err_csrf": stale_page(),
        "err_forbidden": _("Your account may not do this."), "err_conflict": _("Not possible right now."),
        "too_soon": _("Switched a moment ago; wait a few seconds to protect the equipment."), "err_too_large": _("The file is too large."),
        "err_type": _("This kind of file or data is not accepted."), "err_busy": _("Too many tries; wait a moment."),
        "err_unavailable": _("This part of the house is not working right now; see System."),
        "err_status": _("The house's computer could not do this (error %(code)s); try again, or tell the technician."),
        "field_text": _("Text"), "field_file": _("Audio file"), "field_repeat": _("Repeat"), "field_at": _("At"),
        "field_priority": _("Priority"), "field_start": _("From"), "field_end": _("Until"), "field_days": _("Days"),
        "field_target": _("Equipment"), "field_kind": _("What"), "field_payload": _("Content"), "field_name": _("Name"),
        "field_password": _("Password"), "field_role": _("Role"), "field_scopes": _("Scopes"), "field_state": _("State"),
        "field_stream_url": _("Stream address"), "field_id": _("Id"), "field_camera": _("Camera"),
        **{f"actor_{kind}": label for kind, label in actor_labels().items()},
        **{f"role_{role}": label for role, label in role_labels().items()},
        **{f"scope_{scope}": label for scope, label in scope_labels().items()},
    }


def stale_page() -> str:
    """A form's CSRF token refused (Flask-WTF: missing, expired, or the session that held it
    gone): said the same by the error page and by the page's script (js_strings' err_csrf)."""
    return _("This page is out of date (open too long, or the browser lost its login); reload it and try again.")


def no_words() -> str:
    """A text of emoji and signs only (kind text_no_words), from the audio wing or a request's validation."""
    return _("no words to read aloud (emoji and signs are not read); type the announcement.")


def validation_detail(error: dict) -> str:
    """A pydantic validation error (type, ctx) said for the village head, in the page's
    language; errors of other types keep the server's own (English) message."""
    ctx = {k: (", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v) for k, v in (error.get("ctx") or {}).items()}
    kind = error.get("type", "")
    if kind == "missing":
        return _("required: fill it in.")
    if kind == "string_too_short":
        return _("too short: at least %(n)s characters.", n=ctx.get("min_length", ""))
    if kind in ("string_too_long", "text_too_long"):  # text_too_long: over audio.max_text_chars
        return _("too long: at most %(n)s characters.", n=ctx.get("max_length", ""))
    if kind == "too_short":  # a list (days, scopes, ids) with too few items
        return _("choose at least %(n)s.", n=ctx.get("min_length", ""))
    if kind == "too_long":
        return _("too many: at most %(n)s.", n=ctx.get("max_length", ""))
    if kind in ("greater_than_equal", "greater_than"):
        return _("too small: at least %(n)s.", n=ctx.get("ge", ctx.get("gt", "")))
    if kind in ("less_than_equal", "less_than"):
        return _("too large: at most %(n)s.", n=ctx.get("le", ctx.get("lt", "")))
    if kind in ("literal_error", "enum"):
        return _("choose one of: %(choices)s.", choices=str(ctx.get("expected", "")).replace(" or ", ", "))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("give a whole number.")
    if kind in ("float_parsing", "float_type", "finite_number"):
        return _("give a number.")
    if kind in ("string_type",):
        return _("give a text.")
    if kind in ("bool_parsing", "bool_type"):
        return _("give true or false.")
    if kind == "extra_forbidden":
        return _("not a field of this form; leave it out.")
    if kind in ("string_pattern_mismatch", "url", "broadcast_id"):  # the last two: controller.broadcast_request
        return _("not in the right form.")
    # the house's own checks (PydanticCustomError kinds)
    if kind == "time_hhmm":
        return _("use 24-hour time HH:MM, e.g. 18:00.")
    if kind == "weekday":
        return _("days are 0 (Monday) to 6 (Sunday).")
    if kind == "text_or_stream":
        return _("give either a text to read aloud or a stream to relay, not both or neither.")
    if kind == "start_too_far":
        return _("more than a year ahead; check the date and time.")
    if kind == "text_no_words":
        return no_words()
    return str(error.get("msg", "")).removeprefix("Value error, ")


def scope_labels() -> dict[str, str]:
    """What each API scope lets a role do, as the village head says it (a 403's detail, and
    beside the scope's own name in Hệ thống's token list and form), in the form's order."""
    return _per_language(_SCOPES_CACHE, lambda: {"control": _("switch the equipment"), "broadcast": _("send announcements"),
                                                 "events:read": _("see the cameras"), "admin": _("manage the system")})


_SCOPES_CACHE: dict[str, dict[str, str]] = {}


def schedule_kind_labels() -> dict[str, str]:
    """Kinds of programme as the schedule form's list says them (a kind not here is shown as it is)."""
    return _per_language(_KINDS_CACHE, lambda: {"relay": _("switch equipment"), "broadcast": _("announcement")})


_KINDS_CACHE: dict[str, dict[str, str]] = {}


def refusal_detail(kind: str, values: dict[str, Any]) -> str | None:
    """A refusal by a part of the house (CommandError's kind and values), or why a
    broadcast ended (its log record's reason_kind and reason_values), said for the village
    head in the page's language, the field first as validation errors name it ("text:
    ..."); None for a kind not worded here (the English message stands)."""
    v = values
    if kind == "text_empty":
        return "text: " + _("empty; type the announcement.")
    if kind == "text_no_words":
        return "text: " + no_words()
    if kind == "text_too_long":
        return "text: " + _("%(length)s characters, over the limit of %(limit)s; split the announcement.",
                            length=v["length"], limit=v["limit"])
    if kind == "file_too_large":
        return "file: " + _("larger than the limit of %(limit)s MB; send a shorter recording.", limit=v["limit_mb"])
    if kind == "file_too_long":
        return "file: " + _("%(seconds)s seconds long, over the limit of %(limit)s seconds; record a shorter announcement.",
                            seconds=round(v["seconds"]), limit=round(v["limit_s"]))
    if kind == "file_empty":
        return "file: " + _("the file is empty; choose or record it again.")
    if kind == "file_no_audio":
        return "file: " + _("this file has no sound; choose an audio recording (MP3, M4A, WebM, OGG or WAV).")
    if kind == "file_unplayable":
        return "file: " + _("this file cannot be played; choose an audio recording (MP3, M4A, WebM, OGG or WAV).")
    if kind == "tts_unavailable":
        return _("no voice can read the text aloud right now; send a recording instead.")
    if kind == "audio_unavailable":
        return _("the loudspeaker part is not running.")
    if kind == "not_queued":
        return _("This announcement is no longer waiting or playing: it has ended or was cancelled.")
    if kind == "not_in_inbox":
        return _("This announcement no longer waits for approval: someone let it play or cancelled it.")
    if kind == "relay_unknown":
        return _("There is no equipment named %(name)s; reload the page.", name=v["name"])
    if kind == "relay_too_soon":
        return _("%(label)s: try again in %(seconds)s seconds.", label=v["label"], seconds=max(1, math.ceil(v["wait_s"])))
    if kind == "id_used":
        return "id: " + _("%(id)s was used by an announcement that has ended; send it with a new id.", id=v["id"])
    if kind == "order_not_queued":
        return _("Some of these announcements no longer wait in the queue (%(ids)s); reload the page and order them again.",
                 ids=v["ids"])
    if kind == "order_repeated":
        return _("The same announcement is twice in the new order; reload the page and order them again.")
    if kind == "scope_missing":
        return _("it needs the right to %(what)s, which your role does not have.",
                 what=scope_labels().get(v["scope"], v["scope"]))
    # why a broadcast ended (the log)
    if kind == "preempted_by_emergency":
        return _("an emergency announcement came first; this one plays again after it.")
    if kind == "paused_for_announcement":
        return _("paused for an announcement; the relay goes on after it for the time left.")
    if kind == "cancelled":
        return _("stopped by %(who)s.", who=who(v["who"]))
    if kind == "window_ended":
        return _("its time in the schedule ended.")
    if kind == "daemon_stopping":
        return _("the system was stopping or restarting; it plays again after the restart.")
    if kind == "stopped":
        return _("stopped.")
    if kind == "stream_ended":
        return _("the radio stream stopped after %(played)s of %(limit)s seconds.", played=v["played_s"], limit=v["limit_s"])
    if kind == "stream_reconnected":
        return _("the radio stream was cut %(cuts)s time(s) and tried again while time was left; %(played)s of "
                 "%(limit)s seconds relayed.",
                 cuts=v["cuts"], played=v["played_s"], limit=v["limit_s"])
    if kind == "window_over":
        return _("not played: its time in the schedule ended at %(end)s while it waited.", end=v["end"])
    if kind == "window_over_restart":
        return _("not played again: a power cut or restart cut it, and its time in the schedule ended at %(end)s "
                 "before the system was back.", end=v["end"])
    if kind == "source_unreachable":
        return _("the audio could not be opened (%(source)s); check the address or the file.", source=v["source"])
    if kind == "source_no_audio":
        return _("there is no sound in %(source)s.", source=v["source"])
    if kind == "source_stopped":
        return _("the audio stopped coming after %(seconds)s seconds (%(source)s).", seconds=v["seconds"], source=v["source"])
    if kind == "storage_full":
        return _("The storage of the house's computer (%(dir)s) is full, so this could not be saved. Ask the technician "
                 "to free space (e.g. delete old camera clips), then send it again.", dir=v["dir"])
    if kind == "end_is_start":
        return "end: " + _("must differ from the start; leave it empty to switch on only.")
    if kind == "schedule_kind_unknown":
        labels = schedule_kind_labels()
        return "kind: " + _("%(kind)s cannot be scheduled in this house now; reload the page and choose one of: %(choices)s.",
                            kind=labels.get(v["name"], v["name"]), choices=", ".join(labels.get(k, k) for k in v["kinds"]))
    if kind == "schedule_unknown":
        return _("This programme is no longer in the schedule: someone deleted it. Reload the page.")
    # who is asking (web.auth) and the users (the technician's page)
    if kind == "session_expired":
        return _("Your session expired; please log in again.")
    if kind == "session_password_changed":
        return _("The password was changed; log in again with the new one.")
    if kind == "password_must_change":
        return _("Your password was set by someone else: first choose your own on the page Change password (/password).")
    if kind == "password_weak":
        return "password: " + _("at least 8 characters, not a common password and not the user name.")
    if kind == "user_unknown":
        return _("There is no user named %(name)s; reload the page.", name=v["name"])
    if kind == "last_tech":
        return _("This is the last technician: add another technician first, or nobody could manage the house.")
    # API tokens (the technician's page)
    if kind == "token_name_used":
        return "name: " + _("there is already a token named %(name)s; revoke it first (in the list above) or choose "
                            "another name.", name=v["name"])
    if kind == "token_name_reserved":
        return "name: " + _("%(name)s is the name of the langso command's own token on this machine; choose another name.",
                            name=v["name"])
    if kind == "token_unknown":
        return _("This token is no longer there: someone revoked it. Reload the page.")
    if kind == "token_own":
        return _("This is the langso command's own token on this machine (renewed at each start); it cannot be "
                 "revoked. Reload the page.")
    # the cameras
    if kind == "camera_unknown":
        return "camera: " + _("there is no camera named %(name)s; reload the page.", name=v["name"])
    return None


def wants_language() -> str | None:
    lang = request.args.get("lang") or request.form.get("lang")
    return lang if lang in LANGUAGES else None
