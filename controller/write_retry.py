"""The state of a store whose writes a full disk refuses: what it keeps in memory is
written again every RETRY_S, with one log line when writing starts failing (or fails
differently) and one when it works again, and one problem text for `status`.

Used by everything that keeps changes in memory while the disk is full: the broadcast
records, the camera events, the House's relay switches, the CLI token, cli.json and the
uplink's held messages; each keeps its own changes (and, where its status words differ,
its own problem text), this keeps when to try and what to log. The audio and camera
wings never import controller/: App hands this class to their stores (`write_retry`),
which make their own with their logger and words."""
from __future__ import annotations

import logging
import time
from pathlib import Path

RETRY_S = 5.0  # how often what waits in memory is written again while the disk stays full


class WriteRetry:
    def __init__(self, logger: logging.Logger, what: str, directory: Path, every_s: float = RETRY_S):
        self.logger, self.what, self.dir, self.every_s = logger, what, directory, every_s
        self.error = ""        # why the last write failed; "" when all is written
        self._next_try = 0.0

    def due(self, force: bool = False) -> bool:
        """Whether to try again now (`force`: whatever the time)."""
        return force or time.monotonic() >= self._next_try

    def postpone(self) -> None:
        """Not now: the next try in every_s (e.g. the database is still read-only), nothing logged."""
        self._next_try = time.monotonic() + self.every_s

    def failed(self, err: BaseException, kept: int) -> None:
        self.postpone()
        if str(err) != self.error:
            self.logger.error("%s not written dir=%s error=%r kept_in_memory=%d (written when space returns)",
                              self.what, self.dir, str(err), kept)
        self.error = str(err)

    def written(self, count: int) -> None:
        """A write went through, with the `count` changes that waited."""
        if self.error:
            self.logger.info("%s written again count=%d", self.what, count)
        self.error = ""
        self._next_try = 0.0

    def problem(self, kept: int, noun: str) -> str:
        """For status while writes fail ("" when they do not)."""
        if not self.error:
            return ""
        return (f"{kept} {noun} could not be written to {self.dir} ({self.error}); they are kept in memory and "
                f"written when space returns: free space on {self.dir} (storage.dir), e.g. old camera clips")
