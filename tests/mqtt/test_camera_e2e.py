"""Camera events from the real camera wing to the IOC: a house whose file camera plays a
synthetic H.264 scene (a figure crossing, then calm, looped), a real mosquitto, the site's
real events API. The IOC gets motion ON/OFF (retained) and event new/update/end
with URLs that download with an events:read token; `langso ioc pull` fetches the same
files; the events of a broker outage arrive afterwards, all and in order."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import av
import pytest

from camera.synthetic import LABELLED_SCENES as SCENES, Scene, Walk, write_scene
from controller.cli import main
from tests.conftest import free_port, wait_until

SITE = "langso/test-site"
# a figure crosses in about 3 s, then 12 s of calm: the file camera loops it every 15 s
WALK_THEN_CALM = Scene(seconds=15, walks=(Walk(1.0, speed=220),), seed=11)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scene(WALK_THEN_CALM, tmp_path_factory.mktemp("camera") / "walk-then-calm.mp4")


def get(url: str, token: str) -> tuple[int, str, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers["Content-Type"], err.read()


def events_of(ioc: Any) -> list[dict[str, Any]]:
    return [json.loads(p) for p in ioc.on(f"{SITE}/camera/cong-lang/event")]


def ended(ioc: Any) -> list[dict[str, Any]]:
    return [e for e in events_of(ioc) if e["type"] == "end"]


def end_of(ioc: Any, event_id: int) -> dict[str, Any]:
    """The `end` of event `event_id`, once the IOC has it."""
    return wait_until(lambda: next((e for e in ended(ioc) if e["id"] == event_id), None), 60, f"the end of event {event_id}")


@pytest.fixture
def camera_site(broker, ioc, make_config, start_app, clip):
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    district = ioc([f"{SITE}/camera/#", f"{SITE}/status"], client_id="ioc-cameras", persistent=True)
    app = start_app(make_config(
        cameras=[{"name": "cong-lang", "source": str(clip), "pre_s": 1, "post_s": 1}],
        web={"listen": f"127.0.0.1:{port}"}, mqtt=broker.mqtt_config(public_url=public)))
    seen: list[tuple[Any, str]] = []
    app.house.bus.subscribe(lambda topic, p: seen.append((p["id"], p["type"])) if topic == "camera.event" else None)
    return app, district, public, seen


def in_outbox(app: Any) -> list[tuple[int, str]]:
    """(event id, type) of the camera events waiting in the uplink's outbox, oldest first."""
    waiting = app.house.uplink.outbox.after(0, 1000)
    return [(e["id"], e["type"]) for e in (json.loads(m.payload) for m in waiting if m.topic.endswith("/event"))]


def test_camera_events_reach_the_ioc_through_an_outage_with_working_urls(camera_site, broker, ioc, tmp_path):
    app, district, public, seen = camera_site

    def walk_seen() -> list[dict[str, Any]] | None:
        """The events ended on the IOC, once it saw the motion go ON and then OFF (an ON the
        camera saw before the uplink first connected is not retained: the next walk's is)."""
        motion, done = district.on(f"{SITE}/camera/cong-lang/motion"), ended(district)
        return done if b"ON" in motion and motion[-1] == b"OFF" and motion.index(b"ON") < len(motion) - 1 else None

    first = wait_until(walk_seen, 60, "motion ON, OFF and an event's end on the IOC")[-1]

    # the broker goes away while the camera sees the next walk (the file loops after 15 s)
    broker.stop()
    before = {e["id"] for e in events_of(district)}  # what reached the IOC before the outage
    wait_until(lambda: (u := app.house.status()["uplink"])["state"] == "disconnected" and u["retry_delay_s"], 60,
               "the uplink to notice the outage and fail to reconnect")
    second = wait_until(lambda: [e for e in app.house.events.list(since=first["id"]) if e["id"] not in before and e["clip"]],
                        60, "an event seen and finished while the broker is down")[0]
    # its messages wait in the outbox (the uplink stores them after the event store, on its own thread)
    wait_until(lambda: {(second["id"], "new"), (second["id"], "end")} <= set(in_outbox(app)), 60,
               "the outage's event stored in the outbox")
    assert app.house.status()["uplink"]["outbox_depth"] >= 2
    broker.start(first=False)
    wait_until(lambda: any(e["id"] == second["id"] for e in ended(district)), 60, "the outage's event delivered")

    def delivered() -> tuple[list[tuple[Any, str]], list[tuple[Any, str]]] | None:
        """(published, received) once the IOC has every event the camera published, as the
        last ones it received (the camera goes on publishing: one copy of each, read once)."""
        published = list(seen)
        got = [(e["id"], e["type"]) for e in events_of(district)]
        return (published, got) if published and got[-len(published):] == published else None

    published, got = wait_until(delivered, 60, "every published event delivered, in order")
    assert (second["id"], "end") in published  # the camera published while the test listened
    for event_id in (first["id"], second["id"]):
        kinds = [kind for i, kind in got if i == event_id]
        assert kinds[0] == "new" and kinds[-1] == "end" and set(kinds[1:-1]) <= {"update"}

    # the URLs in the event download from the site's API with an events:read token
    end = next(e for e in ended(district) if e["id"] == second["id"])
    assert end["snapshot_url"] == f"{public}/api/v1/events/{second['id']}/snapshot.jpg"
    assert end["clip_url"] == f"{public}/api/v1/events/{second['id']}/clip.mp4"
    assert end["camera"] == "cong-lang" and end["end"] > end["start"] and end["boxes"] and "snapshot" not in end
    reader = app.house.store.add_token("ioc", {"events:read"})
    status, ctype, jpeg = get(end["snapshot_url"], reader)
    assert status == 200 and ctype == "image/jpeg" and jpeg[:2] == b"\xff\xd8"
    status, ctype, mp4 = get(end["clip_url"], reader)
    assert status == 200 and ctype == "video/mp4" and mp4[4:8] == b"ftyp"
    (tmp_path / "check.mp4").write_bytes(mp4)
    with av.open(str(tmp_path / "check.mp4")) as clip:  # a real, decodable clip
        assert next(clip.decode(video=0)).width > 0
    assert get(end["clip_url"], app.house.store.add_token("phone", {"control"}))[0] == 403

    # the district's reference client fetches the same files
    out = tmp_path / "ioc"
    assert main(["ioc", "pull", public, "--token", reader, "--out", str(out)]) == 0
    pulled = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert {first["id"], second["id"]} <= {e["id"] for e in pulled}
    assert (out / str(second["id"]) / "clip.mp4").read_bytes() == mp4
    assert (out / str(second["id"]) / "snapshot.jpg").read_bytes() == jpeg

    # the motion state is retained for an IOC that connects later
    late = ioc([f"{SITE}/camera/+/motion"])
    late.wait(f"{SITE}/camera/cong-lang/motion")
    assert all(retain for t, _, retain in late.seen if t.endswith("/motion"))
    assert "uplink" not in app.house.status()["problems"]


def test_events_in_the_outbox_survive_a_power_cut(broker, ioc, daemon, clip):
    """`langso run` killed with SIGKILL while the link is down: what the camera saw is sent
    after the restart, in order."""
    import signal
    import sqlite3
    from contextlib import closing

    broker.stop()
    sections = {"cameras": [{"name": "cong-lang", "source": str(clip), "pre_s": 1, "post_s": 1}],
                "mqtt": broker.mqtt_config()}
    first = daemon(**sections)

    def outbox_events() -> list[dict[str, Any]]:
        with closing(sqlite3.connect(first.data_dir / "langso.db")) as db:
            return [json.loads(p) for (p,) in db.execute(
                "SELECT payload FROM outbox WHERE topic LIKE '%/camera/%/event' ORDER BY seq")]

    # the uplink stores an event's messages on its own thread, after the event store: wait for them
    wait_until(lambda: [e for e in outbox_events() if e["type"] == "end" and e["clip_url"]], 60,
               "a finished event in the outbox while the broker is down")
    first.stop(signal.SIGKILL)  # a power cut
    stored = outbox_events()
    assert [e["type"] for e in stored][0] == "new" and "end" in [e["type"] for e in stored]
    broker.start(first=False)
    district = ioc([f"{SITE}/camera/+/event"])
    daemon(**sections)
    wait_until(lambda: len(events_of(district)) >= len(stored), 60, "the stored events delivered")
    assert events_of(district)[:len(stored)] == stored


def test_events_stored_but_not_yet_in_the_outbox_at_a_power_cut_are_sent_after_the_restart(broker, ioc, daemon, clip,
                                                                                            tmp_path):
    """The gap between the event store and the uplink's outbox (normally milliseconds),
    held open: the outbox refuses camera events (an SQLite trigger, as a full disk would),
    so they wait in the uplink's memory when `langso run` is killed with SIGKILL. After the
    restart the IOC gets every event of the store, each `new` then its `end`, oldest first,
    before any event of the new run."""
    import signal
    import sqlite3
    from contextlib import closing

    from controller.db import Database
    from controller.outbox import Outbox

    db_file = tmp_path / "data" / "langso.db"
    db = Database(db_file)
    Outbox(db)
    db.execute("CREATE TRIGGER outbox_refuses_events BEFORE INSERT ON outbox WHEN NEW.kind = 'event' "
               "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    db.close()
    broker.stop()
    sections = {"cameras": [{"name": "cong-lang", "source": str(clip), "pre_s": 1, "post_s": 1}],
                "mqtt": broker.mqtt_config()}
    first = daemon(**sections)

    def stored() -> list[sqlite3.Row]:
        with closing(sqlite3.connect(db_file)) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute("SELECT * FROM camera_events ORDER BY id").fetchall()

    wait_until(lambda: [row for row in stored() if row["closed"] and row["clip"]], 60, "a finished event in the store")
    first.stop(signal.SIGKILL)  # a power cut while the event is in the store only
    events = stored()
    with closing(sqlite3.connect(db_file)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'event'").fetchone()[0] == 0
        conn.execute("DROP TRIGGER outbox_refuses_events")
        conn.commit()

    broker.start(first=False)
    district = ioc([f"{SITE}/camera/+/event"])
    daemon(**sections)
    owed = [(row["id"], kind) for row in events for kind in ("new", "end")]
    got = wait_until(lambda: (got := [(e["id"], e["type"]) for e in events_of(district)])[:len(owed)] == owed and got,
                     60, "the events of the store delivered after the restart")
    assert all(event_id > events[-1]["id"] for event_id, _ in got[len(owed):])  # the new run's events come after
    finished = next(row for row in events if row["closed"] and row["clip"])
    new, end = (next(e for e in events_of(district) if e["id"] == finished["id"] and e["type"] == kind)
                for kind in ("new", "end"))
    assert new["start"] == end["start"] == round(finished["start"], 3) and new["end"] is None and new["clip_url"] is None
    assert end["end"] == round(finished["end"], 3) and end["clip_url"] and end["interrupted"] is False


@pytest.fixture(scope="module")
def slow_walk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A figure walking slowly across for about 25 s (from 3 s on), looped by the camera."""
    return write_scene(SCENES["slow-far-walker"], tmp_path_factory.mktemp("camera") / "slow-walk.mp4")


def test_an_event_open_at_a_crash_ends_on_mqtt_at_the_next_start(broker, ioc, daemon, slow_walk):
    """`langso run` killed with SIGKILL in the middle of an event: at the next start the
    IOC gets its `end`, dated at the last motion stored before the kill (not its start),
    marked interrupted, without the clip that never finished; the API says the same."""
    import signal
    import sqlite3

    district = ioc([f"{SITE}/camera/+/event"])
    sections = {"cameras": [{"name": "cong-lang", "source": str(slow_walk), "pre_s": 1, "post_s": 1}],
                "mqtt": broker.mqtt_config()}
    first = daemon(**sections)
    new = wait_until(lambda: [e for e in events_of(district) if e["type"] == "new"], 60, "an event to start")[0]
    db_file = first.data_dir / "langso.db"

    def stored() -> Any:
        with sqlite3.connect(db_file) as db:
            db.row_factory = sqlite3.Row
            return db.execute("SELECT * FROM camera_events WHERE id = ?", (new["id"],)).fetchone()

    alive = wait_until(lambda: (row := stored())["last_motion"] is not None and row, 60, "the event's last motion stored")
    first.stop(signal.SIGKILL)  # a crash in the middle of the walk
    row = stored()
    assert row["closed"] == 0 and row["end"] is None and row["last_motion"] >= alive["last_motion"] > row["start"]
    assert list((first.data_dir / "clips" / "cong-lang").glob("*.part"))  # the clip that was being written

    second = daemon(**sections)
    end = end_of(district, new["id"])
    assert end["interrupted"] is True and new["interrupted"] is False
    assert end["start"] == new["start"] and end["end"] == round(row["last_motion"], 3) > end["start"]
    assert end["clip_url"] is None and end["snapshot_url"] == f"/api/v1/events/{new['id']}/snapshot.jpg"
    listed = next(e for e in second.client.request("GET", "/events?since=0")["events"] if e["id"] == new["id"])
    assert listed["end"] == row["last_motion"] and listed["interrupted"] is True and listed["clip_url"] is None
    assert "camera events repaired closed=1" in second.output()


def test_an_event_open_at_a_clean_stop_ends_on_mqtt(broker, ioc, make_config, start_app, slow_walk):
    """`systemctl stop` in the middle of an event: the cameras stop before the uplink, so
    the event's `end` (with its clip) reaches the IOC, at the latest after the next start;
    the uplink stored every change before it stopped (nothing owed, nothing sent twice)."""
    import sqlite3
    from contextlib import closing
    district = ioc([f"{SITE}/camera/+/event"])
    config = make_config(cameras=[{"name": "cong-lang", "source": str(slow_walk), "pre_s": 1, "post_s": 1}],
                         mqtt=broker.mqtt_config())
    app = start_app(config)
    new = wait_until(lambda: [e for e in events_of(district) if e["type"] == "new"], 60, "an event to start")[0]
    app.stop()
    with closing(sqlite3.connect(Path(config.storage.dir) / "langso.db")) as db:  # all in the outbox: nothing owed
        assert db.execute("SELECT COUNT(*) FROM camera_events WHERE handed IS NULL OR handed != 'end'").fetchone()[0] == 0
    start_app(config)
    end = end_of(district, new["id"])
    assert end["interrupted"] is False and end["end"] > end["start"] and end["clip_url"]
