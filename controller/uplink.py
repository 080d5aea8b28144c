"""The MQTT uplink to the district IOC (paho-mqtt 2.x, CallbackAPIVersion.VERSION2).

paho's network thread (loop_start) only enqueues; one worker thread of ours owns
everything else: it runs inbound commands (controller/mqtt_commands.py: validated, once
per cmd_id, through `house.handle()` like the web) and answers on `…/reply`; it turns
house-bus events into retained states (republished on every reconnect) or outbox
messages (SQLite first, published QoS 1 in order, removed on PUBACK); it writes
telemetry every mqtt.telemetry_s.
A full disk (or any database error) does not stop the uplink: messages already stored
still go out; new ones that cannot be stored are held in memory and sent from there after
the stored ones (controller/uplink_held.py).
A refused connection is reported as refused and never counted as connected; paho
retries with backoff (1 s doubling to mqtt.reconnect_max_s).
"""
from __future__ import annotations

import json
import logging
import queue
import socket
import sqlite3
import sys
import threading
import time
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from controller.broker_errors import closed_before_accepting, connect_problem
from controller.config import uplink_problems
from controller.ha_discovery import discovery_messages
from controller.mqtt_commands import CommandRunner
from controller.mqtt_schema import command_topics, event_json, state_json
from controller.outbox import Outbox, encode
from controller.telemetry import telemetry
from controller.uplink_held import Held, HeldMessages

logger = logging.getLogger(__name__)

WINDOW = 50          # outbox messages handed to paho before their PUBACK
QUEUE_MAX = 10_000   # worker queue; paho and bus callbacks drop (and count) beyond it
BATCH = 500          # queue items handled per worker step (outbox writes share one transaction)


