"""`langso user add` and `langso token add` work on the store directly (daemon running or not)."""
import io
import sys

from controller.cli import main
from controller.db import Database
from controller.passwords import verify_password
from controller.store import Store
from tests.conftest import house_data, write_toml


def config_file(tmp_path):
    return write_toml(tmp_path / "langso.toml", house_data(tmp_path / "data"))


def store(tmp_path):
    return Store(Database(tmp_path / "data" / "langso.db"))


def test_user_add_hashes_the_password(tmp_path, monkeypatch, capsys):
    config = config_file(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("Trống-đồng-2026\n"))
    assert main(["--config", str(config), "user", "add", "truongthon", "--role", "head", "--password-stdin"]) == 0
    user = store(tmp_path).user("truongthon")
    assert user["role"] == "head" and "Trống" not in user["password_hash"]
    assert verify_password(user["password_hash"], "Trống-đồng-2026")
    assert not verify_password(user["password_hash"], "wrong")


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
