"""Relays and buttons on gpiozero's own MockFactory: real pin levels checked."""
import pytest
from gpiozero.pins.mock import MockFactory

from drivers.config import ButtonConfig, RelayConfig
from drivers.errors import TooSoon, UnknownRelay
from drivers.relays import Relay, RelayBoard, build_board
from tests.conftest import wait_until


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_active_low_relay_drives_the_pin_low_when_on():
    factory = MockFactory()
    relay = Relay(RelayConfig(name="tv", pin=17), factory)
    pin = factory.pin(17)
    assert relay.is_on is False and pin.state is True  # off = high on an active-low board
    relay.switch(True)
    assert relay.is_on is True and pin.state is False
    assert relay.close() is True
    assert pin.state is True and pin.function == "output"  # closing leaves it driven off, not floating


def test_closed_relay_keeps_driving_off_and_its_pin_can_be_claimed_again():
    factory = MockFactory()
    config = RelayConfig(name="amp", pin=22, active_high=True, min_interval_s=0)
    relay = Relay(config, factory, initial_on=True)
    pin = factory.pin(22)
    assert pin.state is True
    relay.close()
    assert pin.function == "output" and pin.state is False
    assert relay.close() is None  # idempotent
    again = Relay(config, factory)  # the next start on the same pins (no GPIOPinInUse)
    assert again.is_on is False and pin.state is False


def test_active_high_relay():
    factory = MockFactory()
    relay = Relay(RelayConfig(name="amp", pin=22, active_high=True, min_interval_s=0), factory)
    pin = factory.pin(22)
    assert pin.state is False
    relay.switch(True)
    assert pin.state is True
    assert relay.close() is False  # reports the level after switching off


def test_initial_state_on():
    factory = MockFactory()
    relay = Relay(RelayConfig(name="tv", pin=17), factory, initial_on=True)
    assert relay.is_on and factory.pin(17).state is False


def test_min_interval_refuses_fast_switching_but_force_passes():
    clock = Clock()
    relay = Relay(RelayConfig(name="tv", pin=17, min_interval_s=5), MockFactory(), clock=clock)
    assert relay.switch(True) is True
    clock.now += 2
    with pytest.raises(TooSoon) as err:
        relay.switch(False)
    assert err.value.wait_s == pytest.approx(3)
    assert "min_interval_s" in str(err.value) and relay.is_on
    assert relay.switch(True) is False  # no change is not a switch, never refused
    clock.now += 3
    assert relay.switch(False) is True
    clock.now += 1
    assert relay.switch(True, force=True) is True


def test_overdue_after_max_on():
    clock = Clock()
    board = RelayBoard([Relay(RelayConfig(name="tv", pin=17, max_on_s=60), MockFactory(), clock=clock)], clock=clock)
    board.get("tv").switch(True)
    clock.now += 59
    assert board.overdue() == []
    clock.now += 1
    assert board.overdue() == ["tv"]


def test_unknown_relay_names_the_known_ones():
    board = build_board([RelayConfig(name="tv", pin=17)], MockFactory(), {})
    with pytest.raises(UnknownRelay) as err:
        board.get("fan")
    assert str(err.value) == "no relay named 'fan'; known relays: tv"


def test_button_toggles_its_relay_through_the_command_path(make_config, start_app):
    factory = MockFactory()
    config = make_config(buttons=[{"pin": 5, "relay": "radio", "bounce_s": 0}])
    app = start_app(config, pin_factory=factory)
    button_pin = factory.pin(5)
    button_pin.drive_low()  # pressed (pull-up button to ground)
    wait_until(lambda: app.house.board.get("radio").is_on, 20)
    assert factory.pin(27).state is False
    button_pin.drive_high()
    audit = app.house.store.audit_log("radio")
    assert audit[0]["actor"] == "button" and audit[0]["action"] == "relay.on"


def test_auto_off_after_max_on(make_config, start_app):
    factory = MockFactory()
    relays = [{"name": "tv", "pin": 17, "max_on_s": 0.3}, {"name": "amp", "pin": 22}]
    app = start_app(make_config(relays=relays), pin_factory=factory)
    app.house.board.get("tv")  # exists
    from controller.commands import Actor, SetRelay

    app.house.handle(SetRelay("tv", "on", Actor("cli")))
    assert factory.pin(17).state is False
    wait_until(lambda: not app.house.board.get("tv").is_on, 20)
    assert factory.pin(17).state is True
    # the pin switches first, its row is written just after: wait for it, do not race it
    wait_until(lambda: app.house.store.audit_log("tv")[0]["actor"] == "auto-off", 5, "the auto-off audit row")


def test_button_config_model():
    assert ButtonConfig(pin=5, relay="tv").pull_up is True


def test_status_names_a_released_relay_instead_of_failing(app, api):
    relay = next(r for r in app.house.board if r.name == "tv")
    relay.close()
    status = api.request("GET", "/status")
    tv = next(r for r in status["relays"] if r["name"] == "tv")
    assert tv["on"] is False
    assert "tv" in status["problems"]["relays"] and "restart" in status["problems"]["relays"]
