"""The one place that builds the house, starts its parts in order and stops them in
reverse. Every wing meets the others only here."""
from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import zoneinfo
from pathlib import Path
from typing import Any, Callable

from controller.bus import EventBus
from controller.clock import ClockStatus, assume_synced, system_clock_status
from controller.commands import Actor, SetRelay
from controller.config import Config
from controller.data_lock import DataLock
from controller.db import Database
from controller.house import House
from controller.liveness import Heartbeats, WatchdogGate
from controller.scheduler import ScheduleRunner
from controller.sdnotify import Notifier
from controller.telemetry import machine
from controller.store import RelayRecord, Store
from controller.write_retry import WriteRetry
from drivers.buttons import Buttons
from drivers.config import RelayConfig
from drivers.pins import make_pin_factory
from drivers.relays import build_board

logger = logging.getLogger(__name__)

CLI_FILE = "cli.json"


def power_on_states(relays: list[RelayConfig], stored: dict[str, RelayRecord]) -> dict[str, bool]:
    """What each relay should be at start: off, on, or its last stored state."""
    states = {}
    for relay in relays:
        if relay.power_on == "restore":
            rec = stored.get(relay.name)
            states[relay.name] = bool(rec and rec.on)
        else:
            states[relay.name] = relay.power_on == "on"
    return states


