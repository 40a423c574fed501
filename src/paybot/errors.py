"""One exception root for the project.

Two kinds of failure (as robocorp-workitems' ``ExceptionType``):

- :class:`BusinessError`: the data is wrong or missing. Never retried; the invoice goes to a
  person with a reason code.
- :class:`ApplicationError`: the finance system or the browser misbehaved (timeout, missing
  element, HTTP 500, expired session). Retried with backoff; the invoice is left for the next run
  when the retries run out.

Every message names the invoice, file or setting it is about.
"""

from __future__ import annotations


class PaybotError(Exception):
    """Root of every error paybot raises on purpose."""


class ConfigError(PaybotError):
    """A configuration or manifest file is invalid. Names the file, the key and the value."""

    def __init__(self, file: str, key: str, value: object, problem: str) -> None:
        self.file = file
        self.key = key
        self.value = value
        self.problem = problem
        super().__init__(f"{file}: {key} = {value!r}: {problem}")


class BusinessError(PaybotError):
    """Bad or missing data on an invoice: manual handling with ``reason``, never retried."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class ApplicationError(PaybotError):
    """The finance system or the browser failed; worth a retry."""


class BrowserFailed(ApplicationError):
    """The browser itself failed: Chromium or chromedriver crashed or was killed ("invalid
    session id", "chrome not reachable", a crashed tab) or stopped answering (a hung renderer).
    The run replaces the browser with a new one and logs in again; the finance system is not to
    blame."""


class NetworkError(ApplicationError):
    """The finance system could not be reached at all (connection refused, no route, a name
    that does not resolve: Chromium's ``net::ERR_…``)."""


def what_failed(exc: BaseException) -> str:
    """``browser``, ``network`` or ``finance system``: the words a stop message uses to name
    what failed."""
    if isinstance(exc, BrowserFailed):
        return "browser"
    if isinstance(exc, NetworkError):
        return "network"
    return "finance system"


class SessionExpired(ApplicationError):
    """The finance system sent us back to its login page."""


class LoginRefused(ApplicationError):
    """Wrong user name or password, or the account is locked: retrying will not help (the run
    stops in preflight)."""


class AlreadyHandled(ApplicationError):
    """The finance system says the invoice is already paid or with a person: the run
    reconciles with the system's own records instead of acting again."""


class ScreenChanged(ApplicationError):
    """A screen lacks an element the robot relies on (checked in preflight)."""


class PreflightError(PaybotError):
    """The run cannot start safely: nothing has been touched."""


class LedgerError(PaybotError):
    """The ledger refused a state change (lost lease, second payment of one business key)."""
