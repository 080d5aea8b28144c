"""What the controller keeps: relay states, the audit log, users, API tokens, schedules."""
from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.commands import is_storage_full
from controller.db import Database
from controller.write_retry import WriteRetry

logger = logging.getLogger(__name__)

SCHEMA = [
    """
    CREATE TABLE relay_state (
        name TEXT PRIMARY KEY, state INTEGER NOT NULL, changed_at REAL NOT NULL, actor TEXT NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_target ON audit(target, id);
    CREATE TABLE users (
        name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
        created_at REAL NOT NULL, must_change INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL, created_at REAL NOT NULL, last_used REAL
    );
    CREATE TABLE schedules (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target TEXT NOT NULL,
        days TEXT NOT NULL, start TEXT NOT NULL, end TEXT, payload TEXT NOT NULL DEFAULT '{}',
        enabled INTEGER NOT NULL DEFAULT 1, created_at REAL NOT NULL, actor TEXT NOT NULL
    )
    """,
]

SCOPES = ("control", "broadcast", "events:read", "admin")
NAME = r"^[A-Za-z0-9._-]{1,32}$"  # users and tokens: what the page, the API and the CLI accept
CLI_TOKEN = "cli"  # the daemon's own admin token for the `langso` command (cli.json), renewed at each start
LAST_USED_EVERY_S = 60.0  # a token's last use is written at most this often (not once per request)


class Refused(ValueError):
    """A name or scope the store does not take; `field` is the API's name for it; `kind` and
    `values` say the same for machines, as CommandError's do (the page words the kind)."""

    def __init__(self, field: str, reason: str, kind: str = "", **values: Any):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.kind, self.values = field, reason, kind, values


def check_name(name: str) -> str:
    if not re.fullmatch(NAME, name):
        raise Refused("name", f"{name!r} is not a name: use 1-32 letters, digits, '.', '_' or '-' (no spaces or accents)")
    return name


def hash_token(token: str) -> str:
    # tokens are 256-bit random strings: a plain SHA-256 is the right hash (no KDF needed)
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class RelayRecord:
    name: str
    on: bool
    changed_at: float
    actor: str


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    scopes: frozenset[str]


