"""Where the sound goes: a small protocol `AudioSink` (check, open, write, close, and an
`underruns` count) with one real adapter (PyAudio on the configured device) and one
file-backed one (WAV files, for simulation and tests: output = "wav:DIR"). Volume is
applied before the sink."""
from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
import time
import wave
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

from audio.media import open_wav

logger = logging.getLogger(__name__)


class HardwareUnavailable(Exception):
    pass


class AudioSink(Protocol):
    underruns: int  # blocks that reached the output after it had run dry, since open()

    def check(self, rate: int) -> str: ...  # "" if open() would work now, else what is wrong;
    # cheap and silent (nothing is played), so it can be asked at start and again while it fails
    def open(self, name: str, rate: int) -> None: ...
    def write(self, pcm: np.ndarray) -> None: ...
    def close(self, drain: bool = True) -> str: ...  # what was written (a file path or the device);
    # drain=False drops what is still buffered (a stop or a preemption is heard at once)


def apply_volume(pcm: np.ndarray, volume: int) -> np.ndarray:
    """Percent volume on a perceptual (squared) curve; 100 = unchanged."""
    if volume >= 100:
        return pcm
    gain = (volume / 100.0) ** 2
    return (pcm.astype(np.float32) * gain).astype(np.int16)


# The WAV sink keeps the newest WAV_KEEP_FILES files and at most WAV_KEEP_MB of them (the
# newest one always, however large): a demo or a Pi left on the WAV sink must not fill
# the card, where camera retention would then remove clips to make room.
WAV_KEEP_FILES = 100
WAV_KEEP_MB = 200
WAV_NAME = re.compile(r"\d{8}-\d{6}-.*\.wav")  # what open() names a file: only those are removed


