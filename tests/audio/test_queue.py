"""The broadcast queue without threads: order by priority (Thông tư 39/2020), quiet
hours, inbox and approval, reorder, validation, and the queue surviving a restart."""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from audio.broadcast import BroadcastQueue, BroadcastRefused
from audio.broadcast_items import Item, in_quiet_hours, next_playable
from audio.config import AudioConfig
from controller.db import Database
from controller.write_retry import WriteRetry

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def bus() -> list[tuple[str, dict]]:
    return []


@pytest.fixture
def make_queue(tmp_path: Path, bus):
    dbs = []

    def make(clock=time.time, **audio) -> BroadcastQueue:
        db = Database(tmp_path / "langso.db")
        dbs.append(db)
        return BroadcastQueue(AudioConfig(**audio), db, tmp_path / "broadcasts", TZ, lambda t, p: bus.append((t, p)), clock,
                              write_retry=WriteRetry)

    yield make
    for db in dbs:
        db.close()


def item(id: str, priority: str = "normal", seq: int = 0, source: str = "web", at: float | None = None) -> Item:
    return Item(id=id, kind="text", priority=priority, source=source, who=source, text="x", seq=seq, at=at)


def test_order_emergency_priority_normal_then_schedule():
    items = [item("sched", source="schedule", seq=1), item("n", seq=2), item("p", "priority", seq=3), item("e", "emergency", seq=4)]
    order = []
    while (nxt := next_playable(items, now=100, quiet=False)) is not None:
        order.append(nxt.id)
        items = [i for i in items if i.id != nxt.id]
    assert order == ["e", "p", "n", "sched"]


def test_future_items_wait_and_quiet_hours_hold_all_but_emergencies():
    items = [item("later", at=500, seq=1), item("n", seq=2), item("e", "emergency", seq=3)]
    assert next_playable(items[:1], now=100, quiet=False) is None
    assert next_playable(items[:1], now=600, quiet=False).id == "later"
    assert next_playable(items[:2], now=100, quiet=True) is None
    assert next_playable(items, now=100, quiet=True).id == "e"
    assert in_quiet_hours(datetime(2025, 1, 1, 23, 0, tzinfo=TZ), "22:00-05:00")
    assert in_quiet_hours(datetime(2025, 1, 1, 4, 59, tzinfo=TZ), "22:00-05:00")
    assert not in_quiet_hours(datetime(2025, 1, 1, 5, 0, tzinfo=TZ), "22:00-05:00")
    assert not in_quiet_hours(datetime(2025, 1, 1, 23, 0, tzinfo=TZ), "")


def test_district_bulletins_wait_in_the_inbox_until_approved(make_queue, bus):
    q = make_queue()
    district = q.submit(text="Bản tin huyện", source="mqtt", who="mqtt:ioc")
    local = q.submit(text="Thông báo thôn", source="web", who="web:head")
    urgent = q.submit(text="Bão đổ bộ", priority="emergency", source="mqtt", who="mqtt:ioc")
    listing = q.listing()
    assert [i["id"] for i in listing["inbox"]] == [district["id"]]
    assert [i["id"] for i in listing["queue"]] == [urgent["id"], local["id"]]  # in play order
    assert q.take_next().id == urgent["id"]
    q.finish(q.playing, 1.0, "played")
    assert q.approve(district["id"], "web:head")["state"] == "queued"
    assert bus[-1][0] == "broadcast.state" and {i["id"] for i in bus[-1][1]["queue"]} == {local["id"], district["id"]}
    with pytest.raises(BroadcastRefused) as err:
        q.approve("nope", "web:head")
    assert err.value.status == 404
    # the proof of broadcast names both: who sent it and who let it play (kept across a restart)
    again = make_queue()
    for _ in range(2):
        again.take_next()
        again.finish(again.playing, 2.0, "played")
    records = {r["id"]: r for r in again.listing()["log"]}
    assert (records[district["id"]]["who"], records[district["id"]]["approved_by"]) == ("mqtt:ioc", "web:head")
    assert records[local["id"]]["approved_by"] == ""  # the village's own announcement never waited


def test_a_district_bulletin_with_a_time_still_waits_for_the_village_head(make_queue):
    now = [1000.0]
    q = make_queue(clock=lambda: now[0])
    mqtt = q.submit(id="m3", text="Bản tin huyện", source="mqtt", who="mqtt:ioc", at=1004.0)
    token = q.submit(text="Bản tin qua API", source="token", who="token:ioc", at=1100.0)
    assert (mqtt["state"], token["state"]) == ("inbox", "inbox")
    now[0] = 1010.0  # its time has come: without approval it does not play
    assert q.take_next() is None
    assert [i["id"] for i in q.listing()["inbox"]] == ["m3", token["id"]]
    q.approve("m3", "web:head")  # approved after its time: plays at once
    assert (q.take_next().id, q.playing.approved_by) == ("m3", "web:head")
    q.finish(q.playing, 1010.0, "played")
    assert q.approve(token["id"], "web:head")["at"] == 1100.0  # approved before its time: waits for it
    assert q.take_next() is None
    now[0] = 1100.0
    assert q.take_next().id == token["id"]


def test_village_head_reorders_colliding_priority_items(make_queue):
    q = make_queue()
    a, b, c = (q.submit(text=t, priority="priority", source="web", who="web:head")["id"] for t in ("A", "B", "C"))
    q.reorder([c, a], "web:head")
    played = []
    while (nxt := q.take_next()) is not None:
        played.append(nxt.id)
        q.finish(nxt, 1.0, "played")
    assert played == [c, b, a]
    with pytest.raises(BroadcastRefused):
        q.reorder([a], "web:head")  # already played


@pytest.mark.parametrize("request_,field", [
    ({"text": "   "}, "text: is empty"),
    ({"text": "x" * 101}, "text: 101 characters is longer than the 100"),
    ({"text": "x", "priority": "urgent"}, "priority: 'urgent' is unknown"),
    ({"text": "x", "repeat": 0}, "repeat: 0"),
    ({"text": "x", "stream_url": "http://a/b"}, "exactly one of"),
    ({}, "exactly one of"),
    ({"stream_url": "file:///etc/passwd"}, "stream_url: 'file:///etc/passwd' is not an http"),
    ({"audio_url": "rtsp://cam:s3cret@10.0.0.5/live"}, r"audio_url: 'rtsp://10.0.0.5/live' is not an http\(s\) URL"),  # a file, no password said
    ({"text": "x", "id": "a b/c"}, "id: use 1-64"),
])
def test_bad_requests_name_the_field_and_lose_nothing(make_queue, request_, field):
    q = make_queue(max_text_chars=100)
    kept = q.submit(text="đã xếp hàng", source="web", who="web:head")
    with pytest.raises(BroadcastRefused, match=field) as err:
        q.submit(source="web", who="web:head", **request_)
    assert err.value.status == 400
    assert [i["id"] for i in q.listing()["queue"]] == [kept["id"]]


def test_same_id_twice_is_queued_once(make_queue):
    q = make_queue()
    first = q.submit(id="ioc-42", text="Bản tin", source="web", who="web")
    assert q.submit(id="ioc-42", text="Bản tin", source="web", who="web") == first
    assert len(q.listing()["queue"]) == 1


def test_a_password_in_a_stream_url_is_never_shown_back(make_queue, bus):
    """The queue's listing goes to the village head's phone and, retained, to the MQTT
    broker (`…/broadcast/state`): the stream's user:password@ stays with the house."""
    q = make_queue()
    q.submit(id="vov1", stream_url="http://ioc:s3cret@radio.example.vn/vov1", source="cli", who="cli")
    shown = [q.listing()["queue"][0]["url"]] + [i["url"] for t, p in bus if t == "broadcast.state" for i in p["queue"]]
    assert shown and set(shown) == {"http://***@radio.example.vn/vov1"}
    assert q.get("vov1").stream_url == "http://ioc:s3cret@radio.example.vn/vov1"  # what plays keeps it


