"""Clips with pre-roll and post-roll, written as MP4 (H.264, faststart) with PyAV.

H.264 sources are stream-copied: the last seconds are kept as compressed packets in a
`PacketRing`, and a clip starts at the last keyframe at or before `start - pre_s`.
Raw sources (USB, non-H.264 files) go through `FrameEncoder` (libx264
ultrafast, a keyframe every second of source time) and then the same path. A clip is written to
`<name>.mp4.part` and renamed when finished, so a crash never leaves a clip that looks whole."""
from __future__ import annotations

import io
import logging
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from camera.sources import Frame, Packet

logger = logging.getLogger(__name__)

PART = ".part"
GLOBAL_HEADER = 1 << 22   # AV_CODEC_FLAG_GLOBAL_HEADER


def _discard(path: Path) -> None:
    """Remove a partial clip; a folder that is gone or unusable is not a second error."""
    try:
        path.unlink(missing_ok=True)
    except OSError as err:
        logger.warning("partial clip not removed path=%s error=%r", path, str(err))


class PacketRing:
    """The last `keep_s` seconds of packets, always starting at a keyframe."""

    def __init__(self, keep_s: float):
        self.keep_s = keep_s
        self._packets: deque[Packet] = deque()

    def add(self, packet: Packet) -> None:
        self._packets.append(packet)
        horizon = packet.t - self.keep_s
        # drop whole GOPs while the next keyframe is still old enough to start a pre-roll
        while True:
            keys = [i for i, p in enumerate(self._packets) if p.keyframe]
            if len(keys) < 2 or self._packets[keys[1]].t > horizon:
                break
            for _ in range(keys[1]):
                self._packets.popleft()
        if len(self._packets) > 10_000:  # no keyframe for minutes: a broken stream, bound memory
            self._packets.clear()

    def since(self, t0: float) -> list[Packet]:
        """Packets from the last keyframe at or before `t0` (else the first keyframe)."""
        packets = list(self._packets)
        start = None
        for i, p in enumerate(packets):
            if p.keyframe and (start is None or p.t <= t0):
                start = i
            if p.t > t0 and start is not None:
                break
        return [] if start is None else packets[start:]

    def clear(self) -> None:
        self._packets.clear()


