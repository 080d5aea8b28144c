"""Typed commands: the web page, the API, MQTT, buttons, the scheduler and the CLI all
build these and hand them to `House.handle()`; there is no second code path."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


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
    409 conflict such as min_interval_s, 503 part unavailable)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class SetRelay:
    name: str
    action: Literal["on", "off", "toggle"]
    actor: Actor = field(default=SYSTEM)
    force: bool = False  # safety actions only: auto-off, amplifier sequencing
