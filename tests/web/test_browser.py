"""End to end in real headless Chromium at a phone's size against a running App:
log in, switch the TV, see a relay switched elsewhere arrive live, announce, play a clip.

The announce and clip steps run for real when the audio and camera parts are built
(house.broadcasts / house.cameras); until then they check the page says "not available"."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from controller.commands import Actor, SetRelay
from controller.passwords import hash_password
from tests.web.browser import phone_browser
from tests.web.conftest import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SAMPLE = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"  # Debian's opencv-doc sample footage


@pytest.fixture
def browser(tmp_path):
    driver = phone_browser(tmp_path / "chromium")
    yield driver
    driver.quit()


def requested_hosts(driver) -> set[str]:
    hosts = set()
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if url.startswith("http"):
                hosts.add(urlparse(url).netloc)
    return hosts


def test_phone_flow(make_config, start_app, browser):
    app = start_app(make_config(cameras=[{"name": "san", "source": SAMPLE, "post_s": 1, "pre_s": 1}]))
    app.house.store.add_user("truongthon", "head", hash_password(PASSWORD))
    wait = WebDriverWait(browser, 30)

    browser.get(app.url + "/")
    assert "/login" in browser.current_url
    browser.find_element(By.NAME, "name").send_keys("truongthon")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-relay="tv"]'))
    assert "Thiết bị" in browser.page_source and browser.execute_script("return document.documentElement.lang") == "vi"

    # one tap switches the TV, and the tile says so
    tv = browser.find_element(By.CSS_SELECTOR, '[data-relay="tv"]')
    assert "off" in tv.get_attribute("class")
    tv.click()
    wait.until(lambda d: "on" in d.find_element(By.CSS_SELECTOR, '[data-relay="tv"]').get_attribute("class").split())
    assert app.house.board.get("tv").is_on
    assert browser.find_element(By.CSS_SELECTOR, '[data-relay="tv"] .state').text.upper() == "BẬT"
    assert app.house.store.relay_states()["tv"].actor == "web:truongthon"

    # a relay switched by someone else (MQTT, a button, a schedule) shows up without reload
    marker = browser.execute_script("window.notReloaded = true; return 1")
    app.house.handle(SetRelay("radio", "on", Actor("mqtt")))
    wait.until(lambda d: "on" in d.find_element(By.CSS_SELECTOR, '[data-relay="radio"]').get_attribute("class").split())
    assert marker == 1 and browser.execute_script("return window.notReloaded") is True
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "web-home-phone.png"))
    assert requested_hosts(browser) == {urlparse(app.url).netloc}  # nothing external

    # announce
    browser.find_element(By.LINK_TEXT, "Phát thông báo").click()
    wait.until(lambda d: d.execute_script("return document.body.dataset.page") == "broadcasts")
    if app.house.broadcasts is None:
        assert "Chưa phát thông báo được" in browser.find_element(By.CSS_SELECTOR, ".unavailable").text
    else:
        text = "Tối nay 19 giờ họp thôn tại nhà văn hóa."
        browser.find_element(By.NAME, "text").send_keys(text)
        browser.find_element(By.CSS_SELECTOR, "#say button[type=submit]").click()
        wait.until(lambda d: "Đã gửi ra loa" in d.find_element(By.ID, "status-line").text)
        WebDriverWait(browser, 120).until(lambda d: text in d.find_element(By.ID, "log").text)
    browser.save_screenshot(str(ARTIFACTS / "web-broadcast-phone.png"))

    # cameras: open an event clip and seek in it (HTTP Range)
    browser.find_element(By.LINK_TEXT, "Camera").click()
    wait.until(lambda d: d.execute_script("return document.body.dataset.page") == "cameras")
    if app.house.cameras is None:
        assert "Chưa xem camera được" in browser.find_element(By.CSS_SELECTOR, ".unavailable").text
    else:
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#cameras img"))
        WebDriverWait(browser, 180, poll_frequency=2).until(lambda d: (d.refresh() or True) and WebDriverWait(d, 10).until(
            lambda d2: d2.find_elements(By.CSS_SELECTOR, "#events button.play") or [None])[0] is not None)
        browser.find_element(By.CSS_SELECTOR, "#events button.play").click()
        wait.until(lambda d: d.execute_script("const v = document.getElementById('clip'); return v.readyState >= 1 && v.duration > 0"))
        browser.execute_script("const v = document.getElementById('clip'); v.currentTime = v.duration / 2")
        wait.until(lambda d: d.execute_script("const v = document.getElementById('clip'); return !v.seeking && v.currentTime > 0 && !v.error"))
    browser.save_screenshot(str(ARTIFACTS / "web-cameras-phone.png"))
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
