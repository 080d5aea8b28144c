"""Camera fixtures: labelled synthetic scenes encoded with PyAV's libx264, OpenCV's real
sample clips (Debian's opencv-doc, copied at set-up, never committed), a real RTSP
server (gst-rtsp-server) on loopback."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from camera.synthetic import LABELLED_SCENES as SCENES, write_scene
from tests.conftest import free_port, wait_until

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
HERE = Path(__file__).parent



@pytest.fixture(scope="session")
def scene_video(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """scene_video(name, size=(640, 360), codec="libx264") -> an MP4 of SCENES[name] (H.264,
    or H.265 with codec="libx265": its name ends in -h265.mp4), made once per session."""
    root = tmp_path_factory.mktemp("scenes")

    def make(name: str, size: tuple[int, int] = (640, 360), codec: str = "libx264") -> Path:
        path = root / f"{name}-{size[0]}x{size[1]}{'-h265' if codec == 'libx265' else ''}.mp4"
        if not path.exists():
            write_scene(SCENES[name], path, size=size, codec=codec)
        return path

    return make


@pytest.fixture(scope="session")
def opencv_clip(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """opencv_clip("vtest.avi") -> a copy of OpenCV's sample clip from opencv-doc."""
    root = tmp_path_factory.mktemp("opencv")

    def copy(name: str) -> Path:
        source = OPENCV_DATA / name
        if not source.exists():
            raise AssertionError(f"{source} missing: install Debian's opencv-doc (make test does)")
        target = root / name
        if not target.exists():
            shutil.copy(source, target)
        return target

    return copy


def corrupt_packets(video: Path, target: Path, first: int, count: int = 3) -> Path:
    """A copy of `video` whose packets first..first+count-1 start with a NAL unit length
    no decoder accepts (as a lost or garbled piece of a stream)."""
    import av

    with av.open(str(video)) as container:
        positions = [p.pos for p in container.demux(video=0) if p.size][first:first + count]
    data = bytearray(video.read_bytes())
    for pos in positions:
        data[pos:pos + 4] = b"\xff\xff\xff\xff"
    target.write_bytes(bytes(data))
    return target


@pytest.fixture
def corrupt() -> Callable[..., Path]:
    """corrupt(video, target, first, count=3) -> a copy with undecodable packets."""
    return corrupt_packets


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """wait_for(check, timeout=60, what="") -> check()'s first truthy value (polls every 0.1 s)."""
    return wait_until


class RtspServer:
    """gst-rtsp-server serving FILE at rtsp://127.0.0.1:PORT/cam; stop() and start() again
    on the same port make a camera that drops and comes back."""

    def __init__(self, video: Path, auth: tuple[str, str] | None = None):
        self.video, self.auth = video, auth
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, user: str = "", password: str = "") -> str:
        cred = f"{user}:{password}@" if user else ""
        return f"rtsp://{cred}127.0.0.1:{self.port}/cam"

    def start(self) -> "RtspServer":
        args = ["/usr/bin/python3", str(HERE / "rtsp_server.py"), str(self.port), str(self.video), *(self.auth or ())]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if b"ready" not in line:
            raise AssertionError(f"RTSP server did not start: {line!r} (needs gir1.2-gst-rtsp-server-1.0, python3-gi)")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise AssertionError("RTSP server not listening")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture
def rtsp_server(scene_video: Callable[[str], Path]) -> Iterator[Callable[..., RtspServer]]:
    servers: list[RtspServer] = []

    def start(scene: str = "walkers-with-gaps", auth: tuple[str, str] | None = None,
              size: tuple[int, int] = (640, 360), codec: str = "libx264") -> RtspServer:
        server = RtspServer(scene_video(scene, size, codec), auth).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
