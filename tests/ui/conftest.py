"""The Prefect UI in headless Chromium (Debian's chromium and chromium-driver, Selenium).

TENANTSYNC_UI_TESTS=0 skips these tests, saying so. Otherwise a missing browser is a failure, not
a skip: .ci/run installs chromium and chromium-driver when `chromium` is missing
(`apt-get install chromium chromium-driver` on Debian/Ubuntu).
TENANTSYNC_UI_SCREENSHOTS=1 writes the README's screenshots (docs/img/ui-*.png); without it they go
to the test's temporary folder, so a test run leaves the working tree as it was.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .stack import REPO, Stack, ui_stack

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1440, 1000)            # the approval dialog, switch included, fits


def _screenshots() -> bool:
    return os.environ.get("TENANTSYNC_UI_SCREENSHOTS") == "1"


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _enabled() -> None:
    if os.environ.get("TENANTSYNC_UI_TESTS") == "0":
        pytest.skip("TENANTSYNC_UI_TESTS=0: the Prefect UI is not tested in a browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _enabled()
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(Path(p).name))]
    if missing:
        pytest.fail(f"no headless browser: {', '.join(missing)} missing; install Debian's chromium and "
                    "chromium-driver (`apt-get install -y chromium chromium-driver`; .ci/run does), or set "
                    "TENANTSYNC_UI_TESTS=0 to skip the UI tests")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--lang=en-US", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER if Path(CHROMEDRIVER).exists()
                                              else str(shutil.which("chromedriver"))), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    _enabled()
    started = time.monotonic()
    # the README's screenshots show the addresses of `make ui` (4200, reports on 4201) when free
    port = 4200 if _screenshots() and all(_free(p) for p in (4200, 4201)) else None
    with ui_stack(tmp_path_factory.mktemp("make-ui"), thresholds={"us-to-hq": 3}, port=port) as running:
        print(f"\nthe stack of make ui is up in {time.monotonic() - started:.1f} s")
        yield running


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: docs/img with TENANTSYNC_UI_SCREENSHOTS=1, else a temporary folder."""
    if _screenshots():
        return REPO / "docs" / "img"
    return tmp_path_factory.mktemp("screenshots")
