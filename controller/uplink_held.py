"""What the uplink's outbox could not store (a full disk, or any database error): new
messages held in memory, in order, and sent from there after the stored ones (at most
HELD_MAX: the oldest are kept and the newest dropped, counted; telemetry only ever its
newest), and delivered rows that could not be deleted, remembered so nothing goes out
twice. Every write_retry.RETRY_S they are stored again; one log line when writing starts
failing, one when it works again (controller/write_retry.py), and `problems` → `outbox`
meanwhile. The uplink's worker thread owns it (controller/uplink.py)."""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from controller.outbox import Outbox, encode
from controller.write_retry import WriteRetry

logger = logging.getLogger(__name__)

HELD_MAX = 1000  # messages held in memory while the outbox cannot be written (the oldest are kept)


@dataclass(eq=False)
class Held:
    """A message the outbox could not store (yet): sent from memory, `mid` once handed to paho."""

    topic: str
    payload: dict[str, Any] | bytes
    kind: str
    mid: int | None = None


class HeldMessages:
    def __init__(self, outbox: Outbox, problems: dict[str, str], storage_dir: Path,
                 kept: Callable[[list[Held]], None] = lambda messages: None):
        self.outbox, self.problems, self.dir = outbox, problems, storage_dir
        self.kept = kept  # told of messages safe at last: stored in the outbox, or acknowledged from memory
        self.messages: list[Held] = []  # not stored, in order (those handed to paho: until their PUBACK)
        self.acked: list[int] = []      # delivered outbox rows, to be deleted
        self._retry = WriteRetry(logger, "uplink outbox", storage_dir)
        self._dropped = 0               # dropped in this failing period (logged once)

    def add(self, new: Held) -> None:
        """Behind the held messages (telemetry: instead of an older one not yet sent)."""
        if new.kind == "telemetry":
            self.messages = [held for held in self.messages if held.kind != "telemetry" or held.mid is not None]
        self.messages.append(new)
        if self._retry.error:
            self._trim()

    def delivered(self, sent: Held) -> None:
        self.messages = [held for held in self.messages if held is not sent]
        self.kept([sent])

    def store(self, force: bool = False) -> None:
        """Store the held messages not yet handed to paho, forget the acknowledged rows (a
        transaction each); while the database refuses, at most every RETRY_S (`force`: now)."""
        if not self._retry.due(force):
            self._say_problem()  # how many are held now
            return
        unsent = [held for held in self.messages if held.mid is None]  # the tail: sent in order
        try:
            if unsent:
                self.outbox.put_many([(held.topic, held.payload, held.kind) for held in unsent])
                self.messages = [held for held in self.messages if held.mid is not None]  # until their PUBACK
            if self.acked:
                self.outbox.remove(*self.acked)
                self.acked = []
        except sqlite3.Error as err:
            self._retry.failed(err, len(self.messages))
            self._trim()
            self._say_problem()
            return
        if unsent:
            self.kept(unsent)
        if self._retry.error:
            self._dropped = 0
            self.problems.pop("outbox", None)
        self._retry.written(len(unsent))

    def _trim(self) -> None:
        """While the outbox cannot be written, at most HELD_MAX are held: the oldest are kept,
        the newest not yet sent are dropped (counted in outbox_dropped, logged once)."""
        while len(self.messages) > HELD_MAX and self.messages[-1].mid is None:  # sent in order: the unsent are the tail
            dropped = self.messages.pop()
            self.outbox.dropped[dropped.kind] = self.outbox.dropped.get(dropped.kind, 0) + 1
            self._dropped += 1
            if self._dropped == 1:
                logger.error("uplink memory full, dropping new messages kind=%s held=%d (the outbox cannot be written: "
                             "%s; free space on %s, storage.dir)", dropped.kind, HELD_MAX, self._retry.error, self.dir)

    def _say_problem(self) -> None:
        problem = (f"cannot write the MQTT outbox ({self._retry.error}): {len(self.messages)} message(s) held in memory (at "
                   f"most {HELD_MAX}: newer ones are dropped) and sent from there; free space on "
                   f"{self.dir} (storage.dir), e.g. old camera clips: they are stored within seconds")
        if self.problems.get("outbox") != problem:
            self.problems["outbox"] = problem

    def close(self) -> None:
        """At stop: everything held is stored, in flight or not (sent again at the next start
        rather than lost); what still cannot be written goes to the log (journald)."""
        for held in self.messages:
            held.mid = None
        self.store(force=True)
        for held in self.messages:
            logger.error("uplink message lost at stop (the outbox cannot be written) topic=%s payload=%s",
                         held.topic, encode(held.payload).decode(errors="replace"))
        if self.acked:
            logger.warning("uplink delivered messages not removed from the outbox count=%d (the outbox cannot be "
                           "written): they are sent again at the next start", len(self.acked))
