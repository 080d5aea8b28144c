"""How the `langso` CLI finds and talks to the running daemon (its local JSON API)."""
from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import platformdirs

from controller.config import ConfigError, load_config, local_config_path

SYSTEM_DATA_DIR = Path("/var/lib/langso")
FULL_BELOW = 64 * 1024  # bytes free: a data folder this full cannot take a new cli.json


def demo_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("langso")) / "demo"


class DaemonUnreachable(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code  # 1: the daemon is not there; 2: the CLI was told wrong (exit codes of controller.cli)


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _candidates(config_path: str | None) -> list[Path]:
    """The data folders to look in when no --data-dir is given, in order."""
    dirs: list[Path] = []
    path = local_config_path(config_path)
    if path:
        try:
            dirs.append(Path(load_config(path).storage.dir))
        except ConfigError:
            pass
    return dirs + [SYSTEM_DATA_DIR, demo_data_dir()]


def _running(pid: Any) -> bool:
    """Is the daemon that wrote a cli.json still there? (a stale file from a stopped demo
    must not hide the daemon that runs)"""
    if not isinstance(pid, int):
        return True  # cannot tell: let the request say
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process (the service user): alive
    return True


def find_daemon(config_path: str | None = None, data_dir: str | None = None) -> tuple[str, str, str]:
    """URL, token and where the token came from: $LANGSO_URL/$LANGSO_TOKEN, else the
    cli.json of the daemon of --data-dir (that folder only), else of the first running
    daemon found in: the config's storage.dir, /var/lib/langso, the demo's."""
    if os.environ.get("LANGSO_URL"):
        if not os.environ.get("LANGSO_TOKEN"):
            raise DaemonUnreachable(
                f"LANGSO_URL is set ({os.environ['LANGSO_URL']}) but LANGSO_TOKEN is not: set LANGSO_TOKEN to an admin "
                "token of that daemon (`sudo langso token add NAME --scope admin` on its machine, printed once), "
                "or unset LANGSO_URL to use the daemon of this machine", code=2)
        return os.environ["LANGSO_URL"], os.environ["LANGSO_TOKEN"], "LANGSO_TOKEN"
    folders = [Path(data_dir)] if data_dir else _candidates(config_path)
    denied, stopped = [], []
    for folder in folders:
        candidate = folder / "cli.json"
        try:
            info = json.loads(candidate.read_text())
            url, token = info["url"], info["token"]
        except PermissionError:
            denied.append(str(candidate))
            continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _running(info.get("pid")):
            return url, token, str(candidate)
        stopped.append(str(folder))
    if denied:
        raise DaemonUnreachable(f"cannot read {denied[0]}: run as root or the langso user (sudo langso ...)")
    for folder in folders:
        if _full(folder):  # the daemon may run there, unable to write its cli.json: say so, not "start it"
            raise DaemonUnreachable(f"the disk of {folder} is full: a langso daemon there cannot write its cli.json "
                                    "(the address and token of this command); free space there (e.g. old camera clips: "
                                    f"sudo du -sh {folder}/*) and it writes one within seconds, or start it "
                                    "(`sudo systemctl start langso`) if it is not running")
    if data_dir and stopped:
        raise DaemonUnreachable(f"the langso daemon that used {data_dir} has stopped; start it again "
                                f"(`langso demo --data-dir {data_dir}`, or `sudo systemctl start langso` for the service's)")
    if data_dir:
        raise DaemonUnreachable(f"no langso daemon has run with --data-dir {data_dir} (no {folders[0] / 'cli.json'}); "
                                f"start one there (`langso demo --data-dir {data_dir}`), or leave out --data-dir to find "
                                "this machine's daemon")
    was = f" (the one that used {stopped[0]} has stopped)" if stopped else ""
    raise DaemonUnreachable(f"no running langso daemon found in {', '.join(map(str, folders))}{was}; start it: "
                            "`systemctl start langso` or `langso demo` (a demo with --data-dir DIR: `langso --data-dir DIR status`)")


def _full(folder: Path) -> bool:
    try:
        return folder.is_dir() and shutil.disk_usage(folder).free < FULL_BELOW
    except OSError:
        return False


class Client:
    def __init__(self, url: str, token: str, timeout: float = 30, token_from: str = ""):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.token_from = token_from  # LANGSO_TOKEN or a cli.json: a refusal then says which and the fix

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/api/v1{path}", data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            try:
                message = json.loads(err.read()).get("error", err.reason)
            except ValueError:
                message = str(err.reason)
            if err.code == 401 and self.token_from:
                message = self._rejected()
            raise ApiError(err.code, message) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            reason = getattr(err, "reason", err)
            raise DaemonUnreachable(f"cannot reach the langso daemon at {self.url} ({reason}); is it running?") from None

    def _rejected(self) -> str:
        said = f"the daemon at {self.url} rejected the token in {self.token_from}; "
        if self.token_from == "LANGSO_TOKEN":
            return said + ("set LANGSO_TOKEN to an admin token of that daemon (`sudo langso token add NAME --scope admin` "
                           "on its machine, printed once), or unset LANGSO_URL and LANGSO_TOKEN to use this machine's daemon")
        return said + ("the daemon writes a new one at each start, so another daemon may answer at that address now: "
                       "restart it (`sudo systemctl restart langso`, or the `langso demo` of that folder) to write a fresh one")
