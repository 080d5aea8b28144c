"""Decode whatever arrives — MP3, WAV, M4A/AAC, WebM/Opus, OGG files and HTTP/HLS
radio streams — into 16-bit PCM at the output format, through PyAV (its wheel carries
FFmpeg). Non-audio, corrupt and oversized input is refused with a clear error."""
from __future__ import annotations

import errno
import io
import logging
import queue
import re
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import av
import numpy as np

logger = logging.getLogger(__name__)

CHANNELS = 1  # loudspeaker systems are mono; every source is downmixed


class MediaError(Exception):
    """Input that cannot be played: the message says why and what to send instead; `kind`
    and `values` say the same for machines (e.g. "file_too_large", limit_mb=30)."""

    def __init__(self, message: str, kind: str = "", **values: Any):
        super().__init__(message)
        self.kind, self.values = kind, values


@dataclass(frozen=True)
class MediaInfo:
    codec: str
    container: str
    duration_s: float | None
    sample_rate: int


def probe(path: str | Path, max_bytes: int, max_seconds: float) -> MediaInfo:
    """Check an uploaded file before it is queued: size, an audio stream, it decodes."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise MediaError(f"file: {size // 2**20} MB is larger than the {max_bytes // 2**20} MB limit (audio.max_upload_mb)",
                         "file_too_large", limit_mb=max_bytes // 2**20)
    if size == 0:
        raise MediaError("file: the file is empty", "file_empty")
    try:
        with av.open(str(path), timeout=10) as container:
            if not container.streams.audio:
                raise MediaError("file: no audio in this file; send an MP3, M4A, WebM/Opus, OGG or WAV recording", "file_no_audio")
            stream = container.streams.audio[0]
            duration = _duration(container, stream)
            if duration is not None and duration > max_seconds:
                raise MediaError(f"file: {duration:.0f} s is longer than the {max_seconds:.0f} s limit (audio.max_audio_s)",
                                 "file_too_long", seconds=duration, limit_s=max_seconds)
            decoded = 0
            for frame in container.decode(stream):
                decoded += frame.samples
                if decoded >= stream.codec_context.sample_rate:  # one second decodes: good enough
                    break
            if decoded == 0:
                raise MediaError("file: the audio decodes to nothing", "file_unplayable")
            return MediaInfo(stream.codec_context.name, container.format.name, duration, stream.codec_context.sample_rate)
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, UnicodeDecodeError) as err:
        raise MediaError(f"file: not a playable audio file ({_why(err, 10)}); send an MP3, M4A, WebM/Opus, OGG or WAV recording",
                         "file_unplayable") from err


def _duration(container: "av.container.InputContainer", stream: "av.AudioStream") -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def decode(source: str | Path | bytes, rate: int, stop: threading.Event | None = None, *, max_seconds: float | None = None,
           timeout_s: float = 10.0) -> Iterator[np.ndarray]:
    """PCM blocks (int16, mono, `rate` Hz) from a file path, a URL (HTTP, HLS) or a whole
    encoded file in memory (speech the full disk kept out of the TTS cache).
    Ends at the end of the source, when `stop` is set, or after `max_seconds`.
    A stream that does not answer or stalls for `timeout_s` raises MediaError. A URL is read
    by a thread of its own: FFmpeg blocks until `timeout_s` in a connection that does not
    answer, and `stop` (an emergency, a cancel) must not wait for that."""
    blocks = _decode(source, rate, stop, max_seconds, timeout_s)
    if stop is not None and isinstance(source, (str, Path)) and "://" in str(source):
        blocks = _unblocked(blocks, stop, f"media {redact(str(source))}")
    yield from blocks


def _unblocked(blocks: Iterator[np.ndarray], stop: threading.Event, name: str) -> Iterator[np.ndarray]:
    """`blocks`, made in a thread: this ends within 0.1 s of `stop`, while the thread
    finishes on its own (at `stop`, or at FFmpeg's timeout) and closes its source."""
    out: queue.Queue[Any] = queue.Queue(maxsize=8)
    gone = threading.Event()   # this side stopped reading: the thread ends at its next block
    done = object()

    def produce() -> None:
        try:
            for block in blocks:
                while not out_put(block):
                    if stop.is_set() or gone.is_set():
                        return
            out_put(done, wait=True)
        except BaseException as err:  # handed over: raised on the reading side
            out_put(err, wait=True)
        finally:
            blocks.close()

    def out_put(item: Any, wait: bool = False) -> bool:
        while True:
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                if not wait or gone.is_set():
                    return False

    threading.Thread(target=produce, name=name, daemon=True).start()
    try:
        while True:
            try:
                item = out.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        gone.set()


def _decode(source: str | Path | bytes, rate: int, stop: threading.Event | None, max_seconds: float | None,
            timeout_s: float) -> Iterator[np.ndarray]:
    src = "speech in memory" if isinstance(source, bytes) else str(source)
    is_url = "://" in src
    options = {"reconnect": "0", "rw_timeout": str(int(timeout_s * 1e6))} if is_url else {}
    try:
        opened = io.BytesIO(source) if isinstance(source, bytes) else src
        container = av.open(opened, timeout=(timeout_s, timeout_s), options=options)
    except (av.FFmpegError, OSError) as err:
        raise MediaError(f"cannot open {redact(src)}: {_why(err, timeout_s)}", "source_unreachable",
                         source=redact(src)) from err
    produced = 0
    limit = None if max_seconds is None else int(max_seconds * rate)
    try:
        if not container.streams.audio:
            raise MediaError(f"{redact(src)}: no audio stream", "source_no_audio", source=redact(src))
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    block = out.to_ndarray().reshape(-1)
                    if limit is not None and produced + len(block) > limit:
                        block = block[: limit - produced]
                    produced += len(block)
                    yield block
                    if (stop is not None and stop.is_set()) or (limit is not None and produced >= limit):
                        return
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1)
        except (av.FFmpegError, OSError) as err:
            raise MediaError(f"{redact(src)} stopped sending audio after {produced / rate:.1f} s ({_why(err, timeout_s)})",
                             "source_stopped",
                             source=redact(src), seconds=round(produced / rate, 1)) from err
    finally:
        container.close()


