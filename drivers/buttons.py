"""Local push buttons (gpiozero Button) that ask for a relay toggle."""
from __future__ import annotations

from typing import Callable, Iterable

from gpiozero import Button, Factory

from drivers.config import ButtonConfig


class Buttons:
    """One gpiozero Button per configured button; `on_press(relay_name)` is called from
    gpiozero's thread, so it must only enqueue."""

    def __init__(self, configs: Iterable[ButtonConfig], pin_factory: Factory, on_press: Callable[[str], None]):
        self._buttons: list[Button] = []
        for config in configs:
            button = Button(config.pin, pull_up=config.pull_up, bounce_time=config.bounce_s or None, pin_factory=pin_factory)
            button.when_pressed = lambda _device, relay=config.relay: on_press(relay)
            self._buttons.append(button)

    def close(self) -> None:
        for button in self._buttons:
            button.close()
