"""Config section owned by the audio wing ([audio])."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


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
    # --- beyond the DESIGN.md keys (all optional) ---
    abbreviations: dict[str, str] = Field(
        default_factory=dict,
        description='extra abbreviations spelled out before speech, e.g. {"KDC" = "khu dân cư"}; added to the built-in table',
    )
    espeak_voice: str = Field("vi", min_length=1, description="espeak-ng voice (vi, vi-vn-x-central, vi-vn-x-south)")
    gtts_timeout_s: float = Field(4.0, gt=0, le=30, description="gTTS connect/read timeout; an offline village must not wait")
    gtts_url: str = Field("", description="base URL standing in for https://translate.google.com (a local mirror); empty = Google")
    piper_model: str = Field("", description="piper voice model (.onnx) file; needed when 'piper' is in tts")
    piper_bin: str = Field("piper", min_length=1, description="the piper executable")
    breaker_failures: int = Field(2, ge=1, le=20, description="consecutive failures that open an engine's circuit breaker")
    breaker_cooldown_s: float = Field(300.0, ge=1, le=86400, description="how long an open breaker skips its engine")
    cache_mb: int = Field(200, ge=1, le=10000, description="TTS cache size bound (oldest used entries are evicted)")
    sample_rate: int = Field(44100, ge=8000, le=96000, description="output sample rate; everything is resampled to it")
    max_text_chars: int = Field(5000, ge=10, le=100000, description="longest announcement text accepted")
    max_upload_mb: int = Field(30, ge=1, le=500, description="largest uploaded recording accepted")
    max_audio_s: float = Field(1800.0, ge=1, description="longest uploaded recording accepted (seconds)")
    max_stream_s: float = Field(3600.0, ge=1, description="a stream relay stops after this long unless duration_s is shorter")
    stream_timeout_s: float = Field(10.0, gt=0, le=120, description="a stream that does not answer (or stalls) this long fails")
    quiet_hours: str = Field("", description='e.g. "22:00-05:00": only emergency broadcasts play in this window; empty = none')
    inbox_sources: list[str] = Field(
        default_factory=lambda: ["mqtt", "token"],
        description="normal-priority items from these sources (the district) wait in the inbox for the village head",
    )
    buffer_s: float = Field(1.0, ge=0.05, le=5, description="audio queued ahead of the sound card: rides out CPU spikes "
                            "(a camera being analysed); a stop still cuts at once")
    repeat_gap_s: float = Field(1.5, ge=0, le=60, description="silence between repeats of an item")

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError('must be "HH:MM-HH:MM", e.g. "22:00-05:00", or empty')
        return value

    @model_validator(mode="after")
    def _piper(self) -> "AudioConfig":
        if "piper" in self.tts and not self.piper_model:
            raise ValueError("tts lists 'piper' but piper_model is empty; set piper_model to the voice .onnx file")
        return self

    @property
    def wav_dir(self) -> str | None:
        """The directory of the WAV sink when output = "wav:DIR", else None."""
        return self.output[4:] if self.output.startswith("wav:") else None
