"""The pure scheduler core and the runner's clock guard, driven without threads."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from controller.clock import ClockStatus
from controller.scheduler import Due, Programme, ScheduleRunner, due_between, next_due, open_windows
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
    assert h.fired == []
    h.now = at(23, 18, 0)
    sleep = h.runner.tick()
    assert [(d.programme.id, d.edge) for d in h.fired] == [(1, "start")]
    assert sleep == 30.0  # capped; the end is hours away
    h.now = at(23, 22, 0, )
    h.runner.tick()  # a 4-hour gap is a jump: catch up, not replay; 22:00 is outside the window
    assert len(h.fired) == 1


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
    runner.tick()
    now = at(23, 18)
    runner.tick()
    assert calls == [1, 9]


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
    import time as _time

    deadline = _time.monotonic() + 10
    while not house.board.get("radio").is_on and _time.monotonic() < deadline:
        _time.sleep(0.05)
    assert house.board.get("radio").is_on
    assert house.store.audit_log("radio")[0]["actor"].startswith("schedule:")
