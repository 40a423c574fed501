"""What the finance system does when a user approves an invoice or hands it to a person.

Everything happens in one write transaction: either the payment, the new status and the history
line are stored together, or nothing is. A second payment of an invoice is refused by the
``UNIQUE`` constraint on ``payments.invoice_id`` (the status check before it only gives the
friendlier message first); no check-then-insert decides it alone.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from dataclasses import dataclass
from decimal import Decimal

from mockerp.auth import User, stamp
from mockerp.bankdays import is_bank_day, is_closing_day
from mockerp.db import transaction
from mockerp.formatting import (
    UnreadableValue,
    decimal_from_db,
    format_amount,
    parse_amount,
    parse_date,
)

MAX_POSTING_TEXT = 50
MAX_NOTE = 1000
REASON_CODE = re.compile(r"^[A-Z0-9_]{3,40}$")
TOLERANCE = Decimal("1.00")

STATUS_LABELS = {"ny": "Ny", "betalt": "Betalt", "manuel": "Manuel behandling"}

MSG_PAID = "Fakturaen er allerede betalt (bilag {voucher})."
MSG_MANUAL = "Fakturaen er sendt til manuel behandling og kan ikke godkendes."
MSG_ACCOUNT = "Kontostrengen findes ikke i kontoplanen."
MSG_AMOUNT = "Beløbet afviger fra fakturaens beløb med 1 kr. eller mere."
MSG_DATE = "Betalingsdatoen skal være en bankdag fra i dag og frem."
MSG_CLOSING_DAY = (
    "Betalingsdatoen er en banklukkedag (bankerne gennemfører ingen betalinger den dag). "
    "Vælg en anden bankdag."
)
MSG_MISSING = "Udfyld {felt}."
MSG_CREDIT_NOTE = "En kreditnota kan ikke godkendes til betaling."
MSG_TEXT_TOO_LONG = "Posteringsteksten må højst være 50 tegn."
MSG_NOT_NEW = "Fakturaen er ikke længere ny (status: {status})."
MSG_NOTE_TOO_LONG = "Bemærkningen må højst være 1000 tegn."


class NoSuchInvoice(LookupError):
    def __init__(self, invoice_id: int) -> None:
        self.invoice_id = invoice_id
        super().__init__(f"Løbenr {invoice_id}: no such invoice")


class Refused(Exception):
    """The system refuses the action; ``status`` is the HTTP status, ``message`` the Danish text."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class ApprovalForm:
    """The approval form as typed (text)."""

    account_string: str
    amount: str
    posting_text: str
    payment_date: str


@dataclass(frozen=True)
class ManualForm:
    reason: str
    note: str


@dataclass(frozen=True)
class Payment:
    voucher: str
    invoice_id: int
    amount: Decimal
    payment_date: dt.date


def _invoice(conn: sqlite3.Connection, invoice_id: int) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT id, status, doc_type, payable_amount FROM invoices WHERE id = ?", (invoice_id,)
    ).fetchone()
    if row is None:
        raise NoSuchInvoice(invoice_id)
    return row


def _paid_refusal(conn: sqlite3.Connection, invoice_id: int) -> Refused:
    row = conn.execute(
        "SELECT voucher FROM payments WHERE invoice_id = ?", (invoice_id,)
    ).fetchone()
    return Refused(409, MSG_PAID.format(voucher=row["voucher"] if row else "?"))


def _read_form(form: ApprovalForm) -> tuple[str, Decimal, str, dt.date]:
    account = form.account_string.strip()
    if not account:
        raise Refused(422, MSG_MISSING.format(felt="Kontostreng"))
    try:
        amount = parse_amount(form.amount)
    except UnreadableValue:
        raise Refused(422, MSG_MISSING.format(felt="Beløb")) from None
    text = form.posting_text.strip()
    if not text:
        raise Refused(422, MSG_MISSING.format(felt="Posteringstekst"))
    if len(text) > MAX_POSTING_TEXT:
        raise Refused(422, MSG_TEXT_TOO_LONG)
    try:
        day = parse_date(form.payment_date)
    except UnreadableValue:
        raise Refused(422, MSG_MISSING.format(felt="Betalingsdato")) from None
    return account, amount, text, day


