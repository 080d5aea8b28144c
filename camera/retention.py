"""Retention: events older than `keep_days` go with their files; when free space falls
under `min_free_mb` the oldest clips go first (their events and snapshots stay). Clips
being written (open events, *.part files) are never touched."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Callable

from camera.events import EventStore

logger = logging.getLogger(__name__)


def disk_free_mb(path: Path) -> int:
    return shutil.disk_usage(path).free // 2**20


class Retention:
    def __init__(self, store: EventStore, clip_root: Path, keep_days: int, min_free_mb: int,
                 free_mb: Callable[[], int] | None = None):
        self.store = store
        self.clip_root = clip_root
        self.keep_days = keep_days
        self.min_free_mb = min_free_mb
        self.free_mb = free_mb or (lambda: disk_free_mb(clip_root))
        self.problem = ""

    def run(self, now: float | None = None) -> dict[str, int]:
        now = time.time() if now is None else now
        expired = clips = 0
        for event in self.store.closed_before(now - self.keep_days * 86400):
            _remove(event["clip"], event["snapshot"])
            self.store.delete(event["id"])
            expired += 1
        while self.free_mb() < self.min_free_mb:
            oldest = self.store.oldest_clips()
            if not oldest:
                break
            for event in oldest:
                _remove(event["clip"])
                self.store.update(event["id"], clip=None)
                clips += 1
                if self.free_mb() >= self.min_free_mb:
                    break
        free = self.free_mb()
        self.problem = "" if free >= self.min_free_mb else (
            f"only {free} MB free under {self.clip_root} and no finished clip left to remove; "
            "free space on the card or lower storage.min_free_mb")
        if expired or clips:
            logger.info("retention done expired_events=%d clips_removed=%d free_mb=%d", expired, clips, free)
        return {"expired_events": expired, "clips_removed": clips, "free_mb": free}


def _remove(*paths: str | None) -> None:
    for path in paths:
        if path:
            Path(path).unlink(missing_ok=True)
