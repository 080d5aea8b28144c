"""The one config model: TOML in, validated once, every problem reported at once.

Each wing owns the model of its own section (drivers/config.py, audio/config.py,
camera/config.py, web/config.py); this module composes them, adds the sections the
controller owns (site, storage, mqtt, clock) and checks the rules that cross sections.
"""
from __future__ import annotations

import json
import os
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from audio.config import AudioConfig
from camera.config import CameraConfig
from drivers.config import ButtonConfig, GpioConfig, RelayConfig
from web.config import WebConfig

DEFAULT_CONFIG_PATH = Path("/etc/langso/langso.toml")


class ConfigError(Exception):
    """The config is not usable; `problems` lists every one as 'key.path: message'."""

    def __init__(self, problems: list[str], source: str = "config"):
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(problems))


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(Section):
    id: str = Field(
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length=64,
        description='site slug used in MQTT topics: lowercase letters, digits and "-", e.g. "dinh-hung-ho-thon"',
    )
    name: str = Field("Nhà văn hóa thôn", max_length=120, description="name shown on the page")
    groups: list[str] = Field(default_factory=list, description="district/commune groups for group broadcasts")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="IANA timezone of schedules")

    @field_validator("groups")
    @classmethod
    def _slugs(cls, groups: list[str]) -> list[str]:
        import re

        for g in groups:
            if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", g):
                raise ValueError(f"group {g!r} must be a slug: lowercase letters, digits and '-'")
        return groups

    @field_validator("timezone")
    @classmethod
    def _tz(cls, tz: str) -> str:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown timezone {tz!r}; use an IANA name such as "Asia/Ho_Chi_Minh"') from None
        return tz