class WavSink:
    """One WAV file per broadcast in `directory`, written at the pace of a real sound
    card (so preemption, the amplifier tail and the queue behave as on a Pi). Like a
    card, it counts underruns: a block that arrives after the audio before it has run
    out (`underruns`), and the least audio left queued once the buffer has filled
    (`min_headroom_s`). Old files are removed, oldest first, to keep `keep_files` files
    and `keep_mb` MB (see WAV_KEEP_FILES)."""

    def __init__(self, directory: str | Path, *, buffer_s: float, realtime: bool = True,
                 keep_files: int = WAV_KEEP_FILES, keep_mb: float = WAV_KEEP_MB):
        self.dir = Path(directory)
        self.realtime, self.buffer_s = realtime, buffer_s
        self.keep_files, self.keep_bytes = keep_files, int(keep_mb * 2**20)
        self._wav: wave.Wave_write | None = None
        self._path: Path | None = None
        self._written, self._rate = 0, 1    # frames written since open(), at its rate
        self.underruns, self.min_headroom_s = 0, float("inf")

    def check(self, rate: int) -> str:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            return f"audio.output: cannot create the WAV directory {self.dir} ({err.strerror})"
        if not os.access(self.dir, os.W_OK | os.X_OK):
            return f"audio.output: cannot write WAV files into {self.dir} (permission denied)"
        return ""

    def open(self, name: str, rate: int) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._prune(None)  # room for this one even if the last close() could not run
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80]
        self._path = self.dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}.wav"
        self._part = self._path.with_suffix(".part")
        self._file = open(self._part, "wb")
        self._wav = open_wav(self._file, rate)
        self._rate = rate
        self._written = 0
        self._t0 = 0.0
        self.underruns, self.min_headroom_s = 0, float("inf")

    @property
    def written_s(self) -> float:
        """Seconds of audio written since open()."""
        return self._written / self._rate

    def write(self, pcm: np.ndarray) -> None:
        assert self._wav is not None, "open() first"
        if not self._written:
            self._t0 = time.monotonic()  # a card starts with the first block
        elif self.realtime:
            headroom = self._written / self._rate - (time.monotonic() - self._t0)
            if self._written >= self.buffer_s * self._rate:  # once the buffer has filled
                self.min_headroom_s = min(self.min_headroom_s, headroom)
            if headroom < 0:
                self.underruns += 1
                self._t0 += -headroom  # the card restarts after the gap, as ALSA recovers from an xrun
        self._wav.writeframes(pcm.astype("<i2").tobytes())
        self._written += len(pcm)
        if self.realtime:
            ahead = self._written / self._rate - (time.monotonic() - self._t0) - self.buffer_s
            if ahead > 0:
                time.sleep(ahead)

    def close(self, drain: bool = True) -> str:
        if self._wav is None:
            return ""
        self._wav.close()
        self._file.close()
        self._wav = None
        assert self._path is not None
        self._part.replace(self._path)  # a finished file appears whole
        self._prune(self._path)
        return str(self._path)

    def _prune(self, newest: Path | None) -> None:
        """Remove the oldest finished WAVs beyond keep_files / keep_bytes. `newest` (the
        file just written) counts first and is never removed; nor is a file being
        written (*.part) or any file this sink did not name."""
        found = []
        try:
            count, size = (1, newest.stat().st_size) if newest else (0, 0)
            for path in self.dir.iterdir():
                if path != newest and WAV_NAME.fullmatch(path.name):
                    try:
                        st = path.stat()
                    except FileNotFoundError:  # gone meanwhile
                        continue
                    found.append((st.st_mtime, path.name, st.st_size, path))
        except OSError as err:  # the broadcast itself was written: say so and go on
            logger.warning("wav sink cannot list old files dir=%s error=%r", self.dir, err.strerror)
            return
        removed = freed = 0
        full = False
        for _, _, bytes_, path in sorted(found, reverse=True):  # newest first; from the first that
            full = full or count >= self.keep_files or size + bytes_ > self.keep_bytes  # does not fit, all go
            if not full:
                count, size = count + 1, size + bytes_
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as err:
                logger.warning("wav sink cannot remove old file path=%s error=%r", path, err.strerror)
                continue
            removed, freed = removed + 1, freed + bytes_
        if removed:
            logger.info("wav sink removed old files dir=%s count=%d freed_mb=%.1f kept=%d", self.dir, removed,
                        freed / 2**20, count)


# PortAudio's device scan (every PyAudio()) makes ALSA and JACK print dozens of lines to
# stderr on a machine without a sound card, or with a card and ALSA's stock config:
# unknown PCMs, no JACK server. Re-checking a missing card must not fill the journal.
CHATTER = re.compile(r"ALSA lib |Cannot connect to server|jack server is not running|Jack|Expression '.*' failed in ")
_stderr_lock = threading.Lock()


@contextmanager
def portaudio_chatter_to_debug() -> Iterator[None]:
    """While PortAudio runs, fd 2 goes to a temporary file; afterwards the lines that are
    ALSA's or JACK's chatter are logged at debug level (`--log-level DEBUG`) and anything
    else — another thread's output in the meantime — is written back to stderr."""
    with _stderr_lock, tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to keep quiet
            yield
            return
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            chatter, other = [], []
            for line in capture.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    (chatter if CHATTER.match(line) else other).append(line)
            if chatter:
                logger.debug("portaudio chatter lines=%d first=%r", len(chatter), chatter[0])
            if other:
                os.write(2, ("\n".join(other) + "\n").encode())


def _pa_reason(err: Exception) -> str:
    """PyAudio's errors carry (code, text) or (text, code): the text."""
    return next((a for a in err.args if isinstance(a, str)), str(err))


