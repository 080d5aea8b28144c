"""A real mosquitto for the uplink tests: free loopback ports, a generated password
file, a TLS listener with a self-signed CA made here with openssl, persistence, and the
ACL of systemd/mosquitto-acl.example. The IOC side is a plain paho client."""
from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.audio.conftest import http_server  # noqa: F401  (the audio wing's local web server, for broadcasts from URLs)
from tests.conftest import free_port, wait_until  # noqa: F401  (wait_until: re-exported to the mqtt tests)

ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO = "/usr/sbin/mosquitto"
USERS = {"test-site": "site-pass-1", "other-site": "other-pass-2", "ioc": "ioc-pass-3"}
GROUPS = {"test-site": ["yen-dinh"], "other-site": ["khac", "yen-dinh"]}


def make_ca(d: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=langso test CA")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "san.ext")


def make_client_cert(d: Path, name: str) -> tuple[Path, Path]:
    """A client certificate for `name` signed by the CA in d."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subprocess.run(["openssl", "req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}"],
                   cwd=d, check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                    "-CAcreateserial", "-out", f"{name}.crt", "-days", "2"], cwd=d, check=True, capture_output=True)
    return d / f"{name}.crt", d / f"{name}.key"


def acl_text() -> str:
    """The example ACL's rules, with the test sites' group blocks instead of the example's."""
    example = (ROOT / "systemd" / "mosquitto-acl.example").read_text()
    rules = example.split("# --- groups:")[0]
    for user, groups in GROUPS.items():
        rules += f"\nuser {user}\n" + "".join(f"topic read langso/group/{g}/broadcast/set\n" for g in groups)
    return rules


class Broker:
    def __init__(self, d: Path):
        self.dir = d
        self.port, self.tls_port, self.mtls_port = free_port(), free_port(), free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        d.mkdir(parents=True, exist_ok=True)
        make_ca(d)
        passwd = d / "passwd"
        passwd.write_text("")
        for user, password in USERS.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True, capture_output=True)
        (d / "acl").write_text(acl_text())
        (d / "persist").mkdir(exist_ok=True)
        self._write_conf()

    def _write_conf(self) -> None:
        d = self.dir
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "")
        (d / "mosquitto.conf").write_text(f"""
per_listener_settings false
allow_anonymous false
password_file {d / 'passwd'}
acl_file {d / 'acl'}
persistence true
set_tcp_nodelay true
persistence_location {d / 'persist'}/
{'user ' + user if user else ''}
log_dest file {d / 'mosquitto.log'}
log_type error
log_type warning
log_type notice
log_type information
listener {self.port} 127.0.0.1
listener {self.tls_port} 127.0.0.1
cafile {d / 'ca.crt'}
certfile {d / 'server.crt'}
keyfile {d / 'server.key'}
listener {self.mtls_port} 127.0.0.1
cafile {d / 'ca.crt'}
certfile {d / 'server.crt'}
keyfile {d / 'server.key'}
require_certificate true
""")

    def start(self, first: bool = True) -> "Broker":
        """Start mosquitto; on a first start, ports taken meanwhile by another process
        (the machine is shared) are replaced; a restart keeps its ports and waits for them."""
        for _ in range(20):
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.dir / "mosquitto.conf")],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if wait_until(self._listening_or_exited, 10, "mosquitto to listen") == "listening":
                return self
            log = (self.dir / "mosquitto.log").read_text(errors="replace") if (self.dir / "mosquitto.log").exists() else ""
            if "Address already in use" not in log:
                raise AssertionError(f"mosquitto exited {self.proc.returncode}:\n{log[-2000:]}")
            (self.dir / "mosquitto.log").unlink()
            if first:
                self.port, self.tls_port, self.mtls_port = free_port(), free_port(), free_port()
                self._write_conf()
            else:
                time.sleep(0.5)
        raise AssertionError("mosquitto could not get its ports")

    def _listening_or_exited(self) -> str | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            return "exited"
        try:
            for port in (self.port, self.tls_port, self.mtls_port):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return "listening"
        except OSError:
            return None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is not None:  # not by us: a test that waits for the broker would time out without saying why
            log = self.dir / "mosquitto.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise AssertionError(f"mosquitto ended during the test (exit status {proc.returncode}):\n{tail}")
        proc.send_signal(signal.SIGTERM)  # saves sessions and retained messages
        proc.wait(10)

    def wipe(self) -> None:
        """Forget retained messages and sessions (a replaced broker)."""
        for f in (self.dir / "persist").iterdir():
            f.unlink()

    def mqtt_config(self, user: str = "test-site", password: str | None = None, **extra: Any) -> dict[str, Any]:
        pw = self.dir / f"{user}.pass"
        pw.write_text((password if password is not None else USERS[user]) + "\n")
        return {"host": "127.0.0.1", "port": self.port, "tls": False, "username": user,
                "password_file": str(pw), "keepalive_s": 5, "telemetry_s": 3600, "reconnect_max_s": 2, **extra}


