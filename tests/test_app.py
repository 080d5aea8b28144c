"""The house in-process: power-on states, the API path, min interval over HTTP, safe stop."""
import json
import logging
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from controller.app import App
from controller.client import ApiError
from controller.commands import Actor, CommandError, SetRelay
from tests.conftest import cli_client, wait_until


def test_relay_over_api_records_who_and_when(app, api):
    assert api.request("POST", "/relays/tv", {"state": "on"})["changed"] is True
    tv = {r["name"]: r for r in api.request("GET", "/relays")["relays"]}["tv"]
    assert tv["on"] is True and tv["changed_by"] == "cli" and tv["changed_at"] > 0
    assert app.house.store.audit_log("tv")[0]["action"] == "relay.on"


def test_second_toggle_inside_min_interval_is_refused_with_409(app, api):
    api.request("POST", "/relays/tv", {"state": "toggle"})
    with pytest.raises(ApiError) as err:
        api.request("POST", "/relays/tv", {"state": "toggle"})
    assert err.value.status == 409 and "min_interval_s" in err.value.message
    assert app.house.board.get("tv").is_on is True


def test_api_errors_are_json_and_named(app, api):
    with pytest.raises(ApiError) as err:
        api.request("POST", "/relays/fan", {"state": "on"})
    assert err.value.status == 404 and "known relays" in err.value.message
    with pytest.raises(ApiError) as err:
        api.request("POST", "/relays/tv", {"state": "maybe"})
    assert err.value.status == 400 and err.value.message.startswith("state:")


def test_api_needs_a_token_with_the_scope(app):
    from controller.client import Client

    anonymous = Client(app.url, "nope")
    with pytest.raises(ApiError) as err:
        anonymous.request("GET", "/status")
    assert err.value.status == 401
    token = app.house.store.add_token("ioc", {"events:read"})
    reader = Client(app.url, token)
    assert reader.request("GET", "/status")["site"]["id"] == "test-site"
    with pytest.raises(ApiError) as err:
        reader.request("POST", "/relays/tv", {"state": "on"})
    assert err.value.status == 403
    assert app.house.board.get("tv").is_on is False


def test_openapi_document_lists_the_paths(app, api):
    import json
    import urllib.request

    with urllib.request.urlopen(app.url + "/api/v1/openapi.json") as resp:
        doc = json.load(resp)
    assert {"/api/v1/status", "/api/v1/relays", "/api/v1/relays/{name}"} <= set(doc["paths"])


def test_power_on_states_and_restore_across_restart(make_config):
    relays = [
        {"name": "tv", "pin": 17, "power_on": "restore"},
        {"name": "radio", "pin": 27, "power_on": "on"},
        {"name": "amp", "pin": 22, "power_on": "off"},
    ]
    config = make_config(relays=relays)
    first = App(config, pin_factory=MockFactory())
    first.start()
    try:
        assert [first.house.board.get(n).is_on for n in ("tv", "radio", "amp")] == [False, True, False]
        first.house.handle(SetRelay("tv", "on", Actor("cli")))
        first.house.handle(SetRelay("amp", "on", Actor("cli")))
    finally:
        first.stop()
    factory = MockFactory()
    second = App(config, pin_factory=factory)
    second.start()
    try:
        board = second.house.board
        assert [board.get(n).is_on for n in ("tv", "radio", "amp")] == [True, True, False]
        assert factory.pin(17).state is False  # restored on, active-low
    finally:
        second.stop()


def test_stop_leaves_every_relay_off(make_config):
    factory = MockFactory()
    app = App(make_config(relays=[{"name": "tv", "pin": 17}, {"name": "amp", "pin": 22, "active_high": True}]), pin_factory=factory)
    app.start()
    app.house.handle(SetRelay("tv", "on", Actor("cli")))
    app.house.handle(SetRelay("amp", "on", Actor("cli")))
    assert factory.pin(17).state is False and factory.pin(22).state is True
    app.stop()
    assert factory.pin(17).state is True   # active-low: off = high
    assert factory.pin(22).state is False  # active-high: off = low
    # ... and still driven: gpiozero's close() would make them floating inputs, which
    # can switch an active-high relay board on
    assert factory.pin(17).function == "output" and factory.pin(22).function == "output"


def test_selftest_clicks_relays_that_are_off(app, api):
    api.request("POST", "/relays/tv", {"state": "on"})
    result = api.request("POST", "/selftest")
    relays = next(r for r in result["results"] if r["part"] == "relays")
    assert relays["ok"] and "clicked radio, amp" in relays["detail"] and "left on (in use): tv" in relays["detail"]
    assert app.house.board.get("tv").is_on and not app.house.board.get("radio").is_on


