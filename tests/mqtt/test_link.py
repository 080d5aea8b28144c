"""The link itself: last will, retained state after reconnect, store-and-forward through a
broker outage and a restart, refused logins, TLS with MQTT 5, telemetry, event URLs."""
from __future__ import annotations

import json
import logging
import signal
import time
from importlib.metadata import version
from typing import Any

import pytest

from controller.app import App
from tests.conftest import cli_client
from tests.mqtt.conftest import USERS, wait_until

SITE = "langso/test-site"


def uplink(app: App) -> dict[str, Any]:
    return app.house.status()["uplink"]


def connected(app: App) -> None:
    wait_until(lambda: uplink(app)["state"] == "connected", 30, "uplink connected")


def event(i: int, kind: str = "new") -> dict[str, Any]:
    return {"camera": "cong-lang", "id": i, "type": kind, "start": 1000.0 + i, "end": None, "score": 0.5,
            "boxes": [[1, 2, 3, 4]], "tags": ["motion"], "snapshot": f"/data/ev{i}.jpg", "clip": None}


def test_last_will_after_kill_9(broker, ioc, daemon):
    watcher = ioc([f"{SITE}/status"])
    d = daemon(mqtt=broker.mqtt_config())
    watcher.wait(f"{SITE}/status", lambda p: p == b"online")
    d.stop(signal.SIGKILL)
    watcher.wait(f"{SITE}/status", lambda p: p == b"offline")
    fresh = ioc([f"{SITE}/status"])  # the will is retained: a late IOC sees it too
    assert fresh.wait(f"{SITE}/status") == b"offline"
    assert USERS["test-site"] not in d.output()


def test_clean_stop_publishes_offline(broker, ioc, make_config, start_app):
    watcher = ioc([f"{SITE}/status"])
    app = start_app(make_config(mqtt=broker.mqtt_config()))
    connected(app)
    app.house.uplink.stop()  # what App.stop() calls for the uplink
    watcher.wait(f"{SITE}/status", lambda p: p == b"offline")
    assert watcher.on(f"{SITE}/status")[-1] == b"offline"


def test_a_clean_stop_leaves_the_retained_relay_states_as_the_stop_left_the_relays(broker, ioc, make_config, start_app):
    """The stop switches every relay off: the IOC, which sees the house offline until it is
    back, must not read the TV as still on meanwhile."""
    from controller.commands import Actor, SetRelay

    app = start_app(make_config(mqtt=broker.mqtt_config()))
    connected(app)
    app.house.handle(SetRelay("tv", "on", Actor("web", "head")))
    watcher = ioc([f"{SITE}/relay/tv"])
    watcher.wait(f"{SITE}/relay/tv", lambda p: p == b"ON")
    app.stop()
    assert not any(relay.is_on for relay in app.house.board)
    late = ioc([f"{SITE}/status", f"{SITE}/relay/+"])  # what the IOC reads while the house is down
    assert late.wait(f"{SITE}/status") == b"offline"
    assert late.wait(f"{SITE}/relay/tv") == b"OFF"
    assert late.wait(f"{SITE}/relay/radio") == b"OFF" and late.wait(f"{SITE}/relay/amp") == b"OFF"


def test_retained_state_is_republished_on_reconnect(broker, ioc, make_config, start_app):
    app = start_app(make_config(mqtt=broker.mqtt_config(), cameras=[{"name": "cong-lang", "source": "/dev/null"}]))
    connected(app)
    from controller.commands import Actor, SetRelay

    app.house.handle(SetRelay("tv", "on", Actor("web", "head")))
    first = ioc([f"{SITE}/relay/+"])
    assert first.wait(f"{SITE}/relay/tv", lambda p: p == b"ON") == b"ON"
    first.close()
    broker.stop()
    broker.wipe()  # a replaced broker that knows nothing
    app.house.handle(SetRelay("radio", "on", Actor("web", "head")))  # changes while the link is down
    app.house.bus.publish("camera.motion", {"camera": "cong-lang", "on": True})
    app.house.bus.publish("broadcast.state", {"playing": {"id": "b1"}, "queue": []})
    wait_until(lambda: uplink(app)["state"] == "disconnected", 30, "uplink to notice the outage")
    assert "uplink" in app.house.status()["problems"]
    broker.start(first=False)
    connected(app)
    late = ioc([f"{SITE}/#"])
    assert late.wait(f"{SITE}/status") == b"online"
    assert late.wait(f"{SITE}/relay/tv") == b"ON"
    assert late.wait(f"{SITE}/relay/radio") == b"ON"
    assert late.wait(f"{SITE}/relay/amp") == b"OFF"
    assert late.wait(f"{SITE}/camera/cong-lang/motion") == b"ON"
    assert json.loads(late.wait(f"{SITE}/broadcast/state")) == {"playing": {"id": "b1"}, "queue": []}
    assert all(retain for t, _, retain in late.seen if t.startswith(f"{SITE}/relay/"))
    assert uplink(app)["connects"] == 2 and "uplink" not in app.house.status()["problems"]


