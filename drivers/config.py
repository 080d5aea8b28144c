"""Config sections owned by the drivers wing: pin factory, relays, buttons."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
BcmPin = Field(ge=2, le=27, description="BCM GPIO number (2-27 on a Raspberry Pi header)")


class Section(BaseModel):
    """Base for every config section: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GpioConfig(Section):
    pin_factory: Literal["auto", "lgpio", "mock"] = Field(
        "auto",
        description="auto = lgpio on a Pi, refused elsewhere; lgpio = real pins; "
        "mock = gpiozero MockFactory (simulation, as in `langso demo`)",
    )


class RelayConfig(Section):
    name: str = Field(pattern=NAME_PATTERN, description='relay name, e.g. "tv", "radio", "amp"')
    pin: int = BcmPin
    active_high: bool = Field(False, description="most relay boards are active-low (false)")
    power_on: Literal["off", "on", "restore"] = Field(
        "off", description="state at start: off, on, or restore the last state from the store"
    )
    min_interval_s: float = Field(
        5.0, ge=0, le=3600, description="refuse switching faster than this (protects TVs and amplifiers)"
    )
    max_on_s: float = Field(0, ge=0, le=7 * 86400, description="switch off automatically after this long on; 0 = never")
    label: str = Field("", max_length=60, description="name shown on the phone page (e.g. Tivi)")


class ButtonConfig(Section):
    pin: int = BcmPin
    relay: str = Field(pattern=NAME_PATTERN, description="the relay this push button toggles")
    pull_up: bool = Field(True, description="true: button connects the pin to ground")
    bounce_s: float = Field(0.05, ge=0, le=1, description="debounce time")
