"""Starting Debian's Chromium through rpaframework.

Nothing is downloaded at run time: the browser and its driver are the Debian packages
``chromium`` and ``chromium-driver``, passed explicitly to ``open_browser``
(``open_available_browser`` would try to fetch a driver).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from RPA.Browser.Selenium import Selenium
from selenium.webdriver import ChromeOptions
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from paybot.errors import ApplicationError

# Chromium's own background traffic is refused on a closed network, many connections at a
# time; these switches keep it quiet and the start fast.
QUIET_CHROMIUM = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--password-store=basic",
    "--window-size=1280,1000",
)


@dataclass(frozen=True)
class BrowserOptions:
    chromium: Path = Path("/usr/bin/chromium")
    chromedriver: Path = Path("/usr/bin/chromedriver")
    headless: bool = True
    download_dir: Path | None = None
    page_load_timeout: float = 30.0


@dataclass
class Browser:
    """One browser session: rpaframework's library and the WebDriver it drives."""

    lib: Selenium
    driver: WebDriver

    def close(self) -> None:
        # Closing a browser that is already gone is fine.
        with contextlib.suppress(Exception):
            self.lib.close_all_browsers()


def chrome_options(opts: BrowserOptions) -> ChromeOptions:
    options = ChromeOptions()
    options.binary_location = str(opts.chromium)
    if opts.headless:
        options.add_argument("--headless=new")
    for arg in QUIET_CHROMIUM:
        options.add_argument(arg)
    if opts.download_dir is not None:
        options.add_experimental_option(
            "prefs",
            {
                "download.default_directory": str(opts.download_dir),
                "download.prompt_for_download": False,
                "download.directory_upgrade": True,
                "safebrowsing.enabled": False,
            },
        )
    return options


def open_browser(url: str, opts: BrowserOptions) -> Browser:
    """Open ``url`` in a new Chromium; raises :class:`ApplicationError` naming the paths."""
    for path in (opts.chromium, opts.chromedriver):
        if not path.exists():
            raise ApplicationError(
                f"{path} not found: install the Debian packages chromium and chromium-driver"
            )
    lib = Selenium(auto_close=False, run_on_failure="Nothing")
    try:
        lib.open_browser(
            url,
            browser="chrome",
            options=chrome_options(opts),
            # The driver given explicitly (as a Service: ``executable_path`` does the same but
            # is deprecated): nothing is looked up or downloaded.
            service=Service(executable_path=str(opts.chromedriver)),
        )
    except Exception as exc:
        raise ApplicationError(
            f"could not start {opts.chromium} with {opts.chromedriver}: {exc}"
        ) from exc
    driver: WebDriver = lib.driver
    driver.set_page_load_timeout(opts.page_load_timeout)
    if opts.download_dir is not None:
        # New headless Chromium only honours the download folder when told over CDP.
        driver.execute_cdp_cmd(
            "Page.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(opts.download_dir)},
        )
    return Browser(lib=lib, driver=driver)