def next_voucher(conn: sqlite3.Connection, year: int) -> str:
    """``B-2026-000123``: the year's next running number (call inside the write transaction)."""
    prefix = f"B-{year}-"
    row = conn.execute(
        "SELECT voucher FROM payments WHERE voucher LIKE ? ORDER BY voucher DESC LIMIT 1",
        (prefix + "%",),
    ).fetchone()
    number = int(row["voucher"][len(prefix) :]) + 1 if row else 1
    return f"{prefix}{number:06d}"


def approve(
    conn: sqlite3.Connection,
    invoice_id: int,
    form: ApprovalForm,
    user: User,
    now: dt.datetime,
    today: dt.date,
) -> Payment:
    """Approve and pay the invoice, or raise :class:`Refused` having stored nothing."""
    with transaction(conn):
        invoice = _invoice(conn, invoice_id)
        if invoice["status"] == "betalt":
            raise _paid_refusal(conn, invoice_id)
        if invoice["status"] == "manuel":
            raise Refused(409, MSG_MANUAL)
        if invoice["doc_type"] == "credit_note":
            raise Refused(422, MSG_CREDIT_NOTE)
        account, amount, text, day = _read_form(form)
        active = conn.execute(
            "SELECT 1 FROM accounts WHERE account_string = ? AND active = 1", (account,)
        ).fetchone()
        if active is None:
            raise Refused(422, MSG_ACCOUNT)
        payable = decimal_from_db(invoice["payable_amount"]) or Decimal(0)
        if abs(amount - payable) >= TOLERANCE:
            raise Refused(422, MSG_AMOUNT)
        if day >= today and day.weekday() < 5 and is_closing_day(day):
            raise Refused(422, MSG_CLOSING_DAY)
        if day < today or not is_bank_day(day):
            raise Refused(422, MSG_DATE)
        voucher = next_voucher(conn, today.year)
        try:
            conn.execute(
                "INSERT INTO payments (voucher, invoice_id, amount, payment_date,"
                " account_string, posting_text, approved_by, approved_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    voucher,
                    invoice_id,
                    str(amount.quantize(Decimal("0.01"))),
                    day.isoformat(),
                    account,
                    text,
                    user.id,
                    stamp(now),
                ),
            )
        except sqlite3.IntegrityError as exc:
            if "payments.invoice_id" in str(exc):
                raise _paid_refusal(conn, invoice_id) from exc
            raise
        conn.execute("UPDATE invoices SET status = 'betalt' WHERE id = ?", (invoice_id,))
        conn.execute(
            "INSERT INTO invoice_history (invoice_id, at, username, action) VALUES (?, ?, ?, ?)",
            (
                invoice_id,
                stamp(now),
                user.username,
                f"Godkendt og betalt: bilag {voucher}, {format_amount(amount)} kr.,"
                f" konto {account}",
            ),
        )
    return Payment(voucher, invoice_id, amount, day)


def send_to_manual(
    conn: sqlite3.Connection, invoice_id: int, form: ManualForm, user: User, now: dt.datetime
) -> None:
    """Hand the invoice to a person, or raise :class:`Refused` having stored nothing."""
    with transaction(conn):
        invoice = _invoice(conn, invoice_id)
        if invoice["status"] != "ny":
            raise Refused(409, MSG_NOT_NEW.format(status=STATUS_LABELS.get(invoice["status"], "?")))
        reason = form.reason.strip()
        if not REASON_CODE.match(reason):
            raise Refused(422, MSG_MISSING.format(felt="Årsagskode"))
        note = form.note.strip()
        if len(note) > MAX_NOTE:
            raise Refused(422, MSG_NOTE_TOO_LONG)
        conn.execute(
            "UPDATE invoices SET status = 'manuel', manual_reason = ?, manual_note = ?,"
            " manual_by = ?, manual_at = ? WHERE id = ? AND status = 'ny'",
            (reason, note, user.id, stamp(now), invoice_id),
        )
        conn.execute(
            "INSERT INTO invoice_history (invoice_id, at, username, action) VALUES (?, ?, ?, ?)",
            (invoice_id, stamp(now), user.username, f"Sendt til manuel behandling: {reason}"),
        )
