"""Is the system clock trustworthy? A Pi has no RTC: after a power cut without network
it boots with the last saved time (fake-hwclock) or 1970, and schedules must wait."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass

TIME_ERROR = 5  # adjtimex(2): clock not synchronised
STA_UNSYNC = 0x0040


@dataclass(frozen=True)
class ClockStatus:
    synced: bool
    reason: str


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (64-bit and 32-bit Linux: longs), padded to its full size
    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
        ("_pad", ctypes.c_int * 11),
    ]


def _kernel_synced() -> bool | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))  # modes=0: read only, no privilege needed
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR and not tx.status & STA_UNSYNC


def system_clock_status() -> ClockStatus:
    """Synchronised when systemd-timesyncd says so or the kernel's NTP state is synced."""
    if os.path.exists("/run/systemd/timesync/synchronized"):
        return ClockStatus(True, "systemd-timesyncd synchronised")
    kernel = _kernel_synced()
    if kernel:
        return ClockStatus(True, "kernel NTP state synchronised")
    return ClockStatus(
        False,
        "system clock not synchronised (no NTP yet; a Pi has no RTC): schedules wait; "
        "check the network and `timedatectl`",
    )


def assume_synced() -> ClockStatus:
    return ClockStatus(True, "clock check off ([clock] require_sync = false)")
