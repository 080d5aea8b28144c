"""House.status(max_age_s): the slow parts may be reused that long, relays never are."""
from __future__ import annotations

import threading

from controller.commands import Actor, SetRelay
from web.api import STATUS_MAX_AGE_S


def test_slow_parts_are_reused_until_they_age_or_something_happens(app):
    house = app.house
    reads: list[int] = []
    house.add_status("probe", lambda: reads.append(1) or len(reads))
    house.bus.publish("test", {})  # drop any reading made before the probe was added
    first = house.status(max_age_s=60)["probe"]
    assert house.status(max_age_s=60)["probe"] == first  # reused: younger than max_age_s
    house.bus.publish("broadcast", {"id": 1})  # any event: the next status reads again
    assert house.status(max_age_s=60)["probe"] == first + 1
    assert house.status()["probe"] == first + 2  # the default: read now
    assert house.status()["probe"] == first + 3


def test_relays_in_status_are_exact_however_long_the_reuse(app):
    house = app.house
    assert house.status(max_age_s=60)["relays"] == house.relays()
    house.handle(SetRelay("tv", "on", Actor("web", "lan")))
    tv = next(r for r in house.status(max_age_s=60)["relays"] if r["name"] == "tv")
    assert tv["on"] is True and tv["changed_by"] == "web:lan" and tv["changed_at"]
    assert house.status(max_age_s=60)["relays"] == house.relays()
    house.handle(SetRelay("tv", "off", Actor("button"), force=True))
    assert house.status(max_age_s=60)["relays"] == house.relays()
    assert next(r for r in house.status(max_age_s=60)["relays"] if r["name"] == "tv")["on"] is False


def test_the_web_reuses_slow_parts_for_one_second():
    assert STATUS_MAX_AGE_S == 1.0


def test_while_one_caller_reads_aged_parts_again_the_others_get_the_aged_reading(app):
    house = app.house
    entered, release = threading.Event(), threading.Event()
    reads: list[int] = []

    def slow_probe() -> int:
        reads.append(1)
        if len(reads) == 2:  # the second read blocks until released
            entered.set()
            assert release.wait(20)
        return len(reads)

    house.add_status("probe", slow_probe)
    house.bus.publish("test", {})
    assert house.status(max_age_s=60)["probe"] == 1
    refresher = threading.Thread(target=house.status, kwargs={"max_age_s": 1e-9})  # aged at once
    refresher.start()
    assert entered.wait(20)
    assert house.status(max_age_s=1e-9)["probe"] == 1  # not queued behind the refresh
    release.set()
    refresher.join(20)
    assert house.status(max_age_s=60)["probe"] == 2
    house.bus.publish("relay", {})  # after an event nobody gets the old reading
    assert house.status(max_age_s=60)["probe"] == 3


def test_a_parts_problems_come_from_the_value_just_read_once(app):
    house = app.house
    reads: list[int] = []

    def probe() -> dict[str, object]:
        reads.append(1)
        return {"faults": ["fan stopped"] if len(reads) % 2 else []}

    house.add_status("probe", probe, problems=lambda value: value["faults"])
    status = house.status()
    assert status["problems"]["probe"] == "fan stopped" and len(reads) == 1  # one read serves both
    assert "probe" not in house.status()["problems"]  # the next value has none: the problem is gone at once
    house.add_status("broken", lambda: {}, problems=lambda value: value["missing"])
    assert "missing" in house.status()["problems"]["broken"]  # a failing check is a problem, not a crash


def test_machine_readings_are_a_status_part_the_telemetry_reuses(app):
    from controller.telemetry import telemetry

    status = app.house.status()
    assert set(status["machine"]) == {"cpu_temp_c", "mem_used_mb", "mem_total_mb"}
    assert status["machine"]["mem_total_mb"] > 0
    record = telemetry(status)
    assert {k: record[k] for k in status["machine"]} == status["machine"]
