"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium,
for the web interface tests. ``.ci/run`` installs both; without them the tests fail and say so.

Screenshots of the pages go to ``test-output/screenshots/`` (not committed) for a human to look
over, when ``AIMSGRAPH_TEST_SCREENSHOTS=1`` is set: the 46 full-page captures cost the suite about
20 s of Chromium's time, and no test reads them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("AIMSGRAPH_TEST_OUTPUT", REPO / "test-output")) / "screenshots"
TAKE_SCREENSHOTS = os.environ.get("AIMSGRAPH_TEST_SCREENSHOTS", "") == "1"
WIDE, NARROW = (1280, 900), (390, 844)
#: Seconds between the checks of a WebDriverWait: selenium's default, half a second, is longer
#: than most of what the tests wait for (a page load, a form's redirect), and each wait slept it.
POLL = 0.05


def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        raise RuntimeError(
            "the web tests need Chromium and ChromeDriver: apt-get install chromium chromium-driver (.ci/run does this)"
        )
    return browser, driver


def start_chromium(user_data: Path) -> webdriver.Chrome:
    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    # as the machine's notes say: no sandbox as root, and no background calls to Google's hosts,
    # which a closed network refuses (they would show up as console errors)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={user_data}",
        f"--window-size={WIDE[0]},{WIDE[1]}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    chrome.set_page_load_timeout(60)
    return chrome


def console_errors(chrome: webdriver.Chrome) -> list[str]:
    """Console messages at SEVERE since the last call (the log is drained by reading it)."""
    return [entry["message"] for entry in chrome.get_log("browser") if entry["level"] == "SEVERE"]


def viewport(chrome: webdriver.Chrome, width: int, height: int, mobile: bool = False) -> None:
    """Set the exact CSS viewport (the window size would include the browser's frame)."""
    chrome.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
    )


def screenshot(chrome: webdriver.Chrome, name: str, width: int = WIDE[0], mobile: bool = False) -> Path | None:
    """The whole page at ``width`` (the viewport is stretched to the page's height, then put
    back), if AIMSGRAPH_TEST_SCREENSHOTS=1; its file."""
    if not TAKE_SCREENSHOTS:
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = chrome.execute_script("return document.documentElement.scrollHeight")
    viewport(chrome, width, min(max(height, 600), 8000), mobile)
    chrome.save_screenshot(str(path))
    viewport(chrome, width, NARROW[1] if mobile else WIDE[1], mobile)
    return path
