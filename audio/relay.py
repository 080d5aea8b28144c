"""A scheduled radio relay (tiếp phát) keeps its window: a stream that does not answer at
the start (the 4G router still connecting after a power cut) or drops halfway is tried
again every RETRY_S while the window lasts, with silence in between, instead of leaving
the village without the programme for the rest of the window. A relay sent by hand (no
window) fails at once, for its sender to see."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from audio.broadcast_items import Reason
from audio.media import MediaError, decode, silence

logger = logging.getLogger(__name__)

RETRY_S = 10.0  # a stream that failed is tried again after this much silence, while its window lasts
STEP_S = 0.5    # the silence is written in steps this long: a stop or an emergency is heard at once


@dataclass
class Relay:
    """The blocks of one relay of `url` for at most `limit_s` seconds from its start (audio,
    the silence between tries and the tries themselves all count: it ends when its time is
    up); `cuts` counts the failures."""

    item_id: str
    url: str
    rate: int
    limit_s: float
    timeout_s: float
    cuts: int = 0
    audio_s: float = 0.0  # seconds of the stream itself

    def blocks(self, stop: threading.Event) -> Iterator[np.ndarray]:
        end = time.monotonic() + self.limit_s  # the sink plays in real time: audio, silence and waits all count
        while not stop.is_set():
            try:
                for block in decode(self.url, self.rate, stop, max_seconds=max(0.0, end - time.monotonic()),
                                    timeout_s=self.timeout_s):
                    self.audio_s += len(block) / self.rate
                    yield block
                if stop.is_set() or end - time.monotonic() <= 1.0:
                    return
                error = MediaError(f"the stream ended after {self.audio_s:.0f} s of {self.limit_s:.0f} s", "stream_ended",
                                   played_s=round(self.audio_s), limit_s=round(self.limit_s))
            except MediaError as err:
                error = err
            self.cuts += 1
            if end - time.monotonic() <= RETRY_S:  # no time left in the window to try again
                if self.audio_s == 0:
                    raise MediaError(f"{error} (tried {self.cuts} times until the end of its time)", error.kind,
                                     **error.values) from error
                return
            logger.warning("broadcast relay cut id=%s cuts=%d retry_in_s=%g left_s=%.0f error=%r",
                           self.item_id, self.cuts, RETRY_S, end - time.monotonic(), str(error))
            for _ in range(max(1, round(RETRY_S / STEP_S))):
                if stop.is_set():
                    return
                yield silence(STEP_S, self.rate)

    def reason(self) -> Reason:
        """For the proof of broadcast of a relay that was cut and reconnected ("" kind when it never was)."""
        if not self.cuts:
            return Reason()
        return Reason(f"the stream was cut {self.cuts} time(s) and tried again while time was left; {self.audio_s:.0f} s "
                      f"of {self.limit_s:.0f} s relayed", "stream_reconnected",
                      {"cuts": self.cuts, "played_s": round(self.audio_s), "limit_s": round(self.limit_s)})
