"""Starting Debian's Chromium through rpaframework.

Nothing is downloaded at run time: the browser and its driver are the Debian packages
``chromium`` and ``chromium-driver``, passed explicitly to ``open_browser``
(``open_available_browser`` would try to fetch a driver).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from RPA.Browser.Selenium import Selenium
from selenium.webdriver import ChromeOptions
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from paybot.erp.processes import ENV_MARKER, USER_DATA_DIR, die_with_parent, end_processes
from paybot.errors import BrowserFailed

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
    profile_dir: Path | None = None
    """Chromium's profile folder and the marker of the browser's processes; ``None``: a
    temporary profile chromedriver chooses, and no marker."""


@dataclass
class Browser:
    """One browser session: rpaframework's library and the WebDriver it drives."""

    lib: Selenium
    driver: WebDriver
    profile_dir: Path | None = None

    def close(self) -> None:
        """Quit the browser, end whatever of it is left, delete its profile. Closing a
        browser that is already gone is fine."""
        with contextlib.suppress(Exception):
            self.lib.close_all_browsers()
        self.kill()

    def kill(self) -> int:
        """End every process of the browser at once (no goodbye to a browser that may hang)
        and delete its profile; returns how many processes were ended. Safe to repeat."""
        if self.profile_dir is None:
            return 0
        ended = end_processes(str(self.profile_dir))
        shutil.rmtree(self.profile_dir, ignore_errors=True)
        return ended


def chrome_options(opts: BrowserOptions) -> ChromeOptions:
    options = ChromeOptions()
    options.binary_location = str(opts.chromium)
    if opts.headless:
        options.add_argument("--headless=new")
    if opts.profile_dir is not None:
        options.add_argument(f"{USER_DATA_DIR}{opts.profile_dir}")
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


def driver_service(opts: BrowserOptions) -> Service:
    """chromedriver, given explicitly (as a Service: ``executable_path`` does the same but is
    deprecated): nothing is looked up or downloaded. With a profile folder it is marked, in a
    session of its own, and dies with the thread that starts it."""
    if opts.profile_dir is None:
        return Service(executable_path=str(opts.chromedriver))
    return Service(
        executable_path=str(opts.chromedriver),
        env=os.environ | {ENV_MARKER: str(opts.profile_dir)},
        popen_kw={"preexec_fn": die_with_parent(), "start_new_session": True},
    )


def open_browser(url: str, opts: BrowserOptions) -> Browser:
    """Open ``url`` in a new Chromium; raises :class:`BrowserFailed` naming the paths."""
    for path in (opts.chromium, opts.chromedriver):
        if not path.exists():
            raise BrowserFailed(
                f"{path} not found: install the Debian packages chromium and chromium-driver"
            )
    if opts.profile_dir is not None:
        opts.profile_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    lib = Selenium(auto_close=False, run_on_failure="Nothing")
    try:
        lib.open_browser(
            url, browser="chrome", options=chrome_options(opts), service=driver_service(opts)
        )
    except Exception as exc:
        if opts.profile_dir is not None:
            end_processes(str(opts.profile_dir))
        raise BrowserFailed(
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
    return Browser(lib=lib, driver=driver, profile_dir=opts.profile_dir)