class StorageConfig(Section):
    dir: Path = Field(Path("/var/lib/langso"), description="SQLite db, clips, TTS cache")
    min_free_mb: int = Field(500, ge=0, le=1_000_000, description="retention keeps at least this much free")
    keep_days: int = Field(14, ge=1, le=3650, description="clips and events older than this are removed")

    @field_validator("dir", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():   # Path("") is ".": wherever the daemon was started
            raise ValueError('is empty; give the data folder, e.g. "/var/lib/langso" (or leave the key out)')
        return value


class MqttConfig(Section):
    host: str = Field("", description="IOC broker host; empty = uplink off")
    port: int = Field(8883, ge=1, le=65535)
    tls: bool = True
    ca_file: str = Field("", description="CA certificate file; empty = system CAs")
    cert_file: str = Field("", description="client certificate (optional)")
    key_file: str = Field("", description="client key (optional)")
    username: str = ""
    password_file: str = Field("", description="file holding the password; relative names are looked up in $CREDENTIALS_DIRECTORY")
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    keepalive_s: int = Field(60, ge=5, le=3600)
    telemetry_s: int = Field(60, ge=5, le=3600)
    outbox_max: int = Field(10_000, ge=100, le=1_000_000, description="messages kept while the link is down")
    ha_discovery: bool = Field(False, description="publish Home Assistant MQTT discovery")
    public_url: str = Field(
        "", max_length=300,
        description='base URL at which the IOC reaches this site\'s API, e.g. "https://ho-thon.vpn.example.vn:8080"; '
        "event snapshot_url/clip_url are built on it (empty: paths relative to the site's API)",
    )
    reconnect_max_s: int = Field(120, ge=2, le=3600, description="longest wait between reconnect attempts (backoff doubles from 1 s)")

    @model_validator(mode="after")
    def _tls_files(self) -> "MqttConfig":
        if self.key_file and not self.cert_file:
            raise ValueError("key_file is set without cert_file; add the client certificate it belongs to")
        if not self.tls and (self.ca_file or self.cert_file):
            raise ValueError("ca_file/cert_file are set but tls = false; set tls = true (port 8883) or remove them")
        return self

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError('must start with http:// or https://, e.g. "https://ho-thon.vpn.example.vn:8080"')
        return value.rstrip("/")

    def password(self) -> str | None:
        """The broker password; None when no file is set or the file is empty. An absolute
        path the service user cannot read (root-only /etc/langso/mqtt.pass) falls back to
        $CREDENTIALS_DIRECTORY/<basename>, where systemd's LoadCredential= puts a copy."""
        if not self.password_file:
            return None
        return _read_secret("mqtt.password_file", self.password_file, os.environ.get("CREDENTIALS_DIRECTORY", "")).strip() or None


def _read_secret(key: str, name: str, credentials_dir: str) -> str:
    """Read a secret file: relative names from $CREDENTIALS_DIRECTORY, absolute ones from
    their path, else from the credential of the same basename. Raises OSError naming the
    key, every place tried and the fix."""
    path = Path(name)
    places = [Path(credentials_dir) / path] if credentials_dir and not path.is_absolute() else [path]
    if credentials_dir and path.is_absolute():
        places.append(Path(credentials_dir) / path.name)
    tried, errno = [], 0
    for place in places:
        try:
            return place.read_text(encoding="utf-8")
        except OSError as err:
            tried.append(f"{place} ({err.strerror or err})")
            errno = err.errno or errno
    raise OSError(errno, (
        f"{key}: cannot read {' nor '.join(tried)}; make the file readable by the langso user "
        f"(sudo chgrp langso {path}; sudo chmod 0640 {path}) or let systemd pass it: "
        f"LoadCredential={path.name}:{path if path.is_absolute() else '/etc/langso/' + path.name} in langso.service"
    ), str(places[0]))


class ClockConfig(Section):
    require_sync: bool = Field(
        True,
        description="time-based actions wait until the system clock is NTP-synchronised "
        "(a Pi has no RTC: after a power cut without network its clock can be years off)",
    )


class Config(Section):
    site: SiteConfig
    gpio: GpioConfig = GpioConfig()
    storage: StorageConfig = StorageConfig()
    relays: list[RelayConfig] = Field(default_factory=list)
    buttons: list[ButtonConfig] = Field(default_factory=list)
    audio: AudioConfig = AudioConfig()
    cameras: list[CameraConfig] = Field(default_factory=list)
    mqtt: MqttConfig = MqttConfig()
    web: WebConfig = WebConfig()
    clock: ClockConfig = ClockConfig()


FILE_KEYS = {"web": ("tls_cert", "tls_key"), "mqtt": ("ca_file", "cert_file", "key_file", "password_file")}


def missing_files(data: dict[str, Any]) -> list[str]:
    """Problems with the files a config names (certificates, keys, the MQTT password), as
    `langso config check` reports them; on the raw data, so that they are listed with the
    field errors, for every file key whose value is itself valid. Names relative to
    systemd's $CREDENTIALS_DIRECTORY exist only inside the service: not checked here."""
    problems = []
    for section, keys in FILE_KEYS.items():
        table = data.get(section)
        for key in keys:
            name = table.get(key) if isinstance(table, dict) else None
            if isinstance(name, str) and name and Path(name).is_absolute() and not Path(name).is_file():
                fix = "make them with `langso web cert`" if section == "web" else "check the path"
                problems.append(f"{section}.{key}: {name} is not a file; {fix}")
    return problems


def uplink_problems(data: dict[str, Any]) -> list[str]:
    """[mqtt] values with which the uplink cannot work though they are well-formed: a URL or
    a port in mqtt.host (looked up as a host name for ever), a relative TLS file (paho opens
    it from the working directory, "/" under systemd). `langso config check` refuses them;
    the daemon runs on with the uplink off and says why (Uplink.start), as for its files."""
    mqtt = data.get("mqtt")
    mqtt = mqtt if isinstance(mqtt, dict) else {}
    problems = []
    host = mqtt.get("host")
    if isinstance(host, str) and host:
        name = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", host).split("/")[0].strip()
        if name != host or any(c.isspace() for c in host):
            bare = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
            problems.append(f'mqtt.host: give the broker\'s host name only, not a URL: host = "{bare}" '
                            f"(the port goes in mqtt.port, TLS in mqtt.tls; got {host!r})")
        elif host.count(":") == 1:  # more than one: an IPv6 address
            bare, port = host.split(":")
            problems.append(f'mqtt.host: the port goes in mqtt.port: host = "{bare}" and port = {port or "8883"} (got {host!r})')
    for key in ("ca_file", "cert_file", "key_file"):
        value = mqtt.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            problems.append(f'mqtt.{key}: give the full path, e.g. "/etc/langso/{Path(value).name}" (only password_file '
                            "may be a name in systemd's credentials directory)")
    return problems


def cross_checks(data: dict[str, Any]) -> list[str]:
    """Rules that cross sections, checked on the raw data so that they are reported
    together with field errors (pydantic stops before an after-validator otherwise)."""
    def items(key: str) -> list[dict[str, Any]]:
        value = data.get(key, [])
        return [v if isinstance(v, dict) else {} for v in value] if isinstance(value, list) else []

    problems: list[str] = []
    names: dict[str, int] = {}
    pins: dict[Any, str] = {}
    for i, relay in enumerate(items("relays")):
        name, pin = relay.get("name"), relay.get("pin")
        if isinstance(name, str):
            if name in names:
                problems.append(f"relays[{i}].name: duplicate relay name {name!r} (also relays[{names[name]}]); give each relay its own name")
            names.setdefault(name, i)
        if isinstance(pin, int):
            if pin in pins:
                problems.append(f"relays[{i}].pin: pin {pin} is already used by {pins[pin]}; each relay needs its own pin")
            pins.setdefault(pin, f"relays[{i}]")
    for i, button in enumerate(items("buttons")):
        pin, relay = button.get("pin"), button.get("relay")
        if isinstance(pin, int):
            if pin in pins:
                problems.append(f"buttons[{i}].pin: pin {pin} is already used by {pins[pin]}")
            pins.setdefault(pin, f"buttons[{i}]")
        if isinstance(relay, str) and relay not in names:
            problems.append(f"buttons[{i}].relay: no relay named {relay!r}; use one of {sorted(names)}")
    audio = data.get("audio") if isinstance(data.get("audio"), dict) else {}
    amp = audio.get("amp_relay")  # when not given, the default "amp" applies only if such a relay exists
    if isinstance(amp, str) and amp and amp not in names:
        problems.append(
            f"audio.amp_relay: no relay named {amp!r}; add a [[relays]] entry with that name "
            'or set amp_relay = "" (no amplifier relay)'
        )
    output = audio.get("output")
    storage = data.get("storage") if isinstance(data.get("storage"), dict) else {}
    root = storage.get("dir", str(StorageConfig.model_fields["dir"].default))
    if isinstance(output, str) and output.startswith("wav:") and isinstance(root, str):
        wav, clips = Path(os.path.abspath(output[4:])), Path(os.path.abspath(Path(root) / "clips"))
        if wav == clips or clips in wav.parents:  # camera start-up repair removes *.part there
            problems.append(f"audio.output: the WAV folder {output[4:]} is inside the camera clips folder {clips}; "
                            f'use a folder of its own, e.g. "wav:{Path(root) / "audio-out"}"')
    cams: set[str] = set()
    for i, cam in enumerate(items("cameras")):
        name = cam.get("name")
        if isinstance(name, str):
            if name in cams:
                problems.append(f"cameras[{i}].name: duplicate camera name {name!r}")
            cams.add(name)
    return problems


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _shape(loc: str, want_list: bool, given: Any) -> str:
    """A table or a list of tables written the other way round ([relays] for [[relays]],
    [[mqtt]] for [mqtt]), or a plain value where a table or a list belongs."""
    table = re.sub(r"\[\d+\]$", "", loc)
    if want_list and isinstance(given, dict):
        return f"written as [{loc}] (one table); write each entry as [[{loc}]] (double brackets), one block per entry"
    if want_list:
        key = loc.rpartition(".")[2]
        if key.endswith("]") or not isinstance(given, (str, int, float)):  # an item of a list, e.g. a mask's point
            return f"must be a list in brackets (got {given!r})"
        return f"must be a list in brackets, e.g. {key} = [{json.dumps(given, ensure_ascii=False)}] (got {given!r})"
    if isinstance(given, list):
        return f"written as [[{loc}]] (a list of tables); write [{loc}] (single brackets): there is one {loc} table"
    if table != loc:
        return f"each entry must be a table: write [[{table}]] with its keys on the lines below it (got {given!r})"
    return f"must be a table: write [{loc}] with its keys on the lines below it (got {given!r})"


def format_errors(err: ValidationError) -> list[str]:
    """One line per problem, 'key.path: message', in the order pydantic found them."""
    lines: list[str] = []
    for e in err.errors():
        loc = _loc(tuple(p for p in e["loc"] if p != "__root__"))
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key; remove it or check its spelling (see systemd/langso.example.toml)"
        elif e["type"] == "missing":
            section, _, key = loc.rpartition(".")
            table = re.sub(r"\[\d+\]$", "", section)
            where = f"to this [[{table}]] entry" if table != section else f"under [{section}]"
            msg = (f"required key is missing; add {key} = ... {where}" if section else f"required table is missing; add [{key}]")
            msg += " (systemd/langso.example.toml shows every key)"
        elif e["type"] == "string_pattern_mismatch" and loc.endswith("id"):
            msg = "must be a slug of lowercase letters, digits and '-' (e.g. \"dinh-hung-ho-thon\")"
        elif e["type"] in ("model_type", "list_type"):
            msg = _shape(loc, e["type"] == "list_type", e.get("input"))
        elif e["type"].startswith(("less_than", "greater_than")) and loc.endswith("pin"):
            msg = f"{msg} (BCM GPIO numbers on a Raspberry Pi are 2-27)"
        elif isinstance(e.get("input"), (str, int, float, bool)):
            msg = f"{msg} (got {e['input']!r})"
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        lines.append(f"{loc}: {msg}")
    return lines


def _apply_amp_default(data: dict[str, Any]) -> dict[str, Any]:
    """DESIGN.md's default amp_relay is "amp"; a house without such a relay has none."""
    audio = data.get("audio", {})
    relays = data.get("relays", [])
    if isinstance(audio, dict) and "amp_relay" not in audio and isinstance(relays, list):
        if not any(isinstance(r, dict) and r.get("name") == "amp" for r in relays):
            data = dict(data, audio=dict(audio, amp_relay=""))
    return data


def parse_config(data: dict[str, Any], source: str = "config", check_files: bool = False) -> Config:
    """The Config of `data`, or ConfigError with every problem; with check_files, also the
    files it names that are not there (missing_files) and the uplink's problems
    (uplink_problems): the daemon runs on with those, `langso config check` refuses them."""
    data = _apply_amp_default(data)
    problems = cross_checks(data) + (missing_files(data) + uplink_problems(data) if check_files else [])
    try:
        config = Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_errors(err) + problems, source) from err
    if problems:
        raise ConfigError(problems, source)
    return config