def test_store_failure_is_reported_and_relays_keep_working(app):
    app.house.store.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    result = app.house.handle(SetRelay("radio", "on", Actor("cli")))
    assert result["on"] is True and app.house.board.get("radio").is_on
    assert "disk is full" in app.house.status()["problems"]["store"]


def test_relay_switches_a_full_disk_kept_in_memory_are_logged_once_space_returns(small_disk, make_config, start_app):
    """The store problem says what waits and the fix, and goes by itself once the switches
    are written: no later switch is needed for status to be right again."""
    app = start_app(make_config(storage={"dir": str(small_disk.path), "min_free_mb": 0}))
    small_disk.fill()
    assert app.house.handle(SetRelay("radio", "on", Actor("cli")))["on"] is True
    problem = app.house.status()["problems"]["store"]
    assert "database or disk is full" in problem and "1 relay switch(es) are kept in memory" in problem
    assert f"free space on {small_disk.path} (storage.dir)" in problem
    small_disk.free()
    wait_until(lambda: "store" not in app.house.status()["problems"], 30, "the store problem cleared")
    assert app.house.store.relay_states()["radio"].on is True and app.house.store.relay_states()["radio"].actor == "cli"
    audit = app.house.store.db.query("SELECT actor, action FROM audit WHERE target='radio' ORDER BY id")
    assert [tuple(r) for r in audit][-1] == ("cli", "relay.on")


def test_a_full_disk_is_logged_once_when_switches_wait_and_once_when_they_are_written(small_disk, make_config, start_app,
                                                                                        caplog):
    """Every switch on a full disk tries to write what waits (as housekeeping does every
    5 s): the log says so once, not once per try, and once when it is written."""
    caplog.set_level(logging.INFO, logger="controller.house")
    app = start_app(make_config(storage={"dir": str(small_disk.path), "min_free_mb": 0}))
    small_disk.fill()
    for action in ("on", "off", "on", "off"):
        assert app.house.handle(SetRelay("radio", action, Actor("cli"), force=True))["changed"] is True
    assert "4 relay switch(es) are kept in memory" in app.house.status()["problems"]["store"]
    small_disk.free()
    wait_until(lambda: "store" not in app.house.status()["problems"], 30, "the store problem cleared")
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "controller.house"]
    failed = [m for level, m in said if level >= logging.ERROR]
    assert len(failed) == 1 and failed[0].startswith("relay switches not written") and "kept_in_memory=1" in failed[0]
    assert [m for _, m in said if "written again" in m] == ["relay switches written again count=4"]
    assert [r["action"] for r in app.house.store.audit_log("radio")][:4] == ["relay.off", "relay.on", "relay.off", "relay.on"]


def test_unknown_command_type():
    class Nothing:
        pass

    from controller.house import House

    with pytest.raises(CommandError):
        House.handle.__get__(type("H", (), {"_handlers": {}})())(Nothing())


def test_cli_file_is_private(app):
    import stat
    from pathlib import Path

    mode = (Path(app.config.storage.dir) / "cli.json").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert cli_client(app.config.storage.dir).request("GET", "/status")


def test_stop_closes_open_connections_and_ends_the_web_thread(app):
    """A phone's keep-alive connection and a connection that never sent a request are
    closed by stop, from inside waitress's own loop; the web thread ends, and nothing raises."""
    import http.client
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(app.url)
    phone = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    phone.request("GET", "/")
    phone.getresponse().read()  # the connection stays open (HTTP/1.1 keep-alive)
    idle = socket.create_connection((url.hostname, url.port), timeout=10)
    web = next(t for t in app._threads if t.name == "web")
    app.stop()
    assert not web.is_alive()
    assert phone.sock is not None and phone.sock.recv(1) == b""  # closed by the server
    try:
        assert idle.recv(1) == b""
    except ConnectionResetError:
        pass  # never accepted (still in the listen backlog when stop began): reset, closed all the same
    idle.close()
    phone.close()


def test_cli_status_says_each_part_in_a_line_and_relay_takes_upper_case(app, monkeypatch, capsys):
    from pathlib import Path

    from controller.cli import main

    monkeypatch.delenv("LANGSO_URL", raising=False)
    data = str(Path(app.config.storage.dir))
    assert main(["--data-dir", data, "relay", "tv", "ON"]) == 0  # as MQTT writes it
    assert capsys.readouterr().out.strip() == "tv: on"
    assert main(["--data-dir", data, "status"]) == 0
    out = capsys.readouterr().out
    assert "\nschedules 0 programmes · nothing due\n" in out
    assert "\nuplink    disabled (mqtt.host is empty)\n" in out
    assert "\nmachine   memory " in out and "{" not in out  # no raw JSON left for the technician to read


