"""Local administration as root must not leave root-owned files the service cannot write.

`sudo langso user add ...` before the first start would create /var/lib/langso/langso.db
owned by root, and the daemon (user langso) could then not write it. Run as root, the
local commands hand every file they create or touch in the data dir to the service
user: the owner of the data dir, or the `langso` user when the dir does not exist yet.
"""
from __future__ import annotations

import logging
import os
import pwd
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

logger = logging.getLogger(__name__)

SERVICE_USER = "langso"
DB_FILES = ("langso.db", "langso.db-wal", "langso.db-shm")


class NotWritable(Exception):
    """The data dir belongs to another user; the message says the exact command to run."""


def service_owner(data_dir: Path, service_user: str = SERVICE_USER, create: bool = True) -> tuple[int, int] | None:
    """(uid, gid) the files of `data_dir` must belong to when we run as root; None when
    nothing needs handing over (not root, or the dir is root's own)."""
    if os.geteuid() != 0:
        return None
    if data_dir.exists():
        st = data_dir.stat()
        return None if st.st_uid == 0 else (st.st_uid, st.st_gid)
    if not create:
        return None
    try:
        user = pwd.getpwnam(service_user)
    except KeyError:
        return None  # no service user on this machine: the daemon runs as root too
    data_dir.mkdir(mode=0o750, parents=True)
    os.chown(data_dir, user.pw_uid, user.pw_gid)
    logger.info("data dir created dir=%s owner=%s", data_dir, service_user)
    return user.pw_uid, user.pw_gid


@contextmanager
def as_service_files(data_dir: Path, command: str, service_user: str = SERVICE_USER, create: bool = True) -> Iterator[None]:
    """Run a local admin operation on the store in `data_dir`; as root, hand the files to
    the service user afterwards; as another user, explain a permission failure with the
    exact command (`command` is the argument list after `langso`)."""
    owner = service_owner(data_dir, service_user, create)
    try:
        yield
    except (sqlite3.OperationalError, PermissionError) as err:
        if os.geteuid() == 0 or not data_dir.exists():
            raise
        try:
            name = pwd.getpwuid(data_dir.stat().st_uid).pw_name
        except KeyError:
            name = SERVICE_USER
        raise NotWritable(f"cannot write the database in {data_dir} ({err}); it belongs to {name}: "
                          f"run  sudo -u {name} langso {command}") from err
    finally:
        hand_over(data_dir, owner)


def hand_over(data_dir: Path, owner: tuple[int, int] | None) -> None:
    """Give the database files in `data_dir` to `owner` (from service_owner())."""
    if owner is None:
        return
    for name in DB_FILES:
        path = data_dir / name
        if path.exists():
            os.chown(path, *owner)
