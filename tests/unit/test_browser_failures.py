"""Which failures of a WebDriver call are the browser's, the network's or the finance
system's (:func:`paybot.erp.driver_errors.driver_failure`, shared by every adapter that drives
a browser), with a fake driver in place of chromedriver."""

from __future__ import annotations

import pytest
import urllib3.exceptions
from selenium.common.exceptions import (
    InvalidSessionIdException,
    NoSuchElementException,
    TimeoutException,
    WebDriverException,
)

from paybot.erp.driver_errors import answers, driver_failure
from paybot.errors import ApplicationError, BrowserFailed, NetworkError, what_failed


class FakeDriver:
    """Answers a script, or hangs (raises the driver's own timeout) like a stopped renderer."""

    def __init__(self, *, answers: bool) -> None:
        self.answers = answers
        self.script_timeouts: list[float] = []

    def set_script_timeout(self, time_to_wait: float) -> None:
        self.script_timeouts.append(time_to_wait)

    def execute_script(self, script: str, *args: object) -> object:
        if not self.answers:
            raise TimeoutException("script timeout")
        return 1


def failure(exc: BaseException, driver: FakeDriver | None = None) -> ApplicationError:
    probe = driver or FakeDriver(answers=True)
    return driver_failure(exc, "/faktura/7: could not load the page", lambda: answers(probe))


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
    got = failure(exc)
    assert type(got) is kind
    assert "/faktura/7: could not load the page" in str(got)


def test_a_renderer_timeout_is_the_browsers_only_when_it_no_longer_answers() -> None:
    hung = FakeDriver(answers=False)
    assert isinstance(failure(TimeoutException(RENDERER), hung), BrowserFailed)
    assert hung.script_timeouts[-1] > hung.script_timeouts[0], "timeout restored"
    slow_page = failure(TimeoutException(RENDERER), FakeDriver(answers=True))
    assert type(slow_page) is ApplicationError, "a slow finance system is not the browser"


def test_stop_messages_name_what_failed() -> None:
    assert what_failed(BrowserFailed("x")) == "browser"
    assert what_failed(NetworkError("x")) == "network"
    assert what_failed(ApplicationError("x")) == "finance system"
