"""The audio wing as the daemon sees it: `Broadcasts` builds the speech chain, the queue
and the worker from the [audio] section, and offers what App plugs into the house
(status, self-test, the "broadcast" schedule kind, preview, uploads)."""
from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Callable

import numpy as np

from audio.broadcast import BroadcastQueue, BroadcastRefused, checked_text
from audio.broadcast_items import Reason, RetryFactory
from audio.broadcast_worker import BroadcastWorker
from audio.config import AudioConfig
from audio.media import decode, encode
from audio.player import make_sink
from audio.tts import Speech, SpeechFailed, TtsCache
from audio.tts_engines import Engine, EspeakEngine, GttsEngine, PiperEngine

logger = logging.getLogger(__name__)

PRERENDER_EVERY_S = 600.0


def build_speech(config: AudioConfig, cache_dir: Path) -> Speech:
    engines: list[Engine] = []
    for name in config.tts:
        if name == "gtts":
            engines.append(GttsEngine("vi", config.gtts_timeout_s, config.gtts_url))
        elif name == "espeak":
            engines.append(EspeakEngine(config.espeak_voice))
        elif name == "piper":
            engines.append(PiperEngine(config.piper_model, config.piper_bin))
    return Speech(engines, TtsCache(cache_dir, config.cache_mb * 2**20), config.abbreviations,
                  config.breaker_failures, config.breaker_cooldown_s)


SAY_RATE = 22050  # speech on its own (preview, `langso tts say`): plenty for a voice


def speak(speech: Speech, text: str, rate: int, max_chars: int) -> np.ndarray:
    """The whole text through the chain as one PCM block (the phone's preview, `langso
    tts say`). Refused like a broadcast: empty, too long, nothing left to say (400), no
    engine could speak (503)."""
    text = checked_text(text, max_chars)
    try:
        blocks = [b for part in speech.render_all(text) for b in decode(part, rate)]
    except SpeechFailed as err:
        raise BroadcastRefused(str(err), 503, "tts_unavailable") from err
    if not blocks:
        raise BroadcastRefused("text: nothing to say after normalisation")
    return np.concatenate(blocks)


