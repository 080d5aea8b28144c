"""Event lifecycle from per-frame motion: hysteresis in (`start_frames` consecutive
motion frames start an event, dated from the first of them, or from the look just before
if that one saw something the frames before it did not have yet: someone coming into the
picture, told from a drop of rain at the lens only at the next look) and out (`quiet_s` without
motion end it, dated at the last motion). Motion that goes on past `max_event_s` is cut
into consecutive events: the open one ends at a motion frame and the next starts at that
same frame, so clips stay short and nothing is left uncovered. Pure: fed (time, Motion), no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from camera.motion import Motion

Change = Literal["start", "better", "end", "split"]


@dataclass
class Track:
    start: float
    last_motion: float
    score: float = 0.0
    boxes: list[list[int]] = field(default_factory=list)
    best_t: float = 0.0
    end: float | None = None
    tags: list[str] = field(default_factory=list)
    person_hits: int = 0
    person_checks: int = 0
    last_check: float = float("-inf")
    anchor: float = 0.0          # added to its source times: the wall clock's, as it was when it started


class EventTracker:
    def __init__(self, start_frames: int = 3, quiet_s: float = 2.0, max_event_s: float = float("inf")):
        self.start_frames = start_frames
        self.quiet_s = quiet_s
        self.max_event_s = max_event_s
        self.track: Track | None = None
        self._run = 0
        self._run_start = 0.0
        self._run_best: tuple[float, list[list[int]], float] = (0.0, [], 0.0)
        self._seen: float | None = None   # the last look, if its blobs were new ("once": not in the frames before)

    def feed(self, t: float, motion: Motion) -> Change | None:
        """What changed with this frame: an event started, got a better frame, ended, or
        ("split") ended at `max_event_s` with the next one started at this frame."""
        track = self.track
        seen, self._seen = self._seen, None
        if motion.moving:
            if self._run == 0:
                self._run_start, self._run_best = seen if seen is not None else t, (0.0, [], t)
            self._run += 1
            if motion.score > self._run_best[0]:
                self._run_best = (motion.score, motion.boxes, t)
        else:
            self._run = 0
            if "once" in motion.dropped:
                self._seen = t
        if track is None:
            if self._run >= self.start_frames:
                score, boxes, best_t = self._run_best
                self.track = Track(start=self._run_start, last_motion=t, score=score, boxes=boxes, best_t=best_t)
                return "start"
            return None
        if motion.moving:
            track.last_motion = t
            if t - track.start >= self.max_event_s:
                track.end = t
                self._ended = track
                self.track = Track(start=t, last_motion=t, score=motion.score, boxes=motion.boxes, best_t=t)
                return "split"
            if motion.score > track.score:
                track.score, track.boxes, track.best_t = motion.score, motion.boxes, t
                return "better"
            return None
        if t - track.last_motion >= self.quiet_s:
            track.end = track.last_motion
            self.track = None
            self._ended = track
            return "end"
        return None

    def ended(self) -> Track:
        """The track that the last "end" or "split" closed."""
        return self._ended

    def flush(self, t: float) -> Track | None:
        """The source ended: close the open event at its last motion (a run of motion
        looks that had not started one yet is forgotten: a new source counts from 0)."""
        track, self.track = self.track, None
        self._run, self._seen = 0, None
        if track is not None:
            track.end = track.last_motion
        return track
