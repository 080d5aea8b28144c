"""One camera's pipeline, the same for the daemon and `langso camera analyze`:
frames -> MotionDetector -> EventTracker -> person tags -> Recorder + snapshots ->
EventStore -> publish(topic, payload). Fed one item at a time by its owner thread."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import cv2

from camera.config import CameraConfig
from camera.events import bus_event
from camera.motion import Motion, MotionDetector, MotionSettings
from camera.people import MIN_WEIGHT, PersonDetector
from camera.recorder import FinishedClip, Recorder
from camera.sources import Frame, Packet
from camera.tracker import EventTracker, Track

logger = logging.getLogger(__name__)

PERSON_EVERY_S = 1.0    # HOG looks 0, 1, 3, 7, 15, ... s into an event (about 1 ms each at 640x360)
PERSON_MAX_CHECKS = 8   # an event that is no person after 8 looks stays untagged
PERSON_HITS = 2         # hits needed before an event is tagged "person"
BEFORE = 2              # frames before a look that what it sees must have been in (rain close to the lens is not)
LAST_MOTION_EVERY_S = 5.0  # an open event's last motion is stored this often: a crash ends it at most this early

Publish = Callable[[str, dict[str, Any]], None]


class CameraPipeline:
    def __init__(self, camera: CameraConfig, *, clip_dir: Path | None = None, store: Any = None,
                 publish: Publish | None = None, persons: PersonDetector | None = None):
        self.camera = camera
        self.clip_dir = clip_dir if camera.record else None
        self.store = store
        self.publish = publish or (lambda topic, payload: None)
        self.persons = persons if camera.person_tags else None
        self.anchor = 0.0                  # added to source times (wall clock in the daemon): an event
                                           # keeps the one it started with (Track.anchor)
        self.source_fps = 0.0              # the source's frame rate: raw sources are encoded at it
        self.tracker = EventTracker(camera.start_frames, camera.quiet_s, camera.max_event_s)
        self.recorder = Recorder(camera.pre_s, camera.post_s) if self.clip_dir else None
        self.detector: MotionDetector | None = None
        self.frames = 0
        self.analysed = 0
        self.first_t: float | None = None
        self.last_t = 0.0
        self.finished: list[dict[str, Any]] = []    # closed events, in order
        self._next_id = 1
        self._next_look = float("-inf")
        self._before: tuple[Frame, ...] = ()         # the last two frames (held, not copied: what starts an
                                                      # event or keeps one going must have been in them too)
        self._id: Any = None
        self._best_picture: Any = None
        self._snapshot: str | None = None
        self._ending: dict[Any, dict[str, Any]] = {}  # events waiting for their clip's post-roll
        self._cut: dict[Any, Path | None] = {}        # open events whose clip the stream's change finished early
        self._snapshot_failure = ""
        self._stored_motion = 0.0                     # the open event's last motion as stored (source time)

    @property
    def file_problem(self) -> str:
        """Why clips or snapshots are being lost (a full card, an unwritable folder); "" when fine."""
        return (self.recorder.failure if self.recorder else "") or self._snapshot_failure

    # feeding ------------------------------------------------------------------
    def use_template(self, template: Any) -> None:
        if self.recorder is not None:
            self._clips_done(self.recorder.use_template(template))

    def feed(self, item: Frame | Packet, raw: bool = False) -> Motion | None:
        if isinstance(item, Packet):
            if self.recorder is not None:
                self._clips_done(self.recorder.feed_packet(item))
            return None
        return self._frame(item, raw)

    def _frame(self, frame: Frame, raw: bool) -> Motion | None:
        before, self._before = self._before, (frame, *self._before[:BEFORE - 1])
        self.frames += 1
        if self.first_t is None:
            self.first_t = frame.t
        self.last_t = frame.t
        if raw and self.recorder is not None:
            self._clips_done(self.recorder.feed_frame(frame, self.source_fps or self.camera.fps))
        # `fps` looks a second on average whatever the source's rate: a look is due every
        # 1/fps s (a tenth early still counts, for jittery timestamps), so that a 6 fps camera
        # is looked at 5 times a second, not every other frame (3 times)
        interval = 1.0 / self.camera.fps
        if self._next_look - 1.5 * interval <= frame.t < self._next_look - 0.1 * interval:
            return None
        self._next_look += interval
        # the start, a slow source or a gap; or the time went back (a camera that reconnected
        # counts from 0 again): the schedule starts again here
        if not frame.t <= self._next_look <= frame.t + 1.5 * interval:
            self._next_look = frame.t + interval
        shape = frame.grey.shape[:2]
        if self.detector is None or self.detector.shape != shape:
            if self.detector is not None:   # the camera came back with another picture size (its settings changed)
                logger.info("camera picture size changed camera=%s was=%dx%d now=%dx%d", self.camera.name,
                            *self.detector.shape[::-1], *shape[::-1])
                before = ()
            self.detector = MotionDetector(shape[1], shape[0], MotionSettings.of(self.camera))
        verify = self.tracker.track is None   # what starts an event must be an object
        motion = self.detector.detect(frame.grey, verify, [(frame.t - f.t, lambda f=f: f.grey) for f in before])
        self.analysed += 1
        change = self.tracker.feed(frame.t, motion)
        if change == "start":
            self._start(frame)
        elif change == "better":
            self._best_picture = frame.picture
        elif change == "end":
            self._end(self.tracker.ended())
        elif change == "split":  # max_event_s: the event ends here and the next starts at once
            logger.info("camera event reached max_event_s camera=%s id=%s max_event_s=%g", self.camera.name, self._id,
                        self.camera.max_event_s)
            self._end(self.tracker.ended(), motion_off=False)
            self._start(frame, motion_on=False)
        track = self.tracker.track
        if track is not None and motion.moving:
            self._look_for_person(track, frame, motion)
            if self.store is not None and track.last_motion - self._stored_motion >= LAST_MOTION_EVERY_S:
                self._stored_motion = track.last_motion
                self.store.update(self._id, last_motion=track.anchor + track.last_motion)
        return motion

    def finish(self) -> None:
        """The source ended or the daemon stops: close what is open, finish clips."""
        self._before = ()   # a source that comes back counts its own frames
        track = self.tracker.flush(self.last_t)
        if track is not None:
            self._end(track)
        if self.recorder is not None:
            self._clips_done(self.recorder.finish_all())

    # event lifecycle ----------------------------------------------------------
    def _payload(self, event_id: Any, kind: str, track: Track, snapshot: str | None, clip: str | None) -> dict[str, Any]:
        return bus_event({
            "camera": self.camera.name, "id": event_id, "start": track.anchor + track.start,
            "end": None if track.end is None else track.anchor + track.end,
            "score": track.score, "boxes": track.boxes, "tags": track.tags,
            "snapshot": snapshot, "clip": clip, "interrupted": False,
        }, kind)

    def _start(self, frame: Frame, motion_on: bool = True) -> None:
        track = self.tracker.track
        assert track is not None
        track.anchor = self.anchor
        self._best_picture = frame.picture
        self._stored_motion = track.start
        if self.store is not None:
            self._id = self.store.open(self.camera.name, track.anchor + track.start, track.score, track.boxes, [])
        else:
            self._id, self._next_id = self._next_id, self._next_id + 1
        snapshot = self._snapshot = self._write_snapshot(track) if self.clip_dir else None
        if self.recorder is not None and self.clip_dir is not None:
            self.recorder.start(self._id, self.clip_dir / f"{self._id}.mp4", track.start)
        if self.store is not None and snapshot:
            self.store.update(self._id, snapshot=snapshot)
        logger.info("camera event new camera=%s id=%s start=%.2f", self.camera.name, self._id, track.anchor + track.start)
        if motion_on:
            self.publish("camera.motion", {"camera": self.camera.name, "on": True})
        self.publish("camera.event", self._payload(self._id, "new", track, snapshot, None))

    def _look_for_person(self, track: Track, frame: Frame, motion: Motion) -> None:
        if self.persons is None or "person" in track.tags or track.person_checks >= PERSON_MAX_CHECKS:
            return
        if frame.t - track.last_check < PERSON_EVERY_S * 2 ** (track.person_checks - 1):
            return
        track.last_check = frame.t
        track.person_checks += 1
        assert self.detector is not None
        if self.persons.find(frame.grey, self.detector.strict_boxes() or motion.boxes) >= MIN_WEIGHT:
            track.person_hits += 1
            if track.person_hits >= PERSON_HITS:
                track.tags.append("person")
                if self.store is not None:
                    self.store.update(self._id, tags=track.tags)
                self.publish("camera.event", self._payload(self._id, "update", track, self._snapshot, None))

    def _end(self, track: Track, motion_off: bool = True) -> None:
        event_id = self._id
        snapshot = self._write_snapshot(track) if self.clip_dir else None
        if motion_off:
            self.publish("camera.motion", {"camera": self.camera.name, "on": False})
        if self.store is not None:
            self.store.update(event_id, end=track.anchor + (track.end or track.start), score=track.score,
                              boxes=track.boxes, tags=track.tags, snapshot=snapshot)
        pending = {"track": track, "snapshot": snapshot}
        if self.recorder is not None and self.recorder.recording(event_id):
            self.recorder.stop_at(event_id, track.end or track.start)
            self._ending[event_id] = pending
        else:
            cut = self._cut.pop(event_id, None)
            self._close(event_id, pending, str(cut) if cut else None)

    def _clips_done(self, clips: list[FinishedClip]) -> None:
        for clip in clips:
            pending = self._ending.pop(clip.key, None)
            if pending is None:  # the stream changed under an open event: it keeps the clip so far
                logger.warning("clip ended before its event camera=%s id=%s path=%s", self.camera.name, clip.key, clip.path)
                self._cut[clip.key] = clip.path
                if self.store is not None and clip.path:   # a crash before the event ends keeps it too
                    self.store.update(clip.key, clip=str(clip.path))
                continue
            self._close(clip.key, pending, str(clip.path) if clip.path else None)

    def _close(self, event_id: Any, pending: dict[str, Any], clip: str | None) -> None:
        track: Track = pending["track"]
        if self.store is not None:
            self.store.update(event_id, clip=clip, closed=1)
        payload = self._payload(event_id, "end", track, pending["snapshot"], clip)
        self.finished.append(payload)
        logger.info("camera event end camera=%s id=%s seconds=%.1f score=%.4f tags=%s clip=%s", self.camera.name,
                    event_id, (track.end or track.start) - track.start, track.score, ",".join(track.tags) or "-", clip)
        self.publish("camera.event", payload)

    def _write_snapshot(self, track: Track) -> str | None:
        """JPEG of the frame with the most motion, boxes drawn, next to the clip."""
        if self._best_picture is None or self.clip_dir is None:
            return None
        try:
            image = self._best_picture().to_ndarray(format="bgr24")
            for x, y, w, h in track.boxes:
                cv2.rectangle(image, (x, y), (x + w, y + h), (0, 0, 255), 2)
            path = self.clip_dir / f"{self._id}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if not ok:
                return None
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(jpeg.tobytes())
            tmp.replace(path)
            self._snapshot_failure = ""
            return str(path)
        except (OSError, ValueError) as err:
            logger.error("snapshot failed camera=%s error=%r", self.camera.name, str(err))
            self._snapshot_failure = f"snapshot not written ({err})"
            return None
