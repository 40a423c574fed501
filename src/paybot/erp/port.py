"""The finance-system port: what a run needs of a finance system, whatever system it is.

A run (:mod:`paybot.run`) and the rules (:mod:`paybot.domain.rules`) talk to a finance system
only through :class:`FinanceSystem`; an **adapter** implements it for one system (the mock
finance system: :mod:`paybot.erp.mockerp`; others are found by name through
:mod:`paybot.erp.registry`). Only an adapter knows its system's screens, locators, paths and
words: nothing in the run loop does. The contract of each operation (what it returns, what
it raises, whether a repeat is safe) is in its docstring and in docs/adding-a-finance-system.md.

Errors an adapter raises, all from :mod:`paybot.errors`:

- :class:`~paybot.errors.ApplicationError`: the system misbehaved (an error page, a timeout,
  an element that did not appear): retried with backoff, the invoice left for the next run
  when the retries run out. Its kinds: :class:`~paybot.errors.SessionExpired` (the run logs in
  again before the retry), :class:`~paybot.errors.NetworkError` (the system cannot be reached),
  :class:`~paybot.errors.BrowserFailed` (the browser is dead or hung: the run calls
  :meth:`FinanceSystem.restart_browser` and logs in again; it costs the invoice no attempt).
- Not retried: :class:`~paybot.errors.LoginRefused` (wrong password, locked account),
  :class:`~paybot.errors.ScreenChanged` (a screen lacks what the robot relies on: preflight
  stops the run before anything is touched).
- :class:`~paybot.errors.AlreadyHandled`: the system says the invoice is already paid or with a
  person: the run reconciles (:meth:`FinanceSystem.payment_for`), never retries the action.
- :class:`~paybot.errors.BusinessError` (with a reason code): the system refused the posting
  for a reason a person must look at: the invoice is handed over, never retried.

Money is :class:`~decimal.Decimal` kroner (2 decimals), dates are Danish calendar dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from paybot.audit.events import Event
from paybot.domain.models import Booking, Category, RawInvoice, RegisterEntry, Requisition
from paybot.domain.reasons import Reason

if TYPE_CHECKING:
    from paybot.config_models import Credentials, Settings
    from paybot.erp.browser import Browser


class AuditSink(Protocol):
    """Where an adapter writes what it did (the run's audit logger, bound to the worker and
    the invoice): ``page_opened``, ``value_typed``, ``button_clicked``, ``voucher_read``
    (``durable=True``), ``screenshot``, ``login``, ``field_read`` (docs/audit.md)."""

    def event(self, event: Event, *, durable: bool = False, **fields: Any) -> None:
        """Append one record of ``event`` with ``fields`` (masked by the trail).

        Returns: nothing; with ``durable`` only once the record is on disk.
        Raises: :class:`~paybot.audit.chain.AuditTrailError` when the trail cannot be
        written.
        Repeat: not idempotent: each call appends a record.
        """
        ...


# --- typed results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxPage:
    """One page of a category's inbox, all statuses (for duplicates), in ascending Løbenr
    (``erp_id``), every one above the ``after`` asked for. ``has_next``: there are more
    invoices after the last one here."""

    entries: tuple[RegisterEntry, ...]
    has_next: bool


@dataclass(frozen=True)
class PaymentRecord:
    """The finance system's own record that an invoice was paid: what reconciliation reads
    after a crash between the click on approve and the recorded voucher.

    ``approved_by`` is the user name that approved it as the system records it: the robot's
    own (:attr:`FinanceSystem.username`) means the robot's earlier click went through; any
    other means a clerk paid it. ``amount`` in kroner and ``payment_date`` (Danish date) when
    the system shows them, else ``None``."""

    erp_id: int
    voucher: str
    approved_by: str
    amount: Decimal | None = None
    account_string: str | None = None
    payment_date: dt.date | None = None


@dataclass(frozen=True)
class ReferenceData:
    """What the rules may look up; empty for robots that need none."""

    requisitions: tuple[Requisition, ...] = ()
    bookings: dict[str, Booking] = field(default_factory=dict)

    def requisitions_for(self, cpr: str | None) -> Sequence[Requisition]:
        if not cpr:
            return ()
        return tuple(r for r in self.requisitions if r.cpr == cpr)

    def booking(self, reference: str | None) -> Booking | None:
        return self.bookings.get(reference.strip()) if reference else None


# --- the invoice as RawInvoice carries it -----------------------------------------------------

MANUAL_REASON_FIELD = "manuel-aarsag"
"""The field of :class:`RawInvoice` with the reason code an invoice was handed over with."""


# --- the port --------------------------------------------------------------------------------


class FinanceSystem(Protocol):
    """One logged-in session with a finance system, used by one worker at a time.

    Not thread-safe: each worker has its own. Every operation may also raise
    :class:`~paybot.errors.BrowserFailed`, :class:`~paybot.errors.NetworkError` and
    :class:`~paybot.errors.SessionExpired` (all application exceptions, retried by the run);
    they are listed once here rather than on every method."""

    @property
    def username(self) -> str:
        """The robot's own user name in the finance system.

        Returns: the name as the system records an approver (compared with
        :attr:`PaymentRecord.approved_by`).
        Raises: nothing.
        Repeat: safe.
        """
        ...

    audit: AuditSink
    """Where the session records what it does; the worker rebinds it per invoice."""

    def login(self) -> None:
        """Open the system's login and log in as :attr:`username`; the session is then on
        a page from which the other operations work. Logging in again on a logged-in session
        is allowed (the run does so before every retry).

        Returns: nothing.
        Raises: :class:`~paybot.errors.LoginRefused` (wrong password, locked account: never
        retried), :class:`~paybot.errors.ApplicationError` (retryable).
        Repeat: safe.
        """
        ...

    def check_inbox_screen(self, category: Category) -> None:
        """Preflight: the inbox of ``category`` shows everything :meth:`inbox_page` relies on.
        Touches nothing.

        Returns: nothing.
        Raises: :class:`~paybot.errors.ScreenChanged` naming what is missing (not retried: the
        run stops before anything is touched), :class:`~paybot.errors.ApplicationError`.
        Repeat: safe.
        """
        ...

    def check_invoice_screen(self, erp_id: int) -> None:
        """Preflight: the invoice ``erp_id`` (the first one a run will work on) shows every
        field and form :meth:`read_invoice`, :meth:`approve` and :meth:`hand_over` rely on.
        An invoice that is no longer new (no forms) passes. Touches nothing.

        Returns: nothing.
        Raises: :class:`~paybot.errors.ScreenChanged` (not retried),
        :class:`~paybot.errors.ApplicationError`.
        Repeat: safe.
        """
        ...

    def active_accounts(self) -> frozenset[str]:
        """The chart of accounts' active account strings.

        Returns: the account strings (kontostrenge, ``6.45.51-000-2.9``) the system accepts
        for a posting today; never empty.
        Raises: :class:`~paybot.errors.ScreenChanged` when none can be read,
        :class:`~paybot.errors.ApplicationError`.
        Repeat: safe.
        """
        ...

    def reference_data(self, *, requisitions: bool, bookings: bool) -> ReferenceData:
        """The reference data the rules asked for, read once per run from the system or from
        the export files a case system produces. Files with personal data are deleted as soon
        as they are read.

        Returns: :class:`ReferenceData` with the requisitions (certificates) when
        ``requisitions``, the interpreter bookings by reference when ``bookings``; empty
        otherwise.
        Raises: :class:`~paybot.domain.reference_rows.ReferenceDataError` for a row that
        cannot be read (the run stops: not about one invoice),
        :class:`~paybot.errors.ScreenChanged`, :class:`~paybot.errors.ApplicationError`.
        Repeat: safe.
        """
        ...

    def inbox_page(self, category: Category, after: int) -> InboxPage:
        """One page of ``category``'s inbox after Løbenr ``after`` (keyset paging: every page
        costs the same however far in it is; ``after=0`` is the first page).

        Returns: :class:`InboxPage`: the invoices of every status, ascending Løbenr, all
        above ``after``, and whether more follow.
        Raises: :class:`~paybot.domain.reference_rows.ReferenceDataError` for a row whose
        Løbenr, category or status cannot be read, :class:`~paybot.errors.ApplicationError`.
        Repeat: safe.
        """
        ...

    def read_invoice(self, erp_id: int) -> RawInvoice:
        """Everything on the invoice, read once.

        Returns: :class:`~paybot.domain.models.RawInvoice`, text in paybot's field names
        (docs/adding-a-finance-system.md, "The invoice as RawInvoice"): ``status`` is a text
        :func:`paybot.domain.values.erp_status` reads: ``Ny`` for an invoice the robot may
        act on, ``Manuel behandling`` once handed over (with the reason code in
        ``manuel-aarsag``, :data:`MANUAL_REASON_FIELD`), ``Betalt`` once paid; amounts as a
        Danish clerk reads them (``1.019,48``), parsed by
        :func:`paybot.domain.parsing.parse_invoice`.
        Raises: :class:`~paybot.errors.ScreenChanged` when the page shows another invoice or
        lacks its fields, :class:`~paybot.errors.ApplicationError`.
        Repeat: safe.
        """
        ...

    def approve(
        self,
        erp_id: int,
        *,
        account_string: str,
        amount: Decimal,
        posting_text: str,
        payment_date: dt.date,
    ) -> str:
        """Approve and pay the invoice: post ``amount`` (kroner) to ``account_string`` with
        ``posting_text``, payment on ``payment_date`` (a Danish date).

        Returns: the voucher number (bilagsnummer) the system gave the payment, read from its
        answer.
        Raises: :class:`~paybot.errors.AlreadyHandled` (paid or with a person already:
        reconcile), :class:`~paybot.errors.BusinessError` with a reason code
        (``MANUAL_ACCOUNT_STRING``, ``MANUAL_AMOUNT``, ``MANUAL_CREDIT_NOTE``: the system
        refused the posting; nothing was paid), :class:`~paybot.errors.ScreenChanged`,
        :class:`~paybot.errors.ApplicationError` (the payment may or may not have happened).
        Repeat: NOT safe. After any error, or a crash, reconcile first with
        :meth:`payment_for` and :meth:`read_invoice`; the ledger's pay intent says when.
        """
        ...

    def hand_over(self, erp_id: int, *, reason: Reason, note: str) -> None:
        """Send the invoice to manual handling: a person finds it with ``reason`` (a reason
        code, ``MANUAL_AMOUNT``) and ``note`` (Danish text for the caseworker, at most 1000
        characters).

        Returns: nothing; :meth:`read_invoice` shows it afterwards as handed over with
        ``reason``.
        Raises: :class:`~paybot.errors.AlreadyHandled` (paid or with a person already:
        reconcile), :class:`~paybot.errors.ScreenChanged`,
        :class:`~paybot.errors.ApplicationError`.
        Repeat: safe in effect (a second hand-over of a handed-over invoice raises
        :class:`~paybot.errors.AlreadyHandled`); the worker reconciles before repeating.
        """
        ...

    def payment_for(self, erp_id: int) -> PaymentRecord | None:
        """The system's own record of the invoice's payment, for reconciliation after a crash
        or an :class:`~paybot.errors.AlreadyHandled`.

        Returns: :class:`PaymentRecord`, or ``None`` when the system has no payment of it.
        Raises: :class:`~paybot.errors.ApplicationError`.
        Repeat: safe (reads only).
        """
        ...

    def screenshot(self, target: Path) -> Path | None:
        """A PNG of what the session shows, with personal data (CPR numbers, bank accounts,
        the user) blanked first.

        Returns: ``target``, or ``None`` when there is nothing to take it from (the browser
        is gone, or the adapter has no screen).
        Raises: nothing.
        Repeat: safe; the next operation opens its page again.
        """
        ...

    def restart_browser(self) -> None:
        """Replace a dead or hung browser with a new one (its processes ended first).

        Returns: nothing; the new session is not logged in: the caller calls :meth:`login`.
        Raises: :class:`~paybot.errors.BrowserFailed` when no new browser can be opened.
        Repeat: safe.
        """
        ...

    def close(self) -> None:
        """End the session and its browser, whatever state they are in.

        Returns: nothing.
        Raises: nothing.
        Repeat: safe.
        """
        ...


# --- how a run opens one ---------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """What an adapter's factory gets to open one session (one per worker).

    ``open_browser`` opens a new, marked browser (the run ends its processes whatever
    happens; an adapter without a browser ignores it); ``downloads`` is a private folder
    (0700) for export files, deleted at the end of the run."""

    settings: Settings
    credentials: Credentials
    audit: AuditSink
    open_browser: Callable[[], Browser]
    downloads: Path


FinanceSystemFactory = Callable[[Connection], FinanceSystem]
"""An adapter's entry point: opens one session (not logged in yet). Raises
:class:`~paybot.errors.BrowserFailed` when no browser can be opened."""
