"""Audio wing fixtures: real media made with PyAV, a local HTTP server (stands in for
Google's TTS, for radio streams and for a stream that never answers)."""
from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
import wave
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import numpy as np
import pytest

from tests.conftest import free_port, wait_until

# (container format, codec, file suffix) of what phones and the district send
FORMATS = {
    "mp3": ("mp3", "libmp3lame", ".mp3"),
    "m4a": ("mp4", "aac", ".m4a"),        # iPhone recordings
    "webm": ("webm", "libopus", ".webm"),  # Android Chrome MediaRecorder
    "ogg": ("ogg", "libopus", ".ogg"),
    "wav": ("wav", "pcm_s16le", ".wav"),
}


def make_audio(path: Path, kind: str = "mp3", seconds: float = 1.0, freq: float = 440.0, rate: int = 48000) -> Path:
    """A sine tone encoded with PyAV in the given format."""
    fmt, codec, _ = FORMATS[kind]
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * freq * t) * 0.4 * 32767).astype(np.int16)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame_size = stream.codec_context.frame_size or 1024
        cc_format = stream.codec_context.format.name
        pts = 0
        for i in range(0, len(pcm), frame_size):
            chunk = pcm[i:i + frame_size]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = pts
            frame.time_base = Fraction(1, rate)
            pts += len(chunk)
            if cc_format != "s16":
                frame = av.AudioResampler(format=cc_format, layout="mono", rate=rate).resample(frame)[0]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def wav_seconds(path: Path) -> float:
    """The length of a WAV file (what the WAV sink wrote) in seconds."""
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


@pytest.fixture
def media(tmp_path: Path) -> Callable[..., Path]:
    def make(kind: str = "mp3", seconds: float = 1.0, name: str = "clip") -> Path:
        return make_audio(tmp_path / f"{name}{FORMATS[kind][2]}", kind, seconds)

    return make


class Server:
    """A tiny threaded HTTP server: `routes[path] = (status, content_type, body)`."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        self.requests: list[tuple[str, bytes]] = []
        self.hang_after: dict[str, bytes] = {}  # path -> bytes sent before the server goes silent
        self.hang_once: dict[str, bytes] = {}   # the same for the first request only; later ones get the route
        self.refuse_first: dict[str, int] = {}  # path -> how many first requests are answered 503 (a link coming up)
        self.closing = threading.Event()
        routes, requests, hang_after, closing = self.routes, self.requests, self.hang_after, self.closing
        hang_once, refuse_first = self.hang_once, self.refuse_first

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                requests.append((self.path, self.rfile.read(length) if length else b""))
                if refuse_first.get(self.path, 0) > 0:
                    refuse_first[self.path] -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path in hang_after or self.path in hang_once:  # a stream that dies mid-way: some audio, then silence
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/mpeg")
                    self.end_headers()
                    self.wfile.write(hang_once.pop(self.path, None) or hang_after[self.path])
                    self.wfile.flush()
                    closing.wait(60)
                    return
                status, ctype, body = routes.get(self.path.split("?")[0], (404, "text/plain", b"not here"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _reply

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve_google(self, mp3: bytes) -> None:
        """Answer as translate.google.com's TTS endpoint does, with `mp3` as the speech."""
        self.routes["/_/TranslateWebserverUi/data/batchexecute"] = (200, "application/json", google_reply(mp3))

    def close(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[Server]:
    server = Server()
    yield server
    server.close()


def google_reply(mp3: bytes) -> bytes:
    """What translate.google.com's batchexecute answers, carrying `mp3`."""
    inner = json.dumps([base64.b64encode(mp3).decode()])
    return (")]}'\n\n" + json.dumps([["wrb.fr", "jQ1olc", inner, None, None, None, "generic"]], separators=(",", ":")) + "\n").encode()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a dead link or stream)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_port() -> int:
    """A port nobody listens on: no network at all."""
    return free_port()


@pytest.fixture
def audio_app(make_config, start_app, tmp_path: Path):
    """start(**audio) -> a started App whose [audio] section is the test defaults + `audio`;
    the WAV sink writes to tmp_path/data/audio-out."""
    def start(**audio):
        base = {"output": f"wav:{tmp_path / 'data' / 'audio-out'}", "tts": ["espeak"], "amp_warmup_s": 0.1, "amp_tail_s": 0}
        return start_app(make_config(audio=base | audio))

    return start


wait_for = wait_until  # the shared poller (tests/conftest.py)


@pytest.fixture
def until():
    return wait_for
