"""Errors raised by the drivers wing."""


class HardwareUnavailable(RuntimeError):
    """A hardware library or device is missing; the message says how to get it."""


class RelayError(RuntimeError):
    """A relay could not be switched."""


class UnknownRelay(RelayError, KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return self.args[0] if self.args else "unknown relay"


class TooSoon(RelayError):
    """Switching again inside min_interval_s: refused to protect the equipment."""

    def __init__(self, name: str, wait_s: float):
        self.name = name
        self.wait_s = wait_s
        super().__init__(
            f"relay {name!r} was switched less than its min_interval_s ago; "
            f"try again in {wait_s:.1f} s (this protects the equipment)"
        )
