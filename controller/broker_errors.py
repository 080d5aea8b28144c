"""Why the uplink could not get a session with the broker, said so that the technician
knows which [mqtt] key to look at: paho only says that a connection attempt failed (its
on_connect_fail runs inside its `except OSError`) or that the link closed."""
from __future__ import annotations

import socket
import ssl
from typing import Any


def connect_problem(err: BaseException | None, cfg: Any) -> str:
    """A failed connection attempt (`err`: the OSError paho caught) in words, naming the
    config key to check; `cfg` is the MqttConfig."""
    where = f"{cfg.host}:{cfg.port}"
    if isinstance(err, ssl.SSLCertVerificationError):
        now = cfg.ca_file or "empty: the system CAs"
        return (f"TLS: the certificate of {where} is not trusted ({err.verify_message or err}); set mqtt.ca_file "
                f"(now {now}) to the CA that signed it, and mqtt.host to the name in it")
    if isinstance(err, ssl.SSLError):
        return (f"TLS handshake with {where} failed ({err.reason or err}); check that mqtt.port is the broker's "
                "TLS port (usually 8883; for a plain port such as 1883 set mqtt.tls = false), and mqtt.cert_file/key_file")
    if isinstance(err, socket.gaierror):
        return f"cannot find mqtt.host {cfg.host!r} ({err.strerror}); check the name and the house's network (DNS)"
    if isinstance(err, ConnectionRefusedError):
        return f"{where} refused the connection: no broker listens there (it is down, or check mqtt.host and mqtt.port)"
    if isinstance(err, ConnectionResetError) and cfg.tls:
        return (f"{where} broke off the TLS handshake ({err.strerror}); if that is a plain MQTT port (usually 1883) "
                "set mqtt.tls = false, else check the broker's TLS listener")
    if isinstance(err, TimeoutError):
        return f"no answer from {where} (timed out); check the network link, mqtt.host and mqtt.port"
    detail = f" ({err})" if err is not None else ""
    return f"cannot reach {where}{detail}; check the network, mqtt.host and mqtt.port"


def closed_before_accepting(reason: str, cfg: Any, connected_before: bool = False) -> str:
    """The broker closed the connection before its CONNACK (no refusal code): typically a
    plain client on a TLS port; with settings that have worked (`connected_before`), the broker's."""
    if connected_before:
        hint = "see the broker's log (these settings have connected before)"
    elif not cfg.tls:
        hint = "if that is the broker's TLS port (usually 8883) set mqtt.tls = true, else see the broker's log"
    else:
        hint = "see the broker's log (e.g. a client certificate it requires: mqtt.cert_file/key_file)"
    return f"{cfg.host}:{cfg.port} closed the connection before accepting it ({reason}); {hint}"
