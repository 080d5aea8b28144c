"""[mqtt] password_file: empty file = no password; a root-only absolute path falls back to
the systemd credential of the same name; neither readable = an error naming the key and the fix."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from controller.config import MqttConfig

ROOT = Path(__file__).resolve().parent.parent

LOOKUP = """
import json, os, sys
from controller.config import MqttConfig
try:
    print(json.dumps({"password": MqttConfig(password_file=sys.argv[1]).password()}))
except OSError as err:
    print(json.dumps({"error": str(err)}))
"""


def password_as_service_user(password_file: str, credentials_dir: Path | None) -> dict:
    """Look the password up the way the unprivileged service user does: when the tests
    run as root, in a process without the capabilities that bypass file permissions."""
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    if credentials_dir is not None:
        env["CREDENTIALS_DIRECTORY"] = str(credentials_dir)
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    result = subprocess.run([*drop, sys.executable, "-c", LOOKUP, password_file], capture_output=True, text=True,
                            env=env, cwd=ROOT, check=True)
    return json.loads(result.stdout)


@pytest.fixture
def etc(tmp_path):
    """Stands for /etc/langso."""
    return tmp_path


def root_only(path: Path, text: str) -> Path:
    """Unreadable for the service (mode 0000: without CAP_DAC_OVERRIDE not even its owner reads it)."""
    path.write_text(text)
    os.chmod(path, 0o000)
    return path


def test_no_file_and_an_empty_file_mean_no_password(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert MqttConfig().password() is None
    empty = tmp_path / "mqtt.pass"
    empty.write_text("\n")
    assert MqttConfig(password_file=str(empty)).password() is None
    empty.write_text(" s3cret-IOC \n")
    assert MqttConfig(password_file=str(empty)).password() == "s3cret-IOC"


def test_relative_name_is_read_from_the_credentials_directory(tmp_path, monkeypatch):
    (tmp_path / "mqtt.pass").write_text("from-systemd\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert MqttConfig(password_file="mqtt.pass").password() == "from-systemd"


def test_root_only_absolute_path_falls_back_to_the_systemd_credential(etc):
    secret = root_only(etc / "mqtt.pass", "root-only-copy\n")
    creds = etc / "credentials"
    creds.mkdir(mode=0o755)
    (creds / "mqtt.pass").write_text("credential-copy\n")
    os.chmod(creds / "mqtt.pass", 0o644)
    assert password_as_service_user(str(secret), creds) == {"password": "credential-copy"}


def test_neither_readable_names_the_key_both_places_and_the_fix(etc):
    secret = root_only(etc / "mqtt.pass", "root-only\n")
    creds = etc / "credentials"
    creds.mkdir(mode=0o755)  # systemd gave no credential of that name
    error = password_as_service_user(str(secret), creds)["error"]
    assert "mqtt.password_file" in error
    assert f"{secret} (Permission denied)" in error and f"{creds / 'mqtt.pass'} (No such file" in error
    assert "LoadCredential=mqtt.pass:" in error and "chmod 0640" in error


def test_unreadable_without_systemd_still_names_the_key(etc):
    secret = root_only(etc / "mqtt.pass", "root-only\n")
    error = password_as_service_user(str(secret), None)["error"]
    assert error.startswith("[Errno 13] mqtt.password_file: cannot read") and "Permission denied" in error
