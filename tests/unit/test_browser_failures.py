"""Which failures of a WebDriver call are the browser's, the network's or the finance
system's (ErpSession._failed), with a fake driver in place of chromedriver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import urllib3.exceptions
from selenium.common.exceptions import (
    InvalidSessionIdException,
    NoSuchElementException,
    TimeoutException,
    WebDriverException,
)

from paybot.erp.session import ErpSession
from paybot.errors import ApplicationError, BrowserFailed, NetworkError, what_failed


class Audit:
    def event(self, event: str, *, durable: bool = False, **fields: Any) -> None:
        pass


class Password:
    def get_secret_value(self) -> str:
        return "not-used"


class FakeDriver:
    """Answers a script, or hangs (raises the driver's own timeout) like a stopped renderer."""

    def __init__(self, *, answers: bool) -> None:
        self.answers = answers
        self.script_timeouts: list[float] = []

    def set_script_timeout(self, seconds: float) -> None:
        self.script_timeouts.append(seconds)

    def execute_script(self, script: str, *args: object) -> object:
        if not self.answers:
            raise TimeoutException("script timeout")
        return 1


@dataclass
class FakeBrowser:
    driver: FakeDriver


def session(*, answers: bool = True) -> ErpSession:
    browser = FakeBrowser(FakeDriver(answers=answers))
    return ErpSession(browser, "http://127.0.0.1:1", "robot", Password(), Audit())  # type: ignore[arg-type]


RENDERER = "timeout: Timed out receiving message from renderer: 4.000"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (InvalidSessionIdException("invalid session id"), BrowserFailed),
        (WebDriverException("chrome not reachable"), BrowserFailed),
        (WebDriverException("unknown error: session deleted because of page crash"), BrowserFailed),
        (WebDriverException("tab crashed"), BrowserFailed),
        (urllib3.exceptions.MaxRetryError(None, "/session", "refused"), BrowserFailed),  # type: ignore[arg-type]
        (ConnectionRefusedError(111, "Connection refused"), BrowserFailed),
        (WebDriverException("unknown error: net::ERR_CONNECTION_REFUSED"), NetworkError),
        (NoSuchElementException("no such element: #godkend-betal"), ApplicationError),
    ],
)
def test_failures_are_sorted_by_what_failed(exc: BaseException, kind: type) -> None:
    got = session()._failed(exc, "could not load the page")
    assert type(got) is kind
    assert "could not load the page" in str(got)


def test_a_renderer_timeout_is_the_browsers_only_when_it_no_longer_answers() -> None:
    hung = session(answers=False)
    assert isinstance(hung._failed(TimeoutException(RENDERER), "x"), BrowserFailed)
    assert hung.driver.script_timeouts[-1] > hung.driver.script_timeouts[0], "timeout restored"
    slow_page = session(answers=True)._failed(TimeoutException(RENDERER), "x")
    assert type(slow_page) is ApplicationError, "a slow finance system is not the browser"


def test_stop_messages_name_what_failed() -> None:
    assert what_failed(BrowserFailed("x")) == "browser"
    assert what_failed(NetworkError("x")) == "network"
    assert what_failed(ApplicationError("x")) == "finance system"