class ClipWriter:
    """One MP4 being written: packets are stream-copied, timestamps rebased to 0."""

    def __init__(self, path: Path, template: Any):
        import av

        self.path = path
        self.part = path.with_name(path.name + PART)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out = av.open(str(self.part), "w", format="mp4", options={"movflags": "+faststart"})
        self._stream = self._out.add_stream_from_template(template)
        if template.codec_context.is_encoder and template.codec_context.extradata:  # SPS/PPS only in the codec context
            self._stream.codec_context.extradata = template.codec_context.extradata
        self._base: int | None = None
        self._last_dts = -1
        self.until: float | None = None
        self.first_t: float | None = None
        self.last_t: float | None = None

    def write(self, packet: Packet) -> None:
        import av

        if self._base is None:
            if not packet.keyframe:
                return
            self._base, self.first_t = packet.dts, packet.t
        dts = packet.dts - self._base
        if dts <= self._last_dts:  # a loop of a file or a camera clock jump: keep dts rising
            return
        out = av.Packet(packet.data)
        out.pts, out.dts = packet.pts - self._base, dts
        out.time_base = packet.time_base
        out.is_keyframe = packet.keyframe
        out.stream = self._stream
        self._out.mux(out)
        self._last_dts, self.last_t = dts, packet.t

    def close(self) -> Path | None:
        """Finish the file; None when no packet was written (nothing to keep)."""
        self._out.close()
        if self._base is None:
            self.part.unlink(missing_ok=True)
            return None
        self.part.replace(self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._out.close()
        except Exception as err:  # closing writes the trailer: it fails for the same reason
            logger.warning("clip abort path=%s error=%r", self.part, str(err))
        finally:
            _discard(self.part)


def h264_stream(width: int, height: int, fps: int) -> tuple[Any, Any]:
    """An H.264 yuv420p stream description (the template clips are stream-copied from) and
    the container that holds it: never written, but it must be kept alive with the stream."""
    import av

    sink = av.open(io.BytesIO(), "w", format="mp4")
    stream = sink.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    return stream, sink


class FrameEncoder:
    """Raw frames -> H.264 packets (libx264 ultrafast, a keyframe every second of source time).

    Keyframes are forced by timestamp, not counted in frames: a source that delivers fewer
    frames than its container's nominal rate (OpenCV's tree.avi says 15 fps, holds about 2.3)
    would otherwise get a keyframe only every `fps` frames (~7 s), and a clip's pre-roll,
    cut at a keyframe, would start that much too early."""

    def __init__(self, width: int, height: int, fps: float):
        from av.video.frame import PictureType

        self._keyframe = PictureType.I
        self._rate = max(1, round(fps))
        self.stream, self._sink = h264_stream(width - width % 2, height - height % 2, self._rate)
        # forced-idr: a forced keyframe is an IDR the MP4 marks as a sync sample; `g` is only a
        # backstop (frames are never closer than 1/rate, so the forced keyframe comes first)
        self.stream.options = {"preset": "ultrafast", "tune": "zerolatency", "forced-idr": "1",
                               "g": str(2 * self._rate)}
        self.stream.codec_context.flags |= GLOBAL_HEADER  # SPS/PPS as MP4 extradata (avcC), not in-band
        self._first: float | None = None
        self._last_pts = -1
        self._key_second = -1

    def encode(self, frame: Frame) -> list[Packet]:
        picture = frame.picture().reformat(width=self.stream.width, height=self.stream.height, format="yuv420p")
        if self._first is None:
            self._first = frame.t
        rate = self._rate
        picture.pts = round((frame.t - self._first) * rate)
        if picture.pts <= self._last_pts:  # faster source than `fps`: drop, never send a pts twice
            return []
        self._last_pts = picture.pts
        picture.time_base = Fraction(1, rate)
        if picture.pts // rate != self._key_second:  # the first frame of each second of source time
            self._key_second = picture.pts // rate
            picture.pict_type = self._keyframe
        out = []
        for p in self.stream.encode(picture):
            tb = p.time_base or Fraction(1, rate)
            t = self._first + float(p.pts * tb)
            out.append(Packet(t, bytes(p), p.pts, p.dts if p.dts is not None else p.pts, p.is_keyframe, tb))
        return out


@dataclass
class FinishedClip:
    key: Any
    path: Path | None


class Recorder:
    """Per camera: the pre-roll ring and the clips being written from it."""

    def __init__(self, pre_s: float, post_s: float):
        self.pre_s, self.post_s = pre_s, post_s
        self.ring = PacketRing(pre_s + 1.0)
        self.template: Any = None
        self._encoder: FrameEncoder | None = None
        self._writers: dict[Any, ClipWriter] = {}
        self.failure = ""               # why the last clip was lost (disk full, I/O error); "" once one is written

    def use_template(self, template: Any) -> list[FinishedClip]:
        """The source (re)opened with this stream: clips of the old stream are finished."""
        done = []
        if template is not self.template:
            done = self.finish_all()
            self.ring.clear()
            self.template = template
            self._encoder = None
        return done

    def feed_frame(self, frame: Frame, fps: float) -> list[FinishedClip]:
        """Raw sources only: encode, then as packets."""
        if self._encoder is None:
            h, w = frame.grey.shape[:2]
            self._encoder = FrameEncoder(w, h, fps)
            self.template = self._encoder.stream
        done: list[FinishedClip] = []
        for packet in self._encoder.encode(frame):
            done += self.feed_packet(packet)
        return done

    def feed_packet(self, packet: Packet) -> list[FinishedClip]:
        self.ring.add(packet)
        done = []
        for key, writer in list(self._writers.items()):
            if writer.until is not None and packet.t > writer.until:
                done.append(self._close(key))
                continue
            try:
                writer.write(packet)
            except Exception as err:  # disk full, I/O error: this clip is lost, the event and camera go on
                logger.error("clip write failed key=%s error=%r", key, str(err))
                self.failure = f"clip {key} not written ({err})"
                self._writers.pop(key)
                writer.abort()
                done.append(FinishedClip(key, None))
        return done

    def start(self, key: Any, path: Path, t0: float) -> None:
        if self.template is None:
            logger.warning("clip not started key=%s reason=no-stream-yet", key)
            return
        writer = None
        try:
            writer = ClipWriter(path, self.template)
            for packet in self.ring.since(t0 - self.pre_s):
                writer.write(packet)
        except Exception as err:  # disk full, I/O error: the event goes on without a clip
            logger.error("clip failed key=%s error=%r", key, str(err))
            self.failure = f"clip {key} not written ({err})"
            if writer is not None:
                writer.abort()
            _discard(Path(str(path) + PART))
            return
        self._writers[key] = writer
        logger.info("clip started key=%s path=%s", key, path)

    def stop_at(self, key: Any, t_end: float) -> None:
        """Motion ended at `t_end`: keep writing until the post-roll is in."""
        if key in self._writers:
            self._writers[key].until = t_end + self.post_s

    def recording(self, key: Any) -> bool:
        return key in self._writers

    def _close(self, key: Any) -> FinishedClip:
        writer = self._writers.pop(key)
        try:
            path = writer.close()
        except Exception as err:  # disk full, I/O error: the event stays, without a clip
            logger.error("clip failed key=%s error=%r", key, str(err))
            self.failure = f"clip {key} not written ({err})"
            _discard(writer.part)
            path = None
        if path is not None:
            self.failure = ""
        logger.info("clip finished key=%s path=%s seconds=%.1f", key, path,
                    (writer.last_t or 0) - (writer.first_t or 0))
        return FinishedClip(key, path)

    def finish_all(self) -> list[FinishedClip]:
        return [self._close(key) for key in list(self._writers)]
