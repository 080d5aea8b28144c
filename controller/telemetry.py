"""Telemetry the uplink sends every mqtt.telemetry_s: the house status plus machine
readings straight from /proc and /sys (no psutil: nothing to build on a Pi)."""
from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

THERMAL = Path("/sys/class/thermal")


def cpu_temp_c(thermal: Path = THERMAL) -> float | None:
    """The CPU (SoC) temperature; None on machines without a thermal zone (containers, VMs)."""
    zones = sorted(thermal.glob("thermal_zone*"))
    for zone in zones:
        try:
            kind = (zone / "type").read_text().strip()
        except OSError:
            kind = ""
        if kind in ("cpu-thermal", "x86_pkg_temp", "soc_thermal") or zone == zones[0]:
            try:
                return round(int((zone / "temp").read_text()) / 1000, 1)
            except (OSError, ValueError):
                continue
    return None


def meminfo_mb(path: str = "/proc/meminfo") -> tuple[int | None, int | None]:
    """(used, total) in MB, used = MemTotal - MemAvailable."""
    values: dict[str, int] = {}
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                values[key] = int(rest.split()[0])  # kB
    except (OSError, ValueError, IndexError):
        return None, None
    total, avail = values.get("MemTotal"), values.get("MemAvailable")
    if total is None or avail is None:
        return None, None
    return (total - avail) // 1024, total // 1024


def machine() -> dict[str, Any]:
    """The status part "machine": CPU temperature and memory, read once per status."""
    used, total = meminfo_mb()
    return {"cpu_temp_c": cpu_temp_c(), "mem_used_mb": used, "mem_total_mb": total}


def system_uptime_s(path: str = "/proc/uptime") -> float | None:
    try:
        with open(path, encoding="ascii") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def langso_version() -> str | None:
    try:
        return version("langso")
    except PackageNotFoundError:
        return None


def telemetry(status: dict[str, Any]) -> dict[str, Any]:
    """One telemetry record from `house.status()`; fields are None when unreadable."""
    readings = status.get("machine") or {}  # machine() below, a status part App registers
    try:
        load_1m: float | None = round(os.getloadavg()[0], 2)
    except OSError:
        load_1m = None
    out: dict[str, Any] = {
        "time": status.get("time"),
        "version": langso_version(),
        "uptime_s": status.get("uptime_s"),
        "system_uptime_s": system_uptime_s(),
        "cpu_temp_c": readings.get("cpu_temp_c"),
        "load_1m": load_1m,
        "disk_free_mb": status.get("disk", {}).get("free_mb"),
        "mem_used_mb": readings.get("mem_used_mb"),
        "mem_total_mb": readings.get("mem_total_mb"),
        "clock_synced": status.get("clock", {}).get("synced"),
        "relays": {r["name"]: r["on"] for r in status.get("relays", [])},
        "problems": status.get("problems", {}),
    }
    uplink = status.get("uplink")
    if isinstance(uplink, dict):
        out["outbox_depth"] = uplink.get("outbox_depth")
    audio = status.get("audio")
    if isinstance(audio, dict) and "queue" in audio:  # the audio wing's status
        out["broadcast"] = {"playing": (audio.get("playing") or {}).get("id"), "queue": audio.get("queue"),
                            "inbox": audio.get("inbox")}
    cameras = status.get("cameras")
    if isinstance(cameras, list):  # the camera wing's status: one entry per camera
        out["cameras"] = {c.get("name"): bool(c.get("connected")) for c in cameras if isinstance(c, dict)}
    return out
