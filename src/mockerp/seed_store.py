"""The seed's database writes besides the import: chart of accounts, requisitions, bookings,
and the history (payments approved by the clerk, documents sent to manual handling)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from mockerp.db import transaction
from mockerp.seed_calc import is_bank_day
from mockerp.seed_model import BookingRow, Draft, RequisitionRow, SeedError
from mockerp.seed_world import World

MANUAL_NOTES = {
    "MANUAL_FORMAT": "Fakturaen kunne ikke læses fuldt ud; rettet med leverandøren.",
    "MANUAL_CREDIT_NOTE": "Kreditnota modregnet i leverandørens næste faktura.",
    "MANUAL_BUYER": "Faktura sendt til forkert modtager; returneret til leverandøren.",
    "MANUAL_SUPPLIER": "Leverandøren er ikke oprettet; sendt til kreditorbogholderiet.",
    "MANUAL_AMOUNT": "Beløbet kræver godkendelse af budgetansvarlig.",
    "MANUAL_ARITHMETIC": "Beløbene stemmer ikke; ny faktura rekvireret.",
    "MANUAL_DUE_DATE": "Betalingsfristen er rettet til 30 dage.",
    "MANUAL_PAYMENT_MEANS": "Betalingsoplysningerne er ugyldige; leverandøren er kontaktet.",
    "MANUAL_ACCOUNT_STRING": "Kontering afklaret med fagafdelingen.",
}


@dataclass(frozen=True, slots=True)
class Stored:
    """A written draft and the Løbenr the import gave it."""

    loebenr: int
    draft: Draft


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def insert_reference_data(
    conn: sqlite3.Connection,
    world: World,
    requisitions: Iterable[RequisitionRow],
    bookings: Iterable[BookingRow],
) -> None:
    with transaction(conn):
        conn.executemany(
            "INSERT OR REPLACE INTO accounts (account_string, name, active) VALUES (?, ?, ?)",
            [(a.account_string, a.name, int(a.active)) for a in world.accounts],
        )
        conn.executemany(
            "INSERT INTO requisitions (number, cpr, form, requested_on, interpreter_approved,"
            " status, cancelled) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.number,
                    r.cpr,
                    r.form,
                    r.requested_on.isoformat(),
                    int(r.interpreter_approved),
                    r.status,
                    int(r.cancelled),
                )
                for r in requisitions
            ],
        )
        conn.executemany(
            "INSERT INTO bookings (reference, language, date, planned_start, planned_end,"
            " category, distance_km, mode, cancelled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    b.reference,
                    b.language,
                    b.date.isoformat(),
                    f"{b.planned_start:%H:%M}",
                    f"{b.planned_end:%H:%M}",
                    b.category,
                    f"{b.distance_km:.1f}",
                    b.mode,
                    b.cancelled_at.isoformat(timespec="seconds") if b.cancelled_at else None,
                )
                for b in bookings
            ],
        )


def clerk_id(conn: sqlite3.Connection) -> tuple[int, str]:
    row = conn.execute(
        "SELECT id, username FROM users WHERE role = 'clerk'"
        " ORDER BY username = 'sagsbehandler' DESC, id LIMIT 1"
    ).fetchone()
    if row is None:
        raise SeedError("the users file has no user with role clerk to approve the history")
    return int(row[0]), str(row[1])


def _payment_date(due: dt.date | None, approved: dt.date, holidays: frozenset[dt.date]) -> dt.date:
    """The latest bank day on or before the due date, not before the approval day."""
    day = due or approved
    while not is_bank_day(day, holidays) and day > approved:
        day -= dt.timedelta(days=1)
    day = max(day, approved)
    while not is_bank_day(day, holidays):
        day += dt.timedelta(days=1)
    return day


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def apply_history(
    conn: sqlite3.Connection, stored: Sequence[Stored], holidays: frozenset[dt.date]
) -> tuple[int, int]:
    """Mark the history documents paid or sent to manual handling; (paid, manual)."""
    user_id, username = clerk_id(conn)
    paid = manual = 0
    sequence: dict[int, int] = {}
    with transaction(conn):
        for item in stored:
            draft = item.draft
            if draft.history is None:
                continue
            if draft.received_at is None:
                raise SeedError(f"history document {draft.doc.number} has no receipt time")
            handled = draft.received_at + dt.timedelta(days=1, hours=2, minutes=item.loebenr % 50)
            if draft.history == "betalt":
                expected = draft.expected
                if expected.decision != "pay" or expected.account_string is None:
                    raise SeedError(f"history document {draft.doc.number} is not payable")
                due = draft.doc.payment.due_date if draft.doc.payment else None
                pay_day = _payment_date(due, handled.date(), holidays)
                sequence[pay_day.year] = sequence.get(pay_day.year, 0) + 1
                voucher = f"B-{pay_day.year}-{sequence[pay_day.year]:06d}"
                conn.execute(
                    "INSERT INTO payments (voucher, invoice_id, amount, payment_date,"
                    " account_string, posting_text, approved_by, approved_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        voucher,
                        item.loebenr,
                        _money(draft.doc.payable),
                        pay_day.isoformat(),
                        expected.account_string,
                        draft.posting_text,
                        user_id,
                        _utc(handled),
                    ),
                )
                conn.execute("UPDATE invoices SET status = 'betalt' WHERE id = ?", (item.loebenr,))
                action = f"Godkendt og betalt (bilag {voucher})"
                paid += 1
            else:
                reason = draft.expected.reason or "MANUAL_FORMAT"
                conn.execute(
                    "UPDATE invoices SET status = 'manuel', manual_reason = ?, manual_note = ?,"
                    " manual_by = ?, manual_at = ? WHERE id = ?",
                    (
                        reason,
                        MANUAL_NOTES.get(reason, "Behandlet manuelt."),
                        user_id,
                        _utc(handled),
                        item.loebenr,
                    ),
                )
                action = f"Sendt til manuel behandling ({reason})"
                manual += 1
            conn.execute(
                "INSERT INTO invoice_history (invoice_id, at, username, action)"
                " VALUES (?, ?, ?, ?)",
                (item.loebenr, _utc(handled), username, action),
            )
    return paid, manual