class Store:
    def __init__(self, db: Database):
        self.db = db
        db.ensure_schema("controller", SCHEMA)
        self._cli_unwritten: str | None = None  # the hash of the CLI token while a full disk keeps it in memory
        self._cli_retry = WriteRetry(logger, "cli token", Path(db.path).parent)  # tried by House.write_unwritten()

    # relays -------------------------------------------------------------
    def relay_states(self) -> dict[str, RelayRecord]:
        rows = self.db.query("SELECT name, state, changed_at, actor FROM relay_state")
        return {r["name"]: RelayRecord(r["name"], bool(r["state"]), r["changed_at"], r["actor"]) for r in rows}

    def record_relay(self, name: str, on: bool, actor: str, detail: str = "", at: float | None = None) -> None:
        """The new state and its audit line, in one transaction."""
        at = time.time() if at is None else at
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO relay_state(name, state, changed_at, actor) VALUES (?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET state=excluded.state, changed_at=excluded.changed_at, actor=excluded.actor",
                (name, int(on), at, actor),
            )
            conn.execute(
                "INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                (at, actor, "relay.on" if on else "relay.off", name, detail),
            )

    # audit --------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str, detail: str = "") -> None:
        self.db.execute(
            "INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)",
            (time.time(), actor, action, target, detail),
        )

    def audit_log(self, target: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if target:
            rows = self.db.query("SELECT * FROM audit WHERE target=? ORDER BY id DESC LIMIT ?", (target, limit))
        else:
            rows = self.db.query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    # users --------------------------------------------------------------
    def add_user(self, name: str, role: str, password: str, must_change: bool = False) -> None:
        """Create a user, or give an existing one this role and password. The password must
        pass the strength rule (else WeakPassword) and only its Argon2id hash is kept.
        `must_change`: the password was set by someone else (the admin API, `langso user
        add`), so the page asks the user for their own before anything else."""
        from controller.passwords import strong_hash  # argon2: when needed

        password_hash = strong_hash(password, check_name(name))
        with self.db.tx() as conn:
            conn.execute(
                "INSERT INTO users(name, role, password_hash, created_at, must_change) VALUES (?,?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET role=excluded.role, password_hash=excluded.password_hash, must_change=excluded.must_change",
                (name, role, password_hash, time.time(), int(must_change)),
            )

    def set_password(self, name: str, password: str) -> bool:
        """The user's own new password (same rule and hash as add_user; WeakPassword), which
        clears must_change. False when there is no such user."""
        from controller.passwords import strong_hash

        password_hash = strong_hash(password, name)
        return self.db.execute(
            "UPDATE users SET password_hash=?, must_change=0 WHERE name=?", (password_hash, name)
        ).rowcount > 0

    def user(self, name: str) -> dict[str, Any] | None:
        row = self.db.one("SELECT * FROM users WHERE name=?", (name,))
        return dict(row) if row else None

    def users(self) -> list[dict[str, Any]]:
        """Names, roles, creation times and must_change (True: a password set by someone else, not yet replaced)."""
        return [{**r, "must_change": bool(r["must_change"])}
                for r in self.db.query("SELECT name, role, created_at, must_change FROM users ORDER BY name")]

    def delete_user(self, name: str) -> bool:
        return self.db.execute("DELETE FROM users WHERE name=?", (name,)).rowcount > 0

    # tokens -------------------------------------------------------------
    def add_token(self, name: str, scopes: set[str] | frozenset[str]) -> str:
        """Create a token and return it; only its hash is kept, so it is shown once. Names
        are unique (a second "ioc" would be one nobody can tell apart) and "cli" is the
        daemon's own (Refused)."""
        bad = set(scopes) - set(SCOPES)
        if bad:
            raise Refused("scopes", f"unknown scope(s) {sorted(bad)}; choose from {list(SCOPES)}")
        if not scopes:
            raise Refused("scopes", f"give at least one of {list(SCOPES)}")
        if check_name(name) == CLI_TOKEN:
            raise Refused("name", f"{CLI_TOKEN!r} is the daemon's own token for the langso command; choose another name",
                          "token_name_reserved", name=name)
        with self.db.tx() as conn:
            row = conn.execute("SELECT id FROM tokens WHERE name=?", (name,)).fetchone()
            if row is not None:
                raise Refused("name", f"a token named {name!r} exists (id {row[0]}); revoke it first "
                                      f"(Hệ thống page, or DELETE /api/v1/tokens/{row[0]}) or choose another name",
                              "token_name_used", name=name, id=row[0])
            return self._insert_token(conn, name, scopes)

    def renew_cli_token(self) -> str:
        """The daemon's own admin token (cli.json), replaced at each start. On a full disk
        it is kept in memory (valid at once) and written by write_cli_token() when space returns."""
        token = "lsk_" + secrets.token_urlsafe(32)
        self._cli_unwritten = hash_token(token)
        self.write_cli_token()
        return token

    def write_cli_token(self) -> None:
        """The CLI token a full disk kept in memory, into the tokens table (the old one goes)."""
        token_hash = self._cli_unwritten
        if token_hash is None:
            return
        try:
            with self.db.tx() as conn:
                conn.execute("DELETE FROM tokens WHERE name=?", (CLI_TOKEN,))
                self._insert_token(conn, CLI_TOKEN, {"admin"}, token_hash)
        except sqlite3.Error as err:
            if not is_storage_full(err):
                raise
            self._cli_retry.failed(err, 1)
            return
        self._cli_retry.written(1)
        self._cli_unwritten = None

    @staticmethod
    def _insert_token(conn: Any, name: str, scopes: set[str] | frozenset[str], token_hash: str | None = None) -> str:
        token = "" if token_hash else "lsk_" + secrets.token_urlsafe(32)
        conn.execute("INSERT INTO tokens(name, token_hash, scopes, created_at) VALUES (?,?,?,?)",
                     (name, token_hash or hash_token(token), json.dumps(sorted(scopes)), time.time()))
        return token

    def check_token(self, token: str) -> TokenInfo | None:
        """The token's id, name and scopes (None: unknown or revoked); its last use is
        recorded, at most once a minute."""
        if self._cli_unwritten is not None and hash_token(token) == self._cli_unwritten:
            return TokenInfo(0, CLI_TOKEN, frozenset({"admin"}))  # not written yet (a full disk): valid all the same
        row = self.db.one("SELECT id, name, scopes, last_used FROM tokens WHERE token_hash=?", (hash_token(token),))
        if row is None:
            return None
        now = time.time()
        if row["last_used"] is None or now - row["last_used"] >= LAST_USED_EVERY_S:
            try:
                self.db.execute("UPDATE tokens SET last_used=? WHERE id=?", (now, row["id"]))
            except sqlite3.OperationalError as err:  # a full disk: the request goes on, last_used waits
                logger.warning("token last use not recorded token=%s error=%r", row["name"], str(err))
        return TokenInfo(row["id"], row["name"], frozenset(json.loads(row["scopes"])))

    def tokens(self) -> list[dict[str, Any]]:
        """Every token (never the token itself); `revocable` is false for the daemon's own."""
        rows = self.db.query("SELECT id, name, scopes, created_at, last_used FROM tokens ORDER BY id")
        return [dict(r) | {"scopes": json.loads(r["scopes"]), "revocable": r["name"] != CLI_TOKEN} for r in rows]

    def delete_token(self, token_id: int) -> bool:
        """Revoke a token; False when there is none with this id. The daemon's own is Refused:
        the `langso` command on this machine would stop working until the next start."""
        row = self.db.one("SELECT name FROM tokens WHERE id=?", (token_id,))
        if row is not None and row["name"] == CLI_TOKEN:
            raise Refused("id", f"token {token_id} is the daemon's own token for the langso command on this "
                                "machine (renewed at each start); it cannot be revoked", "token_own", id=token_id)
        return self.db.execute("DELETE FROM tokens WHERE id=?", (token_id,)).rowcount > 0

    # schedules ----------------------------------------------------------
    def add_schedule(
        self, kind: str, target: str, days: list[int], start: str, end: str | None,
        payload: dict[str, Any], actor: str,
    ) -> int:
        with self.db.tx() as conn:
            cur = conn.execute(
                "INSERT INTO schedules(kind, target, days, start, end, payload, created_at, actor) VALUES (?,?,?,?,?,?,?,?)",
                (kind, target, json.dumps(sorted(set(days))), start, end, json.dumps(payload, ensure_ascii=False), time.time(), actor),
            )
            conn.execute(
                "INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                (time.time(), actor, "schedule.add", target, f"{kind} {start}-{end or ''} days={sorted(set(days))}"),
            )
            return int(cur.lastrowid)

    def schedules(self) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM schedules ORDER BY start, id")
        return [dict(r) | {"days": json.loads(r["days"]), "payload": json.loads(r["payload"]), "enabled": bool(r["enabled"])} for r in rows]

    def delete_schedule(self, schedule_id: int, actor: str) -> bool:
        with self.db.tx() as conn:
            gone = conn.execute("DELETE FROM schedules WHERE id=?", (schedule_id,)).rowcount > 0
            if gone:
                conn.execute(
                    "INSERT INTO audit(at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                    (time.time(), actor, "schedule.delete", str(schedule_id), ""),
                )
            return gone
