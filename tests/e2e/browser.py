"""Headless Debian Chromium for the e2e tests: start it, wait in it, screenshot failures."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT = 60


def chromium(profile: Path) -> WebDriver:
    """Headless Chromium with its own profile and no background network traffic."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(binary):
            pytest.fail(f"{binary} not found: `make browser` installs Debian's chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage", "--window-size=1280,900",
                 f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=DriverService(CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT)
    return driver


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], message: str) -> Any:
    return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition, message)


@contextmanager
def screenshots_on_failure(
    drivers: dict[str, WebDriver], directory: Path, name: str
) -> Iterator[None]:
    """On any failure, save a screenshot of each browser as ``<name>-<role>.png``."""
    try:
        yield
    except BaseException:
        directory.mkdir(parents=True, exist_ok=True)
        for role, driver in drivers.items():
            path = directory / f"{name}-{role}.png"
            try:
                driver.save_screenshot(str(path))
                print(f"screenshot of the failure ({role}): {path}")
            except WebDriverException as error:
                print(f"no screenshot of the {role}: {error}")
        raise
