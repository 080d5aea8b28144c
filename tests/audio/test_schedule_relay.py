"""A scheduled radio relay (tiếp phát) and the power: `langso run` as a real process,
killed with SIGKILL (as good as a power cut), a real HTTP stream, the real SQLite file."""
from __future__ import annotations

import json
import signal
import time
import wave
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from controller.db import Database
from controller.scheduler import Due
from tests.audio.conftest import wav_seconds
from tests.conftest import wait_until

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def sched_items(listing: dict) -> list[dict]:
    return [i for i in [listing["playing"] or {}] + listing["queue"] if i.get("id", "").startswith("sched-")]


def test_a_relay_cut_by_a_power_cut_resumes_once_inside_its_window_and_not_after_it(daemon, http_server, media):
    http_server.routes["/vov1.mp3"] = (200, "audio/mpeg", media("mp3", 60.0).read_bytes())
    d = daemon()
    now = datetime.now(VN)
    start, end = ((now + timedelta(minutes=m)).replace(second=0, microsecond=0) for m in (-1, 2))
    d.client.request("POST", "/schedules", {"kind": "broadcast", "target": "vov1", "start": start.strftime("%H:%M"),
                                            "end": end.strftime("%H:%M"), "payload": {"stream_url": f"{http_server.url}/vov1.mp3"}})
    playing = wait_until(lambda: d.client.request("GET", "/broadcasts")["playing"], what="the relay playing")
    assert playing["id"].startswith("sched-") and playing["until"] == end.timestamp()

    d.stop(signal.SIGKILL)  # a power cut inside the window
    d.start()
    wait_until(lambda: d.output().count("schedule due") == 2, what="the scheduler catching up")
    wait_until(lambda: d.client.request("GET", "/broadcasts")["playing"], what="the relay playing again")
    [again] = sched_items(d.client.request("GET", "/broadcasts"))  # one copy, not a second one beside it
    assert (again["id"], again["until"]) == (playing["id"], end.timestamp())  # for the rest of the window only

    d.stop(signal.SIGKILL)  # a power cut again, and this time the power comes back after the window's end:
    db = Database(d.data_dir / "langso.db")  # the clock moves on (the item's window end now lies behind it)
    data = json.loads(db.one("SELECT data FROM broadcast_items WHERE id=?", (playing["id"],))["data"])
    db.execute("UPDATE broadcast_items SET data=? WHERE id=?", (json.dumps(data | {"until": time.time() - 1}), playing["id"]))
    db.close()
    d.start()
    wait_until(lambda: d.output().count("schedule due") == 3, what="the scheduler catching up")
    listing = d.client.request("GET", "/broadcasts")
    assert sched_items(listing) == []  # not played again
    [record] = [r for r in listing["log"] if r["id"] == playing["id"]]
    assert record["outcome"] == "failed" and record["reason"].startswith("not played again: it was playing when the daemon stopped")
    assert d.stop() == 0


def test_a_relay_window_longer_than_max_stream_s_plays_and_is_cut_there(audio_app, http_server, media, until):
    app = audio_app(max_stream_s=2, chime=False)
    http_server.routes["/vov1.mp3"] = (200, "audio/mpeg", media("mp3", 5.0).read_bytes())
    pid = app.house.store.add_schedule("broadcast", "vov1", list(range(7)), "06:00", "08:00",
                                       {"stream_url": f"{http_server.url}/vov1.mp3"}, "test")
    [programme] = [p for p in app.house.programmes() if p.id == pid]
    queue = app.house.broadcasts.queue
    six = datetime.combine(datetime.now(VN).date(), dtime(6), VN)
    shift = six.timestamp() - time.time()
    queue.clock = lambda: time.time() + shift  # the house's clock says 06:00
    app.house.fire_schedule(Due(six, programme, "start"))  # a two-hour window; audio.max_stream_s is 2 s here
    until(lambda: queue.listing()["log"], what="the relay ended")
    [record] = queue.listing()["log"]
    assert (record["id"], record["outcome"]) == (f"sched-{pid}-{six:%Y%m%d-%H%M}", "played")
    [wav] = Path(app.config.audio.wav_dir).glob(f"*-sched-{pid}-*.wav")
    assert abs(wav_seconds(wav) - 2.0) < 0.1  # cut at audio.max_stream_s


