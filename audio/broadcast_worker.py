"""The one thread that owns the sound output and the amplifier: takes items from the
queue in order and plays them — amplifier on → warm-up → chime → item × repeat →
chime → (next items) → tail → amplifier off, the amplifier inside try/finally and
forced off at start.

The output is checked at start (silently, `AudioSink.check`). While it is unusable —
no sound card, a USB card unplugged — the worker takes nothing from the queue and
checks again every OUTPUT_RECHECK_S: items wait, nothing is failed or lost, and they
play once the card is back."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterator

import numpy as np

from audio.broadcast import BroadcastQueue
from audio.broadcast_items import Item, Reason
from audio.config import AudioConfig
from audio.media import MediaError, chime, decode, silence, tone
from audio.player import AudioSink, HardwareUnavailable, apply_volume
from audio.relay import Relay
from audio.tts import Speech, SpeechFailed

logger = logging.getLogger(__name__)

BLOCK = 2048  # samples written at a time: a stop is heard within ~50 ms
OUTPUT_RECHECK_S = 30.0  # while the output is unusable, look for it again this often


class Stopped(Exception):
    pass


class BroadcastWorker:
    def __init__(self, config: AudioConfig, queue: BroadcastQueue, speech: Speech, sink_factory: Callable[[], AudioSink],
                 amp: Callable[[bool], None] | None):
        self.config, self.queue, self.speech = config, queue, speech
        self.sink_factory, self.amp = sink_factory, amp
        self.rate = config.sample_rate
        self.output_lock = threading.Lock()
        self.problem = ""
        self.output_problem = ""  # why the output is unusable ("" = it was usable when last tried)
        self._output_checked = 0.0  # time.monotonic() of the last check
        # {id, reason, at, reason_kind, reason_values}: what a technician looks for first
        self.last_failure: dict[str, object] | None = None
        self.underruns = 0  # blocks that reached the card after it had run dry, since start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        self._switch_amp(False)  # forced off at start, whatever a crash left behind
        self.check_output()  # so the first `langso status` already says when the sound card is missing
        self._thread = threading.Thread(target=self._run, name="broadcast", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.queue.stop_current.set()
        with self.queue.changed:
            self.queue.changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def alive(self) -> bool:
        """The worker thread runs (the daemon's watchdog asks)."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._pass()
            except Exception as err:  # a database error, a bug: say so, keep the worker alive
                self.problem = f"broadcast worker error: {type(err).__name__}: {err}"
                logger.exception("broadcast worker pass failed")
                self._stop.wait(1.0)

    def _pass(self) -> None:
        """One turn of the worker: wait for the output while it is unusable, else play the
        next session, if any."""
        self.queue.items.retry()  # records a full disk kept in memory, once space returns
        if self.output_problem:
            if time.monotonic() - self._output_checked >= OUTPUT_RECHECK_S and self.output_lock.acquire(blocking=False):
                try:  # never while a self-test plays the tone: one user of the device at a time
                    self.check_output()
                finally:
                    self.output_lock.release()
            if self.output_problem:  # the queue waits for the card
                self._stop.wait(min(1.0, OUTPUT_RECHECK_S))
                return
        item = self.queue.take_next()
        if item is None:
            self.queue.wait_change(0.5)
            return
        self._session(item)

    def _session(self, first: Item) -> None:
        """Amplifier on for a run of items, off after the tail, always."""
        started = time.monotonic()
        played = 0
        with self.output_lock:
            try:
                self._switch_amp(True)
                self._stop.wait(self.config.amp_warmup_s)
                item: Item | None = first
                while item is not None:
                    played += self._play(item)
                    item = self.queue.take_next() if self._may_play() else None
                    deadline = time.monotonic() + self.config.amp_tail_s
                    while item is None and self._may_play() and time.monotonic() < deadline:
                        self.queue.wait_change(min(0.2, max(0.0, deadline - time.monotonic())))
                        item = self.queue.take_next()
            finally:
                self._switch_amp(False)
        logger.info("broadcast session ended items=%d seconds=%.1f", played, time.monotonic() - started)

    def _may_play(self) -> bool:
        return not self._stop.is_set() and not self.output_problem

    # the output ----------------------------------------------------------------
    def check_output(self) -> str:
        """Is the output usable now? Asked at start and, while it is not, every
        OUTPUT_RECHECK_S; "" = yes, else what is wrong (also in `output_problem`)."""
        try:
            problem = self.sink_factory().check(self.rate)
        except Exception as err:  # a check must never stop the worker
            problem = f"{type(err).__name__}: {err}"
        self._output_state(problem)
        return problem

    def _output_state(self, problem: str) -> None:
        """Record what the last check, open or self-test found; log only the changes."""
        self._output_checked = time.monotonic()
        if problem and problem != self.output_problem:
            logger.error("audio output unusable output=%s error=%r (broadcasts wait in the queue; checked again every %g s)",
                         self.config.output, problem, OUTPUT_RECHECK_S)
        elif not problem and self.output_problem:
            logger.info("audio output usable again output=%s", self.config.output)
            with self.queue.changed:
                self.queue.changed.notify_all()
        self.output_problem = problem

    def _switch_amp(self, on: bool) -> None:
        if self.amp is None:
            return
        try:
            self.amp(on)
            if self.problem.startswith("amplifier"):
                self.problem = ""
        except Exception as err:  # play anyway; status says the amplifier relay failed
            self.problem = f"amplifier relay {self.config.amp_relay!r} could not switch {'on' if on else 'off'}: {err}"
            logger.error("amp switch failed on=%s error=%r", on, str(err))

    # one item ------------------------------------------------------------------
    def _play(self, item: Item) -> int:
        """Play `item`; 1 if it was tried, 0 if the output could not be opened (the item
        waits in the queue again, with no log record: it has not played)."""
        started = time.time()
        stop = self.queue.stop_current
        sink = self.sink_factory()
        played_s = 0.0
        limit = item.stream_limit(self.config.max_stream_s, self.queue.clock())  # streams: duration, window end
        relay = (Relay(item.id, item.stream_url, self.rate, limit, self.config.stream_timeout_s)
                 if item.kind == "stream" and item.until is not None else None)  # a scheduled window: tried again
        logger.info("broadcast playing id=%s kind=%s priority=%s repeat=%d", item.id, item.kind, item.priority, item.repeat)
        try:
            sink.open(item.id, self.rate)
        except (HardwareUnavailable, OSError) as err:
            self._output_state(str(err) or type(err).__name__)
            if stop.is_set() and not self.queue.requeue_current and not self._stop.is_set():  # cancelled meanwhile
                self.queue.finish(item, None, "preempted", self.queue.stop_why)
            else:
                self.queue.put_back(item, self.output_problem)
            return 0
        self._output_state("")
        outcome, reason = "played", Reason()
        try:
            chimes = self.config.chime and item.kind != "stream"
            if chimes:
                self._write(sink, chime(self.rate), stop)
            for n in range(item.repeat):
                if n:
                    self._write(sink, silence(self.config.repeat_gap_s, self.rate), stop)
                for block in self._blocks(item, stop, limit, relay):
                    self._write(sink, block, stop)
                    played_s += len(block) / self.rate
            if chimes:
                self._write(sink, chime(self.rate), stop)
            if stop.is_set():
                raise Stopped
            if relay is not None and relay.cuts:
                outcome, reason = "played", relay.reason()
            elif item.kind == "stream" and played_s < limit - 1.0:
                outcome, reason = "failed", Reason(f"the stream ended after {played_s:.0f} s of {limit:.0f} s", "stream_ended",
                                                   {"played_s": round(played_s), "limit_s": round(limit)})
        except Stopped:
            outcome = "preempted"
            reason = self.queue.stop_why if self.queue.stop_why.text else \
                Reason("daemon stopping", "daemon_stopping") if self._stop.is_set() else Reason("stopped", "stopped")
        except (MediaError, SpeechFailed, HardwareUnavailable) as err:
            outcome, reason = "failed", Reason.of(err)
        except Exception as err:  # never kill the worker: log, record, go on
            logger.exception("broadcast failed id=%s", item.id)
            outcome, reason = "failed", Reason(f"{type(err).__name__}: {err}")
        finally:
            try:
                out = sink.close(drain=outcome != "preempted")
            except Exception as err:
                out = ""
                logger.error("sink close failed error=%r", str(err))
            underruns = sink.underruns
            self.underruns += underruns
            if underruns:
                logger.warning("audio underruns id=%s count=%d", item.id, underruns)
        if self._stop.is_set() and outcome == "preempted":
            self.queue.requeue_current = True  # a stopping daemon plays it again after the restart
        remaining = limit - played_s if item.kind == "stream" else None
        if outcome == "failed":
            self.problem = f"last broadcast {item.id} failed: {reason.text}"
            self.last_failure = {"id": item.id, "reason": reason.text, "at": time.time(),
                                 "reason_kind": reason.kind, "reason_values": reason.values}  # the page words the kind
        elif outcome == "played" and not self.problem.startswith("amplifier"):
            self.problem = ""
        logger.info("broadcast item done id=%s outcome=%s seconds=%.1f out=%s", item.id, outcome, played_s, out)
        self.queue.finish(item, started, outcome, reason, remaining)
        return 1

    def _blocks(self, item: Item, stop: threading.Event, stream_limit: float, relay: Relay | None) -> Iterator[np.ndarray]:
        cfg = self.config
        if item.kind == "text":
            for part in self.speech.render(item.text):  # a cached file, or the audio itself
                if stop.is_set():
                    raise Stopped
                yield from decode(part, self.rate, stop)
        elif relay is not None:
            yield from relay.blocks(stop)
        elif item.kind == "stream":
            yield from decode(item.stream_url, self.rate, stop, max_seconds=stream_limit, timeout_s=cfg.stream_timeout_s)
        else:
            yield from decode(item.audio_path or item.audio_url, self.rate, stop, max_seconds=cfg.max_audio_s,
                              timeout_s=cfg.stream_timeout_s)

    def _write(self, sink: AudioSink, pcm: np.ndarray, stop: threading.Event) -> None:
        pcm = apply_volume(pcm, self.config.volume)
        for i in range(0, len(pcm), BLOCK):
            self.queue.preempt_if_due()  # an emergency whose time (`at`) has come interrupts this item
            if stop.is_set():
                raise Stopped
            sink.write(pcm[i:i + BLOCK])

    # self-test -------------------------------------------------------------------
    def selftest(self) -> tuple[bool, str]:
        """A 1 s 440 Hz tone to the output (amplifier on for it); never interrupts a broadcast."""
        if not self.output_lock.acquire(blocking=False):
            playing = self.queue.playing
            return True, f"output busy with broadcast {playing.id if playing else '?'}; not interrupted"
        try:
            sink = self.sink_factory()
            self._switch_amp(True)
            try:
                self._stop.wait(self.config.amp_warmup_s)
                sink.open("selftest", self.rate)
                try:
                    sink.write(apply_volume(tone(440, 1.0, self.rate), self.config.volume))
                finally:
                    out = sink.close()
            finally:
                self._switch_amp(False)
            self._output_state("")
            return True, f"played a 1 s test tone to {out}"
        except (HardwareUnavailable, OSError) as err:
            self._output_state(str(err) or type(err).__name__)
            return False, str(err)
        finally:
            self.output_lock.release()
