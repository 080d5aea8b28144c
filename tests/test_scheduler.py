"""The pure scheduler core and the runner's clock guard, driven without threads."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from controller.clock import ClockStatus
from controller.commands import Actor, SetRelay
from controller.scheduler import Due, Programme, ScheduleRunner, due_between, missed_ends, missed_starts, next_due, open_windows
from tests.conftest import wait_until

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TV = Programme(1, "relay", "tv", time(18), time(22))
LATE = Programme(2, "relay", "radio", time(22, 30), time(1, 15))  # crosses midnight
MONDAY_NEWS = Programme(3, "broadcast", "news", time(7), None, days=frozenset({0}))


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=VN)  # 2026-11-23 is a Monday


def test_next_due_same_day_and_next_day():
    assert next_due([TV], at(23, 17, 59)).at == at(23, 18)
    due = next_due([TV], at(23, 18))
    assert (due.at, due.edge) == (at(23, 22), "end")  # strictly after now
    assert next_due([TV], at(23, 22, 1)).at == at(24, 18)


def test_window_across_midnight():
    due = next_due([LATE], at(23, 23))
    assert (due.at, due.edge) == (at(24, 1, 15), "end")
    edges = due_between([LATE], at(23, 22), at(24, 2))
    assert [(d.at, d.edge) for d in edges] == [(at(23, 22, 30), "start"), (at(24, 1, 15), "end")]
    assert [(d.programme, d.at) for d in open_windows([LATE], at(24, 0, 30))] == [(LATE, at(23, 22, 30))]
    assert open_windows([LATE], at(24, 1, 15)) == []


def test_weekly_programme_on_mondays_only():
    assert next_due([MONDAY_NEWS], at(23, 7, 1)).at == at(30, 7)
    assert next_due([MONDAY_NEWS], at(29, 23, 59)).at == at(30, 7)
    assert due_between([MONDAY_NEWS], at(24, 0), at(29, 23)) == []


def test_midnight_end_and_disabled():
    to_midnight = Programme(4, "relay", "tv", time(20), time(0))
    assert next_due([to_midnight], at(23, 21)).at == at(24, 0)
    off = Programme(5, "relay", "tv", time(20), time(21), enabled=False)
    assert next_due([off], at(23, 10)) is None
    assert next_due([], at(23, 10)) is None


def test_edges_in_order_end_before_start_at_same_minute():
    a = Programme(6, "relay", "tv", time(6), time(7))
    b = Programme(7, "relay", "tv", time(7), time(8))
    edges = due_between([b, a], at(23, 6, 30), at(23, 7))
    assert [(d.programme.id, d.edge) for d in edges] == [(6, "end"), (7, "start")]


class Harness:
    def __init__(self, programmes, synced=True):
        self.now = at(23, 17, 59)
        self.synced = synced
        self.fired = []
        self.runner = ScheduleRunner(
            load=lambda: programmes, fire=self.fired.append,
            clock=lambda: ClockStatus(self.synced, "ok" if self.synced else "no NTP yet"),
            tz=VN, now=lambda: self.now,
        )


def test_runner_fires_edges_as_time_passes():
    h = Harness([TV])
    h.runner.tick()
    assert h.fired == [Due(at(22, 22), TV, "end", missed=True)]  # at start: yesterday's end (kept only if still due)
    h.fired.clear()
    h.now = at(23, 18, 0)
    sleep = h.runner.tick()
    assert [(d.programme.id, d.edge) for d in h.fired] == [(1, "start")]
    assert sleep == 30.0  # capped; the end is hours away
    h.now = at(23, 22, 5)
    h.runner.tick()  # a 4-hour gap is a jump: catch up, not replay; the window's end was jumped over
    assert h.fired[1:] == [Due(at(23, 22), TV, "end", missed=True)]


def test_clock_guard_waits_and_says_why_then_catches_up():
    h = Harness([TV], synced=False)
    h.now = at(23, 19)
    h.runner.tick()
    assert h.fired == []
    assert h.runner.status()["waiting_for"] == "no NTP yet"
    h.synced = True
    h.runner.tick()  # clock synced inside the window: the TV goes on now
    assert [(d.programme.id, d.edge) for d in h.fired] == [(1, "start")]
    assert h.fired[0].at == at(23, 18)  # the window's own start: the same occurrence at every catch-up
    assert h.runner.status()["running"] is True


def test_a_restart_inside_a_window_fires_the_same_occurrence_again():
    first = Harness([TV])
    first.now = at(23, 19)
    first.runner.tick()
    after_restart = Harness([TV])  # the power came back 40 minutes later, still inside 18:00-22:00
    after_restart.now = at(23, 19, 40)
    after_restart.runner.tick()
    assert first.fired == after_restart.fired == [Due(at(23, 18), TV, "start")]


def test_missed_ends_are_the_last_end_of_each_window_not_open_now():
    radio_again = Programme(4, "relay", "radio", time(23), time(23, 30))
    # down from Monday 21:00 to Wednesday 00:30: TV's last end is Tuesday 22:00, LATE is open
    assert missed_ends([TV, LATE, MONDAY_NEWS, radio_again], at(25, 0, 30)) == [
        Due(at(24, 22), TV, "end", missed=True), Due(at(24, 23, 30), radio_again, "end", missed=True)]
    assert [d.edge for d in open_windows([TV, LATE], at(25, 0, 30))] == ["start"]
    weekly = Programme(5, "relay", "tv", time(18), time(22), days=frozenset({0}))
    assert missed_ends([weekly], at(30, 17)) == [Due(at(23, 22), weekly, "end", missed=True)]  # a week back
    assert missed_ends([weekly], at(30, 19)) == []  # open again
    assert missed_ends([Programme(6, "relay", "tv", time(18), time(22), enabled=False)], at(23, 23)) == []


def test_a_restart_after_a_window_ended_fires_its_end_once():
    h = Harness([TV])
    h.now = at(23, 22, 10)  # the daemon was down 21:50-22:10
    h.runner.tick()
    assert h.fired == [Due(at(23, 22), TV, "end", missed=True)]
    h.now = at(23, 22, 11)
    h.runner.tick()
    assert len(h.fired) == 1


def test_one_time_starts_missed_by_less_than_the_grace_are_done_late():
    assert missed_starts([MONDAY_NEWS, TV], at(23, 7, 5)) == [Due(at(23, 7), MONDAY_NEWS, "start", missed=True)]
    assert missed_starts([MONDAY_NEWS], at(23, 7, 16)) == []  # stale
    h = Harness([MONDAY_NEWS])
    h.now = at(23, 7, 5)  # the power came back at 07:04
    h.runner.tick()
    h.now = at(23, 7, 6)
    h.runner.tick()
    assert h.fired == [Due(at(23, 7), MONDAY_NEWS, "start", missed=True)]


def test_clock_jump_backwards_does_not_replay():
    h = Harness([TV])
    h.now = at(23, 19)
    h.runner.tick()
    h.fired.clear()
    h.now = at(23, 18, 30)
    h.runner.tick()  # time went back: treated as a jump, the state is re-asserted once
    assert [(d.edge) for d in h.fired] == ["start"]


def test_one_failing_programme_does_not_stop_the_others():
    calls = []

    def fire(due):
        calls.append(due.programme.id)
        if due.programme.id == 1:
            raise RuntimeError("relay gone")

    other = Programme(9, "relay", "radio", time(18), time(19))
    runner = ScheduleRunner(lambda: [TV, other], fire, lambda: ClockStatus(True, ""), VN, now=lambda: now)
    now = at(23, 17, 59)
    runner.tick()  # at start, yesterday's ends: the first fails, the second still goes
    now = at(23, 18)
    runner.tick()
    assert calls == [9, 1, 1, 9]  # 19:00 before 22:00, then 18:00 in id order


def test_a_programme_that_fails_shows_in_status_until_it_next_works():
    broken = [True]

    def fire(due):
        if broken[0] and due.edge == "start":
            raise RuntimeError("duration_s: must be more than 0 and at most 3600 (audio.max_stream_s)")

    runner = ScheduleRunner(lambda: [TV], fire, lambda: ClockStatus(True, ""), VN, now=lambda: now)
    for now in (at(23, 17, 59), at(23, 18)):
        runner.tick()
    failed = ["schedule 1 (relay tv) failed at its start 2026-11-23 18:00: duration_s: must be more than 0 and at most "
              "3600 (audio.max_stream_s)"]
    assert runner.status()["failed"] == failed
    broken[0] = False
    now = at(23, 22)
    runner.tick()  # the end edge works: the start's failure still stands
    assert runner.status()["failed"] == failed
    for now in (at(24, 17, 59), at(24, 18)):
        runner.tick()  # the next start works
    assert runner.status()["failed"] == []


def test_a_failed_schedule_is_a_problem_in_the_house_status(make_config, start_app):
    app = start_app(make_config())
    now = datetime.now(VN)
    start, end = ((now + timedelta(minutes=m)).strftime("%H:%M") for m in (-1, 2))
    sid = app.house.store.add_schedule("broadcast", "loa", list(range(7)), start, end, {"audio_path": "/no/such/file.mp3"}, "cli")
    app.scheduler.poke()
    problem = wait_until(lambda: app.house.status()["problems"].get("schedules"), what="the failure shown")
    assert problem.startswith(f"schedule {sid} (broadcast loa) failed at its start") and "file" in problem
    app.house.store.delete_schedule(sid, "cli")  # a programme that is gone is no problem any more
    assert "schedules" not in app.house.status()["problems"]


def test_schedule_switches_relay_through_the_house(make_config, start_app):
    app = start_app(make_config())
    house = app.house
    now = datetime.now(VN)
    start = (now - timedelta(minutes=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    house.store.add_schedule("relay", "radio", list(range(7)), start.isoformat(), end.isoformat(), {}, "cli")
    app.scheduler.poke()
    # the pin switches first, then the switch is logged (after the programme's own `schedule.add` line)
    wait_until(lambda: house.store.audit_log("radio")[0]["action"] == "relay.on", 10, "the radio on, logged")
    assert house.board.get("radio").is_on
    assert house.store.audit_log("radio")[0]["actor"].startswith("schedule:")


def _window_ended_minutes_ago(app, target: str) -> int:
    """A window of `target` that opened 10 minutes ago and ended 2 minutes ago."""
    now = datetime.now(VN)
    start, end = ((now - timedelta(minutes=m)).strftime("%H:%M") for m in (10, 2))
    return app.house.store.add_schedule("relay", target, list(range(7)), start, end, {}, "cli")


def test_a_window_that_ended_while_the_daemon_was_down_switches_its_relay_off(make_config, start_app, caplog):
    relays = [{"name": "tv", "pin": 17, "power_on": "restore"}, {"name": "radio", "pin": 27, "power_on": "restore"},
              {"name": "amp", "pin": 22}, {"name": "fan", "pin": 23, "power_on": "restore"}]
    config = make_config(relays=relays)
    first = start_app(config)
    tv, radio, fan = (_window_ended_minutes_ago(first, name) for name in ("tv", "radio", "fan"))
    store = first.house.store
    switched = datetime.now(VN).timestamp() - 5 * 60  # inside the windows, before their end: the daemon then stopped
    store.record_relay("tv", True, f"schedule:{tv}", at=switched)
    store.record_relay("radio", True, f"schedule:{radio}", at=switched)
    store.record_relay("radio", True, "web:truongthon", at=switched + 60)  # switched on by hand since: hers
    store.record_relay("fan", True, f"schedule:{tv}", at=switched)  # another programme's doing
    first.stop()

    caplog.set_level("INFO", logger="controller.house")
    second = start_app(config)
    board = second.house.board
    wait_until(lambda: f"schedule end missed id={fan} target=fan" in caplog.text, what="the last missed end looked at")
    wait_until(lambda: second.house.store.audit_log("tv")[0]["action"] == "relay.off", what="the TV off at its missed window end, logged")
    assert not board.get("tv").is_on and second.house.store.audit_log("tv")[0]["actor"] == f"schedule:{tv}"
    assert board.get("radio").is_on and board.get("fan").is_on
    assert second.house.store.audit_log("radio")[0]["actor"] == "web:truongthon"
    assert second.scheduler.status()["failed"] == []


def test_a_relay_switched_on_by_hand_after_the_window_stays_on(make_config, start_app, caplog):
    config = make_config(relays=[{"name": "tv", "pin": 17, "power_on": "restore", "min_interval_s": 0}])
    first = start_app(config)
    tv = _window_ended_minutes_ago(first, "tv")
    first.house.handle(SetRelay("tv", "on", Actor("schedule", str(tv))))
    first.house.store.record_relay("tv", True, f"schedule:{tv}", at=datetime.now(VN).timestamp() + 1)  # after its end
    first.stop()
    caplog.set_level("INFO", logger="controller.house")
    second = start_app(config)
    wait_until(lambda: f"schedule end missed id={tv} target=tv" in caplog.text, what="the missed end looked at")
    assert "left alone" in caplog.text and second.house.board.get("tv").is_on


def _one_time_minutes_ago(app, target: str) -> int:
    due = (datetime.now(VN) - timedelta(minutes=3)).strftime("%H:%M")
    return app.house.store.add_schedule("relay", target, list(range(7)), due, None, {}, "cli")


def test_a_one_time_relay_start_missed_while_down_is_done_late_unless_switched_since(make_config, start_app, caplog):
    config = make_config(relays=[{"name": "tv", "pin": 17}, {"name": "radio", "pin": 27, "power_on": "restore"}])
    first = start_app(config)
    tv, radio = _one_time_minutes_ago(first, "tv"), _one_time_minutes_ago(first, "radio")
    first.house.store.record_relay("radio", False, "web:truongthon")  # switched off by hand after it was due
    first.stop()
    caplog.set_level("INFO", logger="controller.house")
    second = start_app(config)
    # the pin switches first, then the switch is logged: wait for the log
    wait_until(lambda: second.house.store.audit_log("tv")[0]["action"] == "relay.on", what="the TV on, late, logged")
    assert second.house.board.get("tv").is_on and second.house.store.audit_log("tv")[0]["actor"] == f"schedule:{tv}"
    wait_until(lambda: f"schedule start missed id={radio} target=radio" in caplog.text, what="the radio's start looked at")
    assert not second.house.board.get("radio").is_on and "left alone (switched since by web:truongthon)" in caplog.text