class PyAudioSink:
    """The sound card through PortAudio. `device` is a name (substring match), an index,
    or "default"."""

    def __init__(self, device: str = "default", *, buffer_s: float):
        self.device, self.buffer_s = device, buffer_s
        self._pa = None
        self._stream = None
        self.underruns = 0

    def _portaudio(self) -> tuple[Any, Any]:
        """(the pyaudio module, a fresh PortAudio instance): each one scans the devices
        again, so a USB card plugged in since the last one is seen."""
        try:
            import pyaudio
        except ImportError as err:
            raise HardwareUnavailable("PyAudio is not installed (apt-get install portaudio19-dev; pip install PyAudio)") from err
        with portaudio_chatter_to_debug():
            return pyaudio, pyaudio.PyAudio()

    def _output_index(self, pa: Any) -> int:
        if self.device == "default":
            try:
                return int(pa.get_default_output_device_info()["index"])
            except OSError as err:
                raise HardwareUnavailable(f"audio.output: no sound card for 'default' ({_pa_reason(err)}); plug one "
                                          "in (check with `aplay -l`) or name another device") from err
        if self.device.isdigit():
            return int(self.device)
        for i in range(pa.get_device_count()):
            info = pa.get_device_info_by_index(i)
            if self.device.lower() in str(info.get("name", "")).lower() and info.get("maxOutputChannels", 0) > 0:
                return i
        raise HardwareUnavailable(f"audio.output: no output device named {self.device!r}; "
                                  "list them with `aplay -L` or use \"default\"")

    def _cannot_open(self, err: Exception) -> HardwareUnavailable:
        return HardwareUnavailable(f"audio.output: cannot open sound device {self.device!r} ({_pa_reason(err)})")

    def check(self, rate: int) -> str:
        """Asks PortAudio whether the device takes mono 16-bit at `rate`: the device is
        opened for a moment and nothing is written (no sound)."""
        try:
            pyaudio, pa = self._portaudio()
        except HardwareUnavailable as err:
            return str(err)
        try:
            with portaudio_chatter_to_debug():
                pa.is_format_supported(rate, output_device=self._output_index(pa), output_channels=1,
                                       output_format=pyaudio.paInt16)
        except HardwareUnavailable as err:
            return str(err)
        except (OSError, ValueError) as err:
            return str(self._cannot_open(err))
        finally:
            with portaudio_chatter_to_debug():
                pa.terminate()
        return ""

    def open(self, name: str, rate: int) -> None:
        pyaudio, self._pa = self._portaudio()
        self._underflowed = pyaudio.paOutputUnderflowed
        self.underruns = 0
        try:
            with portaudio_chatter_to_debug():
                self._stream = self._pa.open(format=pyaudio.paInt16, channels=1, rate=rate, output=True,
                                             output_device_index=self._output_index(self._pa),
                                             frames_per_buffer=max(256, int(rate * self.buffer_s / 2)))  # two periods
        except (HardwareUnavailable, OSError, ValueError) as err:
            with portaudio_chatter_to_debug():
                self._pa.terminate()
            self._pa = None
            if isinstance(err, HardwareUnavailable):
                raise
            raise self._cannot_open(err) from err

    def write(self, pcm: np.ndarray) -> None:
        assert self._stream is not None, "open() first"
        try:
            self._stream.write(pcm.astype("<i2").tobytes(), exception_on_underflow=True)
        except OSError as err:  # PortAudio wrote the block but the card had run dry before it
            if not err.args or err.args[0] != self._underflowed:
                raise
            self.underruns += 1

    def close(self, drain: bool = True) -> str:
        if self._stream is not None:
            try:
                if drain:
                    self._stream.stop_stream()  # plays what is buffered
                self._stream.close()  # an active stream is aborted: buffered audio is dropped
            finally:
                self._stream = None
        if self._pa is not None:
            self._pa.terminate()
            self._pa = None
        return f"device:{self.device}"


def make_sink(output: str, buffer_s: float) -> AudioSink:
    """The sink of audio.output, with audio.buffer_s queued ahead of the card."""
    if output.startswith("wav:"):
        return WavSink(output[4:], buffer_s=buffer_s)
    return PyAudioSink(output, buffer_s=buffer_s)
