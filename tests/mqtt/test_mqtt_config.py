"""[mqtt] config checks: every problem named with its fix."""
from __future__ import annotations

import pytest

from controller.config import ConfigError, parse_config
from controller.telemetry import cpu_temp_c, meminfo_mb


def check(mqtt: dict) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config({"site": {"id": "ho-thon"}, "audio": {"amp_relay": ""}, "mqtt": mqtt})
    return err.value.problems


def test_mqtt_config_problems_are_named():
    assert "tls = true" in check({"host": "ioc", "tls": False, "ca_file": "/etc/ca.crt"})[0]
    assert "mqtt: key_file is set without cert_file" in check({"host": "ioc", "key_file": "/etc/k.pem"})[0]
    assert check({"public_url": "ho-thon:8080"})[0].startswith("mqtt.public_url: must start with http://")
    assert check({"protocol": "4"})[0].startswith("mqtt.protocol")
    ok = parse_config({"site": {"id": "ho-thon"}, "audio": {"amp_relay": ""}, "mqtt": {"host": "ioc", "public_url": "https://ho-thon.vpn:8080/"}})
    assert ok.mqtt.public_url == "https://ho-thon.vpn:8080" and ok.mqtt.port == 8883 and ok.mqtt.tls


def test_machine_readings_from_proc_and_sys(tmp_path):
    zone = tmp_path / "thermal_zone0"
    zone.mkdir()
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("48312\n")
    assert cpu_temp_c(tmp_path) == 48.3
    assert cpu_temp_c(tmp_path / "none") is None
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:        1000000 kB\nMemFree:          100000 kB\nMemAvailable:     488000 kB\n")
    assert meminfo_mb(str(info)) == (500, 976)


def test_a_host_name_that_does_not_resolve_names_mqtt_host():
    import socket

    from controller.broker_errors import connect_problem

    cfg = parse_config({"site": {"id": "ho-thon"}, "audio": {"amp_relay": ""}, "mqtt": {"host": "ioc.example.vn"}}).mqtt
    said = connect_problem(socket.gaierror(socket.EAI_NONAME, "Name or service not known"), cfg)
    assert "mqtt.host 'ioc.example.vn'" in said and "Name or service not known" in said


def checked(mqtt: dict) -> list[str]:
    """What `langso config check` says (check_files): the daemon itself runs on with these."""
    data = {"site": {"id": "ho-thon"}, "audio": {"amp_relay": ""}, "mqtt": mqtt}
    assert parse_config(data).mqtt.host == mqtt["host"]  # `langso run`: the house starts, the uplink says why not
    with pytest.raises(ConfigError) as err:
        parse_config(data, check_files=True)
    return err.value.problems


def test_a_url_or_a_port_in_mqtt_host_is_refused_with_the_keys_to_use():
    """Both pass paho's connect_async and would be looked up as host names for ever."""
    url = checked({"host": "mqtts://ioc.example.vn:8883/"})[0]
    assert url.startswith("mqtt.host: ") and 'host = "ioc.example.vn"' in url and "mqtt.port" in url
    port = checked({"host": "ioc.example.vn:8883"})[0]
    assert port.startswith("mqtt.host: ") and 'host = "ioc.example.vn" and port = 8883' in port
    for host in ("ioc.example.vn", "10.0.0.1", "fe80::1", ""):
        data = {"site": {"id": "ho-thon"}, "audio": {"amp_relay": ""}, "mqtt": {"host": host}}
        assert parse_config(data, check_files=True).mqtt.host == host


def test_a_relative_tls_file_is_refused_with_the_full_path_to_give():
    """paho opens it from the daemon's working directory: "/" under systemd, not /etc/langso."""
    said = checked({"host": "ioc.example.vn", "ca_file": "ioc-ca.crt"})
    assert said[0].startswith("mqtt.ca_file: give the full path") and '"/etc/langso/ioc-ca.crt"' in said[0]
    said = checked({"host": "ioc.example.vn", "cert_file": "site.crt", "key_file": "/etc/langso/site.key"})
    assert any(problem.startswith("mqtt.cert_file: give the full path") for problem in said)


def test_a_link_closed_before_the_login_points_at_mqtt_tls_only_for_settings_that_never_worked():
    from controller.broker_errors import closed_before_accepting

    cfg = parse_config({"site": {"id": "ho-thon"}, "audio": {"amp_relay": ""}, "mqtt": {"host": "ioc", "tls": False}}).mqtt
    assert "set mqtt.tls = true" in closed_before_accepting("Unspecified error", cfg)
    assert "mqtt.tls" not in closed_before_accepting("Unspecified error", cfg, connected_before=True)
