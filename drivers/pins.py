"""Choose the gpiozero pin factory: real pins on a Pi, MockFactory in simulation."""
from __future__ import annotations

import glob
import logging

from gpiozero import Factory

from drivers.errors import HardwareUnavailable

logger = logging.getLogger(__name__)


def make_pin_factory(kind: str) -> Factory:
    """`mock` gives gpiozero's own MockFactory; `lgpio` the real pins; `auto` picks lgpio
    when the machine has a GPIO chip and refuses otherwise (so a mistyped config on a
    laptop never silently simulates)."""
    if kind == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if kind == "auto" and not glob.glob("/dev/gpiochip*"):
        raise HardwareUnavailable(
            'gpio.pin_factory: no GPIO chip on this machine (/dev/gpiochip*); on a Raspberry Pi check '
            'the "gpio" group, elsewhere set [gpio] pin_factory = "mock" to simulate'
        )
    try:
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    except ImportError as err:
        raise HardwareUnavailable(
            "gpio.pin_factory: the lgpio library is missing; install it with "
            "`sudo apt install python3-lgpio` or `pip install 'langso[pi]'`"
        ) from err
    except Exception as err:  # lgpio raises its own error types when the chip cannot be opened
        raise HardwareUnavailable(f"gpio.pin_factory: cannot open the GPIO chip ({err}); is the service user in the gpio group?") from err
