"""The counter app in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

``counter_browser``  a 1024x600 headless Chromium on a terminal's counter page (closed when the block ends)
``wait_for`` / ``screen`` / ``by_id`` / ``text``  poll and read the page
``sign_in`` / ``claim_typed``  the officer's steps: PIN sign-in, a claim by typed recipient id
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.served_terminal import Terminal

WAIT = 120  # seconds: a claim runs the real pipeline on a shared 2-core machine
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage", "--window-size=1024,600")


@contextlib.contextmanager
def counter_browser(port: int, user_data_dir: Path) -> Iterator:
    """Chromium at 1024x600 on ``http://127.0.0.1:<port>/counter/?auto=1``; fails (not skips) without chromium."""
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        pytest.fail("chromium and chromium-driver are needed (scripts/system-packages.sh installs them)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a browser or a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={user_data_dir}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1024, "height": 600, "deviceScaleFactor": 1, "mobile": False})
        driver.get(f"http://127.0.0.1:{port}/counter/?auto=1")
        yield driver
    finally:
        driver.quit()


def wait_for(driver, js: str, timeout: float = WAIT):
    """Poll a JavaScript expression until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script("return " + js)
        if value:
            return value
        if time.monotonic() > deadline:
            notice = driver.execute_script("return document.getElementById('notice').textContent")
            raise AssertionError(f"timed out waiting for {js} (screen {driver.execute_script('return document.body.dataset.screen')}, notice {notice!r})")
        time.sleep(0.2)


def screen(driver, name: str, timeout: float = WAIT) -> None:
    wait_for(driver, f"document.body.dataset.screen === '{name}'", timeout)


def by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def text(driver, element_id: str) -> str:
    return driver.execute_script(f"return document.getElementById('{element_id}').textContent")


def sign_in(driver, term: Terminal, officer: str = "OFF-1") -> None:
    if driver.execute_script("return document.body.dataset.screen") != "lock":
        by_id(driver, "lock-now").click()
        screen(driver, "lock")
    by_id(driver, "officer-id").send_keys(officer)
    by_id(driver, "pin").send_keys(term.pins[officer])
    by_id(driver, "signin-go").click()
    screen(driver, "start")


def claim_typed(driver, rid: str) -> str:
    """Start a claim by typed recipient id; the outcome shown on the result banner."""
    if driver.execute_script("return document.body.dataset.screen") != "start":
        by_id(driver, "go-start").click()
        screen(driver, "start")
    by_id(driver, "rid").send_keys(rid + "\n")
    screen(driver, "result")
    return driver.execute_script("return document.getElementById('banner').dataset.outcome")