def _why(err: Exception, timeout_s: float) -> str:
    """What went wrong, in FFmpeg's words but without the URL it appends (which may carry
    user:password@); a source silent for `timeout_s` (PyAV's interrupt says "Immediate exit
    requested") is said as such, with the setting that bounds it."""
    if isinstance(err, av.ExitError) or getattr(err, "errno", None) == errno.ETIMEDOUT:
        return f"no answer for {timeout_s:g} s, the limit of audio.stream_timeout_s"
    return getattr(err, "strerror", None) or redact(str(err))


def redact(text: str) -> str:
    """URLs may carry user:password@ (also FFmpeg's errors, which quote the URL): never log
    or show them. The password runs to the last @ before the path ("Pa@ss1" is one)."""
    return re.sub(r"([a-z][a-z0-9+.-]*://)[^/\s'\"]*@", r"\1***@", text, flags=re.IGNORECASE)


def tone(freq: float, seconds: float, rate: int, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.02)
    return (np.sin(2 * np.pi * freq * t) * fade * level * 32767).astype(np.int16)


def chime(rate: int) -> np.ndarray:
    """Ding-dong before and after an announcement (generated, no file needed)."""
    gap = np.zeros(int(0.05 * rate), dtype=np.int16)
    return np.concatenate([tone(880, 0.35, rate), gap, tone(660, 0.5, rate), np.zeros(int(0.3 * rate), dtype=np.int16)])


def silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.int16)


def encode(pcm: np.ndarray, rate: int, codec: str = "libmp3lame", container: str = "mp3", bitrate: int = 48000) -> bytes:
    """Mono int16 PCM -> a small encoded file in memory (the phone's preview button)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.bit_rate = bitrate
        frame_size = 1152
        for i in range(0, len(pcm), frame_size):
            chunk = pcm[i:i + frame_size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def open_wav(file: BinaryIO, rate: int) -> wave.Wave_write:
    """A mono 16-bit WAV written into an open file (the caller closes both). Opening the
    file first matters: `wave.open(path)` that cannot create it prints a stray
    `Exception ignored in Wave_write.__del__` traceback besides the real error."""
    wav = wave.open(file, "wb")
    wav.setnchannels(1)
    wav.setsampwidth(2)
    wav.setframerate(rate)
    return wav


def wav_bytes(pcm: np.ndarray, rate: int) -> bytes:
    """Mono int16 PCM -> a WAV file in memory."""
    buf = io.BytesIO()
    with open_wav(buf, rate) as wav:
        wav.writeframes(pcm.astype("<i2").tobytes())
    return buf.getvalue()


def write_file(path: str | Path, data: bytes) -> None:
    """Written as NAME.part, then renamed: the file appears whole or not at all."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