def relay_in_window(app, http_server, seconds_left: float) -> tuple[int, str]:
    """A 06:00-06:01 relay of /vov1.mp3 fired with the house's clock at `seconds_left`
    before 06:01: (its programme id, its item id)."""
    pid = app.house.store.add_schedule("broadcast", "vov1", list(range(7)), "06:00", "06:01",
                                       {"stream_url": f"{http_server.url}/vov1.mp3"}, "test")
    [programme] = [p for p in app.house.programmes() if p.id == pid]
    six = datetime.combine(datetime.now(VN).date(), dtime(6), VN)
    shift = six.timestamp() + 60 - seconds_left - time.time()
    app.house.broadcasts.queue.clock = lambda: time.time() + shift
    app.house.fire_schedule(Due(six, programme, "start"))
    return pid, f"sched-{pid}-{six:%Y%m%d-%H%M}"


def test_a_scheduled_relay_whose_stream_is_not_up_yet_or_drops_is_tried_again_inside_its_window(
        audio_app, http_server, media, monkeypatch, until):
    """Power back at 05:59, the 4G router still connecting at 06:00: the stream does not
    answer; later it drops halfway. The relay tries again (audio.relay.RETRY_S, silence
    in between) while its window lasts, instead of leaving the village without the
    programme for the rest of it; the proof of broadcast says it was cut."""
    from audio import relay

    monkeypatch.setattr(relay, "RETRY_S", 1.0)
    app = audio_app(stream_timeout_s=1, chime=False)
    tone = media("mp3", 60.0).read_bytes()
    http_server.routes["/vov1.mp3"] = (200, "audio/mpeg", tone)
    http_server.refuse_first["/vov1.mp3"] = 2                       # not answering twice
    http_server.hang_once["/vov1.mp3"] = media("mp3", 2.0, name="cut").read_bytes()  # then 2 s, and silence
    _, item_id = relay_in_window(app, http_server, seconds_left=16)
    queue = app.house.broadcasts.queue
    until(lambda: queue.listing()["log"], what="the relay ended")
    [record] = queue.listing()["log"]
    assert (record["id"], record["outcome"], record["reason_kind"]) == (item_id, "played", "stream_reconnected"), record
    assert record["reason_values"]["cuts"] == 3 and record["reason_values"]["played_s"] > 2, record
    assert len([r for r in http_server.requests if r[0] == "/vov1.mp3"]) == 4  # 503, 503, cut, the rest of the window
    [wav] = Path(app.config.audio.wav_dir).glob(f"*-{item_id}.wav")
    with wave.open(str(wav)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert np.abs(pcm[-w.getframerate():]).max() > 1000  # the stream itself at the end, not silence


def test_a_scheduled_relay_that_never_answers_fails_at_its_end_saying_so(audio_app, http_server, monkeypatch, until):
    from audio import relay

    monkeypatch.setattr(relay, "RETRY_S", 1.0)
    app = audio_app(stream_timeout_s=1, chime=False)
    http_server.refuse_first["/vov1.mp3"] = 1000
    _, item_id = relay_in_window(app, http_server, seconds_left=5)
    queue = app.house.broadcasts.queue
    until(lambda: queue.listing()["log"], what="the relay ended")
    [record] = queue.listing()["log"]
    assert (record["id"], record["outcome"], record["reason_kind"]) == (item_id, "failed", "source_unreachable"), record
    tries = len(http_server.requests)
    assert tries >= 2 and record["reason"].endswith(f"(tried {tries} times until the end of its time)"), record
