"""The cameras of the house (`house.cameras`): one owner thread per camera that reads
its source, runs the pipeline and reconnects with backoff when the camera drops; a
second thread per camera when a main stream is recorded (`record_source`); per-camera
status; the latest picture as JPEG; retention every minute."""
from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import cv2

from camera.config import CameraConfig
from camera.errors import CameraError, CameraUnavailable
from camera.events import EventStore, bus_event
from camera.people import PersonDetector
from camera.pipeline import CameraPipeline, Publish
from camera.retention import Retention
from camera.sources import Frame, Packet, open_source, redact

logger = logging.getLogger(__name__)

BACKOFF_S = (1, 2, 5, 10, 30)
CAMERA_NICE = 10  # camera threads yield the CPU to playback, the page and commands when it is short
CLOCK_STEP_S = 1.0  # the wall clock moved this much against the monotonic one: it was set (NTP after a boot)
DRIFT_EVERY_S = 60.0  # a stream's dating is taken again this often from the frames' least delay ...
MAX_DRIFT = 0.001     # ... and follows a camera clock slower than the Pi's by at most this much a second
wall = time.time    # the Pi's clocks, by which frames are dated (a test stands in for clocks that are set
monotonic = time.monotonic   # or that run apart from a camera's)


class Dating:
    """A stream's times on the Pi's monotonic clock: `anchor` + the stream's own time (the
    camera's clock, in its timestamps). Taken from the least delay at which its frames
    arrive (none comes before it was taken), again every DRIFT_EVERY_S: a camera's clock runs
    seconds a day apart from the Pi's, and a stream stays open for weeks. A camera's clock
    that runs fast is followed whole (its frames come sooner than dated); one that runs slow
    by at most MAX_DRIFT, so that frames piling up behind a busy Pi are not taken for it
    (their events keep the time they were taken at)."""

    def __init__(self, t: float, mono: float):
        self.anchor, self._least, self._again = mono - t, math.inf, mono + DRIFT_EVERY_S

    def see(self, t: float, mono: float) -> bool:
        """A frame of source time `t` came at `mono`: whether `anchor` changed."""
        self._least = min(self._least, mono - t)
        if mono < self._again:
            return False
        least, self._least, self._again = self._least, math.inf, mono + DRIFT_EVERY_S
        anchor = min(least, self.anchor + MAX_DRIFT * DRIFT_EVERY_S)
        changed, self.anchor = anchor != self.anchor, anchor
        return changed


def yield_cpu() -> None:
    """Lower the calling thread's priority by CAMERA_NICE. Linux keeps nice per thread, and
    the threads it starts (FFmpeg's decoders) inherit it; raising it needs no privilege."""
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + CAMERA_NICE))
    except OSError as err:
        logger.warning("camera thread priority unchanged error=%r", str(err))


