"""Live page updates over Server-Sent Events (/api/v1/live).

The bus listener only enqueues into each client's bounded queue; a client too slow to
keep up loses its backlog and gets a `resync` event (the page then reloads its data).
Each open stream holds one waitress thread, so the number of streams is capped below
web.threads and the rest get 503."""
from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any, Iterator

from flask import Flask, Response, current_app, g, jsonify

from web.api import api
from web.auth import has_scope, require

logger = logging.getLogger(__name__)

TOPIC_SCOPE = {"relay": None, "broadcast.state": "broadcast", "broadcast.log": "broadcast",
               "camera.motion": "events:read", "camera.event": "events:read"}
HEARTBEAT_S = 15.0


def public_payload(topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What a browser may see: camera file paths become API URLs."""
    if topic != "camera.event":
        return payload
    out = {k: v for k, v in payload.items() if k not in ("snapshot", "clip")}
    eid = payload.get("id")
    out["snapshot_url"] = f"/api/v1/events/{eid}/snapshot.jpg" if payload.get("snapshot") else None
    out["clip_url"] = f"/api/v1/events/{eid}/clip.mp4" if payload.get("clip") else None
    return out


class LiveHub:
    def __init__(self, max_clients: int, queue_size: int = 100):
        self.max_clients, self.queue_size = max_clients, queue_size
        self._clients: set[queue.Queue[tuple[str, dict[str, Any]]]] = set()
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.dropped = 0

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Bus listener: enqueue only."""
        if topic not in TOPIC_SCOPE:
            return
        item = (topic, public_payload(topic, payload))
        with self._lock:
            clients = list(self._clients)
        for q in clients:
            try:
                q.put_nowait(item)
            except queue.Full:
                self.dropped += 1
                with q.mutex:
                    q.queue.clear()
                q.put_nowait(("resync", {}))

    def shut(self) -> None:
        """Stop: every open stream ends now (not at its next heartbeat), freeing its thread."""
        self.stop.set()
        with self._lock:
            clients = list(self._clients)
        for q in clients:
            with q.mutex:
                q.queue.clear()
            q.put_nowait(("stop", {}))

    def open(self) -> queue.Queue[tuple[str, dict[str, Any]]] | None:
        with self._lock:
            if len(self._clients) >= self.max_clients:
                return None
            q: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue(maxsize=self.queue_size)
            self._clients.add(q)
            return q

    def close(self, q: queue.Queue[Any]) -> None:
        with self._lock:
            self._clients.discard(q)

    def stream(self, q: queue.Queue[tuple[str, dict[str, Any]]], scopes: frozenset[str]) -> Iterator[str]:
        try:
            yield "retry: 3000\n\n"
            while not self.stop.is_set():
                try:
                    topic, payload = q.get(timeout=HEARTBEAT_S)
                except queue.Empty:
                    yield ": keep-alive\n\n"
                    continue
                if topic == "stop":
                    return
                if topic == "resync" or has_scope(scopes, TOPIC_SCOPE[topic]):
                    yield f"event: {topic}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
        finally:
            self.close(q)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)


def attach(app: Flask, bus: Any, max_clients: int) -> LiveHub:
    hub = LiveHub(max_clients)
    app.extensions["live"] = hub
    unsubscribe = bus.subscribe(hub.publish)
    app.extensions["live_close"] = lambda: (unsubscribe(), hub.shut())
    return hub


@api.get("/live")
@require(None)
def live():
    """Server-Sent Events: relay, broadcast.state, broadcast.log, camera.motion, camera.event
    (each only with the scope it needs)."""
    hub: LiveHub = current_app.extensions["live"]
    q = hub.open()
    if q is None:
        return jsonify(error=f"too many live pages open ({hub.max_clients}); close one or raise web.threads"), 503
    resp = Response(hub.stream(q, g.scopes), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp
