"""Test data written straight into the mock finance system's database.

The tests here do not wait for the OIOUBL importer: users, accounts, invoices, requisitions and
bookings are inserted directly, with sensible defaults. CPR numbers are generated (a date and a
serial from a seeded generator), never real ones.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from werkzeug.security import generate_password_hash

from mockerp import db as mockdb

# Cheap hashes keep the tests fast; the app checks any werkzeug hash method the same way.
TEST_HASH_METHOD = "pbkdf2:sha256:1000"

ACCOUNTS: tuple[tuple[str, str, bool], ...] = (
    ("6.45.51-000-2.2", "Sekretariat, fødevarer", True),
    ("6.45.51-000-4.0", "Sekretariat, tjenesteydelser", True),
    ("5.57.72-004-4.0", "Sociale formål, lægeerklæringer", True),
    ("5.46.60-014-4.0", "Integration, tolkebistand", True),
    ("6.45.51-000-2.9", "Sekretariat, øvrige varekøb (lukket)", False),
)

_numbers = itertools.count(1)


def new_database(path: Path) -> sqlite3.Connection:
    """A fresh database file with the schema and the chart of accounts above."""
    conn = mockdb.connect(path)
    for account, name, active in ACCOUNTS:
        add_account(conn, account, name, active=active)
    return conn


def add_account(conn: sqlite3.Connection, account: str, name: str, *, active: bool = True) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO accounts (account_string, name, active) VALUES (?, ?, ?)",
        (account, name, int(active)),
    )


def create_user(
    conn: sqlite3.Connection,
    username: str,
    password: str,
    role: str,
    full_name: str | None = None,
) -> int:
    cur = conn.execute(
        "INSERT INTO users (username, full_name, password_hash, role) VALUES (?, ?, ?, ?)",
        (
            username,
            full_name or username.capitalize(),
            generate_password_hash(password, method=TEST_HASH_METHOD),
            role,
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def generated_cpr(rng: random.Random) -> str:
    """A made-up CPR number ``DDMMYY-SSSS`` with a real date (not a real person's)."""
    day = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 60))
    return f"{day:%d%m%y}-{rng.randrange(10_000):04d}"


def _line(no: int, amount: Decimal, vat_percent: Decimal, **fields: Any) -> dict[str, Any]:
    vat = (amount * vat_percent / 100).quantize(Decimal("0.01"))
    line: dict[str, Any] = {
        "line_no": no,
        "line_id": str(no),
        "item_id": f"VARE-{no}",
        "description": f"Vare {no}",
        "quantity": "1",
        "unit_code": "EA",
        "unit_price": str(amount),
        "amount": str(amount),
        "tax_percent": str(vat_percent),
        "tax_amount": str(vat),
    }
    line.update(fields)
    return line


def insert_invoice(
    conn: sqlite3.Connection,
    *,
    lines: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> int:
    """Insert an invoice (and its lines) and return its Løbenr.

    Defaults: a Ny small invoice of 1.000,00 + 25 % VAT = 1.250,00 kr from a known supplier,
    paid by bank transfer. Amount fields may be given as ``Decimal`` or text. ``lines`` default
    to one line matching ``line_extension_amount``; each given line may hold only the fields it
    changes.
    """
    n = next(_numbers)
    net = Decimal(str(fields.pop("line_extension_amount", "1000.00")))
    vat_percent = Decimal(str(fields.pop("vat_percent", "25")))
    vat = Decimal(
        str(fields.pop("tax_amount", (net * vat_percent / 100).quantize(Decimal("0.01"))))
    )
    total = Decimal(str(fields.pop("tax_inclusive_amount", net + vat)))
    payable = Decimal(str(fields.pop("payable_amount", total)))
    row: dict[str, Any] = {
        "document_uuid": str(uuid.uuid4()),
        "doc_type": "invoice",
        "category": "oevrige",
        "status": "ny",
        "received_at": "2026-11-20T08:15:00+00:00",
        "invoice_number": f"F-{n:05d}",
        "issue_date": "2026-11-19",
        "due_date": "2026-12-10",
        "currency": "DKK",
        "supplier_name": "Kontorland A/S",
        "supplier_cvr": "20433213",
        "supplier_gln": "5790000000012",
        "buyer_gln": "5798528809575",
        "buyer_name": "Demo Kommune",
        "order_reference": None,
        "accounting_cost": None,
        "line_extension_amount": str(net),
        "tax_amount": str(vat),
        "tax_inclusive_amount": str(total),
        "payable_amount": str(payable),
        "payment_means_code": "42",
        "bank_reg": "9570",
        "bank_account": "0012345678",
        "source_file": f"test-{n}.xml",
        "raw_xml": "<Invoice/>",
    }
    for key, value in fields.items():
        row[key] = str(value) if isinstance(value, Decimal) else value
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cur = conn.execute(f"INSERT INTO invoices ({columns}) VALUES ({marks})", list(row.values()))
    invoice_id = cur.lastrowid
    assert invoice_id is not None
    given = lines if lines is not None else [{}]
    for no, changes in enumerate(given, start=1):
        line = _line(no, net if len(given) == 1 else Decimal("0.00"), vat_percent)
        line.update({k: str(v) if isinstance(v, Decimal) else v for k, v in changes.items()})
        line["invoice_id"] = invoice_id
        cols = ", ".join(line)
        conn.execute(
            f"INSERT INTO invoice_lines ({cols}) VALUES ({', '.join('?' for _ in line)})",
            list(line.values()),
        )
    return invoice_id


def insert_requisition(
    conn: sqlite3.Connection,
    *,
    cpr: str,
    form: str = "LÆ 135",
    requested_on: str = "2026-11-01",
    interpreter_approved: bool = False,
    status: str = "aaben",
    cancelled: bool = False,
    number: str | None = None,
) -> str:
    number = number or f"REK-{next(_numbers):06d}"
    conn.execute(
        "INSERT INTO requisitions (number, cpr, form, requested_on, interpreter_approved,"
        " status, cancelled) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (number, cpr, form, requested_on, int(interpreter_approved), status, int(cancelled)),
    )
    return number


def insert_booking(
    conn: sqlite3.Connection,
    *,
    reference: str | None = None,
    language: str = "Arabisk",
    date: str = "2026-11-16",
    planned_start: str = "08:00",
    planned_end: str = "09:30",
    category: str = "oevrig",
    distance_km: str = "18.5",
    mode: str = "fremmoede",
    cancelled_at: str | None = None,
) -> str:
    reference = reference or f"TB-{next(_numbers):06d}"
    conn.execute(
        "INSERT INTO bookings (reference, language, date, planned_start, planned_end, category,"
        " distance_km, mode, cancelled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            reference,
            language,
            date,
            planned_start,
            planned_end,
            category,
            distance_km,
            mode,
            cancelled_at,
        ),
    )
    return reference


def payments_of(conn: sqlite3.Connection, invoice_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM payments WHERE invoice_id = ? ORDER BY id", (invoice_id,)
    ).fetchall()
