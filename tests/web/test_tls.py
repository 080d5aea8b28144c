"""HTTPS: `langso web cert` makes a real certificate with openssl, the daemon serves the
page and API over TLS with it (cheroot), and session cookies become Secure."""
from __future__ import annotations

import http.client
import json
import re
import ssl
import urllib.request
from http.cookiejar import CookieJar

import pytest

from controller.commands import Actor, SetRelay

from controller.cli import main
from controller.config import ConfigError, parse_config
from tests.conftest import house_data
from tests.web.conftest import PASSWORD


def test_half_a_tls_pair_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_config(house_data(tmp_path, web={"listen": "127.0.0.1:0", "tls_cert": "/x.crt"}), "test")
    assert any("web" in p and "tls_key" in p for p in err.value.problems)


def test_https_with_a_certificate_from_langso_web_cert(tmp_path, make_config, start_app, capsys):
    assert main(["web", "cert", "--dir", str(tmp_path / "tls"), "--days", "30"]) == 0
    assert 'tls_cert = "' in capsys.readouterr().out
    cert, key = tmp_path / "tls" / "web.crt", tmp_path / "tls" / "web.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    app = start_app(make_config(web={"listen": "127.0.0.1:0", "tls_cert": str(cert), "tls_key": str(key)}))
    assert app.url.startswith("https://127.0.0.1:")
    app.house.store.add_user("lan", "head", PASSWORD)

    context = ssl.create_default_context(cafile=str(cert))  # verified: the cert names 127.0.0.1
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor(jar))
    login_page = opener.open(app.url + "/login").read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    body = f"name=lan&password={urllib.parse.quote(PASSWORD)}&csrf_token={csrf}".encode()
    home = opener.open(urllib.request.Request(app.url + "/login", data=body, headers={"Referer": app.url + "/login"}))
    assert 'data-relay="tv"' in home.read().decode()
    cookie = next(c for c in jar if c.name == "langso_session")
    assert cookie.secure
    status = json.loads(opener.open(app.url + "/api/v1/status").read())
    assert [r["name"] for r in status["relays"]] == ["tv", "radio", "amp"]
    # live updates stream over HTTPS too (cheroot must not buffer the event stream)
    live = opener.open(app.url + "/api/v1/live", timeout=30)
    assert live.readline().startswith(b"retry:")
    app.house.handle(SetRelay("radio", "on", Actor("mqtt")))
    lines = [live.readline() for _ in range(4)]
    assert b"event: relay\n" in lines and any(b'"name": "radio"' in line for line in lines), lines
    live.close()
    with pytest.raises((OSError, http.client.HTTPException)):  # plain HTTP is not served on the TLS port (400 or reset)
        urllib.request.urlopen(app.url.replace("https", "http") + "/api/v1/status", timeout=5)


@pytest.mark.parametrize("host", ["", "bad host", "x_y.local", "ä.vn"])
def test_web_cert_names_a_bad_host(tmp_path, capsys, host):
    assert main(["web", "cert", "--dir", str(tmp_path / "tls"), "--host", host]) == 2
    assert "--host:" in capsys.readouterr().err
    assert not (tmp_path / "tls").exists()


def test_missing_certificate_file_is_a_config_error(tmp_path, make_config, start_app, capsys):
    """`config check` finds it (install.sh runs it), and `run` stops with exit 2 naming the
    field (systemd does not restart it), not blaming web.listen with a busy-port hint."""
    from controller.config import ConfigError
    from tests.conftest import house_data, write_toml

    tls = {"listen": "127.0.0.1:0", "tls_cert": str(tmp_path / "no.crt"), "tls_key": str(tmp_path / "no.key")}
    with pytest.raises(ConfigError) as err:
        start_app(make_config(web=tls))
    assert [p.split(":")[0] for p in err.value.problems] == ["web.tls_cert", "web.tls_key"]
    config = write_toml(tmp_path / "langso.toml", house_data(tmp_path / "data", web=tls))
    assert main(["config", "check", str(config)]) == 2
    out = capsys.readouterr().err
    assert "web.tls_cert: " in out and "langso web cert" in out
    assert main(["run", "--config", str(config)]) == 2
    out = capsys.readouterr().err
    assert "web.tls_cert: cannot read" in out and "web.listen" not in out
