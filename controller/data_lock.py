"""One daemon per data folder.

A second `langso run` or `langso demo` on the folder of a running daemon must not touch
it: the start-up repair would close the running daemon's open camera events and delete
its clips being written, its MQTT client id would make the broker drop the running one,
and its broadcast worker would play the same queue. So the daemon takes an exclusive
lock on `<storage.dir>/langso.lock` before anything else; the kernel releases it when
the process ends, also on kill -9 or a power cut, so a restart after a crash works.
"""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_FILE = "langso.lock"


class DataDirBusy(Exception):
    """Another daemon holds the data folder; the message names it, its pid and the fix."""

    code = 1  # the operation failed: not a config error, and it passes once the other daemon stops


class DataLock:
    def __init__(self, fd: int, path: Path):
        self._fd, self.path = fd, path

    @classmethod
    def acquire(cls, data_dir: Path) -> "DataLock":
        """Lock `data_dir` for this process or raise DataDirBusy, having changed nothing in it."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            writable = True
        except PermissionError:  # left by another user (root): flock needs only read access
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            writable = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise DataDirBusy(
                f"storage.dir {data_dir} is in use by another langso daemon"
                f"{f' (pid {pid})' if pid else ''}; nothing was changed. Only one daemon may use a data folder: "
                "stop the other one first (`sudo systemctl stop langso`, or Ctrl-C where `langso demo` runs) "
                "or give this one another folder (storage.dir in the config, `langso demo --data-dir DIR`)"
            ) from None
        if writable:
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as err:  # a full disk: the lock holds all the same, only its pid is not shown
                logger.warning("data dir lock pid not written dir=%s error=%r", data_dir, str(err))
        logger.info("data dir locked dir=%s pid=%d", data_dir, os.getpid())
        return cls(fd, path)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = -1


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
