"""The mock finance system's database: one SQLite file, opened per request or command.

Amounts are stored as TEXT holding a plain decimal ("1019.48") and read back as ``Decimal``.
Dates are ISO ``YYYY-MM-DD``, timestamps ISO 8601 in UTC. The schema is the contract between the
web app (``mockerp.app``), the importer (``mockerp.oioubl``) and the seed (``mockerp.seed``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'clerk', 'robot')),
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_at TEXT
);

CREATE TABLE IF NOT EXISTS sessions (
    token TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS accounts (
    account_string TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS invoices (
    id INTEGER PRIMARY KEY,                 -- Løbenr., given at import, ascending
    document_uuid TEXT NOT NULL UNIQUE,
    doc_type TEXT NOT NULL CHECK (doc_type IN ('invoice', 'credit_note')),
    category TEXT NOT NULL CHECK (category IN ('laegeerklaering', 'tolk', 'oevrige')),
    status TEXT NOT NULL DEFAULT 'ny' CHECK (status IN ('ny', 'betalt', 'manuel')),
    received_at TEXT NOT NULL,
    invoice_number TEXT NOT NULL,
    issue_date TEXT NOT NULL,
    due_date TEXT,
    currency TEXT NOT NULL,
    supplier_name TEXT NOT NULL,
    supplier_cvr TEXT,
    supplier_gln TEXT,
    supplier_ydernummer TEXT,
    buyer_gln TEXT,
    buyer_name TEXT,
    order_reference TEXT,
    accounting_cost TEXT,
    line_extension_amount TEXT NOT NULL,
    tax_amount TEXT NOT NULL,
    tax_inclusive_amount TEXT NOT NULL,
    payable_amount TEXT NOT NULL,
    payment_means_code TEXT,
    payment_id TEXT,                        -- FIK card type: 71 / 73 / 75
    instruction_id TEXT,                    -- FIK payment id
    creditor_account TEXT,                  -- FIK creditor number
    bank_reg TEXT,
    bank_account TEXT,
    cert_form TEXT,
    cert_cpr TEXT,
    cert_date TEXT,
    cert_interpreter INTEGER,
    cert_variant TEXT,
    interp_booking_ref TEXT,
    interp_language TEXT,
    interp_date TEXT,
    interp_start TEXT,
    interp_end TEXT,
    interp_category TEXT,
    interp_transport_minutes TEXT,
    interp_km TEXT,
    interp_cancelled INTEGER,
    note TEXT,
    syntax TEXT,                            -- 'oioubl' or 'peppol'
    customization_id TEXT,
    allowance_total TEXT,
    charge_total TEXT,
    tax_exclusive_amount TEXT,              -- Peppol only (OIOUBL puts the VAT there)
    prepaid_amount TEXT,
    rounding_amount TEXT,
    tax_currency TEXT,                      -- VAT accounting currency, when not the document's
    tax_amount_tax_currency TEXT,           -- VAT in that currency (never added to tax_amount)
    source_file TEXT NOT NULL,
    raw_xml TEXT NOT NULL,
    manual_reason TEXT,
    manual_note TEXT,
    manual_by INTEGER REFERENCES users(id),
    manual_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_invoices_category_status ON invoices(category, status, id);
CREATE INDEX IF NOT EXISTS ix_invoices_category_id ON invoices(category, id);

CREATE TABLE IF NOT EXISTS invoice_lines (
    invoice_id INTEGER NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL,
    line_id TEXT,
    item_id TEXT,
    description TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit_code TEXT,
    unit_price TEXT NOT NULL,
    amount TEXT NOT NULL,
    tax_percent TEXT,
    tax_amount TEXT,
    base_quantity TEXT,                     -- Price/BaseQuantity; NULL: 1
    allowance_amount TEXT,                  -- the line's allowances (sum)
    charge_amount TEXT,                     -- the line's charges (sum)
    tax_category TEXT,                      -- EN 16931 VAT category code (S, Z, E, ...)
    PRIMARY KEY (invoice_id, line_no)
);

-- Document-level allowances (charge_indicator 0) and charges (1) with their VAT category.
CREATE TABLE IF NOT EXISTS invoice_allowances_charges (
    invoice_id INTEGER NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    charge_indicator INTEGER NOT NULL CHECK (charge_indicator IN (0, 1)),
    reason TEXT,
    amount TEXT NOT NULL,
    tax_category TEXT,
    tax_percent TEXT,
    PRIMARY KEY (invoice_id, seq)
);

-- The VAT breakdown as stated (document-level TaxSubtotals in the document currency).
CREATE TABLE IF NOT EXISTS invoice_tax_subtotals (
    invoice_id INTEGER NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    tax_category TEXT,
    tax_percent TEXT,
    taxable_amount TEXT,
    tax_amount TEXT NOT NULL,
    PRIMARY KEY (invoice_id, seq)
);

-- One payment per invoice at most: the UNIQUE constraint, not a check-then-insert, is what
-- makes the system refuse a second payment.
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY,
    voucher TEXT NOT NULL UNIQUE,
    invoice_id INTEGER NOT NULL UNIQUE REFERENCES invoices(id),
    amount TEXT NOT NULL,
    payment_date TEXT NOT NULL,
    account_string TEXT NOT NULL REFERENCES accounts(account_string),
    posting_text TEXT NOT NULL,
    approved_by INTEGER NOT NULL REFERENCES users(id),
    approved_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS invoice_history (
    id INTEGER PRIMARY KEY,
    invoice_id INTEGER NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS requisitions (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    cpr TEXT NOT NULL,
    form TEXT NOT NULL,                     -- the answer form asked for, e.g. 'LÆ 135'
    requested_on TEXT NOT NULL,
    interpreter_approved INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'aaben' CHECK (status IN ('aaben', 'lukket')),
    cancelled INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS bookings (
    reference TEXT PRIMARY KEY,
    language TEXT NOT NULL,
    date TEXT NOT NULL,
    planned_start TEXT NOT NULL,            -- HH:MM
    planned_end TEXT NOT NULL,              -- HH:MM
    category TEXT NOT NULL CHECK (category IN ('translatoer', 'statsproevet', 'oevrig')),
    distance_km TEXT NOT NULL,              -- one way
    mode TEXT NOT NULL CHECK (mode IN ('fremmoede', 'video', 'telefon')),
    cancelled_at TEXT                       -- ISO timestamp (local time) or NULL
);

CREATE TABLE IF NOT EXISTS import_log (
    id INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('imported', 'duplicate', 'rejected')),
    message TEXT NOT NULL
);
"""