def load_config(path: str | os.PathLike[str], check_files: bool = False) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found; copy systemd/langso.example.toml there and edit it"], str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([f"{path}: cannot read ({err})"], str(path)) from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"TOML syntax: {err}"], str(path)) from err
    return parse_config(data, str(path), check_files)


def local_config_path(given: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file of this machine's daemon: the one given (--config), else
    /etc/langso/langso.toml when it exists; None when there is neither (the demo's)."""
    if given:
        return Path(given)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def demo_config(data_dir: Path, port: int = 8080, sample_video: Path | None = None) -> Config:
    """The simulated house of `langso demo`: no config file needed."""
    data: dict[str, Any] = {
        "site": {"id": "demo", "name": "Nhà văn hóa thôn (mô phỏng)"},
        "gpio": {"pin_factory": "mock"},
        "storage": {"dir": str(data_dir), "min_free_mb": 100},
        "relays": [
            {"name": "tv", "pin": 17, "label": "Tivi"},
            {"name": "radio", "pin": 27, "label": "Đài"},
            {"name": "amp", "pin": 22, "label": "Loa (âm ly)"},
        ],
        "audio": {"output": f"wav:{data_dir / 'audio-out'}", "tts": ["espeak"], "amp_warmup_s": 0.5, "amp_tail_s": 2.0},
        "web": {"listen": f"127.0.0.1:{port}"},
        "clock": {"require_sync": False},
    }
    if sample_video is not None:
        data["cameras"] = [{"name": "cong-lang", "source": str(sample_video)}]
    return parse_config(data, "demo defaults")
