"""Fixtures of the ops wing: a real systemd-style notify socket, the repository paths."""
from __future__ import annotations

import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

class NotifySocket:
    """An AF_UNIX datagram socket bound where $NOTIFY_SOCKET points, as systemd's
    manager has one: each datagram is one notification like "READY=1\\nSTATUS=..."."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    def receive(self, timeout: float = 30) -> str:
        """The next datagram; fails after `timeout` seconds of silence."""
        self.sock.settimeout(timeout)
        try:
            message = self.sock.recv(4096).decode()
        except TimeoutError:
            raise AssertionError(f"nothing on the notify socket for {timeout} s; got {self.messages}") from None
        self.messages.append(message)
        return message

    def wait_for(self, line: str, timeout: float = 30) -> str:
        """Receive until a message holds `line` (one of its lines); return that message."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(deadline - time.monotonic(), 0.01))
            if line in message.splitlines():
                return message

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    # a short path of its own: AF_UNIX addresses are limited to 108 bytes
    tmp = Path(tempfile.mkdtemp(prefix="langso-notify-"))
    sock = NotifySocket(tmp / "notify")
    yield sock
    sock.close()
    shutil.rmtree(tmp, ignore_errors=True)
