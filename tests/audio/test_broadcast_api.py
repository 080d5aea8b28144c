"""Broadcasts through the daemon: the JSON API, uploads, the WAV sink, the amp relay on
MockFactory pins, preemption, streams, the inbox, schedules, the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, time as dtime, timedelta
from pathlib import Path
from typing import Any

import av
import requests

from audio.media import decode
from controller.client import ApiError, Client
from controller.scheduler import Due
from tests.audio.conftest import wav_seconds
from tests.conftest import cli_client
import pytest

LATER = time.time() + 30 * 86400  # queued to play in a month: it waits


class Recorder:
    def __init__(self, app):
        self.events: list[tuple[str, dict]] = []
        app.house.bus.subscribe(lambda topic, payload: self.events.append((topic, payload)))

    def logs(self) -> list[dict]:
        return [p for t, p in self.events if t == "broadcast.log"]

    def amp(self) -> list[bool]:
        return [p["on"] for t, p in self.events if t == "relay" and p["name"] == "amp"]


def client_for(app) -> Client:
    return cli_client(app.config.storage.dir)


def upload(app, path: Path, token: str | None = None, **fields) -> requests.Response:
    info = json.loads((Path(app.config.storage.dir) / "cli.json").read_text())
    with open(path, "rb") as f:
        return requests.post(f"{info['url']}/api/v1/broadcasts", headers={"Authorization": f"Bearer {token or info['token']}"},
                             files={"file": (path.name, f, "application/octet-stream")}, data=fields, timeout=30)


def out_dir(app) -> Path:
    return Path(app.config.audio.wav_dir)


def test_text_webm_and_m4a_come_out_of_the_wav_sink_with_the_amp_around(audio_app, media, until):
    app = audio_app()
    rec = Recorder(app)
    api = client_for(app)
    text = api.request("POST", "/broadcasts", {"text": "Thông báo: 19h30 họp thôn tại nhà văn hóa."})
    assert text["kind"] == "text" and text["state"] == "queued" and text["who"] == "cli"
    webm = upload(app, media("webm", 1.5))
    m4a = upload(app, media("m4a", 1.5), priority="priority", repeat="2")
    assert webm.status_code == 201 and m4a.status_code == 201, (webm.text, m4a.text)
    ids = [text["id"], webm.json()["id"], m4a.json()["id"]]
    until(lambda: len(rec.logs()) == 3 and rec.amp() and not rec.amp()[-1], what="three broadcasts and amp off")
    assert {r["id"]: r["outcome"] for r in rec.logs()} == dict.fromkeys(ids, "played")
    # amp on before the first record, off after the last; off now
    topics = [(t, p.get("on")) for t, p in rec.events if t in ("relay", "broadcast.log")]
    assert topics[0] == ("relay", True) and topics[-1] == ("relay", False)
    assert {r["name"]: r["on"] for r in api.request("GET", "/relays")["relays"]}["amp"] is False
    wavs = {p.name.split("-", 2)[2][:-4]: p for p in out_dir(app).glob("*.wav")}
    assert set(wavs) == set(ids)
    assert wav_seconds(wavs[webm.json()["id"]]) > 1.5               # chime + recording + chime
    assert wav_seconds(wavs[m4a.json()["id"]]) > 3.0                # repeated twice
    assert wav_seconds(wavs[text["id"]]) > 2.0                      # espeak speech
    listing = api.request("GET", "/broadcasts")
    assert listing["playing"] is None and listing["queue"] == [] and len(listing["log"]) == 3
    assert not list((Path(app.config.storage.dir) / "broadcasts" / "uploads").iterdir())  # played uploads removed


def test_a_recording_sent_again_with_its_id_is_kept_once(audio_app, media, until):
    """The phone sends a recording again with the same id (its answer was lost on 3G): the
    queue keeps the first, and the second copy of the file is not left in uploads; once it
    has played, a third try is refused (id_used) and leaves no file either."""
    app = audio_app(chime=False)
    uploads = Path(app.config.storage.dir) / "broadcasts" / "uploads"
    recording = media("m4a", 1.0)
    first = upload(app, recording, id="web-1a2b", at=str(LATER))
    again = upload(app, recording, id="web-1a2b", at=str(LATER))
    assert (first.status_code, again.status_code) == (201, 201) and again.json() == first.json()
    assert len(list(uploads.iterdir())) == 1, list(uploads.iterdir())
    api = client_for(app)
    api.request("DELETE", "/broadcasts/web-1a2b")
    until(lambda: not list(uploads.iterdir()), what="the cancelled recording removed")
    late = upload(app, recording, id="web-1a2b")
    assert late.status_code == 409 and late.json()["kind"] == "id_used"
    assert not list(uploads.iterdir())


def test_emergency_preempts_a_normal_item_which_plays_again(audio_app, media, until):
    app = audio_app(chime=False)
    rec = Recorder(app)
    api = client_for(app)
    normal = upload(app, media("mp3", 6.0)).json()
    until(lambda: (api.request("GET", "/broadcasts")["playing"] or {}).get("id") == normal["id"], what="normal playing")
    emergency = api.request("POST", "/broadcasts", {"text": "Khẩn cấp: lũ về, bà con di chuyển lên chỗ cao.", "priority": "emergency"})
    until(lambda: len(rec.logs()) == 3, what="three log records")
    assert [(r["id"], r["outcome"]) for r in rec.logs()] == [
        (normal["id"], "preempted"), (emergency["id"], "played"), (normal["id"], "played")]
    assert rec.logs()[0]["reason"] == f"preempted by emergency {emergency['id']}"
    assert (rec.logs()[0]["reason_kind"], rec.logs()[0]["reason_values"]) == ("preempted_by_emergency", {"id": emergency["id"]})
    assert rec.logs()[0]["ended"] <= rec.logs()[1]["started"]
    assert len(list(out_dir(app).glob(f"*-{normal['id']}.wav"))) == 2


def test_an_emergency_for_a_later_time_interrupts_what_plays_when_its_time_comes(audio_app, media, until):
    app = audio_app(chime=False)
    rec = Recorder(app)
    api = client_for(app)
    normal = upload(app, media("mp3", 20.0)).json()
    until(lambda: (api.request("GET", "/broadcasts")["playing"] or {}).get("id") == normal["id"], what="normal playing")
    emergency = api.request("POST", "/broadcasts", {"text": "Khẩn cấp: lũ về.", "priority": "emergency", "at": time.time() + 2})
    until(lambda: len(rec.logs()) == 2 and (api.request("GET", "/broadcasts")["playing"] or {}).get("id") == normal["id"],
          what="the emergency played, then the normal item again")
    api.request("DELETE", f"/broadcasts/{normal['id']}")  # it plays again from the start: enough
    assert [(r["id"], r["outcome"]) for r in rec.logs()] == [(normal["id"], "preempted"), (emergency["id"], "played")]
    assert rec.logs()[0]["reason"] == f"preempted by emergency {emergency['id']}"
    assert rec.logs()[0]["ended"] >= emergency["at"] and rec.logs()[1]["started"] >= emergency["at"]
    until(lambda: len(rec.logs()) == 3, what="the normal item cancelled")


def test_bad_input_is_refused_and_the_queue_keeps_working(audio_app, tmp_path: Path, media, until):
    app = audio_app(max_upload_mb=1, quiet_hours="00:00-23:59")  # quiet: nothing normal plays, the queue holds
    api = client_for(app)
    kept = api.request("POST", "/broadcasts", {"text": "Giữ nguyên trong hàng đợi"})
    for body, message in [({"text": ""}, "send exactly one of"), ({"text": "   "}, "text: is empty"),
                          ({"text": "x", "priority": "urgent"}, "priority"), ({"text": "x" * 6000}, "text: 6000 characters"),
                          ({"text": "x", "repeat": 50}, "repeat")]:
        with pytest.raises(ApiError) as err:
            api.request("POST", "/broadcasts", body)
        assert err.value.status == 400 and message in err.value.message
    junk = tmp_path / "virus.m4a"
    junk.write_bytes(os.urandom(4000))
    bad = upload(app, junk)
    assert bad.status_code == 400 and "file: not a playable audio file" in bad.json()["error"]
    big = tmp_path / "long.wav"
    big.write_bytes(os.urandom(3 * 2**20))
    too_big = upload(app, big)
    assert too_big.status_code == 413 and "max_upload_mb" in too_big.json()["error"]
    with pytest.raises(ApiError) as err:
        api.request("DELETE", "/broadcasts/nope")
    assert err.value.status == 404
    assert [i["id"] for i in api.request("GET", "/broadcasts")["queue"]] == [kept["id"]]
    assert not list((Path(app.config.storage.dir) / "broadcasts" / "uploads").iterdir())
    assert api.request("DELETE", f"/broadcasts/{kept['id']}") == {"id": kept["id"], "cancelled": True}
    assert api.request("GET", "/broadcasts")["queue"] == []


def test_an_announcement_pauses_a_relay_that_goes_on_after_it(audio_app, http_server, media, until):
    """The morning's scheduled VOV relay lasts up to an hour: the village head's announcement,
    normal as most are, does not wait behind it. The relay is paused for it and goes on
    after it for what is left of its window; a relay sent by hand gives way to a `priority`
    one only. A short item (a recording) is not cut by a normal one."""
    import time

    app = audio_app(chime=False)
    rec = Recorder(app)
    api = client_for(app)
    http_server.routes["/vov1.mp3"] = (200, "audio/mpeg", media("mp3", 30.0).read_bytes())
    vov = f"{http_server.url}/vov1.mp3"
    broadcasts = app.house.broadcasts

    def playing() -> str:
        return (api.request("GET", "/broadcasts")["playing"] or {}).get("id", "")

    scheduled = broadcasts.submit(stream_url=vov, source="schedule", who="schedule:1", until=time.time() + 8)
    until(lambda: playing() == scheduled["id"], what="the scheduled relay playing")
    time.sleep(1.0)
    notice = api.request("POST", "/broadcasts", {"text": "Mời bà con đi họp lúc 8 giờ."})
    until(lambda: len(rec.logs()) == 3, what="the relay paused, the notice read, the relay's rest", timeout=60)
    assert [(r["id"], r["outcome"]) for r in rec.logs()] == [
        (scheduled["id"], "preempted"), (notice["id"], "played"), (scheduled["id"], "played")]
    assert (rec.logs()[0]["reason_kind"], rec.logs()[0]["reason_values"]) == ("paused_for_announcement", {"id": notice["id"]})
    assert rec.logs()[2]["ended"] <= scheduled["until"] + 1.5        # the rest of its window only

    by_hand = api.request("POST", "/broadcasts", {"stream_url": vov, "duration_s": 6})
    until(lambda: playing() == by_hand["id"], what="the relay sent by hand playing")
    normal = api.request("POST", "/broadcasts", {"text": "Thông báo thường."})
    time.sleep(1.5)
    assert playing() == by_hand["id"]                                  # a normal one waits behind a normal relay ...
    urgent = api.request("POST", "/broadcasts", {"text": "Thông báo ưu tiên.", "priority": "priority"})
    until(lambda: len(rec.logs()) == 7, what="... a priority one does not", timeout=60)
    assert [(r["id"], r["outcome"]) for r in rec.logs()[3:]] == [
        (by_hand["id"], "preempted"), (urgent["id"], "played"), (by_hand["id"], "played"), (normal["id"], "played")]

    recording = upload(app, media("mp3", 4.0)).json()
    until(lambda: playing() == recording["id"], what="a recording playing")
    later = api.request("POST", "/broadcasts", {"text": "Thông báo sau.", "priority": "priority"})
    until(lambda: len(rec.logs()) == 9, what="the recording, then the next")
    assert [(r["id"], r["outcome"]) for r in rec.logs()[7:]] == [(recording["id"], "played"), (later["id"], "played")]


def test_an_emergency_does_not_wait_for_a_relay_whose_stream_does_not_answer(audio_app, silent_port, until):
    """The morning's scheduled relay is connecting to a radio stream that does not answer
    (FFmpeg waits `stream_timeout_s` for it, here 60 s, and a scheduled relay tries again
    while its window lasts): an emergency sent meanwhile is read at once, not after that
    wait (until 2026-12-06 it waited for the connection to time out)."""
    import time

    app = audio_app(chime=False, stream_timeout_s=60)
    rec = Recorder(app)
    api = client_for(app)
    relay = app.house.broadcasts.submit(stream_url=f"http://127.0.0.1:{silent_port}/vov1.mp3", source="schedule",
                                        who="schedule:1", until=time.time() + 120)
    until(lambda: (api.request("GET", "/broadcasts")["playing"] or {}).get("id") == relay["id"], what="the relay connecting")
    time.sleep(1.0)
    emergency = api.request("POST", "/broadcasts", {"text": "Khẩn cấp: nước lên, bà con lên chỗ cao.", "priority": "emergency"})
    until(lambda: [r["id"] for r in rec.logs() if r["outcome"] == "played"] == [emergency["id"]], timeout=30,
          what="the emergency read before the stream's 60 s timeout")
    assert rec.logs()[0]["id"] == relay["id"] and rec.logs()[0]["outcome"] == "preempted"


def test_stream_relay_stops_after_duration_and_a_dead_stream_fails(audio_app, http_server, silent_port, media, until):
    app = audio_app(stream_timeout_s=1)
    rec = Recorder(app)
    api = client_for(app)
    http_server.routes["/vov1.mp3"] = (200, "audio/mpeg", media("mp3", 5.0).read_bytes())
    http_server.routes["/short.mp3"] = (200, "audio/mpeg", media("mp3", 2.0, name="short").read_bytes())
    relay = api.request("POST", "/broadcasts", {"stream_url": f"{http_server.url}/vov1.mp3", "duration_s": 1.5})
    # a stream behind a password with an @ in it: no part of it is shown (FFmpeg's error quotes the URL)
    dead = api.request("POST", "/broadcasts", {"stream_url": f"http://relay:Pa@ss1@127.0.0.1:{silent_port}/live"})
    short = api.request("POST", "/broadcasts", {"stream_url": f"{http_server.url}/short.mp3", "duration_s": 10})
    after = api.request("POST", "/broadcasts", {"text": "Vẫn phát được"})
    until(lambda: len(rec.logs()) == 4, what="four records")
    outcomes = {r["id"]: r for r in rec.logs()}
    assert outcomes[relay["id"]]["outcome"] == "played" and outcomes[after["id"]]["outcome"] == "played"
    assert outcomes[dead["id"]]["outcome"] == "failed" and "cannot open" in outcomes[dead["id"]]["reason"]
    assert "Pa@" not in outcomes[dead["id"]]["reason"] and "ss1" not in outcomes[dead["id"]]["reason"]
    assert (outcomes[dead["id"]]["reason_kind"], outcomes[dead["id"]]["reason_values"]) == (
        "source_unreachable", {"source": f"http://***@127.0.0.1:{silent_port}/live"})
    ended = outcomes[short["id"]]  # a relay whose stream ends before its time
    assert (ended["outcome"], ended["reason"]) == ("failed", "the stream ended after 2 s of 10 s")
    assert (ended["reason_kind"], ended["reason_values"]) == ("stream_ended", {"played_s": 2, "limit_s": 10})
    [relay_wav] = out_dir(app).glob(f"*-{relay['id']}.wav")
    assert abs(wav_seconds(relay_wav) - 1.5) < 0.1
    audio = api.request("GET", "/status")["audio"]
    assert audio["output"].startswith("wav:")
    failure = audio["last_failure"]  # the last that failed, with the kind the page words (Hệ thống)
    assert (failure["id"], failure["reason_kind"], failure["reason_values"]) == (short["id"], "stream_ended", {"played_s": 2, "limit_s": 10})


def test_preview_status_and_selftest(audio_app, tmp_path: Path):
    app = audio_app()
    info = json.loads((Path(app.config.storage.dir) / "cli.json").read_text())
    resp = requests.post(f"{info['url']}/api/v1/broadcasts/preview", json={"text": "Xin chào 5 thôn"},
                         headers={"Authorization": f"Bearer {info['token']}"}, timeout=60)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "audio/mpeg"
    (tmp_path / "p.mp3").write_bytes(resp.content)
    with av.open(str(tmp_path / "p.mp3")) as f:
        assert f.streams.audio[0].codec_context.name.startswith("mp3") and f.duration / 1e6 > 0.5
    status = client_for(app).request("GET", "/status")["audio"]
    assert status["tts"]["engines"][0]["name"] == "espeak" and status["queue"] == 0
    result = client_for(app).request("POST", "/selftest")
    audio = [r for r in result["results"] if r["part"] == "audio"][0]
    assert audio["ok"] and "test tone" in audio["detail"]
    [tone] = out_dir(app).glob("*-selftest.wav")
    assert abs(wav_seconds(tone) - 1.0) < 0.01
    tts = [r for r in result["results"] if r["part"] == "tts"][0]
    assert tts["ok"] and tts["detail"].startswith("spoke with espeak; espeak: ready (breaker closed)")
    assert status["underruns"] == 0 and status["last_failure"] is None and status["tts"]["engines"][0]["usable"]


def test_piper_without_its_model_is_named_and_the_chain_falls_through(audio_app, tmp_path: Path, until):
    app = audio_app(tts=["piper", "espeak"], piper_model=str(tmp_path / "vi_VN-vais1000-medium.onnx"))
    rec = Recorder(app)
    api = client_for(app)
    item = api.request("POST", "/broadcasts", {"text": "Thông báo họp thôn lúc 8h."})
    until(lambda: rec.logs(), what="the record")
    assert rec.logs()[0]["id"] == item["id"] and rec.logs()[0]["outcome"] == "played"   # espeak spoke
    status = api.request("GET", "/status")
    piper, espeak = status["audio"]["tts"]["engines"]
    assert piper["name"] == "piper" and not piper["usable"] and "audio.piper_model" in piper["last_error"]
    assert espeak["usable"] and espeak["breaker"] == "closed"
    result = {r["part"]: r for r in api.request("POST", "/selftest")["results"]}
    assert result["tts"]["ok"] and result["tts"]["detail"].startswith("spoke with espeak")
    assert "piper: audio.piper_model: voice model" in result["tts"]["detail"]


def test_no_engine_that_can_run_fails_the_tts_selftest(audio_app, tmp_path: Path):
    app = audio_app(tts=["piper"], piper_model=str(tmp_path / "missing.onnx"))
    api = client_for(app)
    result = {r["part"]: r for r in api.request("POST", "/selftest")["results"]}
    assert not result["tts"]["ok"] and "no engine could speak" in result["tts"]["detail"]
    status = api.request("GET", "/status")
    assert "no TTS engine can run here" in status["problems"]["audio"]


def test_district_token_lands_in_the_inbox_until_the_head_approves(audio_app, until):
    app = audio_app()
    rec = Recorder(app)
    token = app.house.store.add_token("ioc", {"broadcast"})
    ioc = Client(client_for(app).url, token)
    bulletin = ioc.request("POST", "/broadcasts", {"text": "Bản tin huyện Yên Định"})
    assert bulletin["state"] == "inbox" and bulletin["who"] == "token:ioc"
    listing = ioc.request("GET", "/broadcasts")
    assert [i["id"] for i in listing["inbox"]] == [bulletin["id"]] and listing["queue"] == []
    approved = client_for(app).request("POST", f"/broadcasts/{bulletin['id']}/approve", {})
    assert approved["state"] == "queued"
    until(lambda: rec.logs(), what="the bulletin played")
    assert rec.logs()[0]["id"] == bulletin["id"] and rec.logs()[0]["outcome"] == "played"


def relay_programme(app, http_server, media, seconds: float, now: dtime) -> tuple[int, Any, Any, Any]:
    """A programme relaying a `seconds` long stream 06:00-06:30 every day, with the house's
    clock set to `now` today: (its id, the programme, today, the house's time zone)."""
    http_server.routes["/vov1.mp3"] = (200, "audio/mpeg", media("mp3", seconds).read_bytes())
    pid = app.house.store.add_schedule("broadcast", "vov1", list(range(7)), "06:00", "06:30",
                                       {"stream_url": f"{http_server.url}/vov1.mp3"}, "test")
    programme = [p for p in app.house.programmes() if p.id == pid][0]
    tz = app.house.broadcasts.tz
    today = datetime.now(tz).date()
    shift = datetime.combine(today, now, tz).timestamp() - time.time()
    app.house.broadcasts.queue.clock = lambda: time.time() + shift
    return pid, programme, today, tz


def test_scheduled_stream_relay_window(audio_app, http_server, media, until):
    app = audio_app()
    rec = Recorder(app)
    pid, programme, today, tz = relay_programme(app, http_server, media, 3.0, dtime(6, 29, 58))
    app.house.fire_schedule(Due(datetime.combine(today, dtime(6), tz), programme, "start"))  # caught up at 06:29:58
    listing = client_for(app).request("GET", "/broadcasts")
    item = listing["playing"] or listing["queue"][0]
    assert item["kind"] == "stream" and item["source"] == "schedule" and item["duration_s"] == pytest.approx(2.0, abs=0.1)
    assert item["until"] == datetime.combine(today, dtime(6, 30), tz).timestamp()
    until(lambda: rec.logs(), what="the relay ended")
    assert rec.logs()[0]["outcome"] == "played" and rec.logs()[0]["who"] == f"schedule:{pid}"
    app.house.fire_schedule(Due(datetime.combine(today, dtime(6), tz), programme, "start"))  # a restart at 06:29:59
    listing = client_for(app).request("GET", "/broadcasts")
    assert listing["playing"] is None and listing["queue"] == [] and len(listing["log"]) == 1  # not played twice


def test_the_end_of_its_schedule_window_stops_a_relay_and_its_record_says_so(audio_app, http_server, media, until):
    app = audio_app()
    rec = Recorder(app)
    pid, programme, today, tz = relay_programme(app, http_server, media, 30.0, dtime(6, 10))
    app.house.fire_schedule(Due(datetime.combine(today, dtime(6), tz), programme, "start"))
    until(lambda: (client_for(app).request("GET", "/broadcasts")["playing"] or {}).get("who") == f"schedule:{pid}",
          what="the relay playing")
    app.house.fire_schedule(Due(datetime.combine(today, dtime(6, 30), tz), programme, "end"))
    until(lambda: rec.logs(), what="the relay stopped")
    [record] = rec.logs()
    assert (record["outcome"], record["reason"]) == ("preempted", f"schedule window {pid} ended")
    assert (record["reason_kind"], record["reason_values"]) == ("window_ended", {"schedule": pid})


def test_langso_say_goes_through_the_daemon(audio_app, until):
    app = audio_app()
    rec = Recorder(app)
    api = client_for(app)
    env = dict(os.environ, LANGSO_URL=api.url, LANGSO_TOKEN=api.token)
    done = subprocess.run([sys.executable, "-m", "controller", "say", "Mời", "bà", "con", "đi họp lúc 8h", "--priority",
                           "priority", "--repeat", "2"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "(priority, x2) added to the queue" in done.stdout and "warning" not in done.stderr
    until(lambda: rec.logs(), what="the CLI broadcast played")
    assert rec.logs()[0]["priority"] == "priority" and rec.logs()[0]["source"] == "cli"
    assert rec.logs()[0]["text"] == "Mời bà con đi họp lúc 8h"  # unquoted words, joined with spaces
    for empty in ([" "], [""], ["", " "]):
        bad = subprocess.run([sys.executable, "-m", "controller", "say", *empty], env=env, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and bad.stderr.startswith("error: text: is empty"), bad.stderr


def test_the_wav_sink_of_the_demo_keeps_only_its_newest_files(audio_app, tmp_path: Path, until):
    """Simulated hardware writes a WAV per broadcast: a long-running demo (or a Pi left on
    the WAV sink) keeps WAV_KEEP_FILES of them, the oldest removed, so the card never fills."""
    from audio.player import WAV_KEEP_FILES

    out = tmp_path / "data" / "audio-out"
    out.mkdir(parents=True)
    old = []
    for i in range(WAV_KEEP_FILES + 5):
        path = out / f"20240101-{i // 60:04d}{i % 60:02d}-old{i}.wav"
        path.write_bytes(b"RIFF")
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
        old.append(path)
    app = audio_app()
    rec = Recorder(app)
    item = client_for(app).request("POST", "/broadcasts", {"text": "Thông báo mất điện chiều nay."})
    until(lambda: rec.logs(), what="the broadcast played")
    assert rec.logs()[0]["outcome"] == "played"
    assert len(list(out.glob("*.wav"))) == WAV_KEEP_FILES and list(out.glob(f"*-{item['id']}.wav"))
    assert not any(p.exists() for p in old[:6]) and all(p.exists() for p in old[6:])


def test_later_items_are_rendered_ahead_into_the_cache(audio_app, until):
    app = audio_app()
    service = app.house.broadcasts
    later = client_for(app).request("POST", "/broadcasts", {"text": "Chủ nhật tuần này 7h tổng vệ sinh đường làng.",
                                                            "at": LATER})
    assert later["state"] == "queued"
    spoken = service.speech.parts(later["text"])
    until(lambda: all(service.speech.cache.get(service.speech.engines[0], part) for part in spoken), what="render ahead")


def test_a_stream_dying_mid_way_fails_and_cancel_stops_what_plays(audio_app, http_server, media, until):
    app = audio_app(stream_timeout_s=1)
    rec = Recorder(app)
    api = client_for(app)
    http_server.hang_after["/dying.mp3"] = media("mp3", 3.0).read_bytes()
    http_server.routes["/long.mp3"] = (200, "audio/mpeg", media("mp3", 30.0, name="long").read_bytes())
    dying = api.request("POST", "/broadcasts", {"stream_url": f"{http_server.url}/dying.mp3", "duration_s": 20})
    long = api.request("POST", "/broadcasts", {"stream_url": f"{http_server.url}/long.mp3", "duration_s": 25})
    until(lambda: (api.request("GET", "/broadcasts")["playing"] or {}).get("id") == long["id"], what="the second relay")
    assert api.request("DELETE", f"/broadcasts/{long['id']}") == {"id": long["id"], "cancelled": True}
    until(lambda: len(rec.logs()) == 2, what="two records")
    first, second = rec.logs()
    assert first["id"] == dying["id"] and first["outcome"] == "failed"
    assert "dying.mp3 stopped sending audio after 3.0 s" in first["reason"]
    assert (first["reason_kind"], first["reason_values"]) == ("source_stopped", {"source": f"{http_server.url}/dying.mp3",
                                                                                  "seconds": 3.0})
    assert second["id"] == long["id"] and second["outcome"] == "preempted" and second["reason"] == "cancelled by cli"
    assert (second["reason_kind"], second["reason_values"]) == ("cancelled", {"who": "cli"})
    listing = api.request("GET", "/broadcasts")
    assert listing["playing"] is None and listing["queue"] == []
    assert f"last broadcast {dying['id']} failed" in " ".join(api.request("GET", "/status")["audio"]["problems"])


ASOUNDRC = 'pcm.!default {{\n type file\n slave.pcm "null"\n file "{out}"\n format "wav"\n}}\n'


def test_a_missing_sound_card_shows_at_start_and_broadcasts_wait_until_it_is_plugged_in(audio_app, tmp_path: Path,
                                                                                        monkeypatch, until):
    """The real default output through PortAudio: this machine has no sound card. ALSA's
    `file` plugin, configured in $HOME/.asoundrc later on, stands for the card plugged in."""
    from audio import broadcast_worker
    from controller.telemetry import telemetry

    home, played = tmp_path / "home", tmp_path / "played.wav"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("ALSA_CONFIG_PATH", raising=False)
    monkeypatch.setattr(broadcast_worker, "OUTPUT_RECHECK_S", 0.2)
    app = audio_app(output="default")
    rec = Recorder(app)
    api = client_for(app)
    status = api.request("GET", "/status")  # the technician's first `langso status`, before anything has played
    assert status["problems"]["audio"].startswith("audio output 'default' unusable: audio.output: no sound card")
    assert "broadcasts wait in the queue" in status["problems"]["audio"]
    assert status["audio"]["output_usable"] is False and status["audio"]["last_failure"] is None
    assert "no sound card" in telemetry(app.house.status())["problems"]["audio"]  # the IOC sees it too

    env = dict(os.environ, LANGSO_URL=api.url, LANGSO_TOKEN=api.token)
    said = subprocess.run([sys.executable, "-m", "controller", "say", "Thử", "loa"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert said.returncode == 0 and "added to the queue" in said.stdout
    assert said.stderr.startswith("warning: the sound output does not work: audio.output: no sound card for 'default'")
    assert "This broadcast waits in the queue and plays once it works" in said.stderr
    emergency = api.request("POST", "/broadcasts", {"text": "Cháy", "priority": "emergency"})
    assert emergency["state"] == "queued" and "the sound output does not work" in emergency["warning"]
    listing = api.request("GET", "/broadcasts")
    assert [i["text"] for i in listing["queue"]] == ["Cháy", "Thử loa"] and listing["log"] == []
    assert rec.amp() == []  # the amplifier stays off: nothing can play

    (home / ".asoundrc").write_text(ASOUNDRC.format(out=played))  # the card is plugged in
    until(lambda: len(rec.logs()) == 2, what="both broadcasts played once the card was there")
    assert [(r["text"], r["outcome"]) for r in rec.logs()] == [("Cháy", "played"), ("Thử loa", "played")]
    until(lambda: rec.amp()[-1:] == [False], what="the amplifier off after the session (after its last record)")
    assert rec.amp() == [True, False]
    assert wav_seconds(played) > 1.0  # the last item reached the card (the file plugin keeps one at a time)
    status = api.request("GET", "/status")
    assert "audio" not in status["problems"] and status["audio"]["output_usable"] is True
    assert "warning" not in api.request("POST", "/broadcasts", {"text": "Xong", "at": LATER})


def test_a_sound_card_named_wrong_is_reported_at_start_and_the_queue_keeps_its_items(audio_app):
    app = audio_app(output="no-such-card")
    api = client_for(app)
    status = api.request("GET", "/status")
    assert "no output device named 'no-such-card'" in status["problems"]["audio"]
    assert status["audio"]["output"] == "no-such-card" and status["audio"]["output_usable"] is False
    first = api.request("POST", "/broadcasts", {"text": "Thử loa"})
    assert "no output device named 'no-such-card'" in first["warning"]
    listing = api.request("GET", "/broadcasts")
    assert [i["id"] for i in listing["queue"]] == [first["id"]] and listing["log"] == []
    assert api.request("DELETE", f"/broadcasts/{first['id']}") == {"id": first["id"], "cancelled": True}
    result = api.request("POST", "/selftest")
    audio = [r for r in result["results"] if r["part"] == "audio"][0]
    assert not audio["ok"] and "no output device named 'no-such-card'" in audio["detail"]
    assert {r["name"]: r["on"] for r in api.request("GET", "/status")["relays"]}["amp"] is False


def test_the_queue_survives_a_daemon_restart(make_config, start_app):
    config = make_config()
    app = start_app(config)
    later = client_for(app).request("POST", "/broadcasts", {"text": "Tối nay 19h họp thôn", "at": LATER, "repeat": 3})
    app.stop()
    again = start_app(config)
    [kept] = client_for(again).request("GET", "/broadcasts")["queue"]
    assert (kept["id"], kept["repeat"], kept["at"], kept["state"]) == (later["id"], 3, LATER, "queued")


def test_an_announcement_due_while_the_power_was_out_is_read_when_it_returns_once(make_config, start_app, caplog, until):
    config = make_config(audio={"output": f"wav:{Path(make_config().storage.dir) / 'audio-out'}", "tts": ["espeak"],
                                "amp_warmup_s": 0, "amp_tail_s": 0, "chime": False})
    first = start_app(config)
    tz = first.house.broadcasts.tz
    due = (datetime.now(tz) - timedelta(minutes=3)).replace(second=0, microsecond=0)  # inside scheduler.LATE_GRACE
    pid = first.house.store.add_schedule("broadcast", "news", list(range(7)), f"{due:%H:%M}", None,
                                         {"text": "Bản tin sáng"}, "test")
    first.stop()  # the power goes out before the programme is due; it comes back 3 minutes late
    second = start_app(config)
    item = f"sched-{pid}-{due:%Y%m%d-%H%M}"
    log = until(lambda: client_for(second).request("GET", "/broadcasts")["log"], what="the late announcement")
    assert [(r["id"], r["outcome"]) for r in log] == [(item, "played")]
    second.stop()
    caplog.set_level("INFO", logger="audio.service")
    third = start_app(config)  # another restart inside the grace: not read twice
    until(lambda: f"schedule start already handled id={item}" in caplog.text, what="the done occurrence recognised")
    assert [r["id"] for r in client_for(third).request("GET", "/broadcasts")["log"]] == [item]


def test_weekly_announcement_read_three_times(audio_app, until):
    app = audio_app(chime=False)
    rec = Recorder(app)
    pid = app.house.store.add_schedule("broadcast", "monday-notice", [0], "07:00", None,
                                       {"text": "Sáng thứ 2 hằng tuần, bà con thu gom rác.", "repeat": 3}, "test")
    programme = [p for p in app.house.programmes() if p.id == pid][0]
    tz = app.house.broadcasts.tz
    app.house.fire_schedule(Due(datetime(2025, 3, 3, 7, 0, tzinfo=tz), programme, "start"))
    until(lambda: rec.logs(), what="the announcement")
    assert rec.logs()[0]["id"] == f"sched-{pid}-20250303-0700" and rec.logs()[0]["outcome"] == "played"
    [wav] = out_dir(app).glob(f"*-sched-{pid}-20250303-0700.wav")
    once = app.house.broadcasts.speech.render_all("Sáng thứ 2 hằng tuần, bà con thu gom rác.")
    one = sum(len(block) for p in once for block in decode(p, 16000)) / 16000  # espeak's header has no length
    assert wav_seconds(wav) > 3 * one  # three readings and the gaps between them
