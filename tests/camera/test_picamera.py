"""The Pi camera path off a Pi: picamera2 has no test backend, so the `PiCamera` protocol
(three methods) is played by a fake that renders a labelled scene as the lores YUV420
stream and encodes the main stream with PyAV's libx264 into Annex-B access units with
SPS/PPS on every keyframe, from a thread of its own (as the Pi's H264Encoder with
repeat=True). Everything after that boundary is the real code: packets in the pre-roll
ring, stream-copied into MP4 without re-encoding."""
from __future__ import annotations

import queue
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from camera.config import CameraConfig
from camera.picamera import Picamera2Source, parameter_sets
from camera.pipeline import CameraPipeline
from camera.synthetic import FPS, HEIGHT, WIDTH, Scene, Walk, _background, render


class FakePiCamera:
    def __init__(self, scene: Scene):
        self.scene = scene
        rng = np.random.default_rng(scene.seed)
        background = _background(rng)
        self.grey = [render(scene, i, background, rng) for i in range(int(scene.seconds * FPS))]
        self.done = threading.Event()
        self._todo: queue.Queue[int | None] = queue.Queue(maxsize=50)
        self._i = 0
        self.closed = False

    def start(self, main: tuple[int, int], lores: tuple[int, int], fps: int, on_packet: Any) -> None:
        assert lores == (WIDTH, HEIGHT) and fps == FPS
        encoder = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height, encoder.pix_fmt = main[0], main[1], "yuv420p"
        encoder.time_base = Fraction(1, fps)
        encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(fps), "x264-params": "repeat-headers=1"}
        self.main = main

        def encode() -> None:  # the encoder's own thread, calling back like picamera2's Output
            while (i := self._todo.get()) is not None:
                big = cv2.resize(self.grey[i], main, interpolation=cv2.INTER_LINEAR)
                frame = av.VideoFrame.from_ndarray(np.stack([big] * 3, axis=-1), format="rgb24").reformat(format="yuv420p")
                frame.pts = i
                for packet in encoder.encode(frame):
                    on_packet(bytes(packet), packet.is_keyframe, packet.pts * 1_000_000 // fps)

        self._thread = threading.Thread(target=encode, daemon=True)
        self._thread.start()
        self._started = time.monotonic()
        self._todo.put(0)

    def capture_lores(self) -> np.ndarray:
        i = self._i
        wait = self._started + i / FPS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        grey = self.grey[min(i, len(self.grey) - 1)]
        self._i += 1
        if self._i < len(self.grey):
            self._todo.put(self._i)
        else:
            self.done.set()
        yuv = np.full((HEIGHT * 3 // 2, WIDTH), 128, np.uint8)
        yuv[:HEIGHT] = grey
        return yuv

    def close(self) -> None:
        self._todo.put(None)
        self._thread.join(5)
        self.closed = True


def test_parameter_sets_are_taken_from_an_annex_b_keyframe():
    sps, pps, idr = b"\x67\x64\x00\x1f\xac", b"\x68\xee\x3c\x80", b"\x65\x88\x84"
    unit = b"\0\0\0\1\x09\xf0" + b"\0\0\0\1" + sps + b"\0\0\1" + pps + b"\0\0\1" + idr
    assert parameter_sets(unit) == b"\0\0\0\1" + sps + b"\0\0\0\1" + pps
    assert parameter_sets(b"\0\0\0\1" + idr) == b""


def test_pi_camera_clips_are_the_hardware_stream_copied_with_pre_roll(tmp_path: Path):
    scene = Scene(seconds=9, walks=(Walk(3.0, speed=200),), seed=13)
    camera = FakePiCamera(scene)
    source = Picamera2Source(camera)
    pipeline = CameraPipeline(CameraConfig(name="pi", source="picamera2", pre_s=2, post_s=1, person_tags=False),
                              clip_dir=tmp_path)
    items = source.items(camera.done)
    first = next(items)
    assert source.copy_template is not None and source.copy_template.codec_context.extradata.startswith(b"\0\0\0\1\x67")
    pipeline.source_fps = source.fps
    pipeline.use_template(source.copy_template)   # not raw: packets are stream-copied, nothing is encoded here
    pipeline.feed(first)
    for item in items:
        pipeline.feed(item)
    pipeline.finish()
    source.close()
    assert camera.closed

    (event,) = pipeline.finished
    assert abs(event["start"] - 3.0) <= 1.0
    clip = Path(event["clip"])
    data = clip.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")                      # faststart
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1280, 720)
        packets = [p for p in container.demux(stream) if p.size]
    with av.open(str(clip)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert packets[0].is_keyframe
    duration = float((packets[-1].pts - packets[0].pts) * packets[0].time_base) + 0.1
    assert len(packets) == pytest.approx(duration * FPS, abs=1)          # every frame of the main stream
    assert frames == len(packets)                                         # and every one decodes
    # pre-roll from a keyframe (one a second) at or before start - 2 s, post-roll 1 s after the motion
    assert duration >= (event["end"] - event["start"]) + 2.0 and duration <= (event["end"] - event["start"]) + 4.5