class Ioc:
    """The district side: a paho client that records every message it receives."""

    def __init__(self, broker: Broker, subscribe: list[str], client_id: str = "", persistent: bool = False,
                 user: str = "ioc"):
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.seen: list[tuple[str, bytes, bool]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent)
        self.client.username_pw_set(user, USERS[user])
        self.client.reconnect_delay_set(1, 1)
        self.subscribed = False

        def on_connect(client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if not reason.is_failure:
                client.subscribe([(t, 1) for t in subscribe])

        def on_subscribe(*_: Any) -> None:
            self.subscribed = True

        def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
            # DUP: the broker sends again what it sent before the link (or the broker) went down
            # and got no PUBACK for; one already received here is not a second message from the
            # house (the broker never passes the house's own DUP flag on)
            if msg.dup and any(t == msg.topic and p == msg.payload for t, p, _ in list(self.seen)):
                return
            self.seen.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

        self.client.on_connect, self.client.on_subscribe, self.client.on_message = on_connect, on_subscribe, on_message
        self.client.connect("127.0.0.1", broker.port, 10)
        self.client.loop_start()
        wait_until(lambda: self.subscribed, 10, "IOC subscription")

    def publish(self, topic: str, payload: str | bytes | dict[str, Any]) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def on(self, topic: str) -> list[bytes]:
        return [p for t, p, _ in list(self.seen) if t == topic]

    def wait(self, topic: str, predicate: Callable[[bytes], bool] = lambda p: True, timeout: float = 20) -> bytes:
        return wait_until(lambda: next((p for p in self.on(topic) if predicate(p)), None), timeout, f"a message on {topic}")

    def replies(self, site: str = "test-site") -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.on(f"langso/{site}/reply")]

    def reply(self, cmd_id: str | None = None, count: int = 1, timeout: float = 20) -> dict[str, Any]:
        wait_until(lambda: len([r for r in self.replies() if cmd_id is None or r["cmd_id"] == cmd_id]) >= count,
                   timeout, f"reply cmd_id={cmd_id}")
        return [r for r in self.replies() if cmd_id is None or r["cmd_id"] == cmd_id][count - 1]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture
def ioc(broker: Broker) -> Iterator[Callable[..., Ioc]]:
    clients: list[Ioc] = []

    def make(subscribe: list[str] | None = None, **kwargs: Any) -> Ioc:
        c = Ioc(broker, subscribe or ["langso/#"], **kwargs)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def site(broker: Broker, make_config: Callable[..., Any], start_app: Callable[..., Any],
         ioc: Callable[..., Ioc]) -> tuple[Any, Ioc]:
    """A started house (site test-site, group yen-dinh) connected to the broker, and an IOC
    client listening to everything."""
    district = ioc()
    app = start_app(make_config(site={"id": "test-site", "groups": ["yen-dinh"]}, mqtt=broker.mqtt_config()))
    wait_until(lambda: app.house.status()["uplink"]["state"] == "connected", 20, "uplink connected")
    district.wait("langso/test-site/status", lambda p: p == b"online")
    return app, district
