import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import main
from controller.config import ConfigError, demo_config, load_config, parse_config

GOOD = """
[site]
id = "dinh-hung-ho-thon"
name = "Nhà văn hóa thôn Hổ Thôn"
groups = ["yen-dinh", "dinh-hung"]

[gpio]
pin_factory = "mock"

[[relays]]
name = "tv"
pin = 17

[[relays]]
name = "amp"
pin = 22
active_high = true
power_on = "restore"
max_on_s = 7200
"""


def problems(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "langso.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return err.value.problems


def test_good_config_loads_with_defaults(tmp_path):
    path = tmp_path / "langso.toml"
    path.write_text(GOOD, encoding="utf-8")
    config = load_config(path)
    assert config.site.timezone == "Asia/Ho_Chi_Minh"
    assert [r.name for r in config.relays] == ["tv", "amp"]
    assert config.relays[0].active_high is False and config.relays[0].min_interval_s == 5
    assert config.audio.amp_relay == "amp"
    assert config.mqtt.host == ""


def test_every_problem_is_reported_at_once_with_its_key(tmp_path):
    text = """
[site]
id = "Hổ Thôn"
colour = "blue"

[[relays]]
name = "tv"
pin = 40

[[relays]]
name = "tv"
pin = 17
active_high = "maybe"
min_interval_s = -1

[[relays]]
name = "radio"
pin = 17

[audio]
amp_relay = "amp"
volume = 150
"""
    found = problems(text, tmp_path)
    joined = "\n".join(found)
    assert any(p.startswith("site.id:") and "slug" in p for p in found)
    assert any(p.startswith("site.colour:") and "unknown key" in p for p in found)
    assert any(p.startswith("relays[0].pin:") and "2-27" in p for p in found)
    assert any(p.startswith("relays[1].active_high:") for p in found)
    assert any(p.startswith("relays[1].min_interval_s:") for p in found)
    assert any(p.startswith("relays[1].name:") and "duplicate" in p for p in found)
    assert any(p.startswith("relays[2].pin:") and "already used" in p for p in found)
    assert any(p.startswith("audio.amp_relay:") and "'amp'" in p for p in found)
    assert any(p.startswith("audio.volume:") for p in found)
    assert len(found) == 9, joined


def test_missing_site_id_and_toml_syntax(tmp_path):
    assert problems("[site]\nname = 'x'\n", tmp_path) == ["site.id: required key is missing; add id = ... under [site] (systemd/langso.example.toml shows every key)"]
    assert problems("[site]\nid = 'x'\n[[relays]]\nname = 'tv'\n", tmp_path)[0].startswith(
        "relays[0].pin: required key is missing; add pin = ... to this [[relays]] entry")
    found = problems("[site\nid = 1", tmp_path)
    assert len(found) == 1 and found[0].startswith("TOML syntax:")


def test_wrong_types_name_the_value(tmp_path):
    found = problems('[site]\nid = "a"\n[[relays]]\nname = "tv"\npin = "seventeen"\n[audio]\namp_relay = ""\n', tmp_path)
    assert found == ["relays[0].pin: Input should be a valid integer, unable to parse string as an integer (got 'seventeen')"]


def test_an_empty_storage_dir_is_refused_not_taken_as_the_current_folder():
    """Path("") is "." : the daemon's data (its database, clips) would go wherever it was started."""
    with pytest.raises(ConfigError) as err:
        parse_config({"site": {"id": "x"}, "audio": {"amp_relay": ""}, "storage": {"dir": " "}})
    assert err.value.problems == ['storage.dir: is empty; give the data folder, e.g. "/var/lib/langso" (or leave the key '
                                  "out) (got ' ')"]


def test_buttons_must_name_a_relay_and_a_free_pin():
    with pytest.raises(ConfigError) as err:
        parse_config({
            "site": {"id": "x"}, "audio": {"amp_relay": ""},
            "relays": [{"name": "tv", "pin": 17}],
            "buttons": [{"pin": 17, "relay": "radio"}],
        })
    assert err.value.problems == [
        "buttons[0].pin: pin 17 is already used by relays[0]",
        "buttons[0].relay: no relay named 'radio'; use one of ['tv']",
    ]


def test_unknown_timezone_and_bad_group():
    with pytest.raises(ConfigError) as err:
        parse_config({"site": {"id": "x", "timezone": "Asia/Hanoi-ish", "groups": ["Yên Định"]}, "audio": {"amp_relay": ""}})
    assert [p.split(":")[0] for p in err.value.problems] == ["site.groups", "site.timezone"]


def test_a_wav_sink_inside_the_clips_folder_is_refused(tmp_path):
    """Camera start-up repair removes every *.part under the clips folder: the WAV being
    written would go with them, so the WAV sink needs a folder of its own."""
    for output in (f"wav:{tmp_path / 'clips'}", f"wav:{tmp_path / 'clips' / 'audio'}"):
        with pytest.raises(ConfigError) as err:
            parse_config({"site": {"id": "x"}, "storage": {"dir": str(tmp_path)}, "audio": {"output": output}})
        assert err.value.problems == [
            f"audio.output: the WAV folder {output[4:]} is inside the camera clips folder {tmp_path / 'clips'}; "
            f'use a folder of its own, e.g. "wav:{tmp_path / "audio-out"}"']
    config = parse_config({"site": {"id": "x"}, "storage": {"dir": str(tmp_path)}, "audio": {"output": f"wav:{tmp_path}"}})
    assert config.audio.wav_dir == str(tmp_path)  # the data folder itself is fine: the clips are a folder below it


def test_demo_defaults_need_no_file(tmp_path):
    config = demo_config(tmp_path, 8123)
    assert [r.name for r in config.relays] == ["tv", "radio", "amp"]
    assert all(r.min_interval_s == 5 for r in config.relays)
    assert config.gpio.pin_factory == "mock"
    assert config.audio.output.startswith("wav:")
    assert config.web.port == 8123


def test_cli_config_check_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text(GOOD, encoding="utf-8")
    assert main(["config", "check", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nid = "Bad"\n[[relays]]\nname="tv"\npin=40\n[audio]\namp_relay="amp"\n', encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "site.id:" in err and "relays[0].pin:" in err and "audio.amp_relay:" in err
    assert main(["config", "check", str(tmp_path / "missing.toml")]) == 2


def test_config_check_finds_files_that_are_not_there(tmp_path, capsys):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    config = tmp_path / "langso.toml"
    config.write_text(GOOD + f'[mqtt]\nhost = "ioc.example.vn"\ntls = true\nca_file = "{ca}"\n'
                      f'password_file = "{tmp_path / "no-pass"}"\nusername = "site"\n', encoding="utf-8")
    assert main(["config", "check", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"mqtt.password_file: {tmp_path / 'no-pass'} is not a file" in err and "ca_file" not in err
    relative = config.read_text().replace(str(tmp_path / "no-pass"), "mqtt.pass")  # systemd's LoadCredential: only in the service
    config.write_text(relative, encoding="utf-8")
    assert main(["config", "check", str(config)]) == 0


def test_config_check_lists_missing_files_with_the_other_problems_at_once(tmp_path, capsys):
    """A field error (tls_cert without tls_key, a bad port) does not hide the files that
    are not there: one run lists them all, line by line."""
    no = tmp_path / "nowhere"
    config = tmp_path / "langso.toml"
    config.write_text(GOOD + f'[web]\ntls_cert = "{no / "site.crt"}"\n'
                      f'[mqtt]\nhost = "ioc.example.vn"\nport = 0\nca_file = "{no / "ca.pem"}"\ncert_file = "{no / "site.pem"}"\n'
                      f'password_file = "{no / "mqtt.pass"}"\nkey_file = 7\n', encoding="utf-8")
    assert main(["config", "check", str(config)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"{config}: 7 problem(s)"
    keys = sorted(line.strip().split(":")[0] for line in lines[1:])
    assert keys == ["mqtt.ca_file", "mqtt.cert_file", "mqtt.key_file", "mqtt.password_file", "mqtt.port", "web", "web.tls_cert"]
    assert f"  mqtt.ca_file: {no / 'ca.pem'} is not a file; check the path" in lines


def test_python_m_controller_entry_point(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(GOOD, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "controller", "config", "check", str(good)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("toml, said", [
    ('[site]\nid = "a"\n[relays]\nname = "tv"\npin = 17\n',
     "relays: written as [relays] (one table); write each entry as [[relays]] (double brackets)"),
    ('[site]\nid = "a"\n[[mqtt]]\nhost = "ioc.example.vn"\n',
     "mqtt: written as [[mqtt]] (a list of tables); write [mqtt] (single brackets)"),
    ('site = "a"\n', "site: must be a table: write [site] with its keys on the lines below it"),
    ('[site]\nid = "a"\ngroups = "yen-dinh"\n', 'site.groups: must be a list in brackets, e.g. groups = ["yen-dinh"]'),
])
def test_a_table_written_the_wrong_way_names_the_brackets_to_use(tmp_path, toml, said):
    path = tmp_path / "langso.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.problems[0].startswith(said), err.value.problems
