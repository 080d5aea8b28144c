"""The speech engines behind one small protocol: `name`, `voice`, `suffix` and
`synthesize(text) -> bytes` (a whole encoded audio file). gTTS is online (Google),
espeak-ng and piper are offline executables. Each raises `EngineFailed` with a reason."""
from __future__ import annotations

import io
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)

GOOGLE = "https://translate.google.com"


class EngineFailed(Exception):
    pass


class Engine(Protocol):
    name: str
    voice: str
    suffix: str

    def synthesize(self, text: str) -> bytes: ...
    def check(self) -> str: ...  # "" = can run here; else what is missing and how to fix it


class EspeakEngine:
    """espeak-ng (Debian package espeak-ng): offline, robotic but always there."""

    name, suffix = "espeak", ".wav"

    def __init__(self, voice: str = "vi", timeout_s: float = 60.0, binary: str = "espeak-ng"):
        self.voice, self.timeout_s, self.binary = voice, timeout_s, binary

    def check(self) -> str:
        return "" if shutil.which(self.binary) else f"{self.binary} is not installed (apt-get install espeak-ng)"

    def synthesize(self, text: str) -> bytes:
        if problem := self.check():
            raise EngineFailed(problem)
        return _run_wav("espeak-ng", [self.binary, "-v", self.voice, "--stdout"], text, self.timeout_s)


class GttsEngine:
    """Google Translate's voice through gTTS: natural Vietnamese, needs the network.
    gTTS waits forever by default; here every request has `timeout_s`, and the audio is
    collected in memory so a failure never leaves a 0-byte file behind."""

    name, suffix = "gtts", ".mp3"

    def __init__(self, voice: str = "vi", timeout_s: float = 4.0, base_url: str = ""):
        self.voice, self.timeout_s, self.base_url = voice, timeout_s, base_url.rstrip("/")

    def check(self) -> str:
        return ""  # only a request tells whether the network is there; the breaker keeps score

    def synthesize(self, text: str) -> bytes:
        from gtts import gTTS, gTTSError

        tts = gTTS(text, lang=self.voice, timeout=(self.timeout_s, self.timeout_s), lang_check=False)
        if self.base_url:  # a local mirror (or the test's stand-in server) instead of Google
            prepare = tts._prepare_requests

            def prepared():
                reqs = prepare()
                for req in reqs:
                    req.url = req.url.replace(GOOGLE, self.base_url, 1)
                return reqs

            tts._prepare_requests = prepared  # type: ignore[method-assign]
        buf = io.BytesIO()
        try:
            tts.write_to_fp(buf)
        except (gTTSError, OSError) as err:
            raise EngineFailed(f"gTTS: {err}") from err
        except AssertionError as err:  # gTTS asserts there are words ("No text to send to TTS API")
            raise EngineFailed(f"gTTS: {err}") from err
        if not buf.getvalue():
            raise EngineFailed("gTTS returned no audio")
        return buf.getvalue()


class PiperEngine:
    """piper (neural, offline) when a voice model file is configured."""

    name, suffix = "piper", ".wav"

    def __init__(self, model: str, binary: str = "piper", timeout_s: float = 120.0):
        self.voice, self.binary, self.timeout_s = model, binary, timeout_s

    def check(self) -> str:
        if not Path(self.voice).is_file():
            return (f"audio.piper_model: voice model {self.voice!r} not found; copy the .onnx voice "
                    "(with its .onnx.json) there, or remove 'piper' from audio.tts")
        if shutil.which(self.binary) is None:
            return (f"audio.piper_bin: {self.binary!r} not found; install piper-tts (pip install piper-tts) "
                    "or remove 'piper' from audio.tts")
        return ""

    def synthesize(self, text: str) -> bytes:
        if problem := self.check():
            raise EngineFailed(problem)
        return _run_wav("piper", [self.binary, "--model", self.voice, "--output_file", "-"], text, self.timeout_s)


def _run_wav(name: str, argv: list[str], text: str, timeout_s: float) -> bytes:
    """Run an offline engine with the text on stdin; its WAV comes on stdout."""
    try:
        done = subprocess.run(argv, input=text.encode(), capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as err:
        raise EngineFailed(f"{name} took longer than {timeout_s:.0f} s") from err
    if done.returncode != 0 or len(done.stdout) <= 44:
        raise EngineFailed(f"{name} failed (exit {done.returncode}): {done.stderr.decode(errors='replace').strip()[:200]}")
    return done.stdout
