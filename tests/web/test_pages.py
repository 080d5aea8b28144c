"""Pages: first-run set-up, login, roles, language, and every page renders for real."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from controller.commands import Actor, SetRelay

from tests.web.conftest import PASSWORD, csrf_of, log_in


def test_first_run_forces_creating_a_user_with_a_real_password(app, client):
    assert client.get("/").headers["Location"].endswith("/setup")
    assert client.get("/login").headers["Location"].endswith("/setup")
    page = client.get("/setup")
    assert "Khởi động lần đầu" in page.text and "mật khẩu mặc định" in page.text
    token = csrf_of(page.text)
    weak = client.post("/setup", data={"name": "hoa", "role": "tech", "password": "12345678", "password2": "12345678", "csrf_token": token})
    assert weak.status_code == 400 and "Mật khẩu" in weak.text
    differ = client.post("/setup", data={"name": "hoa", "role": "tech", "password": PASSWORD, "password2": PASSWORD + "x", "csrf_token": token})
    assert differ.status_code == 400 and "không giống" in differ.text
    assert app.house.store.users() == []
    ok = client.post("/setup", data={"name": "hoa", "role": "tech", "password": PASSWORD, "password2": PASSWORD, "csrf_token": token})
    assert ok.status_code == 302
    assert [u["name"] for u in app.house.store.users()] == ["hoa"]
    assert app.house.store.user("hoa")["must_change"] == 0  # chosen by the user themself
    assert client.get("/").status_code == 200  # logged in straight away
    assert client.get("/setup").status_code == 404  # set-up is gone once a user exists


def test_setup_without_csrf_token_is_refused(app, client):
    resp = client.post("/setup", data={"name": "hoa", "role": "tech", "password": PASSWORD, "password2": PASSWORD})
    assert resp.status_code == 400 and "hãy tải lại trang rồi thử lại" in resp.text
    assert app.house.store.users() == []


def test_login_logout_and_wrong_password(client, add_user):
    add_user("lan", "head")
    assert client.get("/").headers["Location"].startswith("/login")
    token = csrf_of(client.get("/login").text)
    bad = client.post("/login", data={"name": "lan", "password": "wrong password", "csrf_token": token})
    assert bad.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in bad.text
    log_in(client, "lan")
    home = client.get("/")
    assert home.status_code == 200 and 'data-relay="tv"' in home.text
    cookie = client.get_cookie("langso_session")
    assert cookie.http_only and cookie.same_site == "Lax"
    assert client.post("/logout", data={"csrf_token": csrf_of(home.text)}).status_code == 302
    assert client.get("/").status_code == 302


def test_a_form_sent_after_the_cookie_was_lost_says_why_and_the_fix_in_the_pages_language(client, add_user, session_as):
    """The login page loaded, then the browser dropped its cookies (or the phone kept the
    page open for days): the page says what to do, in Vietnamese, not Flask-WTF's English."""
    said = '<p class="error">Trang đã cũ (mở quá lâu, hoặc trình duyệt đã mất phiên làm việc); hãy tải lại trang rồi thử lại.</p>'
    add_user("lan", "head")
    token = csrf_of(client.get("/login?next=/schedules").text)
    client.delete_cookie("langso_session")
    resp = client.post("/login?next=/schedules", data={"name": "lan", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    assert said in resp.text and "CSRF" not in resp.text, resp.text
    assert '<a class="button primary" href="/login?next=/schedules">Tải lại trang</a>' in resp.text  # one tap: the form again
    # a form that is only ever posted (log out): no reload link, the way home
    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 400 and said in resp.text and "Tải lại trang" not in resp.text and 'href="/"' in resp.text
    # programs (and the page's own script, which words it from T.err_csrf) keep the JSON message
    page, csrf = session_as("head")
    resp = page.post("/api/v1/relays/tv", json={"state": "on"}, headers={"X-CSRFToken": "stale"})
    assert resp.status_code == 400 and "CSRF" in resp.json["error"]


def test_login_is_rate_limited(client, add_user):
    add_user("lan", "head")
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        assert client.post("/login", data={"name": "lan", "password": "nope nope", "csrf_token": token}).status_code == 401
    blocked = client.post("/login", data={"name": "lan", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429 and "quá nhiều" in blocked.text


def test_login_redirect_stays_on_this_site(client, add_user):
    add_user("lan", "head")
    token = csrf_of(client.get("/login").text)
    resp = client.post("/login?next=//evil.example/x", data={"name": "lan", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/"


def where_a_browser_goes(location: str, page: str = "http://nha-van-hoa.local/login") -> str:
    """The host a phone's browser opens for a Location header, read as the WHATWG URL parser
    reads it: tabs and newlines anywhere are dropped, leading and trailing control characters
    and spaces too, and a backslash is a slash in an http(s) URL."""
    cleaned = re.sub(r"[\t\n\r]", "", location).strip("".join(map(chr, range(33)))).replace("\\", "/")
    return urlsplit(urljoin(page, cleaned)).netloc


@pytest.mark.parametrize("target", ["/%09/evil.example/x", "/%0A/evil.example/x", "/%0D%0A/evil.example/x",
                                    "/%5C/evil.example/x", "%5C%5Cevil.example/x", "%20//evil.example/x",
                                    "/%09%09/evil.example", "http://evil.example/x", "https:evil.example"])
def test_login_never_sends_the_phone_to_another_site(client, add_user, target):
    """A link to the house's login page with a `next` that a browser reads as another site
    (a tab or a backslash in `//evil.example`) would, after the head logs in, open a page
    made to look like the house's; and a newline in it must not end in a 500."""
    add_user("lan", "head")
    token = csrf_of(client.get("/login").text)
    resp = client.post(f"/login?next={target}", data={"name": "lan", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.text
    assert where_a_browser_goes(resp.headers["Location"]) == "nha-van-hoa.local", resp.headers["Location"]
    # the language button's `next` too
    lang = client.post("/language", data={"lang": "en", "next": unquote(target), "csrf_token": csrf_of(client.get("/").text)})
    assert lang.status_code == 302 and where_a_browser_goes(lang.headers["Location"]) == "nha-van-hoa.local"


def test_login_still_leads_to_the_page_asked_for(client, add_user):
    add_user("lan", "head")
    token = csrf_of(client.get("/login").text)
    resp = client.post("/login?next=/cameras%3Fx%3D1", data={"name": "lan", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/cameras?x=1"


@pytest.mark.parametrize("role, allowed, refused", [
    ("head", ["/", "/broadcasts", "/schedules", "/cameras", "/system"], []),
    ("tech", ["/", "/broadcasts", "/schedules", "/cameras", "/system"], []),
    ("viewer", ["/", "/cameras", "/system"], ["/broadcasts", "/schedules"]),
])
def test_pages_by_role(session_as, role, allowed, refused):
    client, _ = session_as(role)
    for path in allowed:
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert "http://" not in resp.text.replace("http://www.w3.org", "") and "https://" not in resp.text  # nothing external
    for path in refused:
        assert client.get(path).status_code == 403, path


def test_a_house_without_cameras_says_so(session_as):
    client, _ = session_as("head")  # the test house has no [[cameras]]
    page = client.get("/cameras").text
    assert "Chưa có camera nào" in page and 'id="camera-filter"' not in page


def test_system_page_shows_health_and_admin_only_for_tech(session_as, add_user, client):
    c, _ = session_as("tech")
    page = c.get("/system").text
    assert "Dung lượng trống" in page and 'id="add-token"' in page
    assert "Nhiệt độ" in page and "Bộ nhớ đang dùng" in page  # machine readings wired by App._build_web
    assert "tắt (chưa đặt máy chủ của huyện" in page  # the test house has no mqtt.host: the link is off, not "lost"
    c.get("/logout")
    add_user("viewer1", "viewer")
    c.post("/logout", data={"csrf_token": csrf_of(page)})
    log_in(client, "viewer1")
    assert 'id="add-token"' not in client.get("/system").text


def test_the_user_list_words_the_roles_as_the_add_user_form_does(session_as):
    """Hệ thống's user list (drawn by app.js from GET /api/v1/users) gets the roles' words
    from the page, the same the add-user form and the footer use, not "kythuat (tech)"."""
    import json

    client, _ = session_as("tech")
    page = client.get("/system").text
    strings = json.loads(page.split('<script id="strings" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert {k: v for k, v in strings.items() if k.startswith("role_")} == {
        "role_head": "trưởng thôn", "role_tech": "kỹ thuật viên", "role_viewer": "người xem"}
    for role, label in (("head", "trưởng thôn"), ("viewer", "người xem"), ("tech", "kỹ thuật viên")):
        assert f'<option value="{role}">{label}</option>' in page
    assert "user-tech · kỹ thuật viên" in page  # the footer


def test_the_token_form_and_list_word_the_scopes_keeping_their_names(session_as):
    """Hệ thống's token form says what each scope lets a token do, its name (what the IOC's
    people and `langso token add --scope` use) beside it; the list drawn by app.js gets the
    same words from the page."""
    import json

    client, csrf = session_as("tech")
    page = client.get("/system").text
    for scope, label in (("control", "bật tắt thiết bị"), ("broadcast", "phát thông báo"), ("events:read", "xem camera"),
                         ("admin", "quản trị hệ thống")):
        assert f'value="{scope}"' in page and f'> {label} <small class="hint">({scope})</small></label>' in page
    strings = json.loads(page.split('<script id="strings" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert strings["scope_events:read"] == "xem camera" and strings["field_camera"] == "Camera"
    client.post("/language", data={"lang": "en", "csrf_token": csrf})
    assert '> see the cameras <small class="hint">(events:read)</small></label>' in client.get("/system").text


def test_home_shows_who_switched_last(app, session_as):
    client, csrf = session_as("head")
    assert client.post("/api/v1/relays/tv", json={"state": "on"}, headers={"X-CSRFToken": csrf}).status_code == 200
    page = client.get("/").text
    assert "user-head ·" in page and "web:user-head" not in page  # who, as the village head says it
    assert 'class="tile on" data-relay="tv"' in page


def test_the_house_switching_on_its_own_is_said_in_the_pages_language(app, session_as):
    """The amplifier switched by the broadcast worker (Actor("system", "broadcast")), the
    district's group command and the house at power-on, worded whole on the home page."""
    client, csrf = session_as("head")
    app.house.handle(SetRelay("amp", "on", Actor("system", "broadcast"), force=True))
    app.house.handle(SetRelay("radio", "on", Actor("mqtt", "group:yen-dinh"), force=True))
    app.house.handle(SetRelay("tv", "on", Actor("system"), force=True))
    page = client.get("/").text
    assert "phát thông báo (tự động) ·" in page and "hệ thống broadcast" not in page, page
    assert "huyện (IOC), nhóm yen-dinh ·" in page and "group:" not in page
    assert "hệ thống ·" in page
    client.post("/language", data={"lang": "en", "csrf_token": csrf})
    page = client.get("/").text
    assert "announcement (automatic) ·" in page and "district (IOC), group yen-dinh ·" in page


def test_language_switch_to_english_and_back(session_as):
    client, csrf = session_as("head")
    assert "Thiết bị" in client.get("/").text
    assert client.post("/language", data={"lang": "en", "next": "/", "csrf_token": csrf}).status_code == 302
    page = client.get("/").text
    assert "Equipment" in page and 'lang="en"' in page
    assert client.post("/language", data={"lang": "xx", "csrf_token": csrf}).status_code == 400
    client.post("/language", data={"lang": "vi", "csrf_token": csrf})
    assert "Thiết bị" in client.get("/").text


def test_the_chosen_language_outlives_login_logout_and_an_expired_session(web, client, add_user):
    add_user("lan", "head")
    before = csrf_of(client.get("/login").text)
    assert client.post("/language", data={"lang": "en", "next": "/login", "csrf_token": before}).status_code == 302
    with client.session_transaction() as sess:  # what someone may have planted in this phone's session before the login
        planted = sess["csrf_token"]
        sess["user"], sess["note"] = "tech-boss", "kept?"
    csrf = log_in(client, "lan")
    with client.session_transaction() as sess:  # a fresh session: the language and nothing else goes on
        assert (sess["lang"], sess["user"], "note" in sess) == ("en", "lan", False)
        assert sess["csrf_token"] != planted
    assert client.post("/language", data={"lang": "en", "csrf_token": before}).status_code == 400  # the old form token is dead
    assert "Equipment" in client.get("/").text
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    page = client.get("/login").text
    assert 'lang="en"' in page and "User name" in page
    with client.session_transaction() as sess:
        assert dict(sess).keys() == {"lang", "csrf_token"}  # logged out: no user, no mark, a new CSRF token
    log_in(client, "lan")
    with client.session_transaction() as sess:
        sess["seen"] = 0  # idle for too long
    assert "Your session expired; please log in again." in client.get("/", follow_redirects=True).text


def test_unknown_page_is_a_page_and_unknown_api_path_is_json(session_as):
    client, _ = session_as("head")
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html" and "Về trang chủ" in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and "error" in api.json


def test_every_page_string_has_a_vietnamese_translation():
    """Every string marked for translation in web/ (templates and Python) is translated in
    the vi catalogue, so no English leaks onto the village head's page."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    import web
    from web.i18n import TRANSLATIONS

    root = Path(web.__file__).parent
    used = {msg for _, _, msg, _, _ in extract_from_dir(
        root, [("**/templates/**.html", "jinja2"), ("**.py", "python")], keywords={"_": None, "gettext": None})}
    with open(TRANSLATIONS / "vi/LC_MESSAGES/messages.po", "rb") as f:
        catalogue = read_po(f)
    untranslated = sorted(m for m in used if not (catalogue.get(m) and catalogue.get(m).string))
    assert len(used) > 100 and untranslated == []


def test_the_page_is_vietnamese_without_writing_into_the_install(app):
    """The catalogues are compiled in memory: a package the service cannot write to
    (/opt/langso under ProtectSystem=strict) serves the same Vietnamese page."""
    from web import create_app
    from web.i18n import TRANSLATIONS

    def files() -> dict:
        return {p: p.stat().st_mtime_ns for p in TRANSLATIONS.rglob("*") if p.is_file()}

    before = files()
    web = create_app(app.house, {"TESTING": True})
    try:
        assert "Khởi động lần đầu" in web.test_client().get("/setup").text
    finally:
        web.extensions["live_close"]()
    assert files() == before  # nothing compiled to disk (an old checkout's .mo is left as it was)


def test_pages_carry_a_content_security_policy_that_allows_only_this_house(session_as):
    client, _ = session_as("head")
    resp = client.get("/")
    policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "<style>" in resp.text and 'rel="stylesheet"' not in resp.text  # styles inline: one round trip less on 3G
