"""Config section owned by the audio wing ([audio])."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AudioConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    amp_relay: str = Field("amp", description="relay switched on before and off after a broadcast; empty = none")
    amp_warmup_s: float = Field(2.0, ge=0, le=30, description="wait after the amplifier is switched on")
    amp_tail_s: float = Field(5.0, ge=0, le=300, description="keep the amplifier on this long after the last item")
    output: str = Field(
        "default",
        min_length=1,
        description='PyAudio device name or index, or "wav:DIR" to write WAV files (simulation)',
    )
    tts: list[Literal["gtts", "espeak", "piper"]] = Field(
        default_factory=lambda: ["gtts", "espeak"],
        min_length=1,
        description="TTS engine chain; the first that works wins, with a cache in front",
    )
    chime: bool = Field(True, description="play a chime before and after each announcement")
    volume: int = Field(80, ge=0, le=100, description="output volume in percent")
