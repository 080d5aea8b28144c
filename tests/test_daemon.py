"""`langso run` as a real subprocess: start, switch over the API and the CLI, SIGTERM."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT


def cli(daemon, *args):
    info = json.loads((daemon.data_dir / "cli.json").read_text())
    env = dict(os.environ, LANGSO_URL=info["url"], LANGSO_TOKEN=info["token"])
    return subprocess.run([sys.executable, "-m", "controller", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)


def test_daemon_switch_refuse_and_stop_safely(daemon):
    d = daemon()
    on = cli(d, "relay", "tv", "on")
    assert on.returncode == 0 and on.stdout.strip() == "tv: on"
    status = json.loads(cli(d, "status", "--json").stdout)
    assert {r["name"]: r["on"] for r in status["relays"]} == {"tv": True, "radio": False, "amp": False}
    assert next(r for r in status["relays"] if r["name"] == "tv")["changed_by"] == "cli"
    again = cli(d, "relay", "tv", "toggle")
    assert again.returncode == 1 and "min_interval_s" in again.stderr
    human = cli(d, "status")
    assert human.returncode == 0 and "tv         ON" in human.stdout

    started = time.monotonic()
    code = d.stop()
    took = time.monotonic() - started
    assert code == 0, d.output()
    log = d.output()
    assert "relays safe states=" in log
    for name in ("tv", "radio", "amp"):
        assert f"{name}:off(pin=high)" in log  # active-low board: off is high
    assert took < 30  # generous bound, only to catch a hang; the measured figure is in bench/


def test_restore_across_a_real_restart(daemon):
    relays = [{"name": "tv", "pin": 17, "power_on": "restore"}, {"name": "amp", "pin": 22}]
    d = daemon(relays=relays)
    assert cli(d, "relay", "tv", "on").returncode == 0
    assert d.stop() == 0
    d.start()
    status = d.client.request("GET", "/status")
    assert {r["name"]: r["on"] for r in status["relays"]} == {"tv": True, "amp": False}
    assert d.stop() == 0


def test_sigint_also_stops_cleanly(daemon):
    import signal

    d = daemon()
    assert d.stop(signal.SIGINT) == 0
    assert "langso stopped" in d.output()


def test_bad_config_exits_2_naming_the_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nid = "x"\n[[relays]]\nname = "tv"\npin = 99\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "controller", "run", "--config", str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "relays[0].pin" in result.stderr


def test_auto_pin_factory_without_gpio_says_how_to_simulate(daemon, tmp_path):
    from tests.conftest import house_data, write_toml

    data = house_data(tmp_path / "d2", gpio={"pin_factory": "auto"})
    config = write_toml(tmp_path / "auto.toml", data)
    result = subprocess.run([sys.executable, "-m", "controller", "run", "--config", str(config)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1
    assert 'pin_factory = "mock"' in result.stderr


def test_status_without_daemon_is_a_clear_error(tmp_path):
    env = dict(os.environ, LANGSO_URL="http://127.0.0.1:9", LANGSO_TOKEN="x")
    result = subprocess.run([sys.executable, "-m", "controller", "status"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 1 and "cannot reach the langso daemon" in result.stderr


def test_acknowledged_change_survives_kill_9(daemon):
    import signal

    from controller.db import Database
    from controller.store import Store

    relays = [{"name": "tv", "pin": 17, "power_on": "restore"}, {"name": "amp", "pin": 22}]
    d = daemon(relays=relays)
    assert d.client.request("POST", "/relays/tv", {"state": "on"})["changed"] is True
    d.stop(signal.SIGKILL)  # as good as a power cut for the process: nothing flushed after the reply
    store = Store(Database(d.data_dir / "langso.db"))
    assert store.relay_states()["tv"].on is True
    assert store.audit_log("tv")[0]["action"] == "relay.on"
    d.start()
    assert {r["name"]: r["on"] for r in d.client.request("GET", "/relays")["relays"]}["tv"] is True
    assert d.stop() == 0


def test_a_second_daemon_on_the_same_data_dir_leaves_the_running_one_alone(daemon, tmp_path):
    """The second `langso run` stops before its start-up repair, MQTT client or broadcast
    worker: the running daemon's open camera event, clip being written and queued
    announcement are as they were, and it still serves."""
    import sqlite3

    from tests.conftest import free_port

    first = daemon(web={"listen": f"127.0.0.1:{free_port()}"})
    now = time.time()
    with sqlite3.connect(first.data_dir / "langso.db") as db:  # as the running daemon's camera would have them
        event = db.execute("INSERT INTO camera_events(camera, start, updated_at) VALUES ('cong-lang', ?, ?)", (now, now)).lastrowid
    part = first.data_dir / "clips" / "cong-lang" / f"{event}.mp4.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"recording")
    queued = first.client.request("POST", "/broadcasts", {"text": "Họp thôn tối nay", "at": now + 3600})

    second = subprocess.run([sys.executable, "-m", "controller", "run", "--config", str(first.config_file)],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert second.returncode == 1, second.stderr
    assert f"storage.dir {first.data_dir} is in use by another langso daemon (pid {first.proc.pid})" in second.stderr
    assert "systemctl stop langso" in second.stderr and "nothing was changed" in second.stderr
    assert "repaired" not in second.stdout and "broker" not in second.stdout

    with sqlite3.connect(first.data_dir / "langso.db") as db:
        assert db.execute('SELECT closed, interrupted, "end" FROM camera_events WHERE id = ?', (event,)).fetchone() == (0, 0, None)
    assert part.read_bytes() == b"recording"
    items = {i["id"]: i for i in first.client.request("GET", "/broadcasts")["queue"]}
    assert items[queued["id"]]["state"] == "queued"
    assert first.proc.poll() is None and first.stop() == 0


def test_demo_on_a_folder_in_use_writes_nothing_there(make_config, start_app, tmp_path):
    running = start_app(make_config())
    data = running.config.storage.dir
    result = subprocess.run([sys.executable, "-m", "controller", "demo", "--data-dir", str(data), "--port", "0"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1 and f"storage.dir {data} is in use by another langso daemon (pid {os.getpid()})" in result.stderr
    assert not (data / "demo-camera.mp4").exists()


@pytest.fixture
def small_daemon(small_disk, tmp_path):
    """Factory: a `langso run` (not started) whose storage.dir is the small tmpfs; killed at teardown."""
    from tests.conftest import Daemon, house_data, write_toml

    made = []

    def make(**sections):
        data = small_disk.path
        config = house_data(data, storage={"dir": str(data), "min_free_mb": 0}, **sections)
        made.append(Daemon(write_toml(tmp_path / "langso.toml", config), data))
        return made[-1]

    yield make
    for d in made:
        if d.proc and d.proc.poll() is None:
            d.stop(signal.SIGKILL)


def langso(*args):
    return subprocess.run([sys.executable, "-m", "controller", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_a_full_disk_does_not_keep_the_daemon_from_starting(small_disk, small_daemon):
    """storage.dir on a small tmpfs filled after a clean stop: the database opens read-only,
    the relays come up safe, the page, API and CLI work, status says the disk is full and
    the fix; the start's writes (power-on record, CLI token) and a switch wait in memory and
    are written once space returns, without a restart."""
    import sqlite3

    import requests

    from controller.store import hash_token
    from tests.conftest import wait_until

    data = small_disk.path
    d = small_daemon(relays=[{"name": "tv", "pin": 17, "power_on": "off"}, {"name": "radio", "pin": 27}]).start()
    assert d.client.request("POST", "/relays/tv", {"state": "on"})["on"] is True  # stored on; power_on says off
    assert d.stop() == 0
    small_disk.fill()

    d.start(keep_cli=True)  # the last start's cli.json is there, as on a real card
    status = d.client.request("GET", "/status")
    assert {r["name"]: r["on"] for r in status["relays"]} == {"tv": False, "radio": False}
    problems = status["problems"]
    assert f"the database {data / 'langso.db'} is read-only: the disk is full" in problems["database"]
    assert f"free space there (e.g. old camera clips: sudo du -sh {data}/*)" in problems["database"]
    assert f"only 0 MB free on {data} (storage.dir" in problems["disk"]
    assert "relay switch(es) are kept in memory" in problems["store"]  # the power-on record of tv
    human = langso("--data-dir", str(data), "status")
    assert human.returncode == 1 and "database: the database" in human.stdout, human.stdout + human.stderr
    assert requests.get(d.client.url + "/login", timeout=30).status_code == 200  # the page is served
    assert d.client.request("POST", "/relays/radio", {"state": "on"})["on"] is True

    small_disk.free()
    wait_until(lambda: not d.client.request("GET", "/status")["problems"], 30, "no problems once space returned")
    with sqlite3.connect(data / "langso.db") as db:
        audit = db.execute("SELECT actor, action, target, detail FROM audit ORDER BY id").fetchall()
        assert audit[-2:] == [("system", "relay.off", "tv", "power-on"), ("cli", "relay.on", "radio", "")]
        tokens = [r[0] for r in db.execute("SELECT token_hash FROM tokens WHERE name='cli'")]
    assert tokens == [hash_token(json.loads((data / "cli.json").read_text())["token"])]
    assert d.stop() == 0
    assert "database opened read-only" in d.output() and "database writable again" in d.output()


def test_without_room_for_cli_json_the_cli_says_the_disk_is_full_and_works_once_space_returns(small_disk, small_daemon):
    from tests.conftest import wait_until

    data = small_disk.path
    d = small_daemon().start()
    assert d.stop() == 0
    (data / "cli.json").unlink()
    small_disk.fill()
    d.start(wait_cli=False)
    said = langso("--data-dir", str(data), "status")
    assert said.returncode == 1 and f"the disk of {data} is full: a langso daemon there cannot write its cli.json" in said.stderr
    assert "free space there" in said.stderr
    small_disk.free()
    wait_until(lambda: d.cli_pid() == d.proc.pid, 30, "cli.json written")
    # the database is tried again on its own timer (write_retry.RETRY_S): its read-only problem may
    # outlive cli.json by a few seconds (the full suite's load showed it)
    said = wait_until(lambda: (done := langso("--data-dir", str(data), "status")).returncode == 0 and done, 30,
                      "status without problems")
    assert "problems  none" in said.stdout, said.stdout + said.stderr
    assert d.stop() == 0
    log = d.output()  # one line each way, however often housekeeping tried (controller/write_retry.py)
    assert log.count("cli.json not written dir=") == 1 and log.count("cli.json written again count=1") == 1, log

def test_a_new_install_on_a_full_disk_exits_naming_storage_dir_and_the_fix(small_disk, tmp_path):
    from tests.conftest import house_data, write_toml

    data = small_disk.path
    config = write_toml(tmp_path / "langso.toml", house_data(data, storage={"dir": str(data), "min_free_mb": 0}))
    small_disk.fill()
    result = langso("run", "--config", str(config))
    assert result.returncode == 1
    said = result.stderr.strip()
    assert said.startswith(f"error: storage.dir {data}: cannot create the database {data / 'langso.db'}: the disk is full ("), said
    assert said.endswith(f"free space there (e.g. old camera clips: sudo du -sh {data}/*), then start langso again")
    assert "Traceback" not in said