def local_url(listen_host: str, port: int) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(listen_host, listen_host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class App:
    def __init__(self, config: Config, *, pin_factory: Any = None, clock: Callable[[], ClockStatus] | None = None,
                 notifier: Notifier | None = None, data_lock: DataLock | None = None):
        self.config = config
        self._data_lock = data_lock  # taken by the caller (`langso demo` writes its video first)
        self._pin_factory = pin_factory
        self._clock = clock or (system_clock_status if config.clock.require_sync else assume_synced)
        self._stop = threading.Event()
        self._stoppers: list[tuple[str, Callable[[], None]]] = []
        self._threads: list[threading.Thread] = []
        self.notifier = notifier or Notifier()
        self.heartbeats = Heartbeats()
        self.house: House | None = None
        self.url = ""
        self._cli_json: bytes | None = None  # cli.json while a full disk refuses it
        self._cli_retry = WriteRetry(logger, "cli.json", Path(config.storage.dir))  # tried by housekeeping

    # build ---------------------------------------------------------------------
    def build(self) -> House:
        cfg = self.config
        data = Path(cfg.storage.dir)
        # first of all: a second daemon on this folder stops here, before any repair or connection
        lock = self._data_lock or DataLock.acquire(data)
        self._on_stop("data lock", lock.release)  # released last
        db = Database(data / "langso.db")
        self._on_stop("database", db.close)
        # the uplink (built later) stops after the relays: the IOC's retained relay states
        # then say what the stop left, every relay off (_close_relays)
        self._on_stop("uplink", self._stop_uplink)
        store = Store(db)

        factory = self._pin_factory or make_pin_factory(cfg.gpio.pin_factory)
        stored = store.relay_states()
        initial = power_on_states(cfg.relays, stored)
        board = build_board(cfg.relays, factory, initial)
        self._on_stop("relays", lambda: self._close_relays(board))
        logger.info("relays ready states=%s", ",".join(f"{n}:{'on' if v else 'off'}" for n, v in initial.items()) or "none")

        bus = EventBus()
        house = House(cfg, store, board, bus, self._clock)
        self.house = house
        house.record_power_on(initial)  # a full disk keeps them in memory: the house starts all the same

        buttons = Buttons(cfg.buttons, factory, lambda relay: house.submit(SetRelay(relay, "toggle", Actor("button"))))
        self._on_stop("buttons", buttons.close)

        self.scheduler = ScheduleRunner(house.programmes, house.fire_schedule, self._clock, zoneinfo.ZoneInfo(cfg.site.timezone))
        house.add_status("schedules", self.scheduler.status, problems=lambda status: status["failed"])  # until it next works
        house.add_status("machine", machine)  # temperature and memory: the System page and telemetry

        # each wing is built by its own method below, in this order; web last, it serves them all
        self._build_audio(house)
        self._build_camera(house)
        self._build_uplink(house)
        self._start_wings(house)
        self._build_web(house)
        return house

    def _build_audio(self, house: House) -> None:
        """Broadcast queue, TTS, player (audio wing, issue 3)."""
        from dataclasses import fields

        from audio.broadcast import BroadcastRefused
        from audio.service import Broadcasts
        from controller.commands import Broadcast, CancelBroadcast, CommandError, is_storage_full, storage_full

        cfg = self.config.audio
        amp = None
        if cfg.amp_relay:
            def amp(on: bool) -> None:
                house.handle(SetRelay(cfg.amp_relay, "on" if on else "off", Actor("system", "broadcast"), force=True))

        def programme_texts() -> list[str]:
            return [str(p.payload_dict().get("text")) for p in house.programmes() if p.kind == "broadcast" and p.payload_dict().get("text")]

        service = Broadcasts(cfg, house.store.db, Path(self.config.storage.dir) / "broadcasts",
                             zoneinfo.ZoneInfo(self.config.site.timezone), house.bus.publish, amp, programme_texts,
                             write_retry=WriteRetry)

        def refused_as_command_error(call: Callable[..., Any]) -> Callable[..., Any]:
            def run(*args: Any, **kwargs: Any) -> Any:
                try:
                    return call(*args, **kwargs)
                except BroadcastRefused as err:
                    raise CommandError(err.message, err.status, err.kind, **err.values) from err
                except Exception as err:  # a new item or an upload the full disk could not take: refused, 507
                    if is_storage_full(err):
                        raise storage_full(self.config.storage.dir, err) from err
                    raise
            return run

        def broadcast(cmd: Broadcast) -> dict[str, Any]:
            request = {f.name: getattr(cmd, f.name) for f in fields(cmd) if f.name != "actor"}
            return service.submit(**request, source=cmd.actor.kind, who=str(cmd.actor))

        for name in ("submit", "cancel", "approve", "reorder", "save_upload", "preview"):  # web sees CommandError only
            setattr(service, name, refused_as_command_error(getattr(service, name)))
        house.register(Broadcast, broadcast)
        house.register(CancelBroadcast, lambda cmd: service.cancel(cmd.id, str(cmd.actor)))
        house.broadcasts = service
        house.add_selftest("audio", service.selftest)
        house.add_selftest("tts", service.selftest_tts)
        house.add_status("audio", service.status, problems=lambda status: status["problems"])  # also in `langso status`
        house.add_schedule_kind("broadcast", service.fire_programme)

    def _build_camera(self, house: House) -> None:
        """Camera sources, motion, recorder, events (camera wing): events are stored first,
        then published on the bus; house.events and house.cameras serve the web and MQTT.
        Started by _start_wings, once the uplink listens."""
        from camera.events import EventStore
        from camera.service import Cameras

        cfg = self.config
        store = EventStore(house.store.db, write_retry=WriteRetry, handover=bool(cfg.mqtt.host))  # see _build_uplink
        house.events = store
        cameras = Cameras(list(cfg.cameras), Path(cfg.storage.dir) / "clips", store, house.bus.publish,
                          cfg.storage.keep_days, cfg.storage.min_free_mb)
        house.cameras = cameras
        house.add_status("cameras", cameras.list, problems=cameras.problems)
        house.add_selftest("cameras", cameras.selftest)

    def _start_wings(self, house: House) -> None:
        """Audio and cameras start after the uplink has subscribed to the bus and stop
        before it, so that what they publish while starting and stopping reaches its outbox:
        the `end` of each event a crash left open (the camera start-up repair) and every event
        change stored but not yet in the outbox at a power cut (`EventStore.owed`), the events
        and the proof of broadcast of an announcement cut short by the stop."""
        house.broadcasts.start()
        self._on_stop("audio", house.broadcasts.stop)
        house.cameras.start()
        self._on_stop("cameras", house.cameras.stop)

    def _build_uplink(self, house: House) -> None:
        """MQTT uplink to the district IOC (issue 6): off when mqtt.host is empty."""
        from controller.outbox import Outbox
        from controller.uplink import Uplink

        cfg = self.config.mqtt
        if not cfg.host:
            house.add_status("uplink", lambda: {"state": "disabled", "reason": "mqtt.host is empty"})
            house.add_selftest("broker", lambda: (True, "skipped: uplink off (mqtt.host is empty)"))
            return
        # the uplink says which camera events it has stored; the others are published again
        # at the next start (a power cut between the event store and the outbox loses none)
        uplink = Uplink(house, Outbox(house.store.db, cfg.outbox_max), handed=house.events.handed)
        house.uplink = uplink
        house.add_status("uplink", uplink.status)
        house.add_selftest("broker", uplink.selftest)
        uplink.start()  # stopped by _stop_uplink, after the relays

    def _build_web(self, house: House) -> None:
        from web import create_app
        from web.servers import make_server

        app = create_app(house)
        app.extensions["scheduler_poke"] = self.scheduler.poke  # schedules API: programmes changed
        self._live_close = app.extensions["live_close"]  # idempotent: also run by _close_web, first
        self._on_stop("web live updates", self._live_close)
        web = self.config.web
        try:
            self.server = make_server(app, web)
        except OSError as err:
            raise OSError(f"web.listen: cannot listen on {web.listen} ({err.strerror}); "
                          "is another langso running? choose another port") from err
        self.url = local_url(web.host, self.server.effective_port)
        if web.tls_cert:
            self.url = "https" + self.url[4:]
        self._write_cli_file(house)

    def _write_cli_file(self, house: House) -> None:
        """A local admin token for the `langso` CLI, readable only by the service user and root.
        On a full disk the token is kept in memory (Store) and cli.json rewritten in place,
        in the blocks the last start's file already has; without one it is written by
        housekeeping once space returns, and status says so meanwhile."""
        token = house.store.renew_cli_token()
        self._cli_json = json.dumps({"url": self.url, "token": token, "pid": os.getpid()}).encode()
        self._write_cli_json()

    def _write_cli_json(self) -> None:
        from controller.commands import is_storage_full

        assert self.house is not None and self._cli_json is not None
        path = Path(self.config.storage.dir) / CLI_FILE
        tmp = path.with_suffix(".tmp")
        try:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(self._cli_json)
                os.replace(tmp, path)
            except OSError as err:
                tmp.unlink(missing_ok=True)
                if not is_storage_full(err):
                    raise
                fd = os.open(path, os.O_WRONLY)  # FileNotFoundError: no file of a last start to write into
                try:
                    os.pwrite(fd, self._cli_json, 0)
                    os.ftruncate(fd, len(self._cli_json))
                finally:
                    os.close(fd)
                logger.warning("cli.json rewritten in place path=%s (the disk is full)", path)
        except OSError as err:
            self._cli_retry.failed(err, 1)
            self.house.problems["cli"] = (f"cannot write {path} ({err}): the langso command on this machine cannot find "
                                          f"the daemon until it is written; free space on {self.config.storage.dir} "
                                          "(storage.dir), e.g. old camera clips: it is written within seconds")
            return
        self._cli_json = None
        self._cli_retry.written(1)
        self.house.problems.pop("cli", None)

    def _close_relays(self, board: Any) -> None:
        was_on = [relay.name for relay in board if relay.is_on]
        levels = board.close()  # every relay off (de-energised), whatever its wiring
        logger.info("relays safe states=%s", ",".join(
            f"{name}:off(pin={'high' if level else 'low'})" for name, level in levels.items() if level is not None) or "none")
        if self.house is not None:  # the uplink, which stops next, retains them (not stored: power_on = "restore")
            for name in was_on:
                self.house.bus.publish("relay", {"name": name, "on": False, "actor": str(Actor("system", "stop")),
                                                 "at": time.time()})

    def _stop_uplink(self) -> None:
        if self.house is not None and self.house.uplink is not None:
            self.house.uplink.stop()

    def _on_stop(self, name: str, stop: Callable[[], None]) -> None:
        self._stoppers.append((name, stop))

    # start / stop -------------------------------------------------------------
    def _thread(self, name: str, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()  # a failed start leaves nothing behind: relays safe, database closed, data dir free
            raise

    def _start(self) -> None:
        started = time.monotonic()
        house = self.house or self.build()
        beats = self.heartbeats
        beats.watch("commands", self._thread("commands", lambda: house.run_inbox(self._stop, lambda: beats.beat("commands"))).is_alive)
        self.scheduler.beat = lambda: beats.beat("scheduler")
        self.scheduler.start()
        beats.watch("scheduler", self.scheduler.alive)
        self._on_stop("scheduler", self.scheduler.stop)
        beats.watch("web", self._thread("web", self.server.run).is_alive, beats=False)
        if house.broadcasts is not None:  # started with the wings; a dead worker would silence every broadcast
            beats.watch("broadcast", house.broadcasts.worker.alive, beats=False)
        self._on_stop("web", self._close_web)
        if house.uplink is not None:  # first of all, like the web: no command reaches parts that are stopping
            self._on_stop("uplink commands", house.uplink.commands.close)
        self._thread("housekeeping", self._housekeeping)
        self.notifier.ready(f"serving {self.url}")
        logger.info("langso ready url=%s site=%s seconds=%.2f", self.url, self.config.site.id, time.monotonic() - started)

    def _close_web(self) -> None:
        """Live streams end first (both servers wait for their request threads), then the server."""
        self._live_close()
        self.server.close()

    def _housekeeping(self) -> None:
        """Auto-off, and the systemd watchdog: pinged only while the critical loops make
        progress (controller/liveness.py)."""
        assert self.house is not None
        gate = WatchdogGate(self.notifier, self.heartbeats, self.house.problems)
        while not self._stop.wait(0.5):
            self.house.auto_off()
            self.house.write_unwritten()
            if self._cli_json is not None and self._cli_retry.due():  # cli.json a full disk refused
                self._write_cli_json()
            gate.check()

    def stop(self) -> None:
        if self._stop.is_set() and not self._stoppers:
            return
        started = time.monotonic()
        self._stop.set()
        self.notifier.stopping()
        for name, stop in reversed(self._stoppers):
            part_started = time.monotonic()
            try:
                stop()
            except Exception:
                logger.exception("stop failed part=%s", name)
            if time.monotonic() - part_started > 0.5:  # systemd allows 15 s, the goal is 5: say who is slow
                logger.warning("slow stop part=%s seconds=%.2f", name, time.monotonic() - part_started)
        self._stoppers.clear()
        for thread in self._threads:
            thread.join(timeout=2)
        logger.info("langso stopped seconds=%.2f", time.monotonic() - started)

    def request_stop(self, *_: Any) -> None:
        self._stop.set()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; every relay ends off."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        try:
            self.start()
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()
        return 0
