"""Inbound MQTT commands, network-free: validate one message, run it once per cmd_id
through `house.handle()` (the web's path) and say what to reply. The uplink's worker
calls `run()` and publishes the returned reply on `…/reply`."""
from __future__ import annotations

import logging
import sqlite3
from typing import Any

from controller.commands import CommandError, is_storage_full, storage_full
from controller.mqtt_schema import BadCommand, parse_command, peek_cmd_id
from controller.outbox import Outbox

logger = logging.getLogger(__name__)


class CommandRunner:
    def __init__(self, house: Any, outbox: Outbox, site: str, groups: list[str]):
        self.house, self.outbox, self.site, self.groups = house, outbox, site, groups
        self.counts = {"ok": 0, "refused": 0, "duplicate": 0, "invalid": 0, "cleared": 0}
        self.closed = False  # the house is stopping: commands are answered, not run (App.stop, before the relays close)

    def close(self) -> None:
        """At stop, before any part stops: from now on commands are answered, not run."""
        self.closed = True

    def run(self, topic: str, payload: bytes, retained: bool = False) -> dict[str, Any] | None:
        """The reply body `{"cmd_id","ok","error","topic", ...}` for one inbound message;
        None (no reply) for an empty message: it clears a retained command, as the reply to
        one advises, and no command is ever empty."""
        if not payload.strip():
            self.counts["cleared"] += 1
            logger.info("mqtt empty message ignored topic=%s (clears a retained command)", topic)
            return None
        if self.closed:  # not claimed: the same cmd_id runs once the house is back
            self.counts["refused"] += 1
            logger.info("mqtt command not run, the house is stopping topic=%s", topic)
            return reply(peek_cmd_id(payload), False, "the house is stopping; send it again once …/status is online",
                         topic, kind="stopping", values={})
        try:
            if retained:  # a retained command would run again on every reconnect
                raise BadCommand("retain: commands must be published with retain=false; "
                                 "clear it with an empty retained message on this topic")
            inbound = parse_command(topic, payload, self.site, self.groups)
        except BadCommand as err:
            self.counts["invalid"] += 1
            logger.warning("mqtt command invalid topic=%s error=%r", topic, str(err))
            return reply(peek_cmd_id(payload), False, str(err), topic)
        key = inbound.cmd_id
        claimed = False
        if key:
            try:
                first = self.outbox.claim_command(key)
                claimed = True
            except sqlite3.OperationalError as err:  # a full disk: run it unclaimed (a relay still switches)
                logger.warning("mqtt cmd_id not recorded cmd_id=%s error=%r", key, str(err))
                first = None
            if first is not None:
                self.counts["duplicate"] += 1
                logger.info("mqtt command duplicate cmd_id=%s topic=%s", key, topic)
                return reply(key, first["ok"], first["error"], topic, duplicate=True,
                             **{k: first[k] for k in ("kind", "values", "result") if k in first})
        ok, error, result, transient = True, None, None, False
        refusal: dict[str, Any] = {}
        try:
            result = self.house.handle(inbound.command)
        except CommandError as err:  # a relay switched too soon says "try again in N s": with this cmd_id too
            ok, error, transient = False, err.message, err.status >= 500 or err.kind == "relay_too_soon"
            refusal = err.data()
        except Exception as err:
            if is_storage_full(err):
                full = storage_full(self.house.config.storage.dir, err)
                ok, error, transient, refusal = False, full.message, True, full.data()
                logger.error("mqtt command refused, disk full topic=%s error=%r", topic, str(err))
            else:
                logger.exception("mqtt command failed topic=%s", topic)
                ok, error, transient = False, f"internal error ({type(err).__name__}); see the site's log", True
        if claimed:  # a part that was unavailable (5xx), a relay too soon: the IOC may retry with the same cmd_id
            try:
                # a repeat gets the first answer whole: its result too (the broadcast's id and state,
                # for an IOC whose first reply was lost)
                self.outbox.finish_command(key, ok, error, retry_allowed=transient,
                                           refusal={**refusal, **({"result": result} if result is not None else {})})
            except sqlite3.OperationalError as err:
                logger.warning("mqtt command outcome not recorded cmd_id=%s error=%r", key, str(err))
        self.counts["ok" if ok else "refused"] += 1
        logger.info("mqtt command topic=%s cmd_id=%s ok=%s error=%r", topic, key or "-", ok, error)
        return reply(key, ok, error, topic, result=result, **refusal)


def reply(cmd_id: str | None, ok: bool | None, error: str | None, topic: str, **extra: Any) -> dict[str, Any]:
    return {"cmd_id": cmd_id, "ok": ok, "error": error, "topic": topic, **extra}
