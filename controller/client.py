"""How the `langso` CLI finds and talks to the running daemon (its local JSON API)."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import platformdirs

from controller.config import ConfigError, load_config, local_config_path

SYSTEM_DATA_DIR = Path("/var/lib/langso")


def demo_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("langso")) / "demo"


class DaemonUnreachable(Exception):
    pass


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _candidates(config_path: str | None, data_dir: str | None) -> list[Path]:
    dirs: list[Path] = [Path(data_dir)] if data_dir else []
    path = local_config_path(config_path)
    if path:
        try:
            dirs.append(Path(load_config(path).storage.dir))
        except ConfigError:
            pass
    dirs += [SYSTEM_DATA_DIR, demo_data_dir()]
    return [d / "cli.json" for d in dirs]


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


def find_daemon(config_path: str | None = None, data_dir: str | None = None) -> tuple[str, str]:
    """URL and token: $LANGSO_URL/$LANGSO_TOKEN, else the cli.json of the first running
    daemon found in: --data-dir, the config's storage.dir, /var/lib/langso, the demo's."""
    if os.environ.get("LANGSO_URL") and os.environ.get("LANGSO_TOKEN"):
        return os.environ["LANGSO_URL"], os.environ["LANGSO_TOKEN"]
    denied, stopped = [], []
    for candidate in _candidates(config_path, data_dir):
        try:
            info = json.loads(candidate.read_text())
            url, token = info["url"], info["token"]
        except PermissionError:
            denied.append(str(candidate))
            continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _running(info.get("pid")):
            return url, token
        stopped.append(str(candidate.parent))
    if denied:
        raise DaemonUnreachable(f"cannot read {denied[0]}: run as root or the langso user (sudo langso ...)")
    was = f" (the one that used {stopped[0]} has stopped)" if stopped else ""
    raise DaemonUnreachable(f"no running langso daemon found{was}; start it: `systemctl start langso` or `langso demo` "
                            "(a demo with --data-dir DIR: `langso --data-dir DIR status`)")


class Client:
    def __init__(self, url: str, token: str, timeout: float = 30):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

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
            raise ApiError(err.code, message) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            reason = getattr(err, "reason", err)
            raise DaemonUnreachable(f"cannot reach the langso daemon at {self.url} ({reason}); is it running?") from None
