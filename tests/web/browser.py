"""Debian's headless Chromium driven by its chromedriver (selenium-manager never runs,
nothing is downloaded), at a phone's viewport, and a link to the house that drops like 3G. Shared by the e2e test, bench/bench_web.py and bench/bench_page_weight.py."""
from __future__ import annotations

import socket
import tempfile
import threading
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = {"width": 390, "height": 844, "pixelRatio": 2.0}


def phone_browser(profile_dir: Path | None = None) -> webdriver.Chrome:
    profile = profile_dir or Path(tempfile.mkdtemp(prefix="langso-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--lang=vi", f"--user-data-dir={profile}",
                 # Chromium's own fake microphone (a beep) and an automatic "allow": the page's
                 # MediaRecorder path runs for real without a sound card or a human
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--window-size={PHONE['width']},{PHONE['height']}"):
        options.add_argument(flag)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


class Link:
    """The phone's link to the house as a TCP relay on its own port (`url`), which the test
    can cut (every open connection closed, new ones refused: a 3G drop) and restore, or
    have drop as the house answers a request (`lose_answer_to`): the request arrived and
    was done, the phone never hears so."""

    def __init__(self, target_port: int):
        self._target = ("127.0.0.1", target_port)
        self._lock = threading.Lock()
        self._open: list = []
        self.up = True
        self._lose: bytes | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                phone, _ = self._listener.accept()
            except OSError:  # closed
                return
            with self._lock:
                if not self.up:
                    phone.close()
                    continue
                house = socket.create_connection(self._target)
                self._open += [phone, house]
            asked: dict[str, bool] = {}  # this connection carried the request whose answer is lost
            for a, b, up in ((phone, house, True), (house, phone, False)):
                threading.Thread(target=self._pipe, args=(a, b, up, asked), daemon=True).start()

    def _pipe(self, src, dst, up: bool, asked: dict[str, bool]) -> None:
        try:
            while data := src.recv(65536):
                if up and self._lose and self._lose in data:
                    asked["lose"] = True
                if not up and asked.pop("lose", False):  # the house answers it: the link drops now
                    self._lose = None
                    self.cut()
                    return
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self._lock:
            self.up = False
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._open.clear()

    def lose_answer_to(self, request_line: bytes) -> None:
        """The next request starting with `request_line` (b"POST /api/v1/broadcasts ") reaches
        the house; as its answer comes back the link is cut."""
        self._lose = request_line

    def restore(self) -> None:
        with self._lock:
            self.up = True

    def close(self) -> None:
        self.cut()
        self._listener.close()


def log_in(browser: webdriver.Chrome, url: str, name: str = "lan") -> WebDriverWait:
    """Log `name` in (tests.web.conftest.PASSWORD) at the house at `url`; on the home page."""
    from tests.web.conftest import PASSWORD

    wait = WebDriverWait(browser, 30)
    browser.get(url + "/login")
    wait.until(lambda d: d.find_elements(By.NAME, "password"))
    browser.find_element(By.NAME, "name").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-relay="tv"]'))
    return wait
