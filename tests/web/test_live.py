"""Live updates: /api/v1/live streams bus events as Server-Sent Events, filtered by scope."""
from __future__ import annotations

import json

from controller.commands import Actor, SetRelay
from web.live import LiveHub


def events(chunks):
    """Parse SSE chunks into (event, data) pairs, skipping comments and retry lines."""
    for chunk in chunks:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        fields = dict(line.split(": ", 1) for line in text.strip().splitlines() if not line.startswith(":"))
        if "event" in fields:
            yield fields["event"], json.loads(fields["data"])


def test_relay_switched_elsewhere_reaches_the_page(app, client, token_for):
    resp = client.get("/api/v1/live", headers=token_for("events:read"), buffered=False)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    stream = iter(resp.response)
    assert next(stream).startswith(b"retry:")
    app.house.handle(SetRelay("radio", "on", Actor("mqtt")))  # as the IOC would
    topic, payload = next(events(stream))
    assert topic == "relay" and payload["name"] == "radio" and payload["on"] is True and payload["actor"] == "mqtt"
    resp.close()
    assert web_hub(client).clients == 0


def web_hub(client) -> LiveHub:
    return client.application.extensions["live"]


def test_events_are_filtered_by_scope_and_paths_become_urls(app, client, token_for):
    resp = client.get("/api/v1/live", headers=token_for("events:read"), buffered=False)
    stream = iter(resp.response)
    next(stream)
    bus = app.house.bus
    bus.publish("broadcast.state", {"playing": None, "queue": []})  # needs the broadcast scope
    bus.publish("camera.event", {"camera": "cong", "id": 7, "type": "new", "start": 1.0, "end": None, "score": 0.4,
                                 "boxes": [], "tags": ["motion"], "snapshot": "/var/lib/langso/clips/7.jpg", "clip": None})
    topic, payload = next(events(stream))
    assert topic == "camera.event"
    assert payload["snapshot_url"] == "/api/v1/events/7/snapshot.jpg" and payload["clip_url"] is None
    assert "snapshot" not in payload and "/var/lib" not in json.dumps(payload)
    resp.close()


def test_a_slow_client_gets_resync_not_unbounded_memory():
    hub = LiveHub(max_clients=2, queue_size=3)
    q = hub.open()
    for i in range(10):
        hub.publish("relay", {"name": "tv", "on": bool(i % 2)})
    assert q.qsize() <= 3 and hub.dropped > 0
    items = [q.get_nowait() for _ in range(q.qsize())]
    assert ("resync", {}) in items
    assert hub.open() is not None and hub.open() is None  # capped at max_clients


def test_too_many_streams_get_503(web, client, token_for):
    auth = token_for("events:read")
    hub = web_hub(client)
    held = [hub.open() for _ in range(hub.max_clients)]
    resp = client.get("/api/v1/live", headers=auth)
    assert resp.status_code == 503 and "web.threads" in resp.json["error"]
    for q in held:
        hub.close(q)


def test_stopping_ends_open_streams_at_once(web, client, token_for):
    resp = client.get("/api/v1/live", headers=token_for("events:read"), buffered=False)
    stream = iter(resp.response)
    assert next(stream).startswith(b"retry:")
    web.extensions["live_close"]()  # what App.stop (and the HTTPS server's close) calls
    assert list(stream) == []  # the generator returned: no wait for the 15 s heartbeat
    resp.close()
    assert web_hub(client).clients == 0
