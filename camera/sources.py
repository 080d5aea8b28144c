"""Camera sources: RTSP IP cameras, USB cameras, video files (looped in the demo) through
PyAV, and the Pi camera through picamera2 (camera/picamera.py, imported lazily: nothing
breaks off a Pi).

A source yields `Frame`s (the decoded picture's Y plane, free of any conversion) and,
when the stream is H.264, the compressed `Packet`s the recorder stream-copies. Times are
seconds on the source's own clock, continuous across loops of a file."""
from __future__ import annotations

import io
import logging
import re
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterator, Protocol

import numpy as np

from camera.errors import CameraError

logger = logging.getLogger(__name__)

Y_PLANE_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}
COPY_CODECS = {"h264"}   # stream-copied into MP4; anything else is re-encoded
MAX_BAD_RUN = 50         # undecodable packets in a row that mean the stream is broken


class Frame:
    """A decoded picture at `t` (seconds on the source clock). `grey` is its full-resolution
    luma (H x W, uint8), taken on first use: frames the detector skips never pay for it.
    `picture()` is the av.VideoFrame, for snapshots and encoding."""

    __slots__ = ("t", "_grey", "_picture")

    def __init__(self, t: float, picture: Any, grey: np.ndarray | None = None):
        self.t = t
        self._picture = picture       # an av.VideoFrame, or a function making one
        self._grey = grey

    @property
    def grey(self) -> np.ndarray:
        if self._grey is None:
            self._grey = grey_of(self.picture())
        return self._grey

    def picture(self) -> Any:
        picture = self._picture
        return picture() if callable(picture) else picture


@dataclass
class Packet:
    t: float
    data: bytes
    pts: int
    dts: int
    keyframe: bool
    time_base: Fraction


class FrameSource(Protocol):
    name: str
    copy_template: Any                # av stream to stream-copy from, or None (raw frames)
    fps: float                        # nominal frame rate, known once the first item is out

    def items(self, stop: threading.Event) -> Iterator[Frame | Packet]: ...
    def close(self) -> None: ...


def redact(url: str) -> str:
    """rtsp://user:pass@host/... -> rtsp://user:***@host/... for logs and status. The
    password runs to the last @ before the path (FFmpeg reads it so): "Admin@123" is one."""
    return re.sub(r"(//[^:/@]+):[^/]*@", r"\1:***@", url)


def _why(err: Exception) -> str:
    """The error without the URL PyAV appends (it carries the camera's password)."""
    return getattr(err, "strerror", None) or redact(str(err))


def grey_of(frame: Any) -> np.ndarray:
    """The luma plane of a decoded frame as a numpy view (no colour conversion)."""
    if frame.format.name in Y_PLANE_FORMATS:
        plane = frame.planes[0]
        return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : frame.width]
    return frame.to_ndarray(format="gray")


class PyavSource:
    """RTSP, USB (/dev/videoN through v4l2) or a file, decoded with PyAV."""

    def __init__(self, url: str, *, loop: bool = False, realtime: bool = False, timeout_s: float = 10.0,
                 demux_only: bool = False, packets: bool = True):
        self.url = url
        self.packets = packets  # False: frames only (nothing records, no packet copies)
        self.name = redact(url)
        self.loop = loop
        self.realtime = realtime
        self.demux_only = demux_only
        self.copy_template: Any = None
        self.fps = 0.0
        self.decode_errors = 0            # corrupt packets skipped (the decoder recovers at the next keyframe)
        self._bad_run = 0
        self._container: Any = None
        self._timeout = timeout_s

    def _open(self) -> Any:
        import av

        options: dict[str, str] = {}
        fmt = None
        if self.url.startswith(("rtsp://", "rtsps://")):
            options = {"rtsp_transport": "tcp", "timeout": str(int(self._timeout * 1e6))}
        elif self.url.startswith("/dev/video"):
            fmt = "v4l2"
        try:
            container = av.open(self.url, format=fmt, options=options, timeout=(self._timeout, self._timeout))
        except FileNotFoundError:
            raise CameraError(f"{self.name}: no such file or device; check the camera's source") from None
        except av.error.HTTPUnauthorizedError as err:
            raise CameraError(f"{self.name}: the camera refused the user name or password ({_why(err)})") from None
        except (av.error.FFmpegError, OSError) as err:
            raise CameraError(f"{self.name}: cannot open ({_why(err)})") from None
        if not container.streams.video:
            container.close()
            raise CameraError(f"{self.name}: has no video stream")
        return container

    def items(self, stop: threading.Event) -> Iterator[Frame | Packet]:
        import av

        self._container = container = self._open()
        stream = container.streams.video[0]
        self.copy_template = _outliving(stream) if stream.codec_context.name in COPY_CODECS else None
        if self.demux_only and self.copy_template is None:  # a main stream only there to be copied into clips
            raise CameraError(f"{self.name}: the stream is {stream.codec_context.name}, not H.264, so it cannot be "
                              "copied into clips; set the camera's main stream to H.264 or leave record_source empty")
        tb = stream.time_base
        seconds = float(tb)  # float, not Fraction: Fraction arithmetic costs microseconds a frame
        self.fps = float(stream.average_rate or stream.guessed_rate or 10)
        offset, first, last_t, step = 0.0, None, 0.0, 1.0 / self.fps
        started = time.monotonic()
        logger.info("camera source open source=%s codec=%s size=%dx%d", self.name, stream.codec_context.name,
                    stream.codec_context.width, stream.codec_context.height)
        while not stop.is_set():
            try:
                for packet in container.demux(stream):
                    if stop.is_set():
                        return
                    if packet.size:  # else the end of the file: decoding it drains the decoder's delayed frames
                        ts = packet.pts if packet.pts is not None else packet.dts
                        if ts is None:
                            continue
                        if first is None:
                            first = ts
                        t = offset + (ts - first) * seconds
                        if self.realtime:
                            wait = started + t - time.monotonic()
                            if wait > 0 and stop.wait(wait):
                                return
                        if self.packets and self.copy_template is not None:
                            shift = round(offset / seconds) - first  # timestamps keep rising across loops of a file
                            yield Packet(t, bytes(packet), ts + shift,
                                         (packet.dts if packet.dts is not None else ts) + shift, packet.is_keyframe, tb)
                    if self.demux_only or first is None:
                        continue
                    for frame in self._decode(packet):
                        pts = frame.pts
                        ft = offset + ((pts if pts is not None else ts) - first) * seconds
                        last_t = max(last_t, ft)
                        yield Frame(ft, frame)
            except av.error.EOFError:
                pass
            except (av.error.FFmpegError, OSError) as err:
                raise CameraError(f"{self.name}: stream broke ({_why(err)})") from None
            if not self.loop:
                return
            container.seek(0)
            offset = last_t + step
            first = None

    def _decode(self, packet: Any) -> list[Any]:
        """The packet's frames; a packet the decoder rejects (corrupt data, a lost RTP
        fragment) is skipped and counted, as the decoder recovers at the next keyframe.
        Only a long run of them means the stream is broken."""
        import av

        try:
            frames = packet.decode()
        except av.error.InvalidDataError as err:
            self.decode_errors += 1
            self._bad_run += 1
            if self.decode_errors == 1 or self.decode_errors % 100 == 0:
                logger.warning("camera corrupt packet skipped source=%s errors=%d error=%r", self.name,
                               self.decode_errors, _why(err))
            if self._bad_run >= MAX_BAD_RUN:
                raise CameraError(f"{self.name}: stream broke ({self._bad_run} undecodable packets in a row)") from None
            return []
        self._bad_run = 0
        return frames

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def _outliving(stream: Any) -> Any:
    """`stream`'s description (codec, picture size, SPS/PPS) copied into a container of its
    own: clips are still made from it after this connection closes (FFmpeg crashes on a
    stream of a closed container: a main stream that dropped, while an event starts)."""
    import av

    return av.open(io.BytesIO(), "w", format="mp4").add_stream_from_template(stream)


def open_source(spec: str, *, realtime: bool = True, demux_only: bool = False) -> FrameSource:
    """A source for a config `source`/`record_source` value; files loop when realtime."""
    if spec == "picamera2":
        from camera.picamera import Picamera2Source

        return Picamera2Source()
    is_file = not spec.startswith(("rtsp://", "rtsps://", "http://", "https://", "/dev/video"))
    return PyavSource(spec, loop=is_file and realtime, realtime=is_file and realtime, demux_only=demux_only)
