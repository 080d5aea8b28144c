"""`langso` — the technician's command line (also `python -m controller`).

Exit codes: 0 ok, 1 the operation failed, 2 bad input or config.
Wings add their commands from controller/cli_*.py modules listed in COMMAND_MODULES.
"""
from __future__ import annotations

import argparse
import getpass
import importlib
import json
import logging
import os
import sys
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controller.client import ApiError, Client, DaemonUnreachable, demo_data_dir, find_daemon
from controller.config import DEFAULT_CONFIG_PATH, ConfigError, demo_config, load_config, local_config_path
from controller.data_lock import DataDirBusy, DataLock
from controller.db import DatabaseUnavailable
from drivers.errors import HardwareUnavailable

def command_modules() -> list[str]:
    """Each wing's commands live in controller/cli_<wing>.py with add_commands(sub, add)."""
    here = Path(__file__).parent
    return sorted(f"controller.{p.stem}" for p in here.glob("cli_*.py"))

OK, FAILED, BAD_INPUT = 0, 1, 2


class CliError(Exception):
    def __init__(self, message: str, code: int = FAILED):
        super().__init__(message)
        self.code = code


def client(args: argparse.Namespace) -> Client:
    url, token, token_from = find_daemon(getattr(args, "config", None), getattr(args, "data_dir", None))
    return Client(url, token, token_from=token_from)


def _local_config(args: argparse.Namespace):
    """The config of this machine's daemon: --config, /etc/langso/langso.toml, else the
    demo's. With --data-dir (and no --config): the daemon of that folder, /etc's if it keeps
    its data there, else a demo's there (`langso demo --data-dir DIR`), never another folder."""
    path = local_config_path(args.config)
    data_dir = getattr(args, "data_dir", None)
    if data_dir and not args.config:
        config = load_config(path) if path else None
        if config is not None and Path(config.storage.dir).resolve() == Path(data_dir).resolve():
            return config
        return demo_config(Path(data_dir))
    return load_config(path) if path else demo_config(demo_data_dir())


# daemon ---------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from controller.app import App
    from controller.logs import setup_logging

    if not args.config:
        raise CliError("run: give the config file: langso run --config /etc/langso/langso.toml "
                       "(or `langso demo` for simulated hardware)", BAD_INPUT)
    setup_logging(args.log_level)
    config = load_config(args.config)
    return App(config).run()


def cmd_demo(args: argparse.Namespace) -> int:
    from controller.app import App
    from controller.logs import setup_logging

    setup_logging(args.log_level)
    data = Path(args.data_dir) if args.data_dir else demo_data_dir()
    lock = DataLock.acquire(data)  # before the demo video is written: another demo may use this folder
    from camera.synthetic import ensure_demo_video  # the demo camera watches a looped synthetic scene

    config = demo_config(data, args.port, sample_video=ensure_demo_video(data / "demo-camera.mp4"))
    logging.getLogger("controller.cli").info("demo starting data_dir=%s url=http://127.0.0.1:%d", data, args.port)
    return App(config, data_lock=lock).run()


def cmd_config_check(args: argparse.Namespace) -> int:
    config = load_config(args.file, check_files=True)  # every problem in one listing, the files' too
    print(f"{args.file}: OK (site {config.site.id}, {len(config.relays)} relays, {len(config.cameras)} cameras)")
    return OK


# talking to the daemon -------------------------------------------------------------
def _site_tz(status: dict[str, Any]) -> tzinfo | None:
    """The site's timezone (site.timezone, in which its schedules are written); None: this
    machine's own, e.g. a daemon of an earlier version that does not say."""
    try:
        return ZoneInfo(str((status.get("clock") or {}).get("timezone") or ""))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _when(ts: float | None, tz: tzinfo | None = None) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def cmd_status(args: argparse.Namespace) -> int:
    """Everything the daemon reports; exit 1 when it lists problems (`langso status && ...`)."""
    status = client(args).request("GET", "/status")
    problems = status.get("problems") or {}
    code = FAILED if problems else OK
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return code
    print(f"site      {status['site']['id']} ({status['site']['name']})")
    print(f"uptime    {status['uptime_s']:.0f} s")
    clock, tz = status["clock"], _site_tz(status)  # times as the schedules are written, whatever this machine's TZ
    checked = "synced" if clock["synced"] else "NOT SYNCED"
    print(f"clock     {'not checked' if 'check off' in clock['reason'] else checked} ({clock['reason']})"
          + (f" · times in {tz.key}" if isinstance(tz, ZoneInfo) else ""))
    disk = status["disk"]
    print(f"disk      {disk['free_mb']} MB free of {disk['total_mb']} MB in {disk['dir']}")
    print("relays")
    for r in status["relays"]:
        print(f"  {r['name']:<10} {'ON ' if r['on'] else 'off'}  since {_when(r['changed_at'], tz)} by {r['changed_by'] or '-'}")
    shown = {"site", "time", "uptime_s", "clock", "disk", "relays", "problems"}
    for key, lines in _status_parts(status, tz).items():
        shown.add(key)
        print(f"{key:<9} {lines[0]}")
        for line in lines[1:]:
            print(f"{'':<9} {line}")
    for key, value in status.items():  # a part this version does not know how to say
        if key not in shown:
            print(f"{key:<9} {json.dumps(value, ensure_ascii=False)}")
    print("problems  " + ("none" if not problems else ""))
    for part, text in problems.items():
        print(f"  {part}: {text}")
    return code


