"""Speech for an announcement: normalise, split at sentence boundaries, and for each
part ask the engine chain (first that works wins) through a cache. A failing engine is
skipped by its circuit breaker, so an offline village does not wait on the network
sentence after sentence."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from audio.normalize import has_words, normalize
from audio.tts_engines import Engine, EngineFailed

logger = logging.getLogger(__name__)


class SpeechFailed(Exception):
    """No speech; `kind` "tts_unavailable" when no engine worked (a log record's reason_kind)."""

    def __init__(self, message: str, kind: str = "tts_unavailable"):
        super().__init__(message)
        self.kind, self.values = kind, {}


def split_sentences(text: str, max_chars: int = 250) -> list[str]:
    """Sentence-sized parts; a very long sentence is cut at commas, then at spaces."""
    parts: list[str] = []
    for sentence in re.split(r"(?<=[.!?;…])\s+|\n+", text):
        sentence = sentence.strip()
        while len(sentence) > max_chars:
            cut = sentence.rfind(",", 0, max_chars)
            cut = cut if cut > max_chars // 3 else sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            parts.append(sentence[: cut + 1].strip())
            sentence = sentence[cut + 1:].strip()
        if sentence:
            parts.append(sentence)
    return parts


@dataclass
class Breaker:
    """Opens after `failures` failures in a row; while open the engine is skipped; after
    `cooldown_s` one attempt is let through (half-open)."""

    failures: int = 2
    cooldown_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    count: int = 0
    opened_at: float | None = None
    last_error: str = ""

    def allow(self) -> bool:
        return self.opened_at is None or self.clock() - self.opened_at >= self.cooldown_s

    def ok(self) -> None:
        self.count, self.opened_at, self.last_error = 0, None, ""

    def failed(self, reason: str) -> None:
        self.count += 1
        self.last_error = reason
        if self.count >= self.failures:
            self.opened_at = self.clock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.allow() else "open"


class TtsCache:
    """Encoded audio keyed by engine, voice and normalised text; bounded in bytes, the
    least recently used entries go first."""

    def __init__(self, directory: Path, max_bytes: int):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        for tmp in self.dir.glob("*.tmp"):  # a write cut by a power loss
            tmp.unlink(missing_ok=True)

    @staticmethod
    def key(engine: str, voice: str, text: str) -> str:
        return hashlib.sha256(f"{engine}\0{voice}\0{text}".encode()).hexdigest()[:32]

    def get(self, engine: Engine, text: str) -> Path | None:
        path = self.dir / (self.key(engine.name, engine.voice, text) + engine.suffix)
        if path.exists():
            os.utime(path)  # most recently used
            return path
        return None

    def put(self, engine: Engine, text: str, data: bytes) -> Path | bytes:
        """The cached file; or, when it cannot be written (a full disk), the audio itself:
        the announcement plays from memory, it is only not cached."""
        path = self.dir / (self.key(engine.name, engine.voice, text) + engine.suffix)
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            logger.warning("tts cache not written dir=%s error=%r (the speech plays from memory)", self.dir, str(err))
            return data
        self._evict()
        return path

    def _evict(self) -> None:
        with self._lock:
            files = sorted((p.stat().st_mtime, p.stat().st_size, p) for p in self.dir.iterdir() if p.suffix != ".tmp")
            total = sum(size for _, size, _ in files)
            for _, size, path in files[:-1]:
                if total <= self.max_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= size

    def stats(self) -> dict[str, int]:
        files = [p for p in self.dir.iterdir() if p.suffix != ".tmp"]
        return {"entries": len(files), "bytes": sum(p.stat().st_size for p in files), "max_bytes": self.max_bytes}


@dataclass
class Speech:
    """The engine chain with its cache and breakers."""

    engines: Sequence[Engine]
    cache: TtsCache
    abbreviations: Mapping[str, str] = field(default_factory=dict)
    breaker_failures: int = 2
    breaker_cooldown_s: float = 300.0

    def __post_init__(self) -> None:
        self.breakers = {e.name: Breaker(self.breaker_failures, self.breaker_cooldown_s) for e in self.engines}
        self._lock = threading.Lock()

    def normalize(self, text: str) -> str:
        return normalize(text, self.abbreviations)

    def parts(self, text: str) -> list[str]:
        """The sentences to speak; a line of signs only ("---", "(…)", "* * *") is none."""
        return [part for part in split_sentences(self.normalize(text)) if has_words(part)]

    def render_part(self, spoken: str) -> Path | bytes:
        """One normalised part -> a cached audio file (the audio itself when the cache
        cannot be written), from the first engine that works."""
        for engine in self.engines:
            hit = self.cache.get(engine, spoken)
            if hit is not None:
                return hit
        engine, data = self._synthesize(spoken)
        return self.cache.put(engine, spoken, data)

    def synthesize_fresh(self, text: str) -> str:
        """Synthesise `text` through the chain, bypassing the cache (self-test); returns
        the name of the engine that spoke."""
        return self._synthesize(self.normalize(text))[0].name

    def _synthesize(self, spoken: str) -> tuple[Engine, bytes]:
        reasons = []
        for engine in self.engines:
            breaker = self.breakers[engine.name]
            with self._lock:
                allowed = breaker.allow()
            if not allowed:
                reasons.append(f"{engine.name}: skipped, breaker open ({breaker.last_error})")
                continue
            started = time.monotonic()
            try:
                data = engine.synthesize(spoken)
            except EngineFailed as err:
                with self._lock:
                    breaker.failed(str(err))
                logger.warning("tts engine failed engine=%s seconds=%.2f breaker=%s error=%r",
                               engine.name, time.monotonic() - started, breaker.state, str(err))
                reasons.append(f"{engine.name}: {err}")
                continue
            with self._lock:
                breaker.ok()
            logger.info("tts rendered engine=%s chars=%d seconds=%.2f", engine.name, len(spoken), time.monotonic() - started)
            return engine, data
        raise SpeechFailed("no TTS engine worked: " + "; ".join(reasons))

    def render(self, text: str) -> Iterator[Path | bytes]:
        """Audio files for each sentence of `text`, rendered one ahead of the consumer:
        while part N plays, part N+1 is synthesised."""
        parts = self.parts(text)
        if not parts:
            raise SpeechFailed("text: nothing to say after normalisation", "")
        lookahead: dict[int, tuple[Path | bytes | None, Exception | None]] = {}
        ready = threading.Condition()

        def work() -> None:
            for i, part in enumerate(parts):
                try:
                    result: tuple[Path | bytes | None, Exception | None] = (self.render_part(part), None)
                except Exception as err:  # handed to the consumer
                    result = (None, err)
                with ready:
                    lookahead[i] = result
                    ready.notify_all()
                    while len(lookahead) > 1 and not stop.is_set():  # at most one part ahead
                        ready.wait(0.5)
                if result[1] is not None or stop.is_set():
                    return

        stop = threading.Event()
        worker = threading.Thread(target=work, name="tts-render", daemon=True)
        worker.start()
        try:
            for i in range(len(parts)):
                with ready:
                    while i not in lookahead:
                        ready.wait(0.5)
                    path, error = lookahead.pop(i)
                    ready.notify_all()
                if error is not None:
                    raise error
                assert path is not None
                yield path
        finally:
            stop.set()
            with ready:
                ready.notify_all()

    def render_all(self, text: str) -> list[Path | bytes]:
        return [self.render_part(part) for part in self.parts(text)]

    def status(self) -> dict[str, object]:
        return {
            "engines": [{"name": e.name, "voice": e.voice, "breaker": self.breakers[e.name].state,
                         "last_error": self.breakers[e.name].last_error} for e in self.engines],
            "cache": self.cache.stats(),
        }
