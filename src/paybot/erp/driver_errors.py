"""What a failed WebDriver call means, for any adapter that drives a browser.

A call through Selenium fails for one of three reasons, and the run treats each differently
(:mod:`paybot.errors`): the browser or chromedriver is dead or hung
(:class:`~paybot.errors.BrowserFailed`: a new browser, no attempt counted), the finance system
cannot be reached (:class:`~paybot.errors.NetworkError`), or the finance system's page
misbehaved (:class:`~paybot.errors.ApplicationError`). :func:`driver_failure` tells them apart
by chromedriver's own words; nothing here knows a finance system's screens.
"""

from __future__ import annotations

import contextlib
import http.client
import re
from collections.abc import Callable
from typing import Protocol

import urllib3.exceptions
from selenium.common.exceptions import (
    InvalidSessionIdException,
    NoSuchWindowException,
    WebDriverException,
)

from paybot.errors import ApplicationError, BrowserFailed, NetworkError

PROBE_SECONDS = 5.0
"""How long a browser that timed out gets to answer ``return 1`` before it counts as hung."""
SCRIPT_TIMEOUT_SECONDS = 30.0

DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    WebDriverException,
    urllib3.exceptions.HTTPError,  # chromedriver is gone or does not answer
    http.client.HTTPException,
    OSError,
)
"""What a call through the WebDriver raises when the page, the browser or the driver fails."""

# chromedriver's words for a browser that crashed, was killed or lost its tab.
BROWSER_GONE = (
    "invalid session id",
    "chrome not reachable",
    "disconnected",
    "session deleted",
    "tab crashed",
    "target crashed",
    "page crash",
    "no such window",
    "target window already closed",
    "unable to receive message from renderer",
    "cannot connect to chrome",
    "not connected to devtools",
    "browser has closed",
)
RENDERER_TIMEOUT = "timed out receiving message from renderer"
NET_ERROR = re.compile(r"(?:net::)?ERR_[A-Z_]+")


def why(exc: BaseException) -> str:
    """The driver's message without Selenium's stack trace."""
    if isinstance(exc, WebDriverException):
        return (exc.msg or type(exc).__name__).splitlines()[0]
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class ScriptRunner(Protocol):
    """What :func:`answers` needs of a WebDriver (Selenium's ``WebDriver`` provides it)."""

    def set_script_timeout(self, time_to_wait: float) -> None:
        """How long (seconds) a script may run before the driver gives up.

        Returns: nothing.
        Raises: Selenium's ``WebDriverException`` (or urllib3's errors) when the driver or the
        browser is gone.
        Repeat: safe (the last value holds).
        """
        ...

    def execute_script(self, script: str, *args: object) -> object:
        """Run ``script`` in the page with ``args``.

        Returns: the script's value, converted by the driver.
        Raises: Selenium's ``TimeoutException`` when it does not answer in time,
        ``WebDriverException`` (or urllib3's errors) when the driver or browser is gone.
        Repeat: as safe as the script is (``return 1`` is).
        """
        ...


def answers(driver: ScriptRunner) -> bool:
    """Whether the browser still runs a script: after a timeout, tells a hung renderer (no
    answer within :data:`PROBE_SECONDS`) from a slow finance system. Never raises."""
    try:
        driver.set_script_timeout(PROBE_SECONDS)
        driver.execute_script("return 1")
    except DRIVER_ERRORS:
        return False
    finally:
        with contextlib.suppress(*DRIVER_ERRORS):
            driver.set_script_timeout(SCRIPT_TIMEOUT_SECONDS)
    return True


def driver_failure(
    exc: BaseException, message: str, still_answers: Callable[[], bool]
) -> ApplicationError:
    """The error for a failed WebDriver call, ``message`` (where and what) first:
    :class:`BrowserFailed` when the browser or chromedriver is dead or hung,
    :class:`NetworkError` when the finance system could not be reached, else an
    :class:`ApplicationError` of the finance system's page. ``still_answers`` is asked only
    after a renderer timeout (see :func:`answers`)."""
    text = why(exc)
    lowered = text.lower()
    message = f"{message}: {text}"
    if not isinstance(exc, WebDriverException) or isinstance(
        exc, InvalidSessionIdException | NoSuchWindowException
    ):
        return BrowserFailed(f"{message} (the browser is gone)")
    if any(words in lowered for words in BROWSER_GONE):
        return BrowserFailed(f"{message} (the browser is gone)")
    if "net::err_" in lowered:
        return NetworkError(f"{message} (the finance system could not be reached)")
    if RENDERER_TIMEOUT in lowered and not still_answers():
        return BrowserFailed(f"{message} (the browser stopped answering)")
    return ApplicationError(message)