def _status_parts(status: dict[str, Any], tz: tzinfo | None = None) -> dict[str, list[str]]:
    """The wings' parts of a status, a line or a few each, for a technician's terminal."""
    parts: dict[str, list[str]] = {}
    if isinstance(audio := status.get("audio"), dict) and "output" in audio:
        playing = audio.get("playing")
        now = f"{playing['kind']} {playing['id']} ({playing['priority']}, {playing['who']})" if playing else "nothing"
        parts["audio"] = [f"output {audio['output']} · playing {now} · queue {audio.get('queue', 0)} · "
                          f"inbox {audio.get('inbox', 0)} · underruns {audio.get('underruns', 0)}"
                          + (" · quiet hours now" if audio.get("quiet_now") else "")]
        for engine in (audio.get("tts") or {}).get("engines", []):
            state = "usable" if engine.get("usable") else f"NOT USABLE ({engine.get('last_error') or engine.get('breaker')})"
            parts["audio"].append(f"speech {engine['name']}: {state}")
        if audio.get("last_failure"):
            parts["audio"].append(f"last failure: {audio['last_failure']}")
    if isinstance(cameras := status.get("cameras"), list):
        parts["cameras"] = [
            f"{c['name']:<12} " + (f"connected  {c.get('fps') or 0:.1f} fps  last frame {_when(c.get('last_frame'), tz)}"
                                   if c.get("connected") else f"NOT CONNECTED ({c.get('error') or 'no frames yet'})")
            + f"  reconnects {c.get('reconnects', 0)}  decode errors {c.get('decode_errors', 0)}"
            + (f"  clips: {c['clip_error']}" if c.get("clip_error") else "")
            for c in cameras] or ["none configured"]
    if isinstance(schedules := status.get("schedules"), dict) and "programmes" in schedules:
        upcoming = schedules.get("next")
        after = (f"next {_when(upcoming['at'], tz)}: {upcoming['kind']} {upcoming['target']} ({upcoming['edge']})"
                 if upcoming else "nothing due")
        waiting = f" · WAITING for {schedules['waiting_for']}" if schedules.get("waiting_for") else ""
        parts["schedules"] = [f"{schedules['programmes']} programmes · {after}{waiting}"]
    if isinstance(uplink := status.get("uplink"), dict) and "state" in uplink:
        if "broker" not in uplink:
            parts["uplink"] = [f"{uplink['state']} ({uplink.get('reason', '')})"]
        else:
            parts["uplink"] = [f"{uplink['state']} to {uplink['broker']} since {_when(uplink.get('since'), tz)} · "
                               f"outbox {uplink.get('outbox_depth', 0)} waiting"
                               + (f", {uplink['outbox_held']} held in memory" if uplink.get("outbox_held") else "")]
            if uplink.get("last_error"):  # kept once connected: why the link was down before
                label = "before this connection" if uplink["state"] == "connected" else "last error"
                parts["uplink"].append(f"{label}: {uplink['last_error']}")
    if isinstance(machine := status.get("machine"), dict) and "mem_total_mb" in machine:
        temp = machine.get("cpu_temp_c")
        parts["machine"] = [f"memory {machine.get('mem_used_mb')} of {machine['mem_total_mb']} MB used · "
                            f"CPU {'-' if temp is None else f'{temp:.0f} °C'}"]
    return parts


def cmd_relay(args: argparse.Namespace) -> int:
    result = client(args).request("POST", f"/relays/{quote(args.name, safe='')}", {"state": args.state})
    state = "on" if result["on"] else "off"
    print(f"{result['name']}: {state}" + ("" if result["changed"] else " (already)"))
    return OK


def cmd_selftest(args: argparse.Namespace) -> int:
    result = client(args).request("POST", "/selftest")
    for row in result["results"]:
        print(f"{'PASS' if row['ok'] else 'FAIL'}  {row['part']:<10} {row['detail']}  ({row['seconds']:.2f} s)")
    print("all parts OK" if result["ok"] else "some parts FAILED")
    return OK if result["ok"] else FAILED


# local administration (works with the daemon stopped) -------------------------------
@contextmanager
def _admin_store(args: argparse.Namespace, command: str) -> Iterator[Any]:
    """The daemon's store, opened directly (`user add`, `token add`, `web users`). As
    root, the files end up owned by the service user, never root-only; as another user
    without access, the error says the exact `sudo -u ...` command."""
    from controller.data_owner import NotWritable, as_service_files
    from controller.db import Database
    from controller.store import Store

    data = Path(_local_config(args).storage.dir)
    if args.config:
        command = f"--config {args.config} {command}"
    try:
        with as_service_files(data, command, create=local_config_path(args.config) is not None):
            db = Database(data / "langso.db")
            try:
                yield Store(db)
            finally:
                db.close()
    except NotWritable as err:
        raise CliError(str(err)) from None


