"""Debian's headless Chromium driven by its chromedriver (selenium-manager never runs,
nothing is downloaded), at a phone's viewport. Shared by the e2e test, bench/bench_web.py and bench/bench_page_weight.py."""
from __future__ import annotations

import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

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
