"""`langso web ...`: the phone page's HTTPS certificate and a look at who may log in.

`langso web cert` makes a self-signed certificate (openssl, present on every Debian /
Raspberry Pi OS) for HTTPS, which phones require before they let the page record from
the microphone. install.sh runs it once; the browser asks the village head to accept it once.
An existing web.crt or web.key is never replaced without --force: every phone would have
to accept the new certificate again, and a key that goes with a certificate kept
elsewhere would be lost.
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

OK, FAILED, BAD_INPUT = 0, 1, 2


def local_addresses() -> list[str]:
    """This machine's IP addresses (what a phone on the village LAN types)."""
    found = {"127.0.0.1"}
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
        found.update(a for a in out.split() if a)
    except (OSError, subprocess.SubprocessError):
        pass
    return sorted(found)


def subject_alt_names(hosts: list[str]) -> str:
    names = []
    for host in dict.fromkeys(hosts):
        try:
            ipaddress.ip_address(host)
            names.append(f"IP:{host}")
        except ValueError:
            names.append(f"DNS:{host}")
    return ",".join(names)


def certificate_paths(directory: Path) -> tuple[Path, Path]:
    return directory / "web.crt", directory / "web.key"


def make_certificate(directory: Path, hosts: list[str], days: int) -> tuple[Path, Path]:
    """Write web.crt and web.key (EC P-256, self-signed) into `directory`; returns both paths."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise OSError("openssl is not installed; apt-get install openssl")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = certificate_paths(directory)
    tmp_key, tmp_cert = directory / ".web.key.tmp", directory / ".web.crt.tmp"
    started = time.monotonic()
    logger.info("certificate start dir=%s hosts=%s", directory, ",".join(hosts))
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(tmp_key), "-out", str(tmp_cert), "-days", str(days), "-subj", f"/CN={hosts[0]}/O=langso",
         "-addext", f"subjectAltName={subject_alt_names(hosts)}"],
        check=True, capture_output=True, timeout=60,
    )
    os.chmod(tmp_key, 0o600)
    os.replace(tmp_key, key)
    os.replace(tmp_cert, cert)  # a failed openssl leaves no half-written web.crt behind
    logger.info("certificate done cert=%s seconds=%.2f", cert, time.monotonic() - started)
    return cert, key


def _host_name(name: str) -> bool:
    """An IP address, or a DNS name a certificate can carry (RFC 1123 labels)."""
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    labels = name.rstrip(".").split(".")
    return len(name) <= 253 and all(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", label) for label in labels)


def cmd_web_cert(args: argparse.Namespace) -> int:
    if args.days < 1 or args.days > 10000:
        print("error: --days: choose 1 ... 10000", file=sys.stderr)
        return BAD_INPUT
    for name in args.host:
        if not _host_name(name):
            print(f"error: --host: {name!r} is neither an IP address nor a host name (letters, digits, '-' and '.'); "
                  "give the name or address the phones use, e.g. --host nvh-thon-dong.local --host 192.168.1.20", file=sys.stderr)
            return BAD_INPUT
    existing = [str(path) for path in certificate_paths(Path(args.dir)) if os.path.lexists(path)]
    if existing and not args.force:
        print(f"error: {' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; nothing was changed. "
              "A new certificate must be accepted again on every phone; to replace it, run again with --force",
              file=sys.stderr)
        return FAILED
    host = socket.gethostname()
    hosts = [host, f"{host}.local", "localhost", *local_addresses(), *args.host]
    try:
        cert, key = make_certificate(Path(args.dir), hosts, args.days)
    except subprocess.CalledProcessError as err:
        print(f"error: openssl failed: {err.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        return FAILED
    print(f"certificate {cert} (key {key}) for {', '.join(dict.fromkeys(hosts))}, valid {args.days} days")
    print("add to the config and restart langso:")
    print("  [web]")
    print(f'  tls_cert = "{cert}"')
    print(f'  tls_key = "{key}"')
    return OK


def cmd_web_users(args: argparse.Namespace) -> int:
    from controller.cli import _admin_store, _local_config, _when

    with _admin_store(args, "web users") as store:  # as root, a first open leaves no root-owned files
        users, tokens = store.users(), store.tokens()
    tz = ZoneInfo(_local_config(args).site.timezone)   # as the schedules are written, whatever this machine's TZ
    print(f"{'user':<24} {'role':<8} {'created':<16} password")
    for user in users:
        print(f"{user['name']:<24} {user['role']:<8} {_when(user['created_at'], tz)[:16]:<16} "
              f"{'set by a technician: chosen at the next login' if user['must_change'] else 'own'}")
    print()
    print(f"{'token':<24} {'id':>4} {'last used':<16} scopes ({tz.key} time)")
    for token in tokens:
        used = _when(token['last_used'], tz)[:16] if token['last_used'] else "never"
        print(f"{token['name']:<24} {token['id']:>4} {used:<16} {','.join(token['scopes'])}")
    return OK


def add_commands(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    web = sub.add_parser("web", help="the phone page: HTTPS certificate, users and tokens").add_subparsers(dest="web_command", required=True)
    p = add("cert", cmd_web_cert, "make a self-signed HTTPS certificate for the phone page", web)
    p.add_argument("--dir", default="/etc/langso", help="where web.crt and web.key go (default /etc/langso)")
    p.add_argument("--host", action="append", default=[], help="another name or IP the phones use (repeatable)")
    p.add_argument("--days", type=int, default=3650, help="validity in days (default 3650)")
    p.add_argument("--force", action="store_true", help="replace an existing web.crt / web.key")
    add("users", cmd_web_users, "list web users and API tokens (names and scopes, never secrets)", web)
