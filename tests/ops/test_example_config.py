"""systemd/langso.example.toml: what install.sh puts in /etc/langso/langso.toml. It must
pass `langso config check` as shipped and with its optional blocks switched on, and it
must show every key of the config model (so it stays the technician's reference)."""
from __future__ import annotations

import subprocess
import sys
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from controller.config import Config, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "systemd" / "langso.example.toml"


def with_optional_blocks(text: str) -> str:
    """The example with every '#~ ' optional line switched on."""
    return "\n".join(line[3:] if line.startswith("#~ ") else line for line in text.splitlines()) + "\n"


def config_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", "config", "check", str(path)],
                          capture_output=True, text=True, timeout=60)


def model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        path = prefix + name
        keys.add(path)
        annotation = field.annotation
        if typing.get_origin(annotation) is list:
            annotation = typing.get_args(annotation)[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= model_keys(annotation, path + ".")
    return keys


def data_keys(data: Any, prefix: str = "") -> set[str]:
    keys = set()
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        for item in data:
            keys |= data_keys(item, prefix)
    elif isinstance(data, dict):
        for name, value in data.items():
            path = prefix + name
            keys.add(path)
            keys |= data_keys(value, path + ".")
    return keys


def test_example_as_shipped_passes_config_check():
    result = config_check(EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "dinh-hung-ho-thon" in result.stdout


def test_example_with_optional_blocks_passes_config_check(tmp_path):
    full = tmp_path / "langso.toml"
    full.write_text(with_optional_blocks(EXAMPLE.read_text(encoding="utf-8")), encoding="utf-8")
    result = config_check(full)
    assert result.returncode == 0, result.stderr
    config = load_config(full)
    assert [c.name for c in config.cameras] == ["cong-lang"]
    assert [(b.pin, b.relay) for b in config.buttons] == [(23, "tv")]


def test_example_shows_every_config_key():
    data = tomllib.loads(with_optional_blocks(EXAMPLE.read_text(encoding="utf-8")))
    missing = sorted(model_keys(Config) - data_keys(data))
    assert not missing, f"add these keys (with a comment) to systemd/langso.example.toml: {missing}"


def test_example_is_a_safe_start_for_a_real_pi():
    config = load_config(EXAMPLE)
    assert config.gpio.pin_factory == "auto"  # never silently simulates on a Pi
    assert str(config.storage.dir) == "/var/lib/langso"  # the unit's StateDirectory / ReadWritePaths
    assert all(r.power_on == "off" and not r.active_high for r in config.relays)
    assert config.audio.amp_relay in {r.name for r in config.relays}
    assert config.mqtt.host == ""  # uplink off until the technician sets the IOC broker
    assert config.clock.require_sync


def test_a_broken_copy_is_refused_naming_the_key(tmp_path):
    # the same check the installer runs catches the technician's typo, with the key path
    broken = tmp_path / "langso.toml"
    broken.write_text(EXAMPLE.read_text(encoding="utf-8").replace("pin = 27", "pin = 40")
                      .replace("keep_days = 14", "keep_day = 14"), encoding="utf-8")
    result = config_check(broken)
    assert result.returncode == 2
    assert "relays[1].pin" in result.stderr and "storage.keep_day: unknown key" in result.stderr
