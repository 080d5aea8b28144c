"""How the CLI finds and logs in to the daemon: each failure says what was looked at and the fix."""
import json
import subprocess
from pathlib import Path

import pytest

from controller import client as client_module
from controller.cli import main


@pytest.fixture
def no_daemon_here(tmp_path, monkeypatch):
    """No service and a stopped default demo (its cli.json stayed): nothing runs."""
    monkeypatch.delenv("LANGSO_URL", raising=False)
    monkeypatch.delenv("LANGSO_TOKEN", raising=False)
    stale = tmp_path / "stopped-demo"
    stale.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()
    (stale / "cli.json").write_text(json.dumps({"url": "http://127.0.0.1:9", "token": "x", "pid": gone.pid}))
    monkeypatch.setattr(client_module, "demo_data_dir", lambda: stale)
    monkeypatch.setattr(client_module, "SYSTEM_DATA_DIR", tmp_path / "no-service")
    return stale


def test_the_cli_finds_the_running_daemon_by_its_data_dir_and_skips_stopped_ones(no_daemon_here, app, capsys):
    data = Path(app.config.storage.dir)
    assert main(["--data-dir", str(data), "status"]) == 0
    assert app.config.site.id in capsys.readouterr().out
    assert main(["status"]) == 1  # only the stopped demo's file is left to find
    err = capsys.readouterr().err
    assert f"the one that used {no_daemon_here} has stopped" in err and "langso --data-dir DIR status" in err
    assert f"found in {client_module.SYSTEM_DATA_DIR}, {no_daemon_here} (" in err  # where it looked


def test_data_dir_given_names_that_folder_not_another(no_daemon_here, tmp_path, capsys):
    folder = tmp_path / "x"
    assert main(["--data-dir", str(folder), "status"]) == 1
    err = capsys.readouterr().err
    assert err == (f"error: no langso daemon has run with --data-dir {folder} (no {folder / 'cli.json'}); "
                   f"start one there (`langso demo --data-dir {folder}`), or leave out --data-dir to find "
                   "this machine's daemon\n")
    folder.mkdir()
    (folder / "cli.json").write_text((no_daemon_here / "cli.json").read_text())
    assert main(["--data-dir", str(folder), "status"]) == 1
    assert f"the langso daemon that used {folder} has stopped" in capsys.readouterr().err


def test_data_dir_given_never_falls_back_to_another_daemon(app, tmp_path, monkeypatch, capsys):
    """`langso --data-dir DIR relay tv on` must not switch the relay of whichever daemon runs."""
    monkeypatch.delenv("LANGSO_URL", raising=False)
    monkeypatch.setattr(client_module, "SYSTEM_DATA_DIR", Path(app.config.storage.dir))
    assert main(["--data-dir", str(tmp_path / "x"), "relay", "tv", "on"]) == 1
    assert "no langso daemon has run with --data-dir" in capsys.readouterr().err
    assert app.house.board.get("tv").is_on is False


def test_langso_url_without_token_is_not_ignored(no_daemon_here, monkeypatch, capsys):
    monkeypatch.setenv("LANGSO_URL", "http://192.168.1.20:8080")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "LANGSO_URL is set (http://192.168.1.20:8080) but LANGSO_TOKEN is not" in err
    assert "langso token add NAME --scope admin" in err and "unset LANGSO_URL" in err


def test_a_rejected_token_is_named_with_the_fix(app, monkeypatch, capsys):
    monkeypatch.setenv("LANGSO_URL", app.url)
    monkeypatch.setenv("LANGSO_TOKEN", "wrong")
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: the daemon at {app.url} rejected the token in LANGSO_TOKEN; ")
    assert "langso token add NAME --scope admin" in err and "authentication required" not in err


def test_a_rejected_token_from_cli_json_says_to_restart(app, monkeypatch, capsys):
    monkeypatch.delenv("LANGSO_URL", raising=False)
    data = Path(app.config.storage.dir)
    info = json.loads((data / "cli.json").read_text())
    (data / "cli.json").write_text(json.dumps({**info, "token": "an-old-one"}))
    assert main(["--data-dir", str(data), "status"]) == 1
    err = capsys.readouterr().err
    assert f"rejected the token in {data / 'cli.json'}" in err and "systemctl restart langso" in err
