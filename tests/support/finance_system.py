"""An in-memory finance system that implements :class:`paybot.erp.port.FinanceSystem`, for
tests of the run loop without a browser, and a recorder of audit events.

It keeps the state a real system keeps (statuses, payments with voucher and approver, hand-overs)
so reconciliation reads what an earlier "click" left, and it fails on request the way an adapter
does: ``down`` (HTTP 500, :class:`ApplicationError`), ``network_down`` (:class:`NetworkError`),
``browser_dead`` (:class:`BrowserFailed`), ``broken`` invoices, ``crash_after_click`` (the
payment goes through, then the browser dies before the voucher is read).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from paybot.domain.models import Category, ErpStatus, RawInvoice, RawLine, RegisterEntry
from paybot.domain.reasons import Reason
from paybot.erp.port import (
    AuditSink,
    Connection,
    FinanceSystem,
    InboxPage,
    PaymentRecord,
    ReferenceData,
)
from paybot.errors import (
    AlreadyHandled,
    ApplicationError,
    BrowserFailed,
    LoginRefused,
    NetworkError,
    ScreenChanged,
    SessionExpired,
)


class Events:
    """Records audit events: ``seen`` in order, ``names()`` for the event names."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def event(self, event: str, *, durable: bool | None = None, **fields: Any) -> None:
        self.seen.append((event, fields))

    def bind(self, **ids: Any) -> Events:
        return self

    def names(self) -> list[str]:
        return [e for e, _ in self.seen]


def good_invoice(erp_id: int) -> RawInvoice:
    """A small invoice from a known supplier that the small-invoices rules pay."""
    return RawInvoice(
        fields={
            "loebenr": str(erp_id),
            "dokument-id": f"doc-{erp_id}",
            "dokumenttype": "Faktura",
            "kategori": "Øvrige",
            "status": "Ny",
            "modtaget": "20-11-2026",
            "leverandoer": "Kontorland A/S",
            "cvr": "20433213",
            "koeber-gln": "5798528809575",
            "fakturanr": f"F-{erp_id}",
            "udstedt": f"{erp_id:02d}-11-2026",
            "forfald": "30-11-2026",
            "valuta": "DKK",
            "linjesum": "100,00",
            "moms": "25,00",
            "total": "125,00",
            "at-betale": "125,00",
            "betalingsform": "NemKonto",
            "betalingskode": "97",
        },
        lines=(
            RawLine(
                nr="1",
                tekst="Papir",
                antal="1",
                enhed="EA",
                enhedspris="100,00",
                beloeb="100,00",
                momssats="25",
                moms="25,00",
            ),
        ),
    )


@dataclass
class Payment:
    voucher: str
    approved_by: str
    amount: Decimal | None = None
    account_string: str | None = None
    payment_date: dt.date | None = None


