"""The broadcast worker and a sound card that goes away: real queue (SQLite), real
espeak-ng; the card itself is the one hand-written part, at the AudioSink boundary."""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from audio import broadcast_worker
from audio.broadcast import BroadcastQueue
from audio.broadcast_worker import BroadcastWorker
from audio.config import AudioConfig
from audio.player import HardwareUnavailable
from audio.tts import Speech, TtsCache
from audio.tts_engines import EspeakEngine
from controller.db import Database
from controller.write_retry import WriteRetry


class UsbCard:
    """An AudioSink for a USB sound card the test unplugs and plugs back in: PortAudio
    has no test backend whose device can vanish between a check and an open."""

    def __init__(self) -> None:
        self.plugged, self.unplug_at_open = True, False
        self.opened: list[str] = []
        self.samples = 0
        self.underruns = 0

    def check(self, rate: int) -> str:
        return "" if self.plugged else "audio.output: the USB card is unplugged"

    def open(self, name: str, rate: int) -> None:
        if self.unplug_at_open:
            self.plugged, self.unplug_at_open = False, False
        if not self.plugged:
            raise HardwareUnavailable("audio.output: cannot open sound device 'usb' (unplugged)")
        self.opened.append(name)

    def write(self, pcm: np.ndarray) -> None:
        self.samples += len(pcm)

    def close(self, drain: bool = True) -> str:
        return "device:usb"


def test_a_card_unplugged_before_a_broadcast_keeps_the_item_queued_until_it_is_back(tmp_path: Path, monkeypatch, until):
    monkeypatch.setattr(broadcast_worker, "OUTPUT_RECHECK_S", 0.2)
    config = AudioConfig(tts=["espeak"], amp_warmup_s=0, amp_tail_s=0, chime=False, sample_rate=16000)
    db = Database(tmp_path / "langso.db")
    published: list[tuple[str, dict]] = []
    queue = BroadcastQueue(config, db, tmp_path / "broadcasts", ZoneInfo("Asia/Ho_Chi_Minh"),
                           lambda topic, payload: published.append((topic, payload)), write_retry=WriteRetry)
    speech = Speech([EspeakEngine("vi")], TtsCache(tmp_path / "cache", 2**24), breaker_failures=2, breaker_cooldown_s=600)
    card, amp = UsbCard(), []
    worker = BroadcastWorker(config, queue, speech, lambda: card, amp.append)
    card.unplug_at_open = True  # the check at start finds it; it is gone when the broadcast opens it
    worker.start()
    try:
        assert worker.output_problem == ""
        item = queue.submit(text="Thử loa", source="web", who="web:head")
        until(lambda: worker.output_problem, what="the failed open")
        assert "cannot open sound device 'usb'" in worker.output_problem
        until(lambda: queue.listing()["queue"], what="the item back in the queue")
        listing = queue.listing()
        assert [(i["id"], i["state"]) for i in listing["queue"]] == [(item["id"], "queued")]
        assert listing["playing"] is None and listing["log"] == []  # not failed, not logged: it has not played
        assert worker.last_failure is None and card.opened == []
        until(lambda: worker.output_problem == "audio.output: the USB card is unplugged",
              what="a re-check")  # checked again, still missing: the item keeps waiting
        assert queue.listing()["queue"][0]["id"] == item["id"]

        card.plugged = True
        until(lambda: queue.listing()["log"], what="the broadcast once the card is back")
        [record] = queue.listing()["log"]
        assert (record["id"], record["outcome"]) == (item["id"], "played")
        assert card.opened == [item["id"]] and card.samples > 8000 and worker.output_problem == ""
        # the record is written inside the session; the amplifier goes off after it, in the worker's `finally`
        until(lambda: amp[-1] is False, what="the amplifier off after the session")
        assert amp[0] is False and True in amp  # forced off at start, on for the session
    finally:
        worker.stop()
        db.close()