# Columns added after the first release: a database made before them gets them on open.
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("invoices", "syntax TEXT"),
    ("invoices", "customization_id TEXT"),
    ("invoices", "allowance_total TEXT"),
    ("invoices", "charge_total TEXT"),
    ("invoices", "tax_exclusive_amount TEXT"),
    ("invoices", "prepaid_amount TEXT"),
    ("invoices", "rounding_amount TEXT"),
    ("invoices", "tax_currency TEXT"),
    ("invoices", "tax_amount_tax_currency TEXT"),
    ("invoice_lines", "base_quantity TEXT"),
    ("invoice_lines", "allowance_amount TEXT"),
    ("invoice_lines", "charge_amount TEXT"),
    ("invoice_lines", "tax_category TEXT"),
)

BUSINESS_TABLES = (
    "payments",
    "invoice_history",
    "invoice_allowances_charges",
    "invoice_tax_subtotals",
    "invoice_lines",
    "invoices",
    "requisitions",
    "bookings",
    "import_log",
)


def connect(path: Path | str) -> sqlite3.Connection:
    """Open the database file, creating the schema when it is new."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.executescript(SCHEMA)
    _add_columns(conn)
    conn.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    )
    return conn


def _add_columns(conn: sqlite3.Connection) -> None:
    """Add :data:`ADDED_COLUMNS` missing from an older database (safe to repeat)."""
    for table, column in ADDED_COLUMNS:
        name = column.split()[0]
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if name not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (``BEGIN IMMEDIATE``): committed whole or rolled back whole."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def reset_business_data(conn: sqlite3.Connection) -> None:
    """Empty every business table; users, sessions and the chart of accounts stay."""
    with transaction(conn):
        for table in BUSINESS_TABLES:
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