class CameraWorker:
    def __init__(self, camera: CameraConfig, clip_root: Path, store: EventStore, publish: Publish,
                 persons: PersonDetector, stop: threading.Event):
        self.camera = camera
        self.stop = stop
        self.pipeline = CameraPipeline(camera, clip_dir=clip_root / camera.name, store=store, publish=publish,
                                       persons=persons)
        self.connected = False
        self.reconnects = 0
        self.error = ""
        self.last_frame: float | None = None
        self.frames = 0
        self.decode_errors = 0            # corrupt packets skipped by sources that are closed
        self.record_error = ""            # why the main stream (record_source) gives no clips
        self._main_live = False           # (owner thread) the main stream delivers: clips come from it;
                                          # until then, clips are copied from `source` if it is H.264
        self._source_template: Any = None  # `source`'s stream, when it can be copied into clips
        self._source: Any = None
        self._times: deque[float] = deque(maxlen=50)
        self._latest: Frame | None = None
        self._lock = threading.Lock()
        self._main_packets: queue.Queue[Any] = queue.Queue(maxsize=600)   # packets (t: monotonic) and markers
        self._dating = Dating(0.0, 0.0)    # the source's times on the monotonic clock: the main stream's
                                          # packets are put on the source's time through it
        self._wall_offset = 0.0           # wall clock minus monotonic clock when the events' dates were set
        self.threads = [threading.Thread(target=self._run, name=f"camera-{camera.name}", daemon=True)]
        if camera.record_source and camera.record:
            self.threads.append(threading.Thread(target=self._run_main, name=f"camera-{camera.name}-main", daemon=True))

    # status -----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        times = list(self._times)
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        return {"name": self.camera.name, "source": redact(self.camera.source), "connected": self.connected,
                "fps": round(fps, 1), "last_frame": self.last_frame, "reconnects": self.reconnects,
                "decode_errors": self.decode_errors + getattr(self._source, "decode_errors", 0),
                "error": self.error or None, "clip_error": self._record_problem() or self.pipeline.file_problem or None}

    def _record_problem(self) -> str:
        if not self.record_error:
            return ""
        if self._main_live or self._source_template is None or not self.connected:
            return self.record_error
        return f"{self.record_error} (meanwhile clips are copied from source, at its picture size)"

    def latest_jpeg(self) -> bytes | None:
        with self._lock:
            frame = self._latest
        if frame is None:
            return None
        ok, jpeg = cv2.imencode(".jpg", frame.picture().to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, 75])
        return jpeg.tobytes() if ok else None

    # the owner thread ------------------------------------------------------------------
    def _run(self) -> None:
        yield_cpu()
        failures = 0
        while not self.stop.is_set():
            source = self._source = open_source(self.camera.source)
            started = time.monotonic()
            try:
                self._read(source)
                failures = 0  # a file that ended (not looped): treat as dropped
                self.error = "the source ended"
            except CameraUnavailable as err:
                self.error = str(err)
            except CameraError as err:
                self.error = str(err)
            except Exception as err:  # a decoder or disk surprise must not kill the camera thread
                logger.exception("camera failed camera=%s", self.camera.name)
                self.error = f"{type(err).__name__}: {err}"
            finally:
                source.close()
                self.decode_errors += getattr(source, "decode_errors", 0)
                self._source = self._source_template = None
                self._finish()
                if self.connected:
                    self.reconnects += 1
                self.connected = False
            if self.stop.is_set():
                break
            if time.monotonic() - started > 60:
                failures = 0
            wait = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
            failures += 1
            logger.warning("camera down camera=%s error=%r retry_s=%d", self.camera.name, self.error, wait)
            self.stop.wait(wait)
        self._finish()

    def _finish(self) -> None:
        try:
            self.pipeline.finish()
        except Exception:  # the database or the disk failed: say so, keep the thread alive
            logger.exception("camera events not closed camera=%s", self.camera.name)

    def _read(self, source: Any) -> None:
        raw = None
        for item in source.items(self.stop):
            if raw is None:  # first item: the source is open and its stream known
                raw = source.copy_template is None and not self.camera.record_source
                self._source_template = source.copy_template
                self.pipeline.source_fps = source.fps
                self._dating = Dating(item.t, monotonic())
                self._wall_offset = wall() - monotonic()
                self.pipeline.anchor = self._dating.anchor + self._wall_offset
                if source.copy_template is not None and not self._main_live:
                    self.pipeline.use_template(source.copy_template)
                if not self.connected:
                    logger.info("camera connected camera=%s source=%s", self.camera.name, source.name)
                self.connected, self.error = True, ""
            if isinstance(item, Packet):
                if not self._main_live:   # no main stream, or it is down: clips from this one
                    self.pipeline.feed(item)
                continue
            self._drain_main()
            now, mono = wall(), monotonic()
            if abs(now - mono - self._wall_offset) > CLOCK_STEP_S:
                self._clock_set(now - mono)
            elif self._dating.see(item.t, mono):   # the camera's clock drifted from the Pi's
                self.pipeline.anchor = self._dating.anchor + self._wall_offset
            self.last_frame = now
            self.frames += 1
            self._times.append(mono)
            with self._lock:
                self._latest = item
            self.pipeline.feed(item, raw)

    def _clock_set(self, offset: float) -> None:
        """The wall clock was set (a Pi has no RTC: NTP steps it, perhaps by days, once the
        network is up, often after the cameras connected): events from now on are dated by
        the new time, as the rest of the house is; an open event keeps the time it started with."""
        logger.warning("camera clock set camera=%s step_s=%.1f", self.camera.name, offset - self._wall_offset)
        self._wall_offset = offset
        self.pipeline.anchor = self._dating.anchor + offset

    # main stream, stream-copied for clips --------------------------------------------
    def _run_main(self) -> None:
        """The main stream's packets, handed to the owner thread with a ("template", stream)
        when it opens and a ("down", None) when it drops: meanwhile the owner thread copies
        clips from `source` (the substream: smaller, but an event still has its clip)."""
        yield_cpu()
        failures = 0
        while not self.stop.is_set():
            source = open_source(self.camera.record_source, demux_only=True)
            dating = None
            try:
                for item in source.items(self.stop):
                    if not isinstance(item, Packet):
                        continue
                    if dating is None:
                        dating = Dating(item.t, monotonic())
                        self._put(("template", source.copy_template), wait=True)
                        self.record_error = ""
                    else:
                        dating.see(item.t, monotonic())
                    item.t += dating.anchor   # on the monotonic clock: the owner thread puts it on the source's time
                    self._put(item)
                    failures = 0
                if not self.stop.is_set():
                    raise CameraError(f"{source.name}: the stream ended")
            except CameraError as err:
                logger.warning("camera main stream down camera=%s error=%r", self.camera.name, str(err))
                self.record_error = f"record_source: {err}"
            finally:
                source.close()
                if dating is not None:
                    self._put(("down", None), wait=True)
            failures += 1
            self.stop.wait(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])

    def _put(self, item: Any, wait: bool = False) -> None:
        """A packet is dropped when the owner thread is stuck (the ring starts again at a
        keyframe); a marker (`wait`) waits for room: a clip made from the stream of a closed
        connection crashes FFmpeg, and packets must not be read against the wrong stream."""
        while True:
            try:
                return self._main_packets.put(item, timeout=1) if wait else self._main_packets.put_nowait(item)
            except queue.Full:
                if not wait or self.stop.is_set():
                    logger.warning("camera main stream queue full camera=%s", self.camera.name)
                    return

    def _drain_main(self) -> None:
        while True:
            try:
                item = self._main_packets.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, tuple):   # the main stream opened, or dropped: clips from `source` meanwhile
                kind, template = item
                self._main_live = kind == "template"
                self.pipeline.use_template(template if self._main_live else self._source_template)
                logger.info("camera clips from %s camera=%s", "record_source" if self._main_live else "source",
                            self.camera.name)
            else:   # read when the source's dating is known (packets that came before it did too)
                item.t -= self._dating.anchor
                self.pipeline.feed(item)


