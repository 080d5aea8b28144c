"""Decoding real codecs made with PyAV, HTTP and HLS streams from a local server, bad
input refused; the WAV sink and the real PyAudio path over ALSA's file plugin."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from audio.config import AudioConfig
from audio.media import MediaError, decode, probe
from audio.player import HardwareUnavailable, PyAudioSink, WavSink, apply_volume

RATE = 44100


def total(blocks) -> int:
    return sum(len(b) for b in blocks)


@pytest.mark.parametrize("kind", ["mp3", "m4a", "webm", "ogg", "wav"])
def test_every_phone_format_decodes_to_output_pcm(media, kind: str):
    path = media(kind, seconds=1.5)
    info = probe(path, 10 * 2**20, 600)
    assert info.duration_s == pytest.approx(1.5, abs=0.1)
    pcm = np.concatenate(list(decode(path, RATE)))
    assert pcm.dtype == np.int16 and abs(len(pcm) / RATE - 1.5) < 0.1
    spectrum = np.abs(np.fft.rfft(pcm[RATE // 4: RATE // 4 + RATE].astype(np.float32)))
    assert abs(int(np.argmax(spectrum)) - 440) <= 2  # the 440 Hz tone survived the codec and the resampler


def test_non_audio_corrupt_oversized_and_too_long_are_refused(tmp_path: Path, media):
    text = tmp_path / "note.mp3"
    text.write_text("không phải âm thanh " * 100)
    with pytest.raises(MediaError, match="file: not a playable audio file"):
        probe(text, 10 * 2**20, 600)
    good = media("mp3", 2.0)
    corrupt = tmp_path / "cut.m4a"
    corrupt.write_bytes(media("m4a", 2.0, name="whole").read_bytes()[:300])
    with pytest.raises(MediaError, match="file:"):
        probe(corrupt, 10 * 2**20, 600)
    with pytest.raises(MediaError, match="larger than the 0 MB limit"):
        probe(good, 1000, 600)
    with pytest.raises(MediaError, match="longer than the 1 s limit"):
        probe(good, 10 * 2**20, 1)
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        probe(empty, 10 * 2**20, 600)


def test_http_stream_relay_with_max_duration(http_server, media):
    http_server.routes["/radio.mp3"] = (200, "audio/mpeg", media("mp3", 3.0).read_bytes())
    assert abs(total(decode(f"{http_server.url}/radio.mp3", RATE, max_seconds=1.0)) - RATE) <= 1
    stop = threading.Event()
    stop.set()
    assert total(decode(f"{http_server.url}/radio.mp3", RATE, stop)) < RATE  # stops at once


def test_hls_stream(tmp_path: Path, http_server):
    hls = tmp_path / "hls"
    hls.mkdir()
    rate = 48000
    with av.open(str(hls / "index.m3u8"), "w", format="hls", options={"hls_time": "1", "hls_list_size": "0"}) as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        t = np.arange(3 * rate) / rate
        pcm = (np.sin(2 * np.pi * 440 * t) * 0.3).astype(np.float32)
        for i in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[i:i + 1024].reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    for f in hls.iterdir():
        http_server.routes[f"/live/{f.name}"] = (200, "application/vnd.apple.mpegurl" if f.suffix == ".m3u8" else "video/mp2t",
                                                 f.read_bytes())
    assert abs(total(decode(f"{http_server.url}/live/index.m3u8", RATE)) / RATE - 3.0) < 0.2


def test_a_stream_that_never_answers_or_is_missing_fails_clearly(silent_port: int, http_server):
    with pytest.raises(MediaError, match="cannot open"):
        total(decode(f"http://127.0.0.1:{silent_port}/radio", RATE, timeout_s=0.5))
    with pytest.raises(MediaError, match="cannot open"):
        total(decode(f"{http_server.url}/gone.mp3", RATE, timeout_s=2))


def test_why_a_stream_failed_names_the_timeout_and_never_its_password(silent_port: int, closed_port: int, http_server, media):
    """The reason goes to the proof of broadcast, the IOC and the journal: FFmpeg's own
    message repeats the URL as given, password and all, and says a timeout as "Immediate
    exit requested"."""
    http_server.hang_after["/dying.mp3"] = media("mp3", 1.0).read_bytes()
    reasons = {}
    for name, url in (("silent", f"http://ioc:s3cret@127.0.0.1:{silent_port}/vov1"),
                      ("refused", f"http://ioc:s3cret@127.0.0.1:{closed_port}/vov1"),
                      ("stalled", http_server.url.replace("://", "://ioc:s3cret@") + "/dying.mp3")):
        with pytest.raises(MediaError) as err:
            total(decode(url, RATE, timeout_s=0.5))
        reasons[name] = str(err.value)
        assert "s3cret" not in reasons[name] and "ioc:" not in reasons[name], reasons[name]
    assert reasons["silent"] == f"cannot open http://***@127.0.0.1:{silent_port}/vov1: no answer for 0.5 s, " \
                                "the limit of audio.stream_timeout_s"
    assert reasons["refused"] == f"cannot open http://***@127.0.0.1:{closed_port}/vov1: Connection refused"
    assert reasons["stalled"].endswith("(no answer for 0.5 s, the limit of audio.stream_timeout_s)"), reasons["stalled"]