def test_status_of_a_connected_uplink_does_not_show_the_last_error_as_current(broker, make_config, start_app, monkeypatch,
                                                                            capsys):
    """`langso status` said "connected" and, under it, "last error: …; retrying with backoff"."""
    from controller.cli import main

    monkeypatch.delenv("LANGSO_URL", raising=False)
    broker.stop()
    app = start_app(make_config(mqtt=broker.mqtt_config()))
    wait_until(lambda: uplink(app)["attempts"] >= 1, 30, "a failed connection attempt")
    broker.start(first=False)
    connected(app)
    assert main(["--data-dir", str(app.config.storage.dir), "status"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "retrying" in line or line.startswith("uplink")]
    assert lines[0].startswith("uplink    connected to 127.0.0.1:")
    assert lines[1].lstrip().startswith("before this connection: ") and "no broker listens there" in lines[1]


def test_events_during_a_10_s_outage_are_all_delivered_in_order(broker, ioc, make_config, start_app):
    district = ioc([f"{SITE}/camera/+/event", f"{SITE}/broadcast/log"], client_id="ioc-events", persistent=True)
    app = start_app(make_config(mqtt=broker.mqtt_config(public_url="https://ho-thon.vpn.example.vn:8080")))
    connected(app)
    app.house.bus.publish("camera.event", event(0))
    district.wait(f"{SITE}/camera/cong-lang/event")
    broker.stop()
    wait_until(lambda: uplink(app)["state"] == "disconnected", 30, "uplink to notice the outage")
    for i in range(1, 21):  # ten seconds of events and logs while the broker is away
        app.house.bus.publish("camera.event", event(i, "update" if i % 2 else "new"))
        if i % 5 == 0:
            app.house.bus.publish("broadcast.log", {"id": f"b{i}", "source": "text", "outcome": "played",
                                                    "started": 1.0, "ended": 2.0})
        time.sleep(0.5)
    wait_until(lambda: uplink(app)["outbox_depth"] >= 24, 10, "events stored in the outbox")
    broker.start(first=False)
    wait_until(lambda: len(district.on(f"{SITE}/camera/cong-lang/event")) >= 21, 60, "all events delivered")
    events = [json.loads(p) for p in district.on(f"{SITE}/camera/cong-lang/event")]
    assert [e["id"] for e in events] == list(range(21))
    assert events[3]["snapshot_url"] == "https://ho-thon.vpn.example.vn:8080/api/v1/events/3/snapshot.jpg"
    assert events[3]["clip_url"] is None and "snapshot" not in events[3]
    logs = [json.loads(p)["id"] for p in district.on(f"{SITE}/broadcast/log")]
    assert logs == ["b5", "b10", "b15", "b20"]
    wait_until(lambda: uplink(app)["outbox_depth"] == 0, 20, "outbox emptied after PUBACKs")


def test_outbox_survives_a_restart(broker, ioc, make_config, start_app):
    broker.stop()
    config = make_config(mqtt=broker.mqtt_config())
    first = start_app(config)
    for i in range(5):
        first.house.bus.publish("camera.event", event(i))
    wait_until(lambda: uplink(first)["outbox_depth"] >= 5, 10, "events in the outbox")
    assert uplink(first)["state"] in ("disconnected", "starting")
    first.stop()  # like a power cut: the link never came back while it ran
    broker.start(first=False)
    district = ioc([f"{SITE}/camera/+/event"])
    start_app(config)
    wait_until(lambda: len(district.on(f"{SITE}/camera/cong-lang/event")) >= 5, 30, "stored events delivered")
    assert [json.loads(p)["id"] for p in district.on(f"{SITE}/camera/cong-lang/event")] == [0, 1, 2, 3, 4]
    assert json.loads(district.on(f"{SITE}/camera/cong-lang/event")[0])["snapshot_url"] == "/api/v1/events/0/snapshot.jpg"


def test_wrong_password_is_refused_retried_and_never_connected(broker, make_config, start_app, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-password-42"
    app = start_app(make_config(mqtt=broker.mqtt_config(password=wrong)))
    wait_until(lambda: uplink(app)["attempts"] >= 3, 30, "three connection attempts")
    status = uplink(app)
    assert status["state"] == "refused" and status["connects"] == 0
    assert status["retry_delay_s"] == 2  # doubled from 1 s up to mqtt.reconnect_max_s = 2
    assert "refused" in status["last_error"] and "mqtt.password_file" in status["last_error"]
    assert "refused" in app.house.status()["problems"]["uplink"]
    assert wrong not in json.dumps(app.house.status()) and wrong not in caplog.text
    ok, detail = app.house.selftest()[-1]["ok"], app.house.selftest()[-1]["detail"]
    assert not ok and "refused" in detail


def test_tls_and_mqtt5(broker, ioc, make_config, start_app):
    cfg = broker.mqtt_config(tls=True, port=broker.tls_port, ca_file=str(broker.dir / "ca.crt"), protocol="5")
    district = ioc()
    app = start_app(make_config(mqtt=cfg))
    connected(app)
    district.publish(f"{SITE}/relay/amp/set", "ON")
    assert district.reply()["ok"] is True
    assert district.wait(f"{SITE}/relay/amp", lambda p: p == b"ON")
    result = next(r for r in app.house.selftest() if r["part"] == "broker")
    assert result["ok"] and "answered" in result["detail"]


def test_tls_with_a_client_certificate(broker, ioc, make_config, start_app):
    from tests.mqtt.conftest import make_client_cert

    cert, key = make_client_cert(broker.dir, "test-site")
    cfg = broker.mqtt_config(tls=True, port=broker.mtls_port, ca_file=str(broker.dir / "ca.crt"),
                             cert_file=str(cert), key_file=str(key))
    district = ioc([f"{SITE}/status"])
    app = start_app(make_config(mqtt=cfg))
    connected(app)
    assert district.wait(f"{SITE}/status", lambda p: p == b"online")


# paho-mqtt 2.x drops (does not close) the SSL socket of a failed handshake; the garbage
# collector closes it with a ResourceWarning. That is paho's, not ours, and harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_tls_with_an_unknown_ca_is_not_connected(broker, make_config, start_app, tmp_path):
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    from tests.mqtt.conftest import make_ca

    make_ca(other_ca)
    app = start_app(make_config(mqtt=broker.mqtt_config(tls=True, port=broker.tls_port, ca_file=str(other_ca / "ca.crt"))))
    wait_until(lambda: uplink(app)["attempts"] >= 2, 30, "two connection attempts")
    assert uplink(app)["state"] == "disconnected" and uplink(app)["connects"] == 0
    for said in (uplink(app)["last_error"], app.house.status()["problems"]["uplink"]):  # what `langso status` shows
        assert "not trusted" in said and "mqtt.ca_file" in said and str(other_ca / "ca.crt") in said


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # paho's dropped SSL socket, as above
@pytest.mark.parametrize("tls, port, key", [(False, "tls_port", "mqtt.tls = true"), (True, "port", "mqtt.tls = false"),
                                            (False, None, "mqtt.port")])
def test_a_wrong_port_or_tls_setting_is_a_problem_naming_the_key(broker, make_config, start_app, tls, port, key):
    """A plain client on the TLS port (the broker hangs up before any CONNACK), TLS on the
    plain port, no broker on the port: never connected, and status says which key to fix."""
    from tests.conftest import free_port

    mqtt = broker.mqtt_config(tls=tls, port=getattr(broker, port) if port else free_port())
    if tls:
        mqtt["ca_file"] = str(broker.dir / "ca.crt")
    app = start_app(make_config(mqtt=mqtt))
    wait_until(lambda: uplink(app)["attempts"] >= 2, 30, "two connection attempts")
    status = app.house.status()
    assert status["uplink"]["state"] == "disconnected" and status["uplink"]["connects"] == 0
    assert key in status["uplink"]["last_error"] and key in status["problems"]["uplink"]


def test_missing_password_file_is_reported_and_the_house_runs_on(broker, make_config, start_app, tmp_path):
    app = start_app(make_config(mqtt={**broker.mqtt_config(), "password_file": str(tmp_path / "nope.pass")}))
    status = cli_client(app.config.storage.dir).request("GET", "/status")  # what `langso status` shows
    assert status["uplink"]["state"] == "error" and "mqtt.password_file" in status["uplink"]["last_error"]
    assert "mqtt.password_file" in status["problems"]["uplink"]
    assert cli_client(app.config.storage.dir).request("POST", "/relays/amp", {"state": "on"})["on"] is True


def test_a_url_in_mqtt_host_keeps_the_uplink_off_and_says_why_while_the_house_runs(broker, make_config, start_app):
    """`langso config check` refuses it; a daemon started on it anyway (an upgrade, a reboot)
    keeps the relays and the page working, as for the uplink's files."""
    app = start_app(make_config(mqtt={**broker.mqtt_config(), "host": f"mqtt://127.0.0.1:{broker.port}"}))
    status = cli_client(app.config.storage.dir).request("GET", "/status")
    assert status["uplink"]["state"] == "error" and status["uplink"]["last_error"].startswith("mqtt.host: ")
    assert 'host = "127.0.0.1"' in status["problems"]["uplink"] and status["uplink"]["attempts"] == 0
    assert cli_client(app.config.storage.dir).request("POST", "/relays/amp", {"state": "on"})["on"] is True


def test_telemetry_is_sent(broker, ioc, make_config, start_app):
    district = ioc([f"{SITE}/telemetry"])
    app = start_app(make_config(mqtt=broker.mqtt_config()))
    data = json.loads(district.wait(f"{SITE}/telemetry"))
    for key in ("uptime_s", "cpu_temp_c", "disk_free_mb", "mem_used_mb", "clock_synced"):
        assert key in data
    assert data["version"] == version("langso") and data["mem_used_mb"] > 0 and data["disk_free_mb"] > 0 and data["clock_synced"] is True
    assert data["relays"] == {"tv": False, "radio": False, "amp": False}
    assert data["broadcast"] == {"playing": None, "queue": 0, "inbox": 0} and data["cameras"] == {}
    assert uplink(app)["state"] == "connected"


def test_uplink_off_without_host(make_config, start_app):
    app = start_app(make_config())
    assert cli_client(app.config.storage.dir).request("GET", "/status")["uplink"]["state"] == "disabled"
    assert app.house.uplink is None
    assert next(r for r in app.house.selftest() if r["part"] == "broker")["detail"].startswith("skipped")


def test_no_credential_in_the_daemon_log_after_connect_refusal_and_reconnect(broker, ioc, daemon):
    """`langso run` as systemd runs it: the log and `langso status` never carry the password."""
    import subprocess

    password = USERS["test-site"]
    d = daemon(mqtt=broker.mqtt_config())
    client = d.client
    wait_until(lambda: client.request("GET", "/status")["uplink"]["state"] == "connected", 30, "connected")
    broker.stop()  # the district changes the site's password: the broker now refuses it
    passwd = broker.dir / "passwd"
    saved = passwd.read_text()
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "test-site", "changed-by-the-district"], check=True)
    broker.start(first=False)
    wait_until(lambda: client.request("GET", "/status")["uplink"]["state"] == "refused", 30, "refused")
    refused = client.request("GET", "/status")
    broker.stop()  # and restores it
    passwd.write_text(saved)
    broker.start(first=False)
    wait_until(lambda: client.request("GET", "/status")["uplink"]["connects"] == 2, 60, "reconnected")
    d.stop()
    log = d.output()
    assert "uplink connected" in log and "uplink refused" in log and "uplink disconnected" in log
    assert log.count("uplink connected") == 2
    assert password not in log and "changed-by-the-district" not in log
    assert password not in json.dumps(refused) and "mqtt.password_file" in refused["uplink"]["last_error"]


