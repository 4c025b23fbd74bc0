"""A real browser for the console's tests: Debian's headless Chromium, driven by Selenium
through Debian's chromedriver (the same package version as the browser, so they always match;
nothing is downloaded). Also what writes the screenshots, for the tests' artifacts and for the
README (``python -m tests.local.console_scene docs/console.png``)."""

from __future__ import annotations

import contextlib
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Where the tests leave screenshots for people to look at (gitignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
WAIT = 20.0  # seconds any condition in the page may take on a busy machine


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    scale: int
    mobile: bool


LAPTOP = Viewport("laptop", 1280, 800, 1, False)
PHONE = Viewport("phone", 390, 844, 2, True)


def missing() -> str | None:
    """Why no browser test can run here, or None if they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} not found (apt-get install chromium chromium-driver)"
    return None


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium with a fresh profile, closed (and its profile removed) after."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="wsctl-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        show(driver, LAPTOP)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def show(driver: Any, viewport: Viewport) -> None:
    """Lay the page out as ``viewport`` would (a phone: its width, pixel ratio, touch)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": viewport.width,
            "height": viewport.height,
            "deviceScaleFactor": viewport.scale,
            "mobile": viewport.mobile,
        },
    )


def wait_for(driver: Any, condition: Callable[[Any], Any], what: str, timeout: float = WAIT) -> Any:
    """What ``condition(driver)`` returns once it is truthy; fails saying ``what`` after
    ``timeout`` seconds, with the page's console messages."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)
    except TimeoutException:
        messages = [entry["message"] for entry in driver.get_log("browser")]
        raise AssertionError(f"{what}: not within {timeout} s; browser said {messages}") from None


def screenshot(driver: Any, viewport: Viewport, path: Path) -> Path:
    """Save what the page looks like at ``viewport`` as a PNG; the page is left laid out so."""
    show(driver, viewport)
    # Layout follows the new size on the next frame: wait for it, not for a fixed time.
    wait_for(
        driver,
        lambda d: d.execute_script("return window.innerWidth") == viewport.width,
        f"layout at {viewport.width} px",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(driver.get_screenshot_as_png())
    return path


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])
