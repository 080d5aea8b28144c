"""The lead's acceptance run, against a real `langso demo` process: a text, an Opus/WebM
recording and an M4A file posted to the JSON API come out in the WAV sink; the amp
relay goes on before and off after; an emergency preempts a normal item, which plays
again; the proof-of-broadcast records and the daemon's log say what happened."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import requests

from audio.media import decode
from tests.audio.conftest import make_audio, wait_for
from tests.conftest import cli_client, free_port

ROOT = Path(__file__).resolve().parents[2]
RATE = 16000


class Demo:
    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.data = tmp_path / "demo"
        self.log = tmp_path / "demo.log"
        self._logf = open(self.log, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "controller", "demo", "--port", str(self.port),
                                      "--data-dir", str(self.data)], stdout=self._logf, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for(lambda: self.proc.poll() is not None or b"langso ready" in self.log.read_bytes(), 90, "langso demo ready")
        assert self.proc.poll() is None, self.log.read_text()
        self.api = cli_client(self.data)
        self.url, self.token = self.api.url, self.api.token

    def upload(self, path: Path, **fields: str) -> dict:
        with open(path, "rb") as f:
            reply = requests.post(f"{self.url}/api/v1/broadcasts", headers={"Authorization": f"Bearer {self.token}"},
                                  files={"file": (path.name, f, "application/octet-stream")}, data=fields, timeout=30)
        assert reply.status_code == 201, reply.text
        return reply.json()

    def played(self) -> list[tuple[str, str]]:
        return [(r["id"], r["outcome"]) for r in reversed(self.api.request("GET", "/broadcasts")["log"])]

    def wav(self, item_id: str, n: int = 0) -> np.ndarray:
        files = sorted((self.data / "audio-out").glob(f"*-{item_id}.wav"))
        return np.concatenate(list(decode(files[n], RATE)))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            self._logf.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    d = Demo(tmp_path)
    yield d
    if d.proc.poll() is None:
        d.proc.kill()
        d.proc.wait()
    d._logf.close()


def strongest_hz(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.fft.rfftfreq(len(pcm), 1 / RATE)[int(np.argmax(spectrum))])


def test_langso_demo_plays_text_webm_m4a_with_the_amp_around_and_an_emergency_preempts(demo: Demo, tmp_path: Path):
    webm = make_audio(tmp_path / "android.webm", "webm", 1.5, freq=440)
    m4a = make_audio(tmp_path / "iphone.m4a", "m4a", 1.5, freq=660)
    text = demo.api.request("POST", "/broadcasts", {"text": "Thông báo: 19h30 ngày 20/11 họp thôn tại nhà văn hóa."})
    ids = [text["id"], demo.upload(webm)["id"], demo.upload(m4a)["id"]]
    wait_for(lambda: len(demo.played()) == 3, 120, "three broadcasts played")
    assert demo.played() == [(i, "played") for i in ids]

    # what came out of the WAV sink is what was sent: speech, the 440 Hz and the 660 Hz recordings
    speech, from_webm, from_m4a = (demo.wav(i) for i in ids)
    assert len(speech) > 2 * RATE and np.abs(speech).max() > 1000
    for pcm, hz in ((from_webm, 440), (from_m4a, 660)):
        assert len(pcm) > 1.5 * RATE                        # chime + recording + chime
        assert abs(strongest_hz(pcm) - hz) < 15

    # an emergency preempts a normal item, which then plays again from the start
    long_item = demo.upload(make_audio(tmp_path / "long.mp3", "mp3", 8.0, freq=300))
    wait_for(lambda: (demo.api.request("GET", "/broadcasts")["playing"] or {}).get("id") == long_item["id"], 60,
             "the long normal item playing")
    emergency = demo.api.request("POST", "/broadcasts", {"text": "Khẩn cấp: lũ về, bà con di chuyển lên chỗ cao.",
                                                           "priority": "emergency"})
    wait_for(lambda: len(demo.played()) == 6, 120, "preempted, emergency, replayed")
    assert demo.played()[3:] == [(long_item["id"], "preempted"), (emergency["id"], "played"), (long_item["id"], "played")]
    records = list(reversed(demo.api.request("GET", "/broadcasts")["log"]))
    assert records[3]["reason"] == f"preempted by emergency {emergency['id']}"
    assert records[3]["ended"] <= records[4]["started"] and records[4]["priority"] == "emergency"
    assert len(demo.wav(long_item["id"], 1)) > 8 * RATE   # the replay is whole

    # the amp relay: on before every item plays, off after the last one, off now
    wait_for(lambda: not {r["name"]: r["on"] for r in demo.api.request("GET", "/relays")["relays"]}["amp"], 30, "amp off")
    assert demo.stop() == 0
    log = demo.log.read_text()
    lines = [line for line in log.splitlines()
             if "relay switched name=amp" in line or "broadcast playing" in line or "broadcast item done" in line]
    amp_on = False
    for line in lines:
        if "relay switched name=amp" in line:
            amp_on = "state=on" in line
        else:
            assert amp_on, f"played with the amplifier off: {line}"
    assert "relay switched name=amp state=off" in lines[-1]
    assert re.search(rf"broadcast ended id={long_item['id']} outcome=preempted reason='preempted by emergency "
                     rf"{emergency['id']}' requeued=True", log)
    for item_id in ids + [emergency["id"]]:
        assert re.search(rf"broadcast ended id={item_id} outcome=played", log)