def test_events_queued_at_stop_are_kept_for_the_next_start(broker, make_config, start_app):
    broker.stop()
    app = start_app(make_config(mqtt=broker.mqtt_config()))
    uplink_part = app.house.uplink
    uplink_part._stop.set()  # the worker ends; events keep coming until stop() unsubscribes
    uplink_part._thread.join(5)
    for i in range(3):
        app.house.bus.publish("camera.event", event(i))
    uplink_part.stop()
    assert [json.loads(p.payload)["id"] for p in uplink_part.outbox.after(0, 10) if "/event" in p.topic] == [0, 1, 2]


def test_a_message_the_broker_refuses_is_reported_not_resent_forever(broker, ioc, make_config, start_app, caplog):
    """MQTT 5: a PUBACK with a failure reason (here the ACL: the login is another site's)."""
    caplog.set_level(logging.INFO)
    district = ioc([f"{SITE}/camera/+/event"])
    app = start_app(make_config(mqtt=broker.mqtt_config(user="other-site", protocol="5")))
    connected(app)
    app.house.bus.publish("camera.event", event(7))
    wait_until(lambda: "uplink message refused by broker" in caplog.text, 20, "the refusal reported")
    assert "check the broker ACL" in caplog.text
    wait_until(lambda: uplink(app)["outbox_depth"] == 0, 20, "the refused message leaves the outbox")
    assert district.on(f"{SITE}/camera/cong-lang/event") == []
    assert uplink(app)["outbox_dropped"]["refused"] >= 1  # `langso status` says so
