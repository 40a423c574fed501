"""``erp.kind: tryton``: the robots in Tryton, through its web client sao.

How the port's operations map to what a clerk does in Tryton (docs/adding-a-finance-system.md,
"Tryton as the worked example"):

- **inbox**: the draft supplier invoices of the robot's journal (one expense journal per
  inbox category: "Småfakturaer", "Lægeerklæringer", "Tolkeregninger"); read as a list
  through sao's JSON-RPC (the list view has no CVR column), keyset-paged by id (= Løbenr);
- **read**: the invoice's form opened by its address, its state and reference read from the
  form's fields, the attached original e-invoice read for everything Tryton does not keep
  (:mod:`paybot.erp.tryton.einvoice`);
- **pay**: check that Tryton's total is the amount decided; set the lines' account (the
  robot's account string mapped to a Tryton account, ``tryton.accounts``) and the posting
  text (the form's Description); Post; Pay with the payment method ``tryton.payment_method``
  on the payment date; the voucher is the payment's journal entry (its move number);
- **manual handling**: the note in the invoice's Comment, ``Manuel behandling: <REASON>``
  then the Danish text; the saved filter "Manuel behandling" lists them; the invoice stays a
  draft for the person;
- **reconcile**: the invoice's payment lines (Tryton's own payment records) and who made them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from paybot.audit.events import Event
from paybot.domain.models import (
    Category,
    ErpStatus,
    RawInvoice,
    RegisterEntry,
)
from paybot.domain.parsing import parse_booking, parse_requisition
from paybot.domain.reasons import Reason
from paybot.erp.browser import Browser
from paybot.erp.port import (
    AuditSink,
    Connection,
    FinanceSystem,
    InboxPage,
    PaymentRecord,
    ReferenceData,
)
from paybot.erp.reference import read_xlsx_rows
from paybot.erp.tryton.einvoice import EInvoiceUnreadable, read_einvoice
from paybot.erp.tryton.sao import RpcError, Sao
from paybot.errors import (
    AlreadyHandled,
    ApplicationError,
    BrowserFailed,
    BusinessError,
    ScreenChanged,
)

INVOICE = "account.invoice"
JOURNAL_CODES = {
    Category.OTHER: "SMAA",
    Category.CERTIFICATE: "LAEG",
    Category.INTERPRETER: "TOLK",
}
"""The inbox category → the code of its expense journal in Tryton."""
MANUAL_MARK = "Manuel behandling:"
"""How the note of an invoice handed to a person starts (the saved filter looks for it)."""
PAGE_SIZE = 100
INVOICE_FIELDS = ("reference", "party", "invoice_date", "state", "comment", "description")
"""Form fields the robot relies on (checked in preflight)."""
LIST_FIELDS = [
    "id",
    "state",
    "reference",
    "invoice_date",
    "total_amount",
    "comment",
    "party",
    "journal.code",
]


def _status(state: str, comment: str | None) -> ErpStatus:
    if state == "paid":
        return ErpStatus.PAID
    if state == "cancelled" or (comment or "").startswith(MANUAL_MARK):
        return ErpStatus.MANUAL
    return ErpStatus.NEW  # draft, validated, posted: still to be paid


def _status_text(status: ErpStatus) -> str:
    """The status as the robots read it (``ny``, ``betalt``, ``manuel``: the shared words)."""
    return status.value


def _manual_reason(comment: str | None) -> str:
    text = comment or ""
    if not text.startswith(MANUAL_MARK):
        return ""
    return text[len(MANUAL_MARK) :].strip().split()[0] if text[len(MANUAL_MARK) :].strip() else ""


class TrytonSession:
    """One sao session (one browser), implementing :class:`~paybot.erp.port.FinanceSystem`."""

    def __init__(self, conn: Connection) -> None:
        settings = conn.settings
        self.settings = settings
        self.tryton = settings.tryton
        self._username = conn.credentials.username
        self._password = conn.credentials.password
        self.audit: AuditSink = conn.audit
        self._open_browser = conn.open_browser
        self.downloads = conn.downloads
        self.browser: Browser = conn.open_browser()
        self.sao = self._sao(self.browser)
        self.user_id: int | None = None

    def _sao(self, browser: Browser) -> Sao:
        return Sao(
            browser,
            self.settings.erp.url,
            self.tryton.database,
            timeout=self.settings.erp.element_timeout_seconds,
        )

    @property
    def username(self) -> str:
        return self._username

    # --- session --------------------------------------------------------------------------

    def login(self) -> None:
        self.audit.event(Event.VALUE_TYPED, field="login", value=self._username)
        self.audit.event(Event.VALUE_TYPED, field="password", value="[secret]")
        self.sao.login(self._username, self._password.get_secret_value())
        self.user_id = int(self.sao.script("return Sao.Session.current_session.user_id"))
        self.audit.event(Event.LOGIN, user=self._username, screen="sao")

    def restart_browser(self) -> None:
        self.browser.kill()
        self.browser.close()
        try:
            self.browser = self._open_browser()
        except ApplicationError:
            raise
        except Exception as exc:
            raise BrowserFailed(f"no new browser could be opened: {exc}") from exc
        self.sao = self._sao(self.browser)

    def close(self) -> None:
        self.browser.close()

    def screenshot(self, target: Path) -> Path | None:
        if not self.sao.screenshot(str(target)):
            return None
        self.audit.event(Event.SCREENSHOT, file=target.name)
        return target

    # --- preflight --------------------------------------------------------------------------

    def _journal(self, category: Category) -> int:
        code = JOURNAL_CODES[category]
        found = self.sao.rpc("model.account.journal.search", [["code", "=", code]], 0, 1, None)
        if not found:
            raise ScreenChanged(f"Tryton has no journal {code!r} for the inbox {category.value}")
        return int(found[0])

    def check_inbox_screen(self, category: Category) -> None:
        self._journal(category)
        known = self.sao.rpc("model.account.invoice.fields_get", [*INVOICE_FIELDS])
        missing = [f for f in INVOICE_FIELDS if f not in known]
        if missing:
            raise ScreenChanged(f"Tryton's invoices lack the fields {', '.join(missing)}")

    def check_invoice_screen(self, erp_id: int) -> None:
        self.sao.open_record(INVOICE, erp_id)
        self.audit.event(Event.PAGE_OPENED, screen="invoice", path=self.sao.where)
        if self.sao.field_text("state") != "Draft":
            return
        absent = [f for f in ("reference", "state") if self.sao.field(f) is None]
        absent += [b for b in ("post",) if self.sao.button(b) is None]
        if absent:
            raise ScreenChanged(f"{self.sao.where}: the invoice form lacks {', '.join(absent)}")

    def active_accounts(self) -> frozenset[str]:
        rows = self.sao.rpc(
            "model.account.account.search_read",
            [["closed", "!=", True], ["type.expense", "=", True]],
            0,
            None,
            None,
            ["code"],
        )
        codes = {str(r["code"]) for r in rows if r.get("code")}
        mapped = {s for s, code in self.tryton.accounts.items() if code in codes}
        accounts = frozenset(codes | mapped)
        if not accounts:
            raise ScreenChanged("Tryton shows no open expense accounts")
        return accounts

    def reference_data(self, *, requisitions: bool, bookings: bool) -> ReferenceData:
        if not (requisitions or bookings):
            return ReferenceData()
        folder = self.tryton.exports_dir
        if folder is None:
            raise ApplicationError(
                "tryton.exports_dir is not set: Tryton keeps no requisitions or bookings, "
                "the case system's exports are read from there"
            )
        folder = folder if folder.is_absolute() else self.settings.home / folder
        reqs: tuple[Any, ...] = ()
        books: dict[str, Any] = {}
        if requisitions:
            reqs = tuple(
                parse_requisition(r) for r in read_xlsx_rows(folder / "rekvisitioner.xlsx")
            )
            self.audit.event(Event.FIELD_READ, field="rekvisitioner", value=f"{len(reqs)} rækker")
        if bookings:
            rows = read_xlsx_rows(folder / "tolkebestillinger.xlsx")
            books = {b.reference: b for b in (parse_booking(r) for r in rows)}
            self.audit.event(
                Event.FIELD_READ, field="tolkebestillinger", value=f"{len(books)} rækker"
            )
        return ReferenceData(requisitions=reqs, bookings=books)

    # --- reading ----------------------------------------------------------------------------

    def _cvrs(self, party_ids: set[int]) -> dict[int, str]:
        if not party_ids:
            return {}
        rows = self.sao.rpc(
            "model.party.identifier.search_read",
            [["party", "in", sorted(party_ids)]],
            0,
            None,
            [["sequence", "ASC"], ["id", "ASC"]],
            ["party", "code"],
        )
        out: dict[int, str] = {}
        for r in rows:
            code = str(r.get("code") or "")
            if code.isdigit() and len(code) == 8:
                out.setdefault(int(r["party"]), code)
        return out

    def inbox_page(self, category: Category, after: int) -> InboxPage:
        journal = self._journal(category)
        rows = self.sao.rpc(
            "model.account.invoice.search_read",
            [["type", "=", "in"], ["journal", "=", journal], ["id", ">", after]],
            0,
            PAGE_SIZE + 1,
            [["id", "ASC"]],
            LIST_FIELDS,
        )
        has_next = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        cvrs = self._cvrs({int(r["party"]) for r in rows if r.get("party")})
        entries = tuple(
            RegisterEntry(
                erp_id=int(r["id"]),
                category=category,
                status=_status(str(r["state"]), r.get("comment")),
                supplier_cvr=cvrs.get(int(r["party"] or 0), ""),
                invoice_number=str(r.get("reference") or ""),
                issue_date=r.get("invoice_date"),
                payable_amount=r.get("total_amount"),
            )
            for r in rows
        )
        self.audit.event(
            Event.PAGE_OPENED, screen="inbox", path=f"journal {JOURNAL_CODES[category]}"
        )
        return InboxPage(entries=entries, has_next=has_next)

    def _record(self, erp_id: int, fields: list[str]) -> dict[str, Any]:
        rows = self.sao.rpc(f"model.{INVOICE}.read", [erp_id], fields)
        if not rows:
            raise ScreenChanged(f"Tryton has no invoice {erp_id}")
        return dict(rows[0])

    def _einvoice(self, erp_id: int) -> bytes | None:
        rows = self.sao.rpc(
            "model.ir.attachment.search_read",
            [["resource", "=", f"{INVOICE},{erp_id}"], ["name", "ilike", "%.xml"]],
            0,
            1,
            [["id", "ASC"]],
            ["data"],
        )
        data = rows[0].get("data") if rows else None
        return data if isinstance(data, bytes) else None

    def read_invoice(self, erp_id: int) -> RawInvoice:
        record = self._record(erp_id, ["state", "comment", "reference", "number"])
        self.sao.open_record(INVOICE, erp_id)
        self.audit.event(Event.PAGE_OPENED, screen="invoice", path=self.sao.where)
        reference = str(record.get("reference") or "")
        # sao fills the fields in after the form is drawn: wait for the invoice's reference.
        self.sao.wait(
            lambda: self.sao.field_text("reference") == reference,
            f"the form to show the reference {reference!r}",
        )
        status = _status(str(record["state"]), record.get("comment"))
        fields: dict[str, str] = {}
        lines: tuple[Any, ...] = ()
        acs: tuple[Any, ...] = ()
        vat: tuple[Any, ...] = ()
        data = self._einvoice(erp_id)
        if data is not None:
            try:
                fields, lines, acs, vat = read_einvoice(data)
            except EInvoiceUnreadable:
                fields = {}
        fields |= {
            "loebenr": str(erp_id),
            "status": _status_text(status),
            "manuel-aarsag": _manual_reason(record.get("comment")),
        }
        if status == ErpStatus.PAID:
            payment = self.payment_for(erp_id)
            fields["bilagsnummer"] = payment.voucher if payment else ""
        fields.setdefault("fakturanr", str(record.get("reference") or ""))
        return RawInvoice(fields=fields, lines=lines, allowances_charges=acs, vat_subtotals=vat)

    # --- acting -----------------------------------------------------------------------------

    def _account_id(self, account_string: str) -> int:
        code = self.tryton.accounts.get(account_string, account_string)
        found = self.sao.rpc(
            "model.account.account.search",
            [["code", "=", code], ["closed", "!=", True]],
            0,
            1,
            None,
        )
        if not found:
            raise BusinessError(
                Reason.ACCOUNT_STRING,
                f"Tryton has no open account {code!r} for the account string {account_string}",
            )
        return int(found[0])

    def _still_open(self, erp_id: int) -> dict[str, Any]:
        record = self._record(
            erp_id, ["state", "comment", "total_amount", "lines", "type", "amount_to_pay"]
        )
        status = _status(str(record["state"]), record.get("comment"))
        if status != ErpStatus.NEW:
            raise AlreadyHandled(f"invoice {erp_id}: {_status_text(status)} in Tryton")
        return record

    def approve(
        self,
        erp_id: int,
        *,
        account_string: str,
        amount: Decimal,
        posting_text: str,
        payment_date: dt.date,
    ) -> str:
        record = self._still_open(erp_id)
        total = record.get("total_amount")
        if record["state"] == "draft" and total != amount:
            raise BusinessError(
                Reason.AMOUNT,
                f"invoice {erp_id}: Tryton's total {total} kr is not the {amount} kr decided "
                "(beløbet afviger)",
            )
        if record["state"] == "draft":
            account = self._account_id(account_string)
            # The lines' account: through Tryton's write as the robot (the lines are an
            # editable list in the form; one call sets them all, checked by Tryton's rules).
            self.sao.rpc(f"model.{INVOICE}.line.write", list(record["lines"]), {"account": account})
            self.audit.event(Event.VALUE_TYPED, field="account", value=account_string)
        self.sao.open_record(INVOICE, erp_id)
        self.audit.event(Event.PAGE_OPENED, screen="invoice", path=self.sao.where)
        if record["state"] == "draft":
            description = self.sao.wait(lambda: self.sao.field("description"), "Description")
            self.sao.type_into(description, posting_text, "Description")
            self.audit.event(Event.VALUE_TYPED, field="description", value=posting_text)
            self.sao.save()
        if record["state"] in {"draft", "validated"}:
            if record["state"] == "draft":
                self._click_button("validate_invoice", "Validated")
            self._click_button("post", "Posted")
        self._pay(erp_id, amount, payment_date)
        payment = self.payment_for(erp_id)
        if payment is None:
            raise ApplicationError(f"invoice {erp_id}: Paid in Tryton but no payment line")
        self.audit.event(Event.VOUCHER_READ, voucher=payment.voucher, durable=True)
        return payment.voucher

    def _click_button(self, name: str, state: str) -> None:
        """A model button of the form, then the state it leads to (a confirmation, when
        Tryton asks, is answered with OK)."""
        self.audit.event(Event.BUTTON_CLICKED, button=name)
        self.sao.click_when_ready(lambda: self.sao.button(name), f"the button {name}")

        def done() -> bool:
            ok = self.sao.dialog_button("OK")
            if ok is not None and self.sao.field_text("state") != state:
                self.sao.click(ok, "OK")
                return False
            return self.sao.field_text("state") == state

        self.sao.wait(done, f"the invoice to be {state}", timeout=self.sao.timeout * 2)

    def _pay(self, erp_id: int, amount: Decimal, payment_date: dt.date) -> None:
        """The Pay wizard: payment method and date, then OK; waits for "Paid"."""
        self.audit.event(Event.BUTTON_CLICKED, button="pay")
        self.sao.click_when_ready(lambda: self.sao.button("pay"), "the Pay button")
        self.sao.wait(lambda: self.sao.visible(".wizard-dialog.in"), "the Pay wizard")
        self.sao.choose(
            lambda: next(
                iter(self.sao.visible(".wizard-dialog.in select[name=payment_method]")), None
            ),
            self.tryton.payment_method,
            "Payment Method",
        )
        self.audit.event(
            Event.VALUE_TYPED, field="payment_method", value=self.tryton.payment_method
        )
        dates = self.sao.visible(".wizard-dialog.in input[name=date]")
        if not dates:
            raise ScreenChanged(f"{self.sao.where}: the Pay wizard has no Date field")
        # The user's language is pinned to English: sao shows dates as MM/DD/YYYY.
        self.sao.type_into(dates[0], payment_date.strftime("%m/%d/%Y"), "Date", tab=True)
        self.audit.event(Event.VALUE_TYPED, field="date", value=payment_date.isoformat())
        self.audit.event(Event.BUTTON_CLICKED, button="pay-ok", amount=str(amount))
        self.sao.click_when_ready(lambda: self.sao.dialog_button("OK"), "the wizard's OK")

        def paid() -> bool:
            ask = self.sao.dialog_button("OK")
            if ask is not None and self.sao.visible(".modal-dialog [name=type]"):
                raise BusinessError(
                    Reason.AMOUNT,
                    f"invoice {erp_id}: Tryton asks how to settle a different amount",
                )
            return self.sao.field_text("state") == "Paid"

        self.sao.wait(paid, "the invoice to be Paid", timeout=self.sao.timeout * 2)

    def hand_over(self, erp_id: int, *, reason: str, note: str) -> None:
        self._still_open(erp_id)
        self.sao.open_record(INVOICE, erp_id)
        self.audit.event(Event.PAGE_OPENED, screen="invoice", path=self.sao.where)
        self.sao.tab("Other Info")
        comment = self.sao.wait(lambda: self.sao.field("comment"), "the Comment field")
        text = f"{MANUAL_MARK} {reason}\n{note}"
        self.sao.type_into(comment, text, "Comment")
        self.audit.event(Event.VALUE_TYPED, field="comment", value=text)
        self.audit.event(Event.BUTTON_CLICKED, button="save")
        self.sao.save()
        self.sao.wait(
            lambda: _manual_reason(self._record(erp_id, ["comment"]).get("comment")) == reason,
            "the note to be saved",
        )

    # --- reconciling ------------------------------------------------------------------------

    def payment_for(self, erp_id: int) -> PaymentRecord | None:
        record = self._record(erp_id, ["state", "payment_lines", "lines"])
        if not record.get("payment_lines"):
            return None
        lines = self.sao.rpc(
            "model.account.move.line.read",
            list(record["payment_lines"]),
            ["move", "debit", "credit", "date", "create_uid"],
        )
        line = lines[0]
        move = self.sao.rpc("model.account.move.read", [line["move"]], ["number"])
        voucher = str(move[0].get("number") or line["move"])
        creator = int(line.get("create_uid") or 0)
        by = self._username if creator == self.user_id else f"user {creator}"
        amount = sum((Decimal(x.get("debit") or 0) for x in lines), Decimal(0))
        accounts = self.sao.rpc(
            "model.account.invoice.line.read", list(record["lines"])[:1], ["account.code"]
        )
        code = (accounts[0].get("account.") or {}).get("code") if accounts else None
        reverse = {v: k for k, v in self.tryton.accounts.items()}
        return PaymentRecord(
            erp_id=erp_id,
            voucher=voucher,
            approved_by=by,
            amount=amount,
            account_string=reverse.get(code, code) if code else None,
            payment_date=line.get("date"),
        )


def connect(conn: Connection) -> FinanceSystem:
    """A new browser on sao (``erp.url``), not logged in yet.

    Raises: :class:`~paybot.errors.BrowserFailed` when no browser can be opened.
    Repeat: safe (each call is a new session).
    """
    return TrytonSession(conn)


__all__ = ["RpcError", "TrytonSession", "connect"]
