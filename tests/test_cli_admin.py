"""`langso user add` and `langso token add` work on the store directly (daemon running or not)."""
import io
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from controller.cli import main
from controller.data_owner import as_service_files
from controller.db import Database
from controller.passwords import verify_password
from controller.store import Store
from tests.conftest import ROOT, house_data, write_toml


def config_file(tmp_path):
    return write_toml(tmp_path / "langso.toml", house_data(tmp_path / "data"))


def store(tmp_path):
    return Store(Database(tmp_path / "data" / "langso.db"))


def test_user_add_hashes_the_password(tmp_path, monkeypatch, capsys):
    config = config_file(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("Trống-đồng-2026\n"))
    assert main(["--config", str(config), "user", "add", "truongthon", "--role", "head", "--password-stdin"]) == 0
    assert "choose their own password" in capsys.readouterr().out
    user = store(tmp_path).user("truongthon")
    assert user["role"] == "head" and "Trống" not in user["password_hash"]
    assert verify_password(user["password_hash"], "Trống-đồng-2026")
    assert not verify_password(user["password_hash"], "wrong")
    assert user["must_change"] == 1  # the technician typed it: the page asks for their own at first login


def test_user_and_token_add_write_to_the_data_dir_given(tmp_path, monkeypatch, capsys):
    """`langso --data-dir DIR user add` (a demo started with `--data-dir DIR`) writes DIR's
    store, not the default demo folder's (until 2026-12-06 it wrote there, saying nothing)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))   # where the default demo folder would be
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr("controller.config.DEFAULT_CONFIG_PATH", tmp_path / "etc" / "langso.toml")  # none here
    monkeypatch.setattr(sys, "stdin", io.StringIO("Trống-đồng-2026\n"))
    assert main(["--data-dir", str(tmp_path / "data"), "user", "add", "lan", "--role", "head", "--password-stdin"]) == 0
    assert main(["--data-dir", str(tmp_path / "data"), "token", "add", "ioc", "--scope", "events:read"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert store(tmp_path).user("lan")["role"] == "head" and store(tmp_path).check_token(token).name == "ioc"
    assert not list((tmp_path / "home").rglob("langso.db"))


def test_weak_password_refused(tmp_path, monkeypatch, capsys):
    config = config_file(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("12345678\n"))
    assert main(["--config", str(config), "user", "add", "a", "--role", "tech", "--password-stdin"]) == 2
    assert "password:" in capsys.readouterr().err


def test_token_add_prints_once_and_stores_a_hash(tmp_path, capsys):
    config = config_file(tmp_path)
    assert main(["--config", str(config), "token", "add", "ioc-yen-dinh", "--scope", "events:read,control"]) == 0
    token = capsys.readouterr().out.strip()
    info = store(tmp_path).check_token(token)
    assert info.name == "ioc-yen-dinh" and info.scopes == {"events:read", "control"}
    assert token not in (tmp_path / "data" / "langso.db").read_bytes().decode("latin-1")


def test_token_add_unknown_scope(tmp_path, capsys):
    config = config_file(tmp_path)
    assert main(["--config", str(config), "token", "add", "x", "--scope", "everything"]) == 2
    assert "--scope: unknown scope" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["", "bad name!", "trưởng-thôn", "x" * 33])
def test_names_the_page_refuses_are_refused_here_too(tmp_path, capsys, name):
    config = config_file(tmp_path)
    assert main(["--config", str(config), "user", "add", name, "--role", "tech", "--password-stdin"]) == 2
    assert "NAME:" in capsys.readouterr().err  # before any password is read
    assert main(["--config", str(config), "token", "add", name, "--scope", "admin"]) == 2
    err = capsys.readouterr().err
    assert "NAME:" in err and "letters, digits" in err


def test_token_names_are_unique_and_cli_is_the_daemons(tmp_path, capsys):
    config = config_file(tmp_path)
    assert main(["--config", str(config), "token", "add", "ioc", "--scope", "events:read"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "token", "add", "ioc", "--scope", "events:read"]) == 2
    assert "a token named 'ioc' exists" in capsys.readouterr().err
    assert main(["--config", str(config), "token", "add", "cli", "--scope", "admin"]) == 2
    assert "the daemon's own token" in capsys.readouterr().err
    assert [t["name"] for t in store(tmp_path).tokens()] == ["ioc"]


def test_config_may_come_before_or_after_run(tmp_path, capsys):
    from controller.cli import build_parser

    assert build_parser().parse_args(["--config", "a.toml", "run"]).config == "a.toml"
    assert build_parser().parse_args(["run", "--config", "b.toml"]).config == "b.toml"
    assert main(["run"]) == 2
    assert "langso run --config /etc/langso/langso.toml" in capsys.readouterr().err


def owners(data_dir):
    return {p.name: (p.stat().st_uid, p.stat().st_gid) for p in [data_dir, *data_dir.iterdir()]}


def test_user_add_as_root_hands_the_database_to_the_data_dirs_owner(tmp_path, monkeypatch, capsys):
    # the tests run as root (make test installs with apt): the real case of `sudo langso user add`
    assert os.geteuid() == 0
    config = config_file(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, 65534, 65534)  # as StateDirectory= leaves /var/lib/langso: owned by the service user
    monkeypatch.setattr(sys, "stdin", io.StringIO("Trống-đồng-2026\n"))
    assert main(["--config", str(config), "user", "add", "truongthon", "--role", "head", "--password-stdin"]) == 0
    assert set(owners(data).values()) == {(65534, 65534)}, owners(data)
    assert main(["--config", str(config), "token", "add", "ioc", "--scope", "events:read"]) == 0
    assert set(owners(data).values()) == {(65534, 65534)}, owners(data)
    assert store(tmp_path).user("truongthon")["role"] == "head"


def test_a_root_owned_database_left_by_an_old_version_is_handed_over_too(tmp_path, capsys):
    config = config_file(tmp_path)
    data = tmp_path / "data"
    store(tmp_path).db.close()  # langso.db created by root
    assert (data / "langso.db").stat().st_uid == 0
    os.chown(data, 65534, 65534)
    assert main(["--config", str(config), "token", "add", "ioc", "--scope", "control"]) == 0
    assert (data / "langso.db").stat().st_uid == 65534


def test_a_data_dir_not_created_yet_is_created_for_the_service_user(tmp_path):
    data = tmp_path / "var-lib-langso"
    with as_service_files(data, "user add x --role tech", service_user="nobody"):
        Store(Database(data / "langso.db")).db.close()
    nobody = pwd.getpwnam("nobody")
    assert set(owners(data).values()) == {(nobody.pw_uid, nobody.pw_gid)}
    assert stat.S_IMODE(data.stat().st_mode) == 0o750


def test_root_own_data_dir_stays_roots(tmp_path):
    data = tmp_path / "demo"
    data.mkdir()
    with as_service_files(data, "token add x --scope control"):
        Store(Database(data / "langso.db")).db.close()
    assert set(owners(data).values()) == {(0, 0)}


def test_a_user_without_access_is_told_the_exact_sudo_command(tmp_path):
    """As an unprivileged user (uid 65534) on a data dir owned by the service user:
    NotWritable names the owner and the exact command. Runs Debian's python on a copy
    of the module (stdlib only), since the checkout may sit where that user cannot go."""
    with tempfile.TemporaryDirectory(prefix="langso-owner-") as d:
        work = Path(d)
        os.chmod(work, 0o755)
        (work / "controller").mkdir(mode=0o755)
        (work / "controller/__init__.py").write_text("")
        shutil.copy(ROOT / "controller/data_owner.py", work / "controller/data_owner.py")
        data = work / "var-lib-langso"
        data.mkdir(mode=0o755)
        os.chown(data, 1, 1)  # the service user's dir (uid 1 stands for langso), not writable by 65534
        code = ("import sqlite3, sys\n"
                "from pathlib import Path\n"
                "from controller.data_owner import NotWritable, as_service_files\n"
                "try:\n"
                "    with as_service_files(Path(sys.argv[1]), 'user add truongthon --role head'):\n"
                "        sqlite3.connect(sys.argv[1] + '/langso.db').execute('CREATE TABLE t (x)')\n"
                "except NotWritable as err:\n"
                "    print(err)\n")
        result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 "/usr/bin/python3", "-c", code, str(data)],
                                capture_output=True, text=True, cwd=work, env={"PYTHONPATH": str(work)})
        owner = pwd.getpwuid(1).pw_name
        assert result.returncode == 0, result.stderr
        assert f"cannot write the database in {data}" in result.stdout
        assert f"it belongs to {owner}: run  sudo -u {owner} langso user add truongthon --role head" in result.stdout
        assert not (data / "langso.db").exists()


def test_web_users_lists_users_and_tokens_never_secrets(tmp_path, monkeypatch, capsys):
    config = config_file(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("Trống-đồng-2026\n"))
    assert main(["--config", str(config), "user", "add", "lan", "--role", "head", "--password-stdin"]) == 0
    assert main(["--config", str(config), "token", "add", "ioc", "--scope", "events:read"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    import time
    from datetime import datetime
    from zoneinfo import ZoneInfo

    monkeypatch.setenv("TZ", "Europe/London")   # Raspberry Pi OS's own until the technician sets it
    time.tzset()
    try:
        assert main(["--config", str(config), "web", "users"]) == 0
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    out = capsys.readouterr().out
    assert "lan" in out and "head" in out and "ioc" in out and "events:read" in out
    created = store(tmp_path).user("lan")["created_at"]   # in site.timezone (Asia/Ho_Chi_Minh here)
    assert datetime.fromtimestamp(created, ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m-%d %H:%M") in out
    assert "chosen at the next login" in out  # the technician typed lan's password
    assert token not in out and "argon2" not in out
    assert "never" in out  # the token's last use
    assert store(tmp_path).check_token(token) is not None
    assert main(["--config", str(config), "web", "users"]) == 0
    assert "never" not in capsys.readouterr().out


def test_web_cert_never_replaces_an_existing_pair_without_force(tmp_path, capsys):
    """The phones accepted this certificate once: a second `web cert` (a copied command,
    install.sh run by hand) must not replace it, nor a key kept without its certificate."""
    tls = tmp_path / "tls"
    cert, key = tls / "web.crt", tls / "web.key"
    assert main(["web", "cert", "--dir", str(tls), "--days", "30"]) == 0
    capsys.readouterr()
    before = cert.read_bytes(), key.read_bytes()
    assert main(["web", "cert", "--dir", str(tls), "--days", "30"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        f"error: {cert} and {key} already exist; nothing was changed. A new certificate must be accepted again "
        "on every phone; to replace it, run again with --force\n")
    assert (cert.read_bytes(), key.read_bytes()) == before
    cert.unlink()
    assert main(["web", "cert", "--dir", str(tls), "--days", "30"]) == 1
    assert capsys.readouterr().err.startswith(f"error: {key} already exists; nothing was changed.")
    assert key.read_bytes() == before[1] and not cert.exists()
    assert main(["web", "cert", "--dir", str(tls), "--days", "30", "--force"]) == 0
    assert f"certificate {cert} (key {key})" in capsys.readouterr().out
    assert key.read_bytes() != before[1] and cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert sorted(p.name for p in tls.iterdir()) == ["web.crt", "web.key"]  # no temporary files left