class Broadcasts:
    """`house.broadcasts`: the queue's requests plus the wing's lifecycle."""

    def __init__(self, config: AudioConfig, db: Any, data_dir: Path, tz: tzinfo,
                 publish: Callable[[str, dict[str, Any]], None], amp: Callable[[bool], None] | None,
                 programme_texts: Callable[[], list[str]] = list, *,
                 write_retry: RetryFactory):
        """`write_retry`: for the queue's store while a full disk refuses writes (audio/broadcast_items.ItemStore)."""
        self.config = config
        self.speech = build_speech(config, data_dir / "tts-cache")
        self.queue = BroadcastQueue(config, db, data_dir, tz, publish, write_retry=write_retry)
        self.worker = BroadcastWorker(config, self.queue, self.speech, lambda: make_sink(config.output, config.buffer_s), amp)
        self.tz = tz
        self._programme_texts = programme_texts
        self._prerender: queue.Queue[str] = queue.Queue(maxsize=200)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # requests, straight from the queue
        self.cancel, self.approve = self.queue.cancel, self.queue.approve
        self.reorder, self.listing, self.save_upload = self.queue.reorder, self.queue.listing, self.queue.save_upload

    def start(self) -> None:
        self.queue.drop_ended()  # windows that ended while the daemon was down (the uplink listens: the IOC hears it)
        self.worker.start()
        self._thread = threading.Thread(target=self._render_ahead, name="tts-ahead", daemon=True)
        self._thread.start()
        logger.info("broadcasts started output=%s tts=%s", self.config.output, ",".join(self.config.tts))

    def stop(self) -> None:
        self._stop.set()
        self.worker.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.queue.items.close()
        logger.info("broadcasts stopped")

    def submit(self, **request: Any) -> dict[str, Any]:
        """The queued item; while the output is known unusable it is queued all the same
        (it plays once the card works) and the reply carries a `warning` saying so."""
        item = self.queue.submit(**request)
        if item["kind"] == "text" and (item["state"] == "inbox" or (item["at"] or 0) > time.time()):
            self.prerender(item["text"])  # rendered now, while the link is up
        problem = self.worker.output_problem
        if problem:
            item["warning"] = (f"the sound output does not work: {problem}. This broadcast waits in the queue "
                               "and plays once it works; see `langso status`")
        return item

    # render ahead: scheduled and queued texts play even when the link is down ------
    def _render_ahead(self) -> None:
        last_sweep = 0.0
        while not self._stop.wait(0.2):
            if time.monotonic() - last_sweep >= PRERENDER_EVERY_S:
                last_sweep = time.monotonic()
                for text in self._texts_ahead():
                    self.prerender(text)
            try:
                text = self._prerender.get_nowait()
            except queue.Empty:
                continue
            try:
                self.speech.render_all(text)
            except Exception as err:  # no engine, a full disk: it is rendered again when it plays
                logger.warning("render ahead failed chars=%d error=%r", len(text), str(err))

    def _texts_ahead(self) -> list[str]:
        try:
            return self.queue.texts_ahead() + list(self._programme_texts())
        except Exception as err:
            logger.error("render ahead: cannot list texts error=%r", str(err))
            return []

    def prerender(self, text: str) -> None:
        try:
            self._prerender.put_nowait(text)
        except queue.Full:
            logger.warning("render ahead queue full, skipped chars=%d", len(text))

    # what the house shows ---------------------------------------------------------
    def _problems(self, tts: dict[str, Any], missing: list[str]) -> list[str]:
        """From the speech chain's status and each engine's check() (what it lacks, "" if nothing)."""
        problems = [p for p in (self.worker.problem,) if p]
        if stored := self.queue.items.problem():
            problems.append(f"storage: {stored}")
        if self.worker.output_problem:
            problems.append(f"audio output {self.config.output!r} unusable: {self.worker.output_problem}; "
                            "broadcasts wait in the queue and play once it works")
        for engine in tts["engines"]:
            if engine["breaker"] != "closed":
                problems.append(f"tts {engine['name']} skipped (breaker {engine['breaker']}): {engine['last_error']}")
        if missing and all(missing):
            problems.append("no TTS engine can run here: " + "; ".join(missing))
        return problems

    def status(self) -> dict[str, Any]:
        listing = self.queue.listing(0)
        playing = listing["playing"]
        tts = self.speech.status()
        missing = [e.check() for e in self.speech.engines]  # a PATH search or a stat each: once per status
        for row, lacks in zip(tts["engines"], missing):  # type: ignore[arg-type]
            row["usable"] = not lacks
        return {
            "playing": None if playing is None else {k: playing[k] for k in ("id", "kind", "priority", "who")},
            "queue": len(listing["queue"]), "inbox": len(listing["inbox"]),
            "output": self.config.output, "output_usable": not self.worker.output_problem, "amp_relay": self.config.amp_relay or None,
            "quiet_now": self.queue.quiet_now(), "tts": tts, "underruns": self.worker.underruns,
            "last_failure": self.worker.last_failure, "unwritten_records": self.queue.items.unwritten(),
            "problems": self._problems(tts, missing),
        }

    def selftest(self) -> tuple[bool, str]:
        return self.worker.selftest()

    def selftest_tts(self) -> tuple[bool, str]:
        """Each engine of the chain: can it run here, and its breaker; a short phrase is
        synthesised through the chain (the cache is bypassed so the engine really runs)."""
        parts = []
        for engine, row in zip(self.speech.engines, self.speech.status()["engines"]):  # type: ignore[arg-type]
            problem = engine.check()
            parts.append(f"{engine.name}: {problem or 'ready'} (breaker {row['breaker']})")
        try:
            engine_name = self.speech.synthesize_fresh("Thử loa")
        except SpeechFailed as err:
            return False, f"no engine could speak ({err}); " + "; ".join(parts)
        return True, f"spoke with {engine_name}; " + "; ".join(parts)

    def preview(self, text: str) -> bytes:
        """The spoken text as a small MP3 for the phone's preview button."""
        return encode(speak(self.speech, text, SAY_RATE, self.config.max_text_chars), SAY_RATE)

    # the "broadcast" schedule kind --------------------------------------------------
    def fire_programme(self, due: Any) -> None:
        """A programme edge (controller.scheduler.Due, duck-typed; `due.at` is the edge's own
        time, also when it fires late). Payload: one of text / audio_path / stream_url, plus
        priority and repeat. A window (start-end) relays a stream until its end (at most
        audio.max_stream_s: a longer window is cut there, as its creator was told): the item
        carries the end (`until`), so it never plays past it, not even after a restart; the
        end edge stops it. The item's id names the occurrence, so a start fired again (a
        restart inside the window) finds what it started instead of queueing a copy."""
        p = due.programme
        start = due.at.astimezone(self.tz)
        item_id = f"sched-{p.id}-{start.strftime('%Y%m%d-%H%M')}"
        if due.edge == "end":
            if getattr(due, "missed", False):
                return  # an end passed while the daemon was down: its items carry `until` and stop there themselves
            for item in self.queue.listing(0)["queue"] + [self.queue.listing(0)["playing"] or {}]:
                if str(item.get("id", "")).startswith(f"sched-{p.id}-"):
                    self.queue.stop_if_from(item["id"], f"schedule:{p.id}",
                                            Reason(f"schedule window {p.id} ended", "window_ended", {"schedule": p.id}))
            return
        if self.queue.get(item_id) is not None:
            logger.info("schedule start already handled id=%s (queued, playing or done)", item_id)
            return
        payload = p.payload_dict()
        stream = bool(payload.get("stream_url"))
        duration = float(payload["duration_s"]) if stream and payload.get("duration_s") else None
        until = None
        if p.end is not None:
            end = datetime.combine(start.date(), p.end, self.tz)
            end += timedelta(days=1) if end <= start else timedelta(0)
            until = end.timestamp()
            left = until - self.queue.clock()
            if left <= 0:
                logger.info("schedule window already over id=%s", item_id)
                return
            duration = min(duration or left, left) if stream else None
        if duration is not None and duration > self.config.max_stream_s:  # its creator was told (web/api_schedules.py)
            logger.warning("schedule relay cut id=%s wanted_s=%.0f max_stream_s=%.0f", item_id, duration, self.config.max_stream_s)
            duration = self.config.max_stream_s
        self.submit(id=item_id, text=str(payload.get("text", "")), audio_path=str(payload.get("audio_path", "")),
                    stream_url=str(payload.get("stream_url", "")), priority=str(payload.get("priority", "normal")),
                    repeat=int(payload.get("repeat", 1)), duration_s=duration, until=until,
                    source="schedule", who=f"schedule:{p.id}")
