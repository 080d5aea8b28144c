"""Shared fixtures: a house on gpiozero MockFactory pins, started in-process or as a real
daemon subprocess, and an API client for it. Wing fixtures live in tests/<wing>/conftest.py."""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import tomli_w
from gpiozero.pins.mock import MockFactory

from controller.app import App
from controller.client import Client
from controller.config import Config, parse_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """`langso run`/`demo` run in-process point the root logger at the sys.stdout of their
    test (setup_logging); put it back, or the next test's output gets "Logging error"s."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def house_data(data_dir: Path, **sections: Any) -> dict[str, Any]:
    """Config data for a test house: mock pins, any free port, relays tv/radio/amp."""
    data: dict[str, Any] = {
        "site": {"id": "test-site", "name": "Nhà văn hóa thôn Thử"},
        "gpio": {"pin_factory": "mock"},
        "storage": {"dir": str(data_dir), "min_free_mb": 0},
        "relays": [
            {"name": "tv", "pin": 17},
            {"name": "radio", "pin": 27},
            {"name": "amp", "pin": 22, "min_interval_s": 0},
        ],
        "audio": {"output": f"wav:{data_dir / 'audio-out'}", "tts": ["espeak"], "amp_warmup_s": 0, "amp_tail_s": 0},
        "web": {"listen": "127.0.0.1:0"},
        "clock": {"require_sync": False},
    }
    data.update(sections)
    return data


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    def make(**sections: Any) -> Config:
        return parse_config(house_data(tmp_path / "data", **sections), "test")

    return make


@pytest.fixture
def start_app() -> Iterator[Callable[..., App]]:
    """Start Apps in-process (MockFactory pins); all are stopped at teardown."""
    apps: list[App] = []

    def start(config: Config, pin_factory: Any = None, **kwargs: Any) -> App:
        app = App(config, pin_factory=pin_factory or MockFactory(), **kwargs)
        app.start()
        apps.append(app)
        return app

    yield start
    for app in reversed(apps):
        app.stop()


@pytest.fixture
def app(make_config: Callable[..., Config], start_app: Callable[..., App]) -> App:
    return start_app(make_config())


def cli_client(data_dir: Path) -> Client:
    info = json.loads((Path(data_dir) / "cli.json").read_text())
    return Client(info["url"], info["token"], timeout=30)


@pytest.fixture
def api(app: App) -> Client:
    """An admin API client for `app` (the daemon's own CLI token)."""
    return cli_client(app.config.storage.dir)


class Daemon:
    """`langso run --config FILE` as a real subprocess, of this checkout or of the one in
    `root` (bench/bench_page_weight.py runs an earlier revision beside this one)."""

    def __init__(self, config_file: Path, data_dir: Path, env: dict[str, str] | None = None, root: Path = ROOT):
        self.config_file, self.data_dir, self.root = config_file, data_dir, root
        self.log = data_dir.parent / "daemon.log"
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30, keep_cli: bool = False, wait_cli: bool = True) -> "Daemon":
        """Start and wait for "langso ready" and (`wait_cli`) the cli.json this process
        writes; `keep_cli`: leave the last start's cli.json in place, as a real restart does."""
        cli = self.data_dir / "cli.json"
        if not keep_cli:
            cli.unlink(missing_ok=True)
        logged = self.log.stat().st_size if self.log.exists() else 0
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controller", "run", "--config", str(self.config_file)],
            stdout=self._logf, stderr=subprocess.STDOUT, env=self.env, cwd=self.root,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log.read_text()}")
            with open(self.log, "rb") as log:
                log.seek(logged)
                ready = b"langso ready" in log.read()
            if ready and (not wait_cli or self.cli_pid() == self.proc.pid):
                return self
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready in {timeout}s:\n{self.log.read_text()}")

    def cli_pid(self) -> int | None:
        """The pid in cli.json (None: no file, or not one the daemon finished writing)."""
        try:
            return json.loads((self.data_dir / "cli.json").read_text()).get("pid")
        except (OSError, ValueError):
            return None

    @property
    def client(self) -> Client:
        return cli_client(self.data_dir)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._logf.close()

    def output(self) -> str:
        return self.log.read_text()


def write_toml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Factory: daemon(**sections) writes a config and starts `langso run` on it."""
    started: list[Daemon] = []

    def start(env: dict[str, str] | None = None, **sections: Any) -> Daemon:
        data_dir = tmp_path / "data"
        config = write_toml(tmp_path / "langso.toml", house_data(data_dir, **sections))
        d = Daemon(config, data_dir, env).start()
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc and d.proc.poll() is None:
            d.stop(signal.SIGKILL)


def free_port() -> int:
    """A loopback TCP port nobody listens on at the moment (the OS's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    """check()'s first truthy value, polling every 0.1 s; AssertionError after `timeout` s.
    (The wings' `wait_for` fixtures do the same; new tests can import this one.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


class SmallDisk:
    """A small tmpfs mounted for one test: a house's storage.dir whose disk the test fills
    (a full SD card for real: writes get ENOSPC, SQLite "database or disk is full") and
    frees again. Mounting needs root, as CI runs the suite (sudo make test)."""

    def __init__(self, path: Path, size_mb: int = 16):
        path.mkdir(parents=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"cannot mount a tmpfs at {path} ({done.stderr.strip()}): the full-disk tests run as root, "
                        "as CI does (sudo make test)")
        self.path, self.filler = path, path / "filler"

    def fill(self) -> None:
        """Take every free byte."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while True:
                os.write(fd, bytes(65536))  # the last write is short, the next one fails
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        subprocess.run(["umount", "--lazy", str(self.path)], check=True)  # lazy: files the house still holds


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 16 MB tmpfs at tmp_path/small, to be used as storage.dir (see SmallDisk)."""
    disk = SmallDisk(tmp_path / "small")
    yield disk
    disk.unmount()
