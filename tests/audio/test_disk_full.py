"""A full disk (storage.dir on a small tmpfs the test fills: SQLite says "database or disk
is full", files get ENOSPC) against the real audio wing: what plays goes on, what could
not be written waits in memory and is written when space returns, new broadcasts are
refused with 507 and the fix; the worker thread is watched by the watchdog."""
from __future__ import annotations

import json
from pathlib import Path

import requests

from controller.client import ApiError
from controller.commands import Actor, Broadcast
from tests.conftest import cli_client


def test_a_full_disk_does_not_stop_broadcasts_and_what_was_not_written_is_written_later(small_disk, start_app, make_config,
                                                                                          media, tmp_path: Path, until):
    out = tmp_path / "audio-out"  # the loudspeakers: not on the full disk
    app = start_app(make_config(storage={"dir": str(small_disk.path), "min_free_mb": 0},
                                audio={"output": f"wav:{out}", "tts": ["espeak"], "amp_warmup_s": 0, "amp_tail_s": 0}))
    house, api = app.house, cli_client(small_disk.path)
    long = house.handle(Broadcast(audio_path=str(media("mp3", seconds=30, name="long")), actor=Actor("cli")))
    until(lambda: (house.broadcasts.listing()["playing"] or {}).get("id") == long["id"], what="the long item playing")
    text = api.request("POST", "/broadcasts", {"text": "Mời bà con họp thôn."})  # waits behind it

    small_disk.fill()
    # the playing item can still be stopped; the next one plays (its speech from memory: no
    # room for the TTS cache either), and both proofs of broadcast are kept
    assert api.request("DELETE", f"/broadcasts/{long['id']}") == {"id": long["id"], "cancelled": True}
    until(lambda: any(r["id"] == text["id"] for r in house.broadcasts.listing()["log"]), what="the text item played")
    log = {r["id"]: r for r in api.request("GET", "/broadcasts")["log"]}
    assert (log[long["id"]]["outcome"], log[long["id"]]["reason"]) == ("preempted", "cancelled by cli")
    assert log[text["id"]]["outcome"] == "played" and list(out.glob(f"*-{text['id']}.wav"))
    stored = {r["id"] for r in house.store.db.query("SELECT id FROM broadcast_log")}
    assert not stored & {long["id"], text["id"]}  # in memory only, for now
    problem = api.request("GET", "/status")["problems"]["audio"]
    assert f"could not be written to {small_disk.path} (database or disk is full)" in problem
    assert f"free space on {small_disk.path} (storage.dir)" in problem
    assert app.house.broadcasts.worker.alive()

    # a new announcement is refused, saying why and what to do (507); so is a recording,
    # and no part of it is left on the disk
    try:
        api.request("POST", "/broadcasts", {"text": "Thông báo mới."})
        raise AssertionError("a broadcast was accepted on a full disk")
    except ApiError as err:
        assert err.status == 507 and f"writing to {small_disk.path} (storage.dir) failed" in str(err)
        assert "free space there" in str(err)
    info = json.loads((small_disk.path / "cli.json").read_text())
    with open(media("mp3", seconds=3, name="rec"), "rb") as f:
        refused = requests.post(f"{info['url']}/api/v1/broadcasts", headers={"Authorization": f"Bearer {info['token']}"},
                                files={"file": ("rec.mp3", f, "audio/mpeg")}, timeout=30)
    assert refused.status_code == 507 and refused.json()["error"].startswith("storage: cannot save this: writing to")
    assert list((small_disk.path / "broadcasts" / "uploads").iterdir()) == []

    small_disk.free()
    until(lambda: "audio" not in api.request("GET", "/status")["problems"], what="the records written")
    stored = {r["id"]: r["outcome"] for r in house.store.db.query("SELECT id, outcome FROM broadcast_log")}
    assert stored == {long["id"]: "preempted", text["id"]: "played"}
    states = {r["id"]: r["state"] for r in house.store.db.query("SELECT id, state FROM broadcast_items")}
    assert states == {long["id"]: "cancelled", text["id"]: "played"}
    assert api.request("POST", "/broadcasts", {"text": "Thông báo mới."})["state"] == "queued"


def test_a_dead_broadcast_worker_shows_in_status_and_stops_the_watchdog(app, until):
    until(lambda: "watchdog" not in app.house.status()["problems"], what="a house without problems")
    app.house.broadcasts.worker.stop()  # the thread ends, as a crash would end it
    until(lambda: "broadcast: thread died" in app.house.status()["problems"].get("watchdog", ""), what="the watchdog")
