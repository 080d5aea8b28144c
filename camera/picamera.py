"""The Pi camera module through picamera2: the low-res YUV420 stream ("lores") for
detection, the main stream encoded by the Pi's hardware H.264 encoder into packets that
the recorder keeps as pre-roll and stream-copies into clips, as it does for an IP camera.

picamera2 has no test backend, so it sits behind `PiCamera` (three methods); the real
adapter `Picamera2Camera` imports picamera2 only when started (nothing breaks off a Pi)."""
from __future__ import annotations

import logging
import queue
import threading
import time
from fractions import Fraction
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from camera.errors import CameraUnavailable
from camera.recorder import h264_stream
from camera.sources import Frame, Packet

logger = logging.getLogger(__name__)

MAIN_SIZE = (1280, 720)   # recorded
LORES_SIZE = (640, 360)   # analysed
FPS = 10
MICROSECONDS = Fraction(1, 1_000_000)
FIRST_KEYFRAME_S = 5.0    # the encoder's first keyframe (SPS/PPS for the clips' header) must come by then

OnPacket = Callable[[bytes, bool, int], None]   # (Annex-B H.264 access unit, keyframe, timestamp in µs)


class PiCamera(Protocol):
    def start(self, main: tuple[int, int], lores: tuple[int, int], fps: int, on_packet: OnPacket) -> None: ...
    def capture_lores(self) -> np.ndarray: ...   # YUV420 (H*3/2 x W), blocks until the next frame
    def close(self) -> None: ...


class Picamera2Camera:
    """The real camera: picamera2 with its H264Encoder (hardware) on the main stream."""

    def __init__(self) -> None:
        self._cam: Any = None

    def start(self, main: tuple[int, int], lores: tuple[int, int], fps: int, on_packet: OnPacket) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
            from picamera2.encoders import H264Encoder  # type: ignore[import-not-found]
            from picamera2.outputs import Output  # type: ignore[import-not-found]
        except ImportError:
            raise CameraUnavailable(
                "picamera2 is not installed: on Raspberry Pi OS run `sudo apt install python3-picamera2` "
                "and create the venv with --system-site-packages"
            ) from None

        class PacketOutput(Output):  # type: ignore[misc, valid-type]
            def outputframe(self, frame: Any, keyframe: bool = True, timestamp: Any = None, packet: Any = None,
                            audio: bool = False) -> None:
                if not audio:
                    on_packet(bytes(frame), bool(keyframe), int(timestamp or 0))

        try:
            self._cam = cam = Picamera2()
            config = cam.create_video_configuration(main={"size": main, "format": "YUV420"},
                                                    lores={"size": lores, "format": "YUV420"},
                                                    encode="main", controls={"FrameRate": fps})
            cam.configure(config)
            cam.start_encoder(H264Encoder(repeat=True, iperiod=fps), PacketOutput())
            cam.start()
        except Exception as err:  # libcamera raises plain RuntimeError/IndexError when no camera is attached
            raise CameraUnavailable(f"picamera2: no camera module found ({err}); check the ribbon cable") from None

    def capture_lores(self) -> np.ndarray:
        return self._cam.capture_array("lores")

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        for step in (cam.stop_encoder, cam.close):
            try:
                step()
            except Exception as err:  # half-started (no camera): closing must not kill the camera thread
                logger.warning("picamera2 close step=%s error=%r", step.__name__, str(err))


def parameter_sets(access_unit: bytes) -> bytes:
    """The SPS and PPS NAL units of an Annex-B access unit, as Annex-B (the clips' avcC)."""
    units = [u.lstrip(b"\0") for u in access_unit.split(b"\0\0\1")]
    return b"".join(b"\0\0\0\1" + u for u in units if u and u[0] & 0x1F in (7, 8))


def h264_template(width: int, height: int, fps: int, extradata: bytes) -> tuple[Any, Any]:
    """An H.264 stream description to stream-copy from (never opened or written); its
    container is returned with it and must be kept alive as long as the stream."""
    stream, sink = h264_stream(width, height, fps)
    stream.codec_context.extradata = extradata
    return stream, sink


class Picamera2Source:
    """Frames from the lores stream, packets from the hardware encoder. Times on one
    clock: when each arrived here (the encoder's latency is a few frames, far inside
    the pre-roll)."""

    def __init__(self, camera: PiCamera | None = None, fps: int = FPS, main: tuple[int, int] = MAIN_SIZE,
                 lores: tuple[int, int] = LORES_SIZE):
        self.name = "picamera2"
        self.copy_template: Any = None
        self.fps = float(fps)
        self._camera = camera or Picamera2Camera()
        self._main, self._lores = main, lores
        self._packets: queue.Queue[tuple[float, bytes, bool, int]] = queue.Queue(maxsize=300)
        self._started = 0.0
        self._sink: Any = None
        self.dropped = 0

    def _on_packet(self, data: bytes, keyframe: bool, timestamp_us: int) -> None:
        """The encoder's thread: only enqueue."""
        try:
            self._packets.put_nowait((time.monotonic() - self._started, data, keyframe, timestamp_us))
        except queue.Full:  # the camera thread is stuck: drop, the ring starts again at a keyframe
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                logger.warning("picamera2 packets dropped (the camera thread is behind) dropped=%d", self.dropped)

    def items(self, stop: threading.Event) -> Iterator[Frame | Packet]:
        import av

        self._started = time.monotonic()
        self._camera.start(self._main, self._lores, int(self.fps), self._on_packet)
        first = self._first_keyframe(stop)
        if first is None:
            return
        self.copy_template, self._sink = h264_template(*self._main, int(self.fps), parameter_sets(first[1]))
        logger.info("camera source open source=picamera2 main=%dx%d lores=%dx%d", *self._main, *self._lores)
        base = first[3]
        pending: list[tuple[float, bytes, bool, int]] = [first]
        w, h = self._lores
        while not stop.is_set():
            for t, data, keyframe, ts in pending:
                pts = max(ts - base, 0)
                yield Packet(t, data, pts, pts, keyframe, MICROSECONDS)
            yuv = self._camera.capture_lores()
            t = time.monotonic() - self._started
            yield Frame(t, lambda a=yuv: av.VideoFrame.from_ndarray(a, format="yuv420p"), yuv[:h, :w])
            pending = self._drain()

    def _first_keyframe(self, stop: threading.Event) -> tuple[float, bytes, bool, int] | None:
        deadline = time.monotonic() + FIRST_KEYFRAME_S
        while not stop.is_set():
            try:
                item = self._packets.get(timeout=0.1)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise CameraUnavailable("picamera2: the H.264 encoder gave no keyframe in "
                                            f"{FIRST_KEYFRAME_S:.0f} s; check the camera and `dmesg`") from None
                continue
            if item[2] and parameter_sets(item[1]):
                return item
        return None

    def _drain(self) -> list[tuple[float, bytes, bool, int]]:
        out = []
        while True:
            try:
                out.append(self._packets.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self._camera.close()
        self._sink = None