def test_wav_sink_counts_a_block_that_comes_after_the_card_ran_dry(tmp_path: Path):
    import time

    sink = WavSink(tmp_path, buffer_s=0.1)  # the first block fills the buffer
    sink.open("late", 8000)
    sink.write(np.zeros(800, dtype=np.int16))     # 0.1 s of audio
    time.sleep(0.3)                                # the card has played it and waits
    sink.write(np.zeros(800, dtype=np.int16))
    sink.close()
    assert sink.underruns == 1 and sink.min_headroom_s < 0


def test_wav_sink_writes_what_was_played(tmp_path: Path):
    sink = WavSink(tmp_path / "out", buffer_s=AudioConfig().buffer_s, realtime=False)
    sink.open("b1", RATE)
    sink.write(np.full(RATE // 2, 1000, dtype=np.int16))
    path = Path(sink.close())
    assert path.name.endswith("-b1.wav") and not list((tmp_path / "out").glob("*.part"))
    with wave.open(str(path)) as wav:
        assert (wav.getnframes(), wav.getframerate(), wav.getnchannels()) == (RATE // 2, RATE, 1)
    assert apply_volume(np.array([10000], dtype=np.int16), 50)[0] == 2500


def _old_wavs(directory: Path, count: int, size: int, mtime0: float) -> list[Path]:
    """`count` finished WAVs as the sink names them, oldest first, one minute apart."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = directory / f"20240101-0000{i % 60:02d}-old{i}.wav"
        path.write_bytes(b"\0" * size)
        os.utime(path, (mtime0 + 60 * i, mtime0 + 60 * i))
        paths.append(path)
    return paths


def test_wav_sink_keeps_only_the_newest_files_and_never_what_is_not_its_own(tmp_path: Path):
    old = _old_wavs(tmp_path, 6, 1000, 1_700_000_000)
    others = [tmp_path / "notes.wav", tmp_path / "20240101-000000-x.part", tmp_path / "langso.db"]
    for path in others:
        path.write_bytes(b"keep")
    sink = WavSink(tmp_path, buffer_s=1.0, realtime=False, keep_files=3)
    sink.open("b1", 8000)
    assert not old[0].exists() and not old[2].exists() and old[3].exists()  # room made before writing: 3 + the new one
    sink.write(np.zeros(800, dtype=np.int16))
    new = Path(sink.close())
    assert sorted(p.name for p in tmp_path.glob("*-old*.wav")) == [old[4].name, old[5].name]  # oldest went first
    assert new.exists() and all(p.exists() for p in others)


def test_wav_sink_keeps_at_most_its_megabytes_but_always_the_file_just_written(tmp_path: Path):
    old = _old_wavs(tmp_path, 4, 300_000, 1_700_000_000)
    sink = WavSink(tmp_path, buffer_s=1.0, realtime=False, keep_mb=1.0)   # 1 MiB: three old files fit
    sink.open("b1", 8000)
    sink.write(np.zeros(100_000, dtype=np.int16))  # 200 kB: now only two old ones fit beside it
    new = Path(sink.close())
    assert [p.exists() for p in old] == [False, False, True, True] and new.exists()
    sink = WavSink(tmp_path, buffer_s=1.0, realtime=False, keep_mb=0.1)  # smaller than one broadcast
    sink.open("b2", 8000)
    sink.write(np.zeros(100_000, dtype=np.int16))
    newest = Path(sink.close())
    assert [p.name for p in tmp_path.glob("*.wav")] == [newest.name]


def test_wav_sink_never_removes_the_file_it_just_wrote_when_the_clock_went_back(tmp_path: Path):
    """Files written while the clock ran a year ahead (no RTC, bad NTP) look newer than
    the broadcast that just played: that one is kept all the same."""
    import time

    ahead = _old_wavs(tmp_path, 3, 1000, time.time() + 365 * 86400)
    sink = WavSink(tmp_path, buffer_s=1.0, realtime=False, keep_files=2)
    sink.open("now", 8000)
    sink.write(np.zeros(800, dtype=np.int16))
    new = Path(sink.close())
    assert new.exists() and [p.exists() for p in ahead] == [False, False, True]


def test_wav_sink_check_names_a_directory_it_cannot_write(tmp_path: Path):
    assert WavSink(tmp_path / "out", buffer_s=1.0).check(RATE) == "" and (tmp_path / "out").is_dir()
    (tmp_path / "a-file").write_text("")
    problem = WavSink(tmp_path / "a-file" / "out", buffer_s=1.0).check(RATE)
    assert problem.startswith(f"audio.output: cannot create the WAV directory {tmp_path / 'a-file' / 'out'}")
    assert list(tmp_path.glob("out/*")) == []  # nothing written by a check


def test_pyaudio_check_without_a_sound_card_names_it_quietly(tmp_path: Path, monkeypatch, capfd):
    """This machine has no sound card: PortAudio finds no default output. The check says
    so in one line; ALSA's and JACK's dozens of lines of chatter stay out of stderr."""
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.asoundrc
    monkeypatch.delenv("ALSA_CONFIG_PATH", raising=False)
    problem = PyAudioSink("default", buffer_s=1.0).check(RATE)
    assert problem.startswith("audio.output: no sound card for 'default' (No Default Output Device Available)")
    assert "no output device named 'no-such-card'" in PyAudioSink("no-such-card", buffer_s=1.0).check(RATE)
    with pytest.raises(HardwareUnavailable, match="no sound card for 'default'"):
        PyAudioSink("default", buffer_s=1.0).open("x", RATE)
    out, err = capfd.readouterr()
    assert "ALSA lib" not in err and "jack" not in err.lower() and out == ""


PLAY = """
import numpy as np
from audio.media import tone
from audio.config import AudioConfig
from audio.player import PyAudioSink
sink = PyAudioSink("default", buffer_s=AudioConfig().buffer_s)
sink.open("t", 44100)
sink.write(tone(440, 1.0, 44100))
print(sink.close())
"""


def test_pyaudio_plays_through_portaudio_to_alsa_file_plugin(tmp_path: Path):
    """No sound card: ALSA's `file` plugin over the null PCM is the default device, and
    what PortAudio played lands in a WAV the test reads."""
    out = tmp_path / "played.wav"
    (tmp_path / ".asoundrc").write_text(
        f'pcm.!default {{\n type file\n slave.pcm "null"\n file "{out}"\n format "wav"\n}}\n')
    env = dict(os.environ, HOME=str(tmp_path))
    env.pop("ALSA_CONFIG_PATH", None)
    done = subprocess.run([sys.executable, "-c", PLAY], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "device:default"
    with wave.open(str(out)) as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    pcm = np.frombuffer(frames, dtype="<i2")
    assert rate == 44100 and abs(len(pcm) - 44100) < 4096
    assert abs(int(np.argmax(np.abs(np.fft.rfft(pcm[:44100].astype(np.float32))))) - 440) <= 2
