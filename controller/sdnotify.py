"""systemd notify protocol over $NOTIFY_SOCKET (READY=1, WATCHDOG=1, STATUS=...),
without libsystemd: one datagram per message."""
from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None = None):
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        if self.address.startswith("@"):
            self.address = "\0" + self.address[1:]  # abstract namespace
        self._failed = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def watchdog_interval(self) -> float | None:
        """Half of WatchdogSec, when systemd asked for pings (WATCHDOG_USEC)."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            interval = int(usec) / 2e6
        except ValueError:
            logger.warning("watchdog off: WATCHDOG_USEC=%r is not a number of microseconds", usec)
            return None
        return interval if interval > 0 else None

    def notify(self, message: str) -> bool:
        if not self.enabled:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), self.address)
        except OSError as err:
            if not self._failed:  # once: systemd will time out or kill us, the log says why
                logger.warning("systemd notify failed socket=%s message=%s error=%s",
                               self.address.replace("\0", "@"), message.split("\n", 1)[0], err)
                self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
