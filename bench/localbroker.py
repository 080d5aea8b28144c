"""A local mosquitto for the benches: N site users in a password file, the ACL rules of
systemd/mosquitto-acl.example with every site in the group `district`, optional TLS
with a CA made by openssl, and the broker's memory read from /proc."""
from __future__ import annotations

import os
import resource
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IOC_PASS = "ioc-bench-pass"


def site_pass(i: int) -> str:
    return f"pass-{i}"


# the broker -----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(d: Path, n: int, tls: bool) -> tuple[subprocess.Popen[bytes], int]:
    lines = [f"ioc:{IOC_PASS}"] + [f"site-{i}:{site_pass(i)}" for i in range(n)]
    (d / "passwd").write_text("\n".join(lines) + "\n")
    subprocess.run(["mosquitto_passwd", "-U", str(d / "passwd")], check=True)
    example = (ROOT / "systemd" / "mosquitto-acl.example").read_text().split("# --- groups:")[0]
    groups = "".join(f"user site-{i}\ntopic read langso/group/district/broadcast/set\n" for i in range(n))
    (d / "acl").write_text(example + "\n" + groups)
    port = free_port()
    conf = [f"listener {port} 127.0.0.1", "allow_anonymous false", f"password_file {d / 'passwd'}",
            f"acl_file {d / 'acl'}", "max_queued_messages 100000", "log_dest none", "set_tcp_nodelay true"]
    if os.geteuid() == 0:
        conf.append("user root")
    if tls:
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)  # noqa: E731
        run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=bench CA")
        run("req", *ec, "-keyout", "s.key", "-out", "s.csr", "-subj", "/CN=localhost")
        (d / "san").write_text("subjectAltName=IP:127.0.0.1\n")
        run("x509", "-req", "-in", "s.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "s.crt",
            "-days", "1", "-extfile", "san")
        conf += [f"cafile {d / 'ca.crt'}", f"certfile {d / 's.crt'}", f"keyfile {d / 's.key'}"]
    (d / "mosquitto.conf").write_text("\n".join(conf) + "\n")
    err = open(d / "mosquitto.err", "wb")  # its warnings (e.g. running as root) stay out of the table
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(d / "mosquitto.conf")], stderr=err, preexec_fn=raise_nofile)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"mosquitto did not start: {(d / 'mosquitto.err').read_text()}")


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def mosquitto_version() -> str:
    out = subprocess.run(["/usr/sbin/mosquitto", "-h"], capture_output=True, text=True).stdout
    return out.split("version", 1)[1].split()[0] if "version" in out else "?"
