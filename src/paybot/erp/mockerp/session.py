"""The mock finance system's adapter: :class:`MockErpSession` implements
:class:`paybot.erp.port.FinanceSystem` on the mock's screens (docs/finance-system.md).

The only place that knows what the mock's screens mean: which screen holds the inbox, what
preflight requires on each (:data:`~paybot.erp.mockerp.locators.REQUIRED_ON_INBOX`), the words
of a refused approval, the columns of Betalinger. The page mechanics are in
:mod:`paybot.erp.mockerp.pages`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from pathlib import Path

from paybot.audit.events import Event
from paybot.domain.models import Booking, Category, ErpStatus, RawInvoice, Requisition
from paybot.domain.parsing import parse_booking, parse_register_row, parse_requisition
from paybot.domain.reasons import Reason
from paybot.domain.values import erp_status, read_amount, read_date
from paybot.erp.mockerp import locators as loc
from paybot.erp.mockerp import screens
from paybot.erp.mockerp.pages import MockErpPages
from paybot.erp.port import InboxPage, PaymentRecord, ReferenceData
from paybot.erp.reference import read_xlsx_rows
from paybot.errors import (
    AlreadyHandled,
    ApplicationError,
    BusinessError,
    LoginRefused,
    ScreenChanged,
)

# Refusals of the approval form that a person must look at, by the words of the message.
_REFUSAL_REASONS: tuple[tuple[str, Reason], ...] = (
    ("kontostreng", Reason.ACCOUNT_STRING),
    ("beløbet afviger", Reason.AMOUNT),
    ("kreditnota", Reason.CREDIT_NOTE),
)


def danish_amount(amount: Decimal) -> str:
    """``Decimal('1019.48')`` → ``'1019,48'``: how a clerk types an amount."""
    return f"{amount.quantize(Decimal('0.01')):f}".replace(".", ",")


class MockErpSession(MockErpPages):
    """One logged-in browser session on the mock finance system (``erp.kind: mockerp``).

    Contracts: :class:`paybot.erp.port.FinanceSystem`; the errors each operation raises are
    listed there and again here where the mock adds detail."""

    downloads: Path | None = None
    """The private folder export files download to (:meth:`reference_data`)."""

    # --- login -----------------------------------------------------------------------------

    def login(self) -> None:
        """Log in through ``/login``.

        Raises: :class:`LoginRefused` (the login page again, with its message),
        :class:`ApplicationError` (an error page after logging in).
        Repeat: safe.
        """
        self.open(loc.LOGIN, loc.SCREEN_LOGIN)
        self._type(loc.LOGIN_USER, "brugernavn", self.username)
        self._fill(loc.LOGIN_PASSWORD, self._password.get_secret_value())
        self.audit.event(Event.VALUE_TYPED, field="adgangskode", value="[secret]")
        self.audit.event(Event.BUTTON_CLICKED, button="log-ind")
        page = self._click_and_wait(loc.LOGIN_BUTTON, "the login to finish")
        if page.screen == loc.SCREEN_LOGIN:
            why = page.error or "no reason given"
            raise LoginRefused(f"{self.base_url}: login as {self.username!r} refused: {why}")
        if page.screen == loc.SCREEN_ERROR:
            code = page.text("fejlkode") or "?"
            raise ApplicationError(f"{self.base_url}: an error page ({code}) after logging in")
        self.page = page
        self.audit.event(Event.LOGIN, user=self.username, screen=page.screen)

    # --- preflight ---------------------------------------------------------------------------

    def check_inbox_screen(self, category: Category) -> None:
        """The inbox has its filter, table, count and page information.

        Raises: :class:`ScreenChanged` naming the missing elements.
        Repeat: safe.
        """
        page = self.open(loc.INBOX, loc.SCREEN_INBOX, {"kategori": category.value})
        missing = page.missing(loc.REQUIRED_ON_INBOX)
        if missing:
            raise ScreenChanged(f"{loc.INBOX}: the inbox lacks {', '.join(missing)}")

    def check_invoice_screen(self, erp_id: int) -> None:
        """The invoice screen has every field and form of
        :data:`~paybot.erp.mockerp.locators.REQUIRED_ON_INVOICE` (an invoice that is no longer
        new has no forms and passes).

        Raises: :class:`ScreenChanged` naming the missing elements.
        Repeat: safe.
        """
        page = self.open(loc.INVOICE.format(erp_id=erp_id), loc.SCREEN_INVOICE)
        if erp_status(page.text("felt-status")) is not ErpStatus.NEW:
            return  # no forms on a handled invoice; the worker will reconcile or skip it
        missing = page.missing(loc.REQUIRED_ON_INVOICE)
        if missing:
            raise ScreenChanged(
                f"{self.current_path}: the invoice screen lacks {', '.join(missing)}"
            )

    # --- reading -----------------------------------------------------------------------------

    def _list_all(
        self,
        path: str,
        expect: str,
        table_id: str,
        row_class: str,
        query: dict[str, object] | None = None,
    ) -> list[dict[str, str]]:
        """Every row of a list screen, page by page (``side``)."""
        rows: list[dict[str, str]] = []
        side = 1
        while True:
            page = self.open(path, expect, {**(query or {}), "side": side})
            listing = screens.read_list(page, table_id, row_class)
            rows.extend(listing.rows)
            if not listing.has_next:
                return rows
            side += 1

    def active_accounts(self) -> frozenset[str]:
        """The Kontoplan's account strings marked active (every page).

        Raises: :class:`ScreenChanged` when none can be read.
        Repeat: safe.
        """
        rows = self._list_all(loc.CHART, loc.SCREEN_CHART, loc.CHART_TABLE_ID, "")
        accounts = frozenset(r["kontostreng"] for r in rows if r.get("aktiv", "").lower() == "ja")
        if not accounts:
            raise ScreenChanged(f"{loc.CHART}: no active account strings could be read")
        return accounts

    def inbox_page(self, category: Category, after: int) -> InboxPage:
        """``/indbakke?kategori=…&after=…``: the mock pages its inbox by Løbenr (keyset).

        Raises: :class:`~paybot.domain.reference_rows.ReferenceDataError` for a row it cannot
        read, :class:`ApplicationError`.
        Repeat: safe.
        """
        page = self.open(loc.INBOX, loc.SCREEN_INBOX, {"kategori": category.value, "after": after})
        listing = screens.read_list(page, loc.INBOX_TABLE_ID, loc.INBOX_ROW_CLASS)
        entries = tuple(parse_register_row(row) for row in listing.rows)
        return InboxPage(entries=entries, has_next=listing.has_next)

    def read_invoice(self, erp_id: int) -> RawInvoice:
        """Open the invoice and read everything on it (one page load, one read).

        Raises: :class:`ScreenChanged` when the page shows another Løbenr.
        Repeat: safe.
        """
        page = self.open(loc.INVOICE.format(erp_id=erp_id), loc.SCREEN_INVOICE)
        raw = screens.read_invoice(page)
        shown = raw.get("loebenr")
        if shown != str(erp_id):
            raise ScreenChanged(f"{self.current_path}: shows Løbenr {shown!r}, expected {erp_id}")
        return raw

    def payment_for(self, erp_id: int) -> PaymentRecord | None:
        """The invoice's row on Betalinger, or ``None``.

        Raises: :class:`ApplicationError`.
        Repeat: safe.
        """
        page = self.open(loc.PAYMENTS, loc.SCREEN_PAYMENTS, {"loebenr": erp_id})
        for row in screens.table_rows(page, loc.PAYMENTS_TABLE_ID, loc.PAYMENTS_ROW_CLASS):
            if row.get("loebenr") == str(erp_id):
                return payment_record(erp_id, row)
        return None

    def reference_data(self, *, requisitions: bool, bookings: bool) -> ReferenceData:
        """The Rekvisitioner and Tolkebestillinger screens' XLSX exports, downloaded to
        :attr:`downloads` and deleted as soon as they are read.

        Raises: :class:`~paybot.domain.reference_rows.ReferenceDataError`,
        :class:`ApplicationError` (the download did not arrive in time).
        Repeat: safe.
        """
        reqs: tuple[Requisition, ...] = ()
        books: dict[str, Booking] = {}
        if requisitions:
            rows = self._export_rows(loc.REQUISITIONS, loc.SCREEN_REQUISITIONS)
            reqs = tuple(parse_requisition(row) for row in rows)
            self.audit.event(Event.FIELD_READ, field="rekvisitioner", value=f"{len(reqs)} rækker")
        if bookings:
            rows = self._export_rows(loc.BOOKINGS, loc.SCREEN_BOOKINGS)
            books = {b.reference: b for b in (parse_booking(row) for row in rows)}
            self.audit.event(
                Event.FIELD_READ, field="tolkebestillinger", value=f"{len(books)} rækker"
            )
        return ReferenceData(requisitions=reqs, bookings=books)

    def _export_rows(self, path: str, screen: str) -> list[dict[str, object]]:
        if self.downloads is None:
            raise ApplicationError(f"{path}: this session has no folder for export files")
        file = self.download(path, screen, loc.EXPORT_XLSX, self.downloads, ".xlsx")
        try:
            return read_xlsx_rows(file)
        finally:
            file.unlink(missing_ok=True)

    # --- acting ------------------------------------------------------------------------------

    def _on_invoice(self, erp_id: int) -> None:
        """Be on the invoice's page; an invoice that is no longer new has no forms."""
        page = self.page
        if (
            page is None
            or page.screen != loc.SCREEN_INVOICE
            or page.text("felt-loebenr") != str(erp_id)
        ):
            page = self.open(loc.INVOICE.format(erp_id=erp_id), loc.SCREEN_INVOICE)
        status = page.text("felt-status")
        if erp_status(status) is not ErpStatus.NEW:
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
        """Fill in the approval form, click "Godkend og betal" and return the voucher number
        from the receipt.

        Raises: :class:`AlreadyHandled` (status not Ny, or the form says so),
        :class:`BusinessError` (the form refused the account string, the amount or a credit
        note), :class:`ScreenChanged` (no receipt, or one for another invoice),
        :class:`ApplicationError`.
        Repeat: NOT safe: reconcile with :meth:`payment_for` first.
        """
        self._on_invoice(erp_id)
        self._fill_form(
            [
                (loc.APPROVE_ACCOUNT, "kontostreng", account_string),
                (loc.APPROVE_AMOUNT, "beloeb", danish_amount(amount)),
                (loc.APPROVE_TEXT, "posteringstekst", posting_text),
                (loc.APPROVE_DATE, "betalingsdato", payment_date.strftime("%d-%m-%Y")),
            ]
        )
        # Not fsynced: the ledger already holds the intent durably (the record recovery uses).
        self.audit.event(Event.BUTTON_CLICKED, button="godkend-betal")
        page = self._click_and_wait(loc.APPROVE_BUTTON, "the payment receipt")
        self.page = page
        if page.screen == loc.SCREEN_RECEIPT:
            voucher = screens.read_voucher(page)
            shown = page.text(loc.RECEIPT_LOEBENR_ID)
            if not voucher or shown != str(erp_id):
                raise ScreenChanged(
                    f"{self.current_path}: receipt for Løbenr {shown!r} without a voucher"
                )
            self.audit.event(Event.VOUCHER_READ, voucher=voucher, durable=True)
            return voucher
        if page.screen == loc.SCREEN_INVOICE and page.error:
            self._refused(erp_id, page.error)
        self._check(page, loc.SCREEN_RECEIPT)
        raise ScreenChanged(f"{self.current_path}: no receipt after approval")

    def _refused(self, erp_id: int, message: str) -> None:
        lowered = message.lower()
        if (
            "allerede betalt" in lowered
            or "manuel behandling" in lowered
            or "ikke længere ny" in lowered
        ):
            raise AlreadyHandled(f"Løbenr {erp_id}: {message}")
        for words, reason in _REFUSAL_REASONS:
            if words in lowered:
                raise BusinessError(
                    reason, f"Løbenr {erp_id}: the finance system refused: {message}"
                )
        raise ApplicationError(f"Løbenr {erp_id}: the finance system refused: {message}")

    def hand_over(self, erp_id: int, *, reason: Reason, note: str) -> None:
        """Fill in the manual-handling form (årsagskode, bemærkning) and send it; the invoice
        then shows "Manuel behandling".

        Raises: :class:`AlreadyHandled`, :class:`ApplicationError` (still not handed over
        afterwards), :class:`ScreenChanged`.
        Repeat: safe in effect (a second one raises :class:`AlreadyHandled`).
        """
        self._on_invoice(erp_id)
        self._fill_form(
            [(loc.MANUAL_REASON, "aarsagskode", reason), (loc.MANUAL_NOTE, "bemaerkning", note)]
        )
        self.audit.event(Event.BUTTON_CLICKED, button="send-manuel")
        page = self._click_and_wait(loc.MANUAL_BUTTON, "the invoice after manual handling")
        self.page = page
        if page.screen == loc.SCREEN_INVOICE and page.error:
            self._refused(erp_id, page.error)
        self._check(page, loc.SCREEN_INVOICE)
        status = page.text("felt-status")
        if "manuel" not in status.lower():
            raise ApplicationError(
                f"Løbenr {erp_id}: still {status!r} after sending to manual handling"
            )


def payment_record(erp_id: int, row: dict[str, str]) -> PaymentRecord:
    """A Betalinger row (``bilagsnummer``, ``godkendt-af``, ``beloeb`` ``1.019,48``,
    ``betalingsdato`` DD-MM-YYYY, ``kontostreng``) as a :class:`PaymentRecord`; a cell that
    cannot be read is ``None`` (the voucher and the approver are what reconciliation needs)."""
    amount: Decimal | None = None
    paid_on: dt.date | None = None
    with contextlib.suppress(ValueError):
        amount = read_amount(row.get("beloeb", ""))
    with contextlib.suppress(ValueError):
        paid_on = read_date(row.get("betalingsdato", ""))
    return PaymentRecord(
        erp_id=erp_id,
        voucher=row.get("bilagsnummer", ""),
        approved_by=row.get("godkendt-af", ""),
        amount=amount,
        account_string=row.get("kontostreng") or None,
        payment_date=paid_on,
    )