class FakeFinanceSystem:
    """The port in memory. Invoices ``1..invoices`` exist (:func:`good_invoice`); set
    ``status``, ``payments`` and ``manual`` to stage what an earlier run or a clerk did."""

    def __init__(self, *, username: str = "robot", invoices: int = 0) -> None:
        self._username = username
        self.audit: AuditSink = Events()
        self.invoices = invoices
        self.read: Callable[[int], RawInvoice] = good_invoice
        """How an invoice reads (replace to stage another one)."""
        self.status: dict[int, str] = {}
        self.payments: dict[int, Payment] = {}
        self.manual: dict[int, tuple[str, str]] = {}  # erp_id -> (reason, note)
        self.accounts = frozenset({"6.45.51-000-2.9"})
        self.reference = ReferenceData()
        self.approvals = 0
        self.hand_overs = 0
        self.payment_dates: list[dt.date] = []
        self.logins = 0
        self.browsers = 1
        self.closed = False
        self.page_size = 50
        self.inbox_asked: list[int] = []  # the ``after`` of every inbox page asked for
        self.refuse_login = False
        self.login_tries = 0  # logins asked for, refused ones too
        self.session_expires = False  # every invoice page sends the robot to the login page
        self.changed_screen = ""  # an element the inbox screen lacks: ScreenChanged
        self.down = False
        self.network_down = False
        self.browser_dead = False
        self.browser_dies_always = False
        self.broken: set[int] = set()  # invoices whose page always fails (HTTP 500)
        self.crash_after_click: set[int] = set()  # the browser dies after approving these

    @property
    def username(self) -> str:
        """The robot's user.

        Raises: nothing.
        Repeat: safe.
        """
        return self._username

    def _up(self) -> None:
        if self.browser_dead:
            raise BrowserFailed("invalid session id (the browser is gone)")
        if self.network_down:
            raise NetworkError("net::ERR_CONNECTION_REFUSED")
        if self.down:
            raise ApplicationError("the finance system answered with an error page (500)")

    def login(self) -> None:
        self._up()
        self.login_tries += 1
        if self.refuse_login:
            raise LoginRefused(f"login as {self.username!r} refused: wrong password")
        self.logins += 1

    def check_inbox_screen(self, category: Category) -> None:
        self._up()
        if self.changed_screen:
            raise ScreenChanged(f"the inbox lacks {self.changed_screen}")

    def check_invoice_screen(self, erp_id: int) -> None:
        self._up()

    def active_accounts(self) -> frozenset[str]:
        self._up()
        return self.accounts

    def reference_data(self, *, requisitions: bool, bookings: bool) -> ReferenceData:
        self._up()
        return self.reference

    def inbox_page(self, category: Category, after: int) -> InboxPage:
        self._up()
        self.inbox_asked.append(after)
        ids = list(range(after + 1, self.invoices + 1))
        page = ids[: self.page_size]
        entries = tuple(self._entry(erp_id, category) for erp_id in page)
        return InboxPage(entries=entries, has_next=len(ids) > len(page))

    def _entry(self, erp_id: int, category: Category) -> RegisterEntry:
        raw = self.read(erp_id)
        shown = self.status.get(erp_id, "Ny").lower()
        status = ErpStatus.MANUAL if "manuel" in shown else ErpStatus(shown)
        return RegisterEntry(
            erp_id=erp_id,
            category=category,
            status=status,
            supplier_cvr=raw.get("cvr"),
            invoice_number=raw.get("fakturanr"),
            issue_date=None,
            payable_amount=None,
        )

    def read_invoice(self, erp_id: int) -> RawInvoice:
        self._up()
        if erp_id in self.broken:
            raise ApplicationError(f"Løbenr {erp_id}: the invoice page answered 500")
        if self.session_expires:
            raise SessionExpired(f"/faktura/{erp_id}: the finance system asked for a new login")
        raw = self.read(erp_id)
        fields = raw.fields | {"status": self.status.get(erp_id, "Ny")}
        if erp_id in self.manual:
            fields["manuel-aarsag"] = self.manual[erp_id][0]
        return raw.model_copy(update={"fields": fields})

    def _new(self, erp_id: int) -> None:
        status = self.status.get(erp_id, "Ny")
        if status.lower() != "ny":
            raise AlreadyHandled(f"Løbenr {erp_id}: status is {status!r}, not Ny")

    def approve(
        self,
        erp_id: int,
        *,
        account_string: str,
        amount: Decimal,
        posting_text: str,
        payment_date: dt.date,
    ) -> str:
        self._up()
        self._new(erp_id)
        self.approvals += 1
        self.payment_dates.append(payment_date)
        voucher = f"B-2026-{len(self.payments) + 1:06d}"
        self.payments[erp_id] = Payment(
            voucher, self.username, amount, account_string, payment_date
        )
        self.status[erp_id] = "Betalt"
        if erp_id in self.crash_after_click:
            self.crash_after_click.discard(erp_id)
            self.browser_dead = True
            raise BrowserFailed("chrome not reachable (the browser is gone)")
        return voucher

    def hand_over(self, erp_id: int, *, reason: Reason, note: str) -> None:
        self._up()
        self._new(erp_id)
        self.hand_overs += 1
        self.status[erp_id] = "Manuel behandling"
        self.manual[erp_id] = (reason, note)

    def payment_for(self, erp_id: int) -> PaymentRecord | None:
        self._up()
        paid = self.payments.get(erp_id)
        if paid is None:
            return None
        return PaymentRecord(
            erp_id=erp_id,
            voucher=paid.voucher,
            approved_by=paid.approved_by,
            amount=paid.amount,
            account_string=paid.account_string,
            payment_date=paid.payment_date,
        )

    def screenshot(self, target: Path) -> Path | None:
        return None

    def restart_browser(self) -> None:
        self.browsers += 1
        self.browser_dead = self.browser_dies_always

    def close(self) -> None:
        self.closed = True


def fake_connect(fake: FakeFinanceSystem) -> Callable[[Connection], FinanceSystem]:
    """A factory for :class:`paybot.run.runner.Runner` that hands out ``fake``."""

    def connect(conn: Connection) -> FinanceSystem:
        fake.audit = conn.audit
        return fake

    return connect


def _implements_the_port(fake: FakeFinanceSystem) -> FinanceSystem:
    return fake  # mypy (tests/support is checked): the fake implements FinanceSystem
