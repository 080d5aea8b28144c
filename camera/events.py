"""The event store (`house.events`): camera events in SQLite, written before anyone is
told about them. Ids are integers that only grow, so `list(since=id)` is a cursor an
IOC can pull with and never miss or repeat an event."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE camera_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        camera TEXT NOT NULL,
        start REAL NOT NULL,
        "end" REAL,
        score REAL NOT NULL DEFAULT 0,
        boxes TEXT NOT NULL DEFAULT '[]',
        tags TEXT NOT NULL DEFAULT '[]',
        snapshot TEXT,
        clip TEXT,
        closed INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    );
    CREATE INDEX camera_events_camera ON camera_events(camera, id);
    CREATE INDEX camera_events_start ON camera_events(start)""",
    # last_motion: stored every few seconds while an event is open, so one a crash left
    # open ends there; interrupted: closed by the start-up repair, not by its camera
    """ALTER TABLE camera_events ADD COLUMN last_motion REAL;
    ALTER TABLE camera_events ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0""",
]

FIELDS = ("id", "camera", "start", "end", "score", "boxes", "tags", "snapshot", "clip")
WRITABLE = FIELDS[2:] + ("closed", "last_motion")


def _event(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"], "camera": row["camera"], "start": row["start"], "end": row["end"],
        "score": row["score"], "boxes": json.loads(row["boxes"]), "tags": json.loads(row["tags"]),
        "snapshot": row["snapshot"], "clip": row["clip"], "interrupted": bool(row["interrupted"]),
        "closed": bool(row["closed"]),
    }


def bus_event(event: dict[str, Any], kind: str) -> dict[str, Any]:
    """`camera.event` on the bus (docs/internals.md): an event as stored, as new / update /
    end, its times to the millisecond."""
    return {
        "camera": event["camera"], "id": event["id"], "type": kind, "start": round(event["start"], 3),
        "end": None if event["end"] is None else round(event["end"], 3), "score": event["score"],
        "boxes": event["boxes"], "tags": list(event["tags"]), "snapshot": event["snapshot"], "clip": event["clip"],
        "interrupted": event["interrupted"],
    }


class EventStore:
    def __init__(self, db: Any):
        self.db = db
        db.ensure_schema("camera", SCHEMA)

    # read side (web, MQTT, CLI) ---------------------------------------------
    def list(self, since: int | None = None, camera: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Events with id > since, oldest first (a cursor); the newest `limit` when since is None."""
        where, params = [], []  # type: ignore[var-annotated]
        if since is not None:
            where.append("id > ?")
            params.append(since)
        if camera:
            where.append("camera = ?")
            params.append(camera)
        sql = "SELECT * FROM camera_events" + (" WHERE " + " AND ".join(where) if where else "")
        if since is None:
            rows = self.db.query(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))[::-1]
        else:
            rows = self.db.query(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [_event(r) for r in rows]

    def get(self, event_id: int) -> dict[str, Any] | None:
        row = self.db.one("SELECT * FROM camera_events WHERE id = ?", (event_id,))
        return _event(row) if row else None

    def has_camera(self, camera: str) -> bool:
        """Whether any stored event is of this camera (one that left the config may have some)."""
        return self.db.one("SELECT 1 FROM camera_events WHERE camera = ? LIMIT 1", (camera,)) is not None

    def last_id(self) -> int:
        row = self.db.one("SELECT MAX(id) AS id FROM camera_events")
        return int(row["id"] or 0)

    # write side (camera workers) ----------------------------------------------
    def open(self, camera: str, start: float, score: float, boxes: list[list[int]], tags: list[str]) -> int:
        cur = self.db.execute(
            "INSERT INTO camera_events(camera, start, score, boxes, tags, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (camera, start, score, json.dumps(boxes), json.dumps(tags), time.time()),
        )
        return int(cur.lastrowid)

    def update(self, event_id: int, **fields: Any) -> dict[str, Any] | None:
        sets, params = [], []
        for key, value in fields.items():
            if key not in WRITABLE:
                raise ValueError(f"unknown event field {key!r}")
            sets.append(f'"{key}" = ?')
            params.append(json.dumps(value) if key in ("boxes", "tags") else value)
        sets.append("updated_at = ?")
        params.append(time.time())
        self.db.execute(f"UPDATE camera_events SET {', '.join(sets)} WHERE id = ?", (*params, event_id))
        return self.get(event_id)

    def repair(self, clip_root: Path) -> list[dict[str, Any]]:
        """At start: close the events a crash left open, forget clips that never finished.
        Each ends at its last motion stored (its start if none was), marked interrupted,
        without its clip; returned as stored, oldest first, for their `end` to be published."""
        rows = self.db.query("SELECT id, clip, snapshot FROM camera_events WHERE closed = 0 ORDER BY id")
        for row in rows:
            clip, snapshot = (path if path and Path(path).exists() else None for path in (row["clip"], row["snapshot"]))
            self.db.execute('UPDATE camera_events SET "end" = COALESCE("end", last_motion, start), clip = ?, snapshot = ?, '
                            "closed = 1, interrupted = 1, updated_at = ? WHERE id = ?",
                            (clip, snapshot, time.time(), row["id"]))
        removed = 0
        if clip_root.exists():
            for part in clip_root.rglob("*.part"):
                part.unlink(missing_ok=True)
                removed += 1
        if rows or removed:
            logger.info("camera events repaired closed=%d partial_clips_removed=%d", len(rows), removed)
        return [event for event in (self.get(row["id"]) for row in rows) if event is not None]

    # retention ------------------------------------------------------------------
    def closed_before(self, before: float, limit: int = 500) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM camera_events WHERE closed = 1 AND start < ? ORDER BY id LIMIT ?", (before, limit))
        return [_event(r) for r in rows]

    def oldest_clips(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM camera_events WHERE closed = 1 AND clip IS NOT NULL ORDER BY id LIMIT ?", (limit,))
        return [_event(r) for r in rows]

    def delete(self, event_id: int) -> None:
        self.db.execute("DELETE FROM camera_events WHERE id = ?", (event_id,))
