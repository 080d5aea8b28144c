"""Named relays on gpiozero OutputDevice, with the equipment's protections.

`Relay.switch()` refuses switching again inside `min_interval_s` (TVs and amplifier
power supplies do not like it); `force=True` is for safety actions only (auto-off,
amplifier sequencing, shutdown). `RelayBoard.overdue()` tells which relays have been
on longer than their `max_on_s`; the controller turns them off through its command path.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Callable, Iterable

from gpiozero import Factory, OutputDevice

from drivers.config import RelayConfig
from drivers.errors import TooSoon, UnknownRelay


class HeldOutputDevice(OutputDevice):
    """An OutputDevice whose close() leaves its pin an output, driven at the inactive
    (off) level. gpiozero's own close() resets the pin to a floating input, and an
    active-high relay board may switch its relays ON with a floating input: a stopped
    daemon must leave the TV, radio and amplifier off, not to chance."""

    def close(self) -> None:
        pin = getattr(self, "_pin", None)  # absent if __init__ failed half-way (gpiozero's own caveat)
        if pin is not None:
            self.off()
            self.pin_factory.release_pins(self, pin.info.name)  # another device may claim it
            self._pin = None  # closed for gpiozero; the pin itself keeps driving the off level
        super().close()


class Relay:
    def __init__(
        self,
        config: RelayConfig,
        pin_factory: Factory,
        initial_on: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self.name = config.name
        self._clock = clock
        self._lock = threading.Lock()
        self._device = HeldOutputDevice(
            config.pin, active_high=config.active_high, initial_value=initial_on, pin_factory=pin_factory
        )
        self._last_switch = -math.inf
        self._on_since: float | None = clock() if initial_on else None

    @property
    def is_on(self) -> bool:
        """Energised now; a closed relay was left off (see close())."""
        device = self._device
        return False if device.closed else bool(device.value)

    @property
    def closed(self) -> bool:
        return self._device.closed

    @property
    def on_since(self) -> float | None:
        return self._on_since

    def switch(self, on: bool, force: bool = False) -> bool:
        """Set the relay; returns True if it changed. Raises TooSoon inside min_interval_s."""
        with self._lock:
            if self.is_on == on:
                return False
            now = self._clock()
            wait = self._last_switch + self.config.min_interval_s - now
            if wait > 0 and not force:
                raise TooSoon(self.name, wait)
            self._device.value = on
            self._last_switch = now
            self._on_since = now if on else None
            return True

    def overdue(self, now: float) -> bool:
        limit = self.config.max_on_s
        return bool(limit) and self._on_since is not None and now - self._on_since >= limit

    def close(self) -> bool | None:
        """Leave the relay de-energised (off), its pin still driven at the off level;
        returns that physical level (True = high), None if already closed."""
        with self._lock:
            if self._device.closed:
                return None
            pin = self._device.pin
            self._device.close()
            return bool(pin.state)


class RelayBoard:
    def __init__(self, relays: Iterable[Relay], clock: Callable[[], float] = time.monotonic):
        self._relays = {r.name: r for r in relays}
        self._clock = clock

    def __iter__(self):
        return iter(self._relays.values())

    def __contains__(self, name: str) -> bool:
        return name in self._relays

    def names(self) -> list[str]:
        return list(self._relays)

    def get(self, name: str) -> Relay:
        try:
            return self._relays[name]
        except KeyError:
            known = ", ".join(f"{r.name} ({r.config.label})" if r.config.label else r.name for r in self)
            raise UnknownRelay(f"no relay named {name!r}; known relays: {known or 'none'}") from None

    def overdue(self) -> list[str]:
        now = self._clock()
        return [r.name for r in self._relays.values() if r.overdue(now)]

    def close(self) -> dict[str, bool | None]:
        """Every relay off and left driven off; returns each pin's level."""
        return {r.name: r.close() for r in reversed(list(self._relays.values()))}


def build_board(configs: Iterable[RelayConfig], pin_factory: Factory, initial: dict[str, bool]) -> RelayBoard:
    return RelayBoard(Relay(c, pin_factory, initial.get(c.name, False)) for c in configs)