class Cameras:
    """`house.cameras`: status, latest JPEG and self-test of every camera."""

    def __init__(self, cameras: list[CameraConfig], clip_root: Path, store: EventStore, publish: Publish,
                 keep_days: int, min_free_mb: int, free_mb: Callable[[], int] | None = None):
        self.stop_event = threading.Event()
        clip_root.mkdir(parents=True, exist_ok=True)
        self.clip_root = clip_root
        self.store, self.publish = store, publish
        persons = PersonDetector()
        self.workers = {c.name: CameraWorker(c, clip_root, store, publish, persons, self.stop_event) for c in cameras}
        self.retention = Retention(store, clip_root, keep_days, min_free_mb, free_mb)
        self._housekeeper = threading.Thread(target=self._housekeeping, name="camera-retention", daemon=True)

    def start(self) -> None:
        """Close the events a crash left open and publish what the uplink is owed: the
        changes stored but never handed to it (their `end`, and the `new` of an event it
        never had), before any new event (start this after whoever must hear it has
        subscribed: the MQTT uplink); then start the cameras."""
        repaired = self.store.repair(self.clip_root)
        owed = self.store.owed() if self.store.handover else [bus_event(event, "end") for event in repaired]
        for payload in owed:
            self.publish("camera.event", payload)
        if self.store.handover and owed:
            logger.info("camera events owed to the uplink published messages=%d", len(owed))
        for worker in self.workers.values():
            for thread in worker.threads:
                thread.start()
        self._housekeeper.start()
        logger.info("cameras started count=%d", len(self.workers))

    def stop(self) -> None:
        self.stop_event.set()
        for worker in self.workers.values():
            for thread in worker.threads:
                thread.join(timeout=10)
        self._housekeeper.join(timeout=5)
        self.store.close()  # the events' last changes a full disk kept in memory: a last try
        logger.info("cameras stopped count=%d", len(self.workers))

    def _housekeeping(self) -> None:
        """Retention at start, then every minute; event changes a full disk kept in
        memory are written once space returns (tried every few seconds)."""
        self._retain()
        retain_at = time.monotonic() + 60
        while not self.stop_event.wait(self.store.retry_every_s):
            try:
                self.store.retry()
            except Exception:
                logger.exception("camera events not written")
            if time.monotonic() >= retain_at:
                retain_at = time.monotonic() + 60
                self._retain()

    def _retain(self) -> None:
        try:
            self.retention.run()
        except Exception:
            logger.exception("retention failed")

    def list(self) -> list[dict[str, Any]]:
        return [w.status() for w in self.workers.values()]

    def latest_jpeg(self, name: str) -> bytes | None:
        worker = self.workers.get(name)
        return worker.latest_jpeg() if worker else None

    def problems(self, listing: list[dict[str, Any]]) -> list[str]:
        """What is wrong, from a `list()` just read, and retention's own problem."""
        problems = [f"{c['name']}: {c['error']}" for c in listing if c["error"]]
        problems += [f"{c['name']}: {c['clip_error']}" + ("" if c["clip_error"].startswith("record_source") else
                     "; free space on the card (or lower storage.min_free_mb) and check that the clips folder is writable")
                     for c in listing if c["clip_error"]]
        if self.retention.problem:
            problems.append(self.retention.problem)
        if stored := self.store.problem():
            problems.append(f"events: {stored}")
        return problems

    def selftest(self, wait_s: float = 5.0) -> tuple[bool, str]:
        """A fresh frame from every camera within `wait_s`."""
        if not self.workers:
            return True, "no cameras configured"
        before = {name: w.frames for name, w in self.workers.items()}
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and any(w.frames == before[n] for n, w in self.workers.items()):
            time.sleep(0.1)
        rows = []
        for name, worker in self.workers.items():
            if worker.frames > before[name] and worker._latest is not None:
                h, w = worker._latest.grey.shape[:2]
                rows.append((True, f"{name} {w}x{h}"))
            else:
                rows.append((False, f"{name}: no frame in {wait_s:.0f} s ({worker.error or 'no error reported'})"))
        return all(ok for ok, _ in rows), "; ".join(text for _, text in rows)