class Uplink:
    def __init__(self, house: Any, outbox: Outbox, handed: Callable[[list[tuple[int, str]]], None] | None = None):
        """`handed` is told (event id, type) of the camera events once stored in the outbox
        (App: the event store, which owes the others again after a power cut)."""
        cfg = house.config
        self.house, self.cfg, self.outbox = house, cfg.mqtt, outbox
        self.site, self.groups = cfg.site.id, list(cfg.site.groups)
        self.root = f"langso/{self.site}"
        self.client_id = f"langso-{self.site}"
        self.state, self.since, self.last_error = "starting", time.time(), None
        self.attempts = self.connects = self.dropped = self.failures = 0  # failures: in a row, for the backoff
        self.commands = CommandRunner(house, outbox, self.site, self.groups)
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue(QUEUE_MAX)
        self._retained: dict[str, str] = {}
        self._retained_lock = threading.Lock()
        self._inflight: dict[int, int | Held] = {}  # paho mid -> outbox seq, or the held message
        self._sent_seq = 0
        self._puts: list[tuple[str, dict[str, Any], str]] = []  # stored by _flush() at the end of each worker step
        self._handed = handed
        self.held = HeldMessages(outbox, house.problems, cfg.storage.dir, self._kept)  # what the database refused
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        for relay in house.relays():
            self._retained[f"{self.root}/relay/{relay['name']}"] = "ON" if relay["on"] else "OFF"
        for cam in cfg.cameras:
            self._retained[f"{self.root}/camera/{cam.name}/motion"] = "OFF"
        if getattr(house, "broadcasts", None) is not None:  # the IOC sees the queue from the first connect on
            listing = house.broadcasts.listing(0)
            self._retained[f"{self.root}/broadcast/state"] = state_json(listing)
        self._unsubscribe = house.bus.subscribe(self._on_bus)

    # lifecycle --------------------------------------------------------------
    def start(self) -> None:
        logger.info("uplink starting broker=%s:%d tls=%s protocol=%s user=%s",
                    self.cfg.host, self.cfg.port, self.cfg.tls, self.cfg.protocol, self.cfg.username or "-")
        problems = uplink_problems({"mqtt": self.cfg.model_dump()})
        if problems:  # what `langso config check` refuses: the daemon runs on without uplink
            self._set_state("error", "; ".join(problems))
            logger.error("uplink not started error=%r", self.last_error)
            return
        try:
            self._client = self._make_client()
            self._client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s)
        except (OSError, ValueError) as err:  # password file, CA file, key: the daemon runs on without uplink
            self._set_state("error", str(err))
            logger.error("uplink not started error=%r", str(err))
            return
        self._client.loop_start()
        self._thread = threading.Thread(target=self._work, name="uplink", daemon=True)
        self._thread.start()

    def _make_client(self) -> mqtt.Client:
        cfg = self.cfg
        v5 = cfg.protocol == "5"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
                             clean_session=None if v5 else True)
        if cfg.username or cfg.password_file:
            client.username_pw_set(cfg.username or None, cfg.password())  # its OSError names the key, places and fix
        if cfg.tls:
            try:
                client.tls_set(ca_certs=cfg.ca_file or None, certfile=cfg.cert_file or None, keyfile=cfg.key_file or None)
            except (OSError, ValueError) as err:
                raise ValueError(f"mqtt.ca_file/cert_file/key_file: cannot load ({err}); check the paths") from None
        client.will_set(f"{self.root}/status", "offline", qos=1, retain=True)
        client.reconnect_delay_set(1, cfg.reconnect_max_s)
        client.max_inflight_messages_set(WINDOW)
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def stop(self) -> None:
        self._unsubscribe()
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._thread is None or not self._thread.is_alive():  # what is still queued: events and logs to the
            while not self._queue.empty():                       # outbox, states retained, PUBACKs forgotten
                item = self._queue.get_nowait()
                if item[0] in ("bus", "puback"):
                    getattr(self, f"_do_{item[0]}")(*item[1:])
            self._hold_puts()
            self.held.close()
        client, self._client = self._client, None
        if client is None:
            return
        if self.state == "connected":
            try:
                client.publish(f"{self.root}/status", "offline", qos=1, retain=True).wait_for_publish(2)
            except (RuntimeError, ValueError) as err:
                logger.warning("uplink could not publish offline error=%r", str(err))
        client.disconnect()
        client.loop_stop()
        self.state = "stopped"
        logger.info("uplink stopped outbox_depth=%d", self.outbox.depth())

    # paho callbacks (network thread): enqueue only, except the paho way of subscribing
    @staticmethod
    def _on_socket_open(_c: mqtt.Client, _u: Any, sock: Any) -> None:
        # paho leaves Nagle on: a reply right after a PUBACK would wait ~40 ms for a delayed ACK
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._put(("refused", str(reason)))
            return
        # subscriptions renewed on every connect (clean session); state republished
        # MQTT 5: retain-as-published, so a command published retained while the house is
        # connected is refused at once too (3.1.1 brokers clear the flag for live subscribers)
        qos: Any = SubscribeOptions(qos=1, retainAsPublished=True) if self.cfg.protocol == "5" else 1
        client.subscribe([(t, qos) for t in command_topics(self.site, self.groups)])
        client.publish(f"{self.root}/status", "online", qos=1, retain=True)
        self._put(("connected",))

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        # paho calls this inside its `except OSError:` around the connection attempt
        self._put(("unreachable", connect_problem(sys.exc_info()[1], self.cfg)))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._put(("disconnected", str(reason)))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._put(("message", msg.topic, bytes(msg.payload), bool(msg.retain)))

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _props: Any) -> None:
        self._put(("puback", mid, str(reason) if reason.is_failure else None))

    def _on_bus(self, topic: str, payload: dict[str, Any]) -> None:
        self._put(("bus", topic, payload))

    def _put(self, item: tuple[Any, ...]) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            logger.error("uplink queue full, dropped kind=%s dropped=%d", item[0], self.dropped)

    # the worker -------------------------------------------------------------
    def _work(self) -> None:
        next_telemetry = time.monotonic()
        while not self._stop.is_set():
            try:
                items = [self._queue.get(timeout=0.2)]
            except queue.Empty:
                items = []
            while items and len(items) < BATCH:  # what else is waiting: one transaction for all of it
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for item in items:
                try:
                    getattr(self, f"_do_{item[0]}")(*item[1:])
                except Exception:  # the uplink keeps running; status says what is wrong
                    logger.exception("uplink worker step failed item=%s", item[0])
            try:
                if time.monotonic() >= next_telemetry:
                    next_telemetry = time.monotonic() + self.cfg.telemetry_s
                    self._puts.append((f"{self.root}/telemetry", telemetry(self.house.status()), "telemetry"))
                self._flush()
                self._feed()
            except Exception:
                logger.exception("uplink worker step failed item=outbox")

    def _flush(self, force: bool = False) -> None:
        """Store the new outbox messages, forget the acknowledged ones; what the database
        refuses stays in memory (`held`) and is tried again every write_retry.RETRY_S."""
        self._hold_puts()
        self.held.store(force)

    def _hold_puts(self) -> None:
        for topic, payload, kind in self._puts:
            self.held.add(Held(topic, payload, kind))
        self._puts = []

    def _kept(self, messages: list[Held]) -> None:
        """Camera events stored in the outbox (or acknowledged from memory): `handed`."""
        changes = [(held.payload["id"], held.payload["type"]) for held in messages
                   if held.kind == "event" and isinstance(held.payload, dict)]
        if changes and self._handed is not None:
            self._handed(changes)

    def _set_state(self, state: str, error: str | None = None) -> None:
        if state != self.state:
            self.since = time.time()
        self.state, self.last_error = state, error if error is not None else self.last_error
        if state == "connected":
            self.house.problems.pop("uplink", None)
        else:
            self.house.problems["uplink"] = f"{state}: {self.last_error}"

    def _do_connected(self) -> None:
        self.attempts += 1
        self.failures = 0
        self.connects += 1
        self._set_state("connected")
        with self._retained_lock:
            retained = dict(self._retained)
        for topic, payload in retained.items():
            self._publish(topic, payload, retain=True)
        relays = [(r["name"], r["label"]) for r in self.house.relays()]
        cams = [c.name for c in self.house.config.cameras]
        discovery = discovery_messages(self.site, self.house.config.site.name, relays, cams) if self.cfg.ha_discovery else []
        for topic, payload in discovery:
            self._publish(topic, payload, retain=True)
        self._clear_stale({f"{self.root}/relay/{name}" for name, _ in relays}
                          | {f"{self.root}/camera/{cam}/motion" for cam in cams} | {topic for topic, _ in discovery})
        logger.info("uplink connected broker=%s:%d connects=%d retained=%d outbox_depth=%d",
                    self.cfg.host, self.cfg.port, self.connects, len(retained), self.outbox.depth())

    def _clear_stale(self, topics: set[str]) -> None:
        """Retained topics of relays or cameras no longer in the config (and discovery
        turned off) are cleared on the broker: the IOC's dashboards would show them for ever."""
        try:
            stale = self.outbox.retained_since(topics)
        except sqlite3.Error as err:   # a full disk: cleared at a later connect
            logger.warning("uplink retained topics not checked error=%r", str(err))
            return
        for topic in sorted(stale):
            self._publish(topic, b"", retain=True)
        if stale:
            logger.info("uplink retained topics cleared (no longer in the config) topics=%s", ",".join(sorted(stale)))

    def _do_refused(self, reason: str) -> None:
        self.attempts += 1
        self.failures += 1
        self._set_state("refused", f"broker refused the connection: {reason} (check mqtt.username, "
                        "mqtt.password_file and the broker's ACL); retrying with backoff")
        logger.error("uplink refused broker=%s:%d reason=%r attempts=%d", self.cfg.host, self.cfg.port, reason, self.attempts)

    def _do_unreachable(self, problem: str) -> None:
        self.attempts += 1
        self.failures += 1
        self._set_state("disconnected", f"{problem}; retrying with backoff")
        logger.warning("uplink connect failed broker=%s:%d attempts=%d error=%r", self.cfg.host, self.cfg.port,
                       self.attempts, problem)

    def _do_disconnected(self, reason: str) -> None:
        if self.state == "connected":
            self._set_state("disconnected", f"link lost: {reason}; reconnecting")
            logger.warning("uplink disconnected reason=%r outbox_depth=%d", reason, self.outbox.depth())
        elif self.state != "refused" and not self._stop.is_set():  # a refusal has said why already
            self._do_unreachable(closed_before_accepting(reason, self.cfg, self.connects > 0))

    def _do_puback(self, mid: int, refused: str | None) -> None:
        sent = self._inflight.pop(mid, None)
        if sent is not None:
            if refused:  # MQTT 5: the broker took it and said no (ACL); resending would not help
                logger.error("uplink message refused by broker seq=%s reason=%r (check the broker ACL)",
                             sent if isinstance(sent, int) else "held", refused)
                self.outbox.dropped["refused"] = self.outbox.dropped.get("refused", 0) + 1  # shown in status
            if isinstance(sent, Held):
                self.held.delivered(sent)
            else:
                self.held.acked.append(sent)

    def _do_bus(self, topic: str, p: dict[str, Any]) -> None:
        if topic == "relay":
            self._retain(f"{self.root}/relay/{p['name']}", "ON" if p["on"] else "OFF")
        elif topic == "camera.motion":
            self._retain(f"{self.root}/camera/{p['camera']}/motion", "ON" if p["on"] else "OFF")
        elif topic == "broadcast.state":
            self._retain(f"{self.root}/broadcast/state", state_json(p))
        elif topic == "broadcast.log":
            self._puts.append((f"{self.root}/broadcast/log", p, "log"))
        elif topic == "camera.event":
            self._puts.append((f"{self.root}/camera/{p['camera']}/event", event_json(p, self.cfg.public_url), "event"))

    def _retain(self, topic: str, payload: str) -> None:
        with self._retained_lock:
            self._retained[topic] = payload
        if self.state == "connected":  # otherwise it goes out on the next connect
            self._publish(topic, payload, retain=True)

    def _publish(self, topic: str, payload: str | bytes, retain: bool = False) -> int:
        assert self._client is not None
        return self._client.publish(topic, payload, qos=1, retain=retain).mid

    def _feed(self) -> None:
        """Hand the next outbox messages to paho, in order, then the held ones (newer than
        every stored one); paho keeps them across reconnects."""
        room = WINDOW - len(self._inflight)
        if self.state != "connected" or room <= 0:
            return
        stored = self.outbox.after(self._sent_seq, room)
        for msg in stored:
            self._inflight[self._publish(msg.topic, msg.payload)] = msg.seq
            self._sent_seq = msg.seq
        room -= len(stored)
        for held in self.held.messages:
            if room <= 0:
                break
            if held.mid is None:
                held.mid = self._publish(held.topic, encode(held.payload))
                self._inflight[held.mid] = held
                room -= 1

    def _do_message(self, topic: str, payload: bytes, retained: bool) -> None:
        body = self.commands.run(topic, payload, retained)
        if body is not None:
            self._publish(f"{self.root}/reply", json.dumps(body, ensure_ascii=False, default=str))

    # status and self-test -----------------------------------------------------
    def status(self) -> dict[str, Any]:
        return {
            "state": self.state, "since": self.since, "broker": f"{self.cfg.host}:{self.cfg.port}",
            "tls": self.cfg.tls, "protocol": self.cfg.protocol, "client_id": self.client_id,
            "attempts": self.attempts, "connects": self.connects, "last_error": self.last_error,
            "retry_delay_s": min(2 ** (self.failures - 1), self.cfg.reconnect_max_s) if self.failures else None,
            "outbox_depth": self.outbox.depth() - len(self.held.acked), "outbox_oldest_s": self.outbox.oldest_age_s(),
            "outbox_held": len(self.held.messages), "outbox_dropped": dict(self.outbox.dropped), "queue_dropped": self.dropped,
            "commands": dict(self.commands.counts),
        }

    def selftest(self) -> tuple[bool, str]:
        """Ping the broker: a QoS 1 publish on `…/selftest` and its PUBACK."""
        if self.state != "connected" or self._client is None:
            return False, f"not connected to {self.cfg.host}:{self.cfg.port} ({self.state}: {self.last_error})"
        started = time.monotonic()
        info = self._client.publish(f"{self.root}/selftest", json.dumps({"time": time.time()}), qos=1)
        try:
            info.wait_for_publish(5)
        except (RuntimeError, ValueError) as err:
            return False, f"publish failed: {err}"
        if not info.is_published():
            return False, f"no PUBACK from {self.cfg.host}:{self.cfg.port} within 5 s"
        return True, f"broker {self.cfg.host}:{self.cfg.port} answered in {1000 * (time.monotonic() - started):.0f} ms"