def test_cli_status_exits_1_when_the_daemon_reports_problems_and_still_says_everything(make_config, start_app, tmp_path,
                                                                                      monkeypatch, capsys):
    """`langso status && ...` in a technician's script: a problem is a non-zero exit."""
    from controller.cli import main
    from tests.conftest import wait_until

    monkeypatch.delenv("LANGSO_URL", raising=False)
    (tmp_path / "a-file").write_text("")  # the WAV sink's folder cannot be made: audio output unusable
    app = start_app(make_config(audio={"output": f"wav:{tmp_path / 'a-file' / 'out'}", "tts": ["espeak"]}))
    data = str(Path(app.config.storage.dir))
    wait_until(lambda: "audio" in cli_client(data).request("GET", "/status")["problems"], what="the audio problem")
    assert main(["--data-dir", data, "status"]) == 1
    out = capsys.readouterr().out
    assert "\nrelays\n" in out and "\nuplink    disabled (mqtt.host is empty)\n" in out  # everything, as when healthy
    assert "\nproblems  \n  audio: audio output " in out and "cannot create the WAV directory" in out
    assert main(["--data-dir", data, "status", "--json"]) == 1
    assert "audio" in json.loads(capsys.readouterr().out)["problems"]


def test_demo_port_out_of_range_names_the_option(capsys):
    import pytest

    from controller.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["demo", "--port", "99999"])
    assert exit.value.code == 2 and "--port: '99999' is not a TCP port" in capsys.readouterr().err
    from controller.cli import build_parser

    assert build_parser().parse_args(["demo", "--port", "0"]).port == 0  # any free port: tests and benches


def test_one_app_per_data_dir_and_the_folder_is_free_again_after_stop(make_config):
    from controller.data_lock import DataDirBusy

    config = make_config()
    first = App(config, pin_factory=MockFactory())
    first.start()
    try:
        second = App(config, pin_factory=MockFactory())
        with pytest.raises(DataDirBusy, match="is in use by another langso daemon"):
            second.start()
        assert first.house.handle(SetRelay("tv", "on", Actor("cli")))["on"] is True  # the first works on
    finally:
        first.stop()
    again = App(config, pin_factory=MockFactory())
    again.start()
    again.stop()


@pytest.mark.parametrize("name", ["đài", "a b", "tv?x", "tv#x", "a/b", "..", "%74v"])
def test_cli_relay_takes_any_name_and_an_unknown_one_lists_the_relays(make_config, start_app, monkeypatch, capsys, name):
    """The name goes into the URL quoted: no traceback for Vietnamese or a space, and
    `tv?x` is not `tv`. The refusal lists the names with the labels the users say."""
    from controller.cli import main

    app = start_app(make_config(relays=[{"name": "tv", "pin": 17, "label": "Tivi"}, {"name": "radio", "pin": 27, "label": "Đài"},
                                        {"name": "amp", "pin": 22, "label": "Loa (âm ly)"}]))
    info = json.loads((Path(app.config.storage.dir) / "cli.json").read_text())
    monkeypatch.setenv("LANGSO_URL", info["url"])
    monkeypatch.setenv("LANGSO_TOKEN", info["token"])
    assert main(["relay", name, "on"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: no relay named {name!r}; known relays: tv (Tivi), radio (Đài), amp (Loa (âm ly))\n"
    assert not any(r.is_on for r in app.house.board)


def test_cli_status_says_times_in_the_sites_timezone_whatever_the_machines(make_config, start_app, monkeypatch, capsys):
    """A Pi left on its image's timezone showed an 18:00 programme as due at 11:00."""
    import time
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from controller.cli import main

    monkeypatch.delenv("LANGSO_URL", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        app = start_app(make_config(site={"id": "test-site", "timezone": "Asia/Ho_Chi_Minh"}))
        data = str(Path(app.config.storage.dir))
        assert main(["--data-dir", data, "relay", "tv", "on"]) == 0
        changed = cli_client(data).request("GET", "/status")["relays"][0]["changed_at"]
        capsys.readouterr()
        assert main(["--data-dir", data, "status"]) == 0
        out = capsys.readouterr().out
    finally:
        monkeypatch.undo()
        time.tzset()
    there = datetime.fromtimestamp(changed, ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m-%d %H:%M:%S")
    assert f"  tv         ON   since {there} by cli" in out
    assert "· times in Asia/Ho_Chi_Minh" in out.splitlines()[2]
