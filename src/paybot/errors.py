"""One exception root for the project.

Two kinds of failure (as robocorp-workitems' ``ExceptionType``):

- :class:`BusinessError`: the data is wrong or missing. Never retried; the invoice goes to a
  person with a reason code.
- :class:`ApplicationError`: the finance system or the browser misbehaved (timeout, missing
  element, HTTP 500, expired session). Retried with backoff; the invoice is left for the next run
  when the retries run out.

Every message names the invoice, file or setting it is about.

Each class says what it means for the caller (click's ``ClickException.exit_code`` is the
model), so no catch site decides it again:

- ``exit_code``: what ``robot`` exits with when the error ends a command (the meanings are in
  :mod:`paybot.exit_codes` and the README's table). The one handler in :func:`paybot.cli.main`
  prints :meth:`PaybotError.sentence` (never a traceback) and exits with it.
- ``retryable``: whether trying the same step again can help. The worker and the preflight
  retry only what is retryable (with backoff, up to ``runner.max_attempts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybot.exit_codes import EXIT_BUSY, EXIT_FAILED, EXIT_PREFLIGHT, EXIT_USAGE

if TYPE_CHECKING:  # paybot.domain imports this module
    from paybot.domain.reasons import Reason


class PaybotError(Exception):
    """Root of every error paybot raises on purpose (a test checks that every exception class
    in paybot derives from it).

    ``exit_code`` (class attribute, an instance may override it): what the ``robot`` command
    exits with when this error ends it. ``retryable``: whether repeating the failed step can
    help. ``kind``: the words that open :meth:`sentence` (empty: none)."""

    exit_code: int = EXIT_FAILED
    retryable: bool = False
    kind: str = ""

    def sentence(self) -> str:
        """The one line a person reads: ``kind: message`` (``message`` alone without a kind)."""
        return f"{self.kind}: {self}" if self.kind else str(self)


class UsageError(PaybotError):
    """The command line asks for something that cannot be done (an unknown robot, a bad date, a
    file that would be overwritten). Exit 2; nothing was started."""

    exit_code = EXIT_USAGE


class ConfigError(PaybotError):
    """A configuration or manifest file is invalid. Names the file, the key and the value.
    Exit 2; never retried (the file has to change first)."""

    exit_code = EXIT_USAGE
    kind = "configuration error"

    def __init__(self, file: str, key: str, value: object, problem: str) -> None:
        self.file = file
        self.key = key
        self.value = value
        self.problem = problem
        super().__init__(f"{file}: {key} = {value!r}: {problem}")


class FolderError(PaybotError, OSError):
    """A folder paybot writes to cannot be made (a read-only or missing mount, no permission):
    names the folder and the system's reason. Exit 2 (the setting or the disk has to change
    first); nothing was written there. Also an ``OSError``, so code that already handles a
    failed write keeps doing so."""

    exit_code = EXIT_USAGE
    kind = "folder error"


class BusinessError(PaybotError):
    """Bad or missing data on an invoice: manual handling with ``reason``, never retried."""

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class ApplicationError(PaybotError):
    """The finance system or the browser failed; worth a retry (``retryable``), unless a
    subclass says otherwise (:class:`LoginRefused`, :class:`AlreadyHandled`)."""

    retryable = True


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
    """Wrong user name or password, or the account is locked: retrying will not help
    (``retryable`` is false: neither the preflight nor the worker tries again; the run stops
    in preflight, exit 3)."""

    retryable = False
    exit_code = EXIT_PREFLIGHT


class AlreadyHandled(ApplicationError):
    """The finance system says the invoice is already paid or with a person: the run
    reconciles with the system's own records instead of acting again (not ``retryable``)."""

    retryable = False


class ScreenChanged(ApplicationError):
    """A screen lacks an element the robot relies on (checked in preflight). Preflight stops at
    once (exit 3); during the work, a half-drawn page is retried like any application error."""

    exit_code = EXIT_PREFLIGHT


class PreflightError(PaybotError):
    """The run cannot start safely: nothing has been touched. Exit 3."""

    exit_code = EXIT_PREFLIGHT


class LedgerError(PaybotError):
    """The ledger refused a state change (lost lease, second payment of one business key).
    Never retried: the refusal is the ledger's answer. Exit 1."""


class Busy(PaybotError):
    """Someone else holds a lock this command needs (a robot's run, the scheduler). Exit 4;
    nothing was started."""

    exit_code = EXIT_BUSY

    def sentence(self) -> str:
        return f"{self}; not started"


class DatabaseError(PaybotError):
    """The ledger's database cannot be used: the command stops before touching anything. Exit
    2; the message names the database (its URL without the password) and what is wrong, never
    a password."""

    exit_code = EXIT_USAGE


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached or opened: the driver is not installed, the server
    refuses the connection, does not answer, or refuses the login or the database name.
    Retryable (a server that was down may be up again); exit 2 when it ends a command."""

    retryable = True


class SchemaMismatch(DatabaseError):
    """The database's schema version is not the one this code is written for: older (run
    ``robot db upgrade``), newer (this machine runs older code), or none yet. Names both
    versions. Never retried (a person has to act); exit 2."""