def test_queue_and_log_survive_a_restart(make_queue):
    q = make_queue()
    waiting = q.submit(text="Họp lúc 19h", source="web", who="web:head", at=4_000_000_000)
    inbox = q.submit(text="Bản tin", source="mqtt", who="mqtt:ioc")
    playing = q.submit(text="Đang phát", priority="priority", source="web", who="web:head")
    assert q.take_next().id == playing["id"]  # the power goes out while it plays
    played = q.submit(text="Xong", source="cli", who="cli")
    again = make_queue()
    listing = again.listing()
    assert {i["id"] for i in listing["queue"]} == {waiting["id"], playing["id"], played["id"]}
    assert [i["id"] for i in listing["inbox"]] == [inbox["id"]]
    nxt = again.take_next()
    assert nxt.id == playing["id"]
    again.finish(nxt, 5.0, "played")
    assert make_queue().listing()["log"][0] | {"ended": 0} == {
        "id": playing["id"], "kind": "text", "text": "Đang phát", "source": "web", "who": "web:head", "approved_by": "",
        "priority": "priority", "started": 5.0, "ended": 0, "outcome": "played", "reason": "", "reason_kind": "",
        "reason_values": {}}


def test_a_scheduled_relay_cut_by_a_power_cut_resumes_only_inside_its_window(make_queue, bus):
    now = [1000.0]
    q = make_queue(clock=lambda: now[0])
    relay = dict(stream_url="http://radio.example/vov1.m3u8", duration_s=60.0, until=1060.0, source="schedule",
                 who="schedule:3")
    q.submit(id="sched-3-a", **relay)
    q.submit(id="sched-3-b", **relay)
    assert q.take_next().id == "sched-3-a"  # it plays; the power goes out (no record is written)
    now[0] = 1030.0  # power back inside the window: it resumes for the rest of it only
    inside = make_queue(clock=lambda: now[0])
    assert inside.take_next().stream_limit(3600.0, now[0]) == 30.0
    now[0] = 1200.0  # power back after the window has closed: neither plays, the log says why
    bus.clear()
    after = make_queue(clock=lambda: now[0])
    after.drop_ended()
    assert after.take_next() is None and after.listing()["queue"] == []
    records = {r["id"]: r for r in after.listing()["log"]}
    ended = datetime.fromtimestamp(1060, TZ).strftime("%H:%M")
    assert records["sched-3-a"]["outcome"] == "failed" and records["sched-3-a"]["reason"] == (
        "not played again: it was playing when the daemon stopped (a power cut or restart) and its schedule window "
        f"ended at {ended} before the daemon was back")
    assert records["sched-3-b"]["reason"] == f"not played: its schedule window ended at {ended} while it waited"
    assert [(records[i]["reason_kind"], records[i]["reason_values"]) for i in ("sched-3-a", "sched-3-b")] == [
        ("window_over_restart", {"end": ended}), ("window_over", {"end": ended})]
    assert sorted(p["id"] for t, p in bus if t == "broadcast.log") == ["sched-3-a", "sched-3-b"]  # to the IOC too
    assert make_queue(clock=lambda: now[0]).listing()["queue"] == []  # and not back after the next restart


def test_preempted_item_goes_back_to_the_head_of_its_level(make_queue):
    q = make_queue()
    normal = q.submit(text="Thông báo thường", source="web", who="web")
    other = q.submit(text="Thông báo thứ hai", source="web", who="web")
    assert q.take_next().id == normal["id"]
    emergency = q.submit(text="Cháy rừng", priority="emergency", source="web", who="web")
    assert q.stop_current.is_set() and q.stop_reason == f"preempted by emergency {emergency['id']}"
    q.finish(q.playing, 1.0, "preempted", q.stop_reason)
    assert [q.take_next().id] == [emergency["id"]]
    q.finish(q.playing, 2.0, "played")
    assert q.take_next().id == normal["id"]  # played again from the start, before the later item
    assert other["id"] in {i["id"] for i in q.listing()["queue"]}
    outcomes = [(r["id"], r["outcome"]) for r in reversed(q.listing()["log"])]
    assert outcomes == [(normal["id"], "preempted"), (emergency["id"], "played")]