def _name(name: str) -> str:
    from controller.store import Refused, check_name

    try:
        return check_name(name)
    except Refused as err:
        raise CliError(f"NAME: {err.reason}", BAD_INPUT) from None


def cmd_user_add(args: argparse.Namespace) -> int:
    from controller.passwords import WeakPassword

    _name(args.name)  # before the password is asked for
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise CliError("the two passwords differ; nothing was changed", BAD_INPUT)
    try:
        with _admin_store(args, f"user add {args.name} --role {args.role}") as store:
            store.add_user(args.name, args.role, password, must_change=True)
    except WeakPassword as err:
        raise CliError(f"password: {err}", BAD_INPUT) from None
    print(f"user {args.name} ({args.role}) saved; at the first login the page asks them to choose their own password")
    return OK


def cmd_token_add(args: argparse.Namespace) -> int:
    from controller.store import Refused

    scopes = {s.strip() for item in args.scope for s in item.split(",") if s.strip()}
    try:
        with _admin_store(args, f"token add {args.name} --scope {','.join(sorted(scopes))}") as store:
            token = store.add_token(args.name, scopes)
    except Refused as err:
        raise CliError(f"{ {'name': 'NAME', 'scopes': '--scope'}[err.field]}: {err.reason}", BAD_INPUT) from None
    print(token)
    print(f"(token {args.name!r} with scopes {sorted(scopes)}: shown once, keep it safe)", file=sys.stderr)
    return OK


# parser ---------------------------------------------------------------------------
def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port; choose 1-65535, e.g. 8080 (0: any free port)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="langso", description="langso — the village cultural house controller")
    parser.add_argument("--config", help=f"config file (default {DEFAULT_CONFIG_PATH} when it exists)")
    parser.add_argument("--data-dir", help="the running daemon's data directory, where its cli.json is "
                                           "(default: the config's storage.dir, /var/lib/langso, the demo's)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str, parent: Any = sub) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add("run", cmd_run, "run the daemon (systemd runs this)")
    p.add_argument("--config", default=argparse.SUPPRESS, help="config file, e.g. /etc/langso/langso.toml (before or after `run`)")
    p.add_argument("--log-level", default="INFO")
    p = add("demo", cmd_demo, "run the daemon on simulated hardware with built-in defaults")
    p.add_argument("--port", type=_port, default=8080)
    p.add_argument("--data-dir", default=argparse.SUPPRESS,  # before or after `demo`: the same directory
                   help=f"where the demo keeps its state (default {demo_data_dir()})")
    p.add_argument("--log-level", default="INFO")

    config = sub.add_parser("config", help="config file tools").add_subparsers(dest="config_command", required=True)
    p = add("check", cmd_config_check, "validate a config; exit 2 with every problem listed", config)
    p.add_argument("file")

    p = add("status", cmd_status, "relays, queue, cameras, uplink, disk, clock of the running daemon "
                                  "(exit 1 when it reports problems)")
    p.add_argument("--json", action="store_true")
    p = add("relay", cmd_relay, "switch a relay through the daemon")
    p.add_argument("name")
    p.add_argument("state", choices=["on", "off", "toggle"], type=str.lower)  # ON as MQTT says it, too
    add("selftest", cmd_selftest, "click each relay, play a test tone, grab a frame per camera, ping the broker")

    user = sub.add_parser("user", help="web users").add_subparsers(dest="user_command", required=True)
    p = add("add", cmd_user_add, "create or reset a web user (asks for the password)", user)
    p.add_argument("name")
    p.add_argument("--role", choices=["head", "tech", "viewer"], required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    token = sub.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    p = add("add", cmd_token_add, "create an API token (printed once)", token)
    p.add_argument("name")
    p.add_argument("--scope", action="append", required=True, help="control, broadcast, events:read, admin (repeat or comma-separate)")

    for module in command_modules():
        importlib.import_module(module).add_commands(sub, add)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"{err.source}: {len(err.problems)} problem(s)", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return BAD_INPUT
    except ApiError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return BAD_INPUT if 400 <= err.status < 500 and err.status not in (401, 403, 409) else FAILED
    except (DaemonUnreachable, CliError, HardwareUnavailable, DataDirBusy, DatabaseUnavailable) as err:
        print(f"error: {err}", file=sys.stderr)
        return getattr(err, "code", FAILED)
    except KeyboardInterrupt:
        return FAILED
    except BrokenPipeError:  # `langso status | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
        return OK
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return FAILED
    except Exception as err:  # the daemon failed to start: one clear line, the trace in the log
        logging.getLogger("controller.cli").exception("failed command=%s", args.command)
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return FAILED


if __name__ == "__main__":
    sys.exit(main())
