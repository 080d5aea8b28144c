"""Typed commands: the web page, the API, MQTT, buttons, the scheduler and the CLI all
build these and hand them to `House.handle()`; there is no second code path."""
from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class Actor:
    """Who asked: kind is web / token / mqtt / button / schedule / cli / auto-off / system."""

    kind: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind


SYSTEM = Actor("system")


class CommandError(Exception):
    """A command was refused; `status` is the HTTP-like code (400 bad input, 404 unknown,
    409 conflict such as min_interval_s, 503 part unavailable, 507 the disk is full). `message` is the English
    said to programs and logs (API, MQTT, CLI); `kind` and `values`, when given, say the
    same for machines, as pydantic's error type and ctx do (e.g. kind "text_too_long",
    length=6000, limit=5000): the web words known kinds in the page's language."""

    def __init__(self, message: str, status: int = 400, kind: str = "", **values: Any):
        super().__init__(message)
        self.message = message
        self.status = status
        self.kind = kind
        self.values = values

    def data(self) -> dict[str, Any]:
        """`{"kind", "values"}` for programs (the API's JSON, the MQTT reply); {} without a kind."""
        return {"kind": self.kind, "values": self.values} if self.kind else {}


STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def is_storage_full(err: BaseException) -> bool:
    """A write refused by a full disk: an OSError ENOSPC/EDQUOT (EFBIG: a file may not grow,
    as under RLIMIT_FSIZE), or SQLite's "database or disk is full" / "disk I/O error"."""
    if isinstance(err, OSError):
        return err.errno in STORAGE_ERRNOS
    return isinstance(err, sqlite3.Error) and getattr(err, "sqlite_errorname", "").startswith(("SQLITE_FULL", "SQLITE_IOERR"))


def storage_full(directory: str | Path, err: BaseException | str) -> CommandError:
    """The refusal of a request that could not be stored because the disk is full (507,
    kind "storage_full"): the same words on the API, over MQTT and in the CLI."""
    return CommandError(f"storage: cannot save this: writing to {directory} (storage.dir) failed ({err}); the disk is "
                        "full: free space there (e.g. old camera clips), then send it again",
                        507, "storage_full", dir=str(directory), error=str(err))


@dataclass(frozen=True)
class SetRelay:
    name: str
    action: Literal["on", "off", "toggle"]
    actor: Actor = field(default=SYSTEM)
    force: bool = False  # safety actions only: auto-off, amplifier sequencing


Priority = Literal["emergency", "priority", "normal"]  # khẩn cấp / ưu tiên / thông thường (TT 39/2020/TT-BTTTT)
MAX_REPEAT = 10   # times one announcement may be played in a row (page, API, MQTT, schedules)


@dataclass(frozen=True)
class Broadcast:
    """Queue one announcement. Exactly one of text / audio_path / audio_url / stream_url."""

    id: str = ""                      # caller's id (MQTT "id"); generated when empty
    text: str = ""
    audio_path: str = ""              # an uploaded file already saved by the caller
    audio_url: str = ""
    stream_url: str = ""
    priority: Priority = "normal"
    repeat: int = 1
    at: float | None = None           # epoch seconds; None = as soon as its priority allows
    duration_s: float | None = None   # for streams: stop after this long
    actor: Actor = field(default=SYSTEM)


@dataclass(frozen=True)
class CancelBroadcast:
    id: str
    actor: Actor = field(default=SYSTEM)
