"""Loading OIOUBL and Peppol BIS 3 files into the mock finance system (``docs/oioubl.md``).

One file is one transaction: imported whole or not at all. A document already in the
database (same UUID, or same SHA-256 of the file when it has no UUID) is reported as already
imported. A file that cannot be read is reported with its name and the reason and skipped.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from mockerp.db import transaction
from mockerp.oioubl_parse import MAX_FILE_BYTES, OioublError, ParsedDocument, parse_document

ReceivedAt = Callable[[Path], dt.datetime]


@dataclass(frozen=True, slots=True)
class ImportedDoc:
    loebenr: int
    file: str
    document_id: str
    category: str


@dataclass
class ImportReport:
    imported: list[ImportedDoc] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    _lines: list[str] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """True when nothing was rejected (already imported files are fine)."""
        return not self.rejected

    def lines(self) -> list[str]:
        """One line per file, in the order the files were met (for the command line)."""
        return list(self._lines)

    def _add_imported(self, doc: ImportedDoc) -> None:
        self.imported.append(doc)
        self._lines.append(f"IMPORTED {doc.file} -> Løbenr {doc.loebenr} ({doc.category})")

    def _add_duplicate(self, file: str) -> None:
        self.duplicates.append(file)
        self._lines.append(f"ALREADY IMPORTED {file}")

    def _add_rejected(self, file: str, reason: str) -> None:
        self.rejected.append((file, reason))
        self._lines.append(f"REJECTED {file}: {reason}")


def money(value: Decimal) -> str:
    """A plain decimal with at least two decimals: ``Decimal('1262.5')`` -> ``'1262.50'``."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}"


def number(value: Decimal) -> str:
    """A plain decimal as sent, without exponent notation."""
    return f"{value:f}"


def utc_text(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"received_at {moment.isoformat()} has no time zone")
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a folder becomes its ``*.xml`` files (not recursive), sorted by name."""
    result: list[Path] = []
    for path in paths:
        if path.is_dir():
            result.extend(
                sorted(
                    (p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".xml"),
                    key=lambda p: p.name,
                )
            )
        else:
            result.append(path)
    return result


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise OioublError(
                path.name, f"file is {size} bytes, more than the limit of {MAX_FILE_BYTES}"
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise OioublError(path.name, "file not found") from exc
    except OSError as exc:
        raise OioublError(path.name, f"cannot read the file: {exc.strerror or exc}") from exc


def _opt_money(value: Decimal | None) -> str | None:
    return None if value is None else money(value)


def _opt_bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _insert(conn: sqlite3.Connection, doc: ParsedDocument, file_name: str, received: str) -> int:
    cert = doc.certificate
    interp = doc.interpreter
    pay = doc.payment
    row = {
        "document_uuid": doc.document_id,
        "doc_type": doc.doc_type,
        "category": doc.category,
        "status": "ny",
        "received_at": received,
        "invoice_number": doc.invoice_number,
        "issue_date": doc.issue_date.isoformat(),
        "due_date": doc.due_date.isoformat() if doc.due_date else None,
        "currency": doc.currency,
        "supplier_name": doc.supplier_name,
        "supplier_cvr": doc.supplier_cvr,
        "supplier_gln": doc.supplier_gln,
        "supplier_ydernummer": doc.ydernummer,
        "buyer_gln": doc.buyer_gln,
        "buyer_name": doc.buyer_name,
        "order_reference": doc.order_reference,
        "accounting_cost": doc.accounting_cost,
        "line_extension_amount": money(doc.line_extension_amount),
        "tax_amount": money(doc.tax_amount),
        "tax_inclusive_amount": money(doc.tax_inclusive_amount),
        "payable_amount": money(doc.payable_amount),
        "payment_means_code": pay.code,
        "payment_id": pay.payment_id,
        "instruction_id": pay.instruction_id,
        "creditor_account": pay.creditor_account,
        "bank_reg": pay.bank_reg,
        "bank_account": pay.bank_account,
        "cert_form": cert.form if cert else None,
        "cert_cpr": cert.cpr if cert else None,
        "cert_date": cert.date if cert else None,
        "cert_interpreter": _opt_bool(cert.interpreter) if cert else None,
        "cert_variant": cert.variant if cert else None,
        "interp_booking_ref": interp.booking_ref if interp else None,
        "interp_language": interp.language if interp else None,
        "interp_date": interp.date if interp else None,
        "interp_start": interp.start if interp else None,
        "interp_end": interp.end if interp else None,
        "interp_category": interp.category if interp else None,
        "interp_transport_minutes": interp.transport_minutes if interp else None,
        "interp_km": interp.km if interp else None,
        "interp_cancelled": _opt_bool(interp.cancelled) if interp else None,
        "note": doc.note,
        "syntax": doc.syntax,
        "customization_id": doc.customization_id,
        "allowance_total": _opt_money(doc.allowance_total),
        "charge_total": _opt_money(doc.charge_total),
        "tax_exclusive_amount": _opt_money(doc.tax_exclusive_amount),
        "prepaid_amount": _opt_money(doc.prepaid_amount),
        "rounding_amount": _opt_money(doc.rounding_amount),
        "tax_currency": doc.tax_currency,
        "tax_amount_tax_currency": _opt_money(doc.tax_amount_tax_currency),
        "source_file": file_name,
        "raw_xml": doc.source_text,
    }
    columns = ", ".join(row)
    marks = ", ".join(f":{name}" for name in row)
    cursor = conn.execute(f"INSERT INTO invoices ({columns}) VALUES ({marks})", row)  # noqa: S608
    loebenr = cursor.lastrowid
    assert loebenr is not None
    conn.executemany(
        "INSERT INTO invoice_lines (invoice_id, line_no, line_id, item_id, description, quantity,"
        " unit_code, unit_price, amount, tax_percent, tax_amount, base_quantity,"
        " allowance_amount, charge_amount, tax_category)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                loebenr,
                line.line_no,
                line.line_id,
                line.item_id,
                line.description,
                number(line.quantity),
                line.unit_code,
                money(line.unit_price),
                money(line.amount),
                number(line.tax_percent) if line.tax_percent is not None else None,
                money(line.tax_amount) if line.tax_amount is not None else None,
                number(line.base_quantity) if line.base_quantity is not None else None,
                _opt_money(line.allowance_amount),
                _opt_money(line.charge_amount),
                line.tax_category,
            )
            for line in doc.lines
        ],
    )
    conn.executemany(
        "INSERT INTO invoice_allowances_charges (invoice_id, seq, charge_indicator, reason,"
        " amount, tax_category, tax_percent) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                loebenr,
                seq,
                int(ac.charge),
                ac.reason,
                money(ac.amount),
                ac.tax_category,
                number(ac.tax_percent) if ac.tax_percent is not None else None,
            )
            for seq, ac in enumerate(doc.allowances_charges, start=1)
        ],
    )
    conn.executemany(
        "INSERT INTO invoice_tax_subtotals (invoice_id, seq, tax_category, tax_percent,"
        " taxable_amount, tax_amount) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                loebenr,
                seq,
                sub.tax_category,
                number(sub.tax_percent) if sub.tax_percent is not None else None,
                _opt_money(sub.taxable_amount),
                money(sub.tax_amount),
            )
            for seq, sub in enumerate(doc.tax_subtotals, start=1)
        ],
    )
    conn.execute(
        "INSERT INTO invoice_history (invoice_id, at, username, action) VALUES (?, ?, ?, ?)",
        (loebenr, received, "system", f"Modtaget ({file_name})"),
    )
    return loebenr


def _log(conn: sqlite3.Connection, file_name: str, at: str, result: str, message: str) -> None:
    conn.execute(
        "INSERT INTO import_log (file_name, imported_at, result, message) VALUES (?, ?, ?, ?)",
        (file_name, at, result, message),
    )


def _import_one(
    conn: sqlite3.Connection, path: Path, received: dt.datetime, report: ImportReport
) -> None:
    shown = str(path)
    at = utc_text(received)
    try:
        doc = parse_document(_read(path), path.name)
    except OioublError as exc:
        with transaction(conn):
            _log(conn, path.name, at, "rejected", exc.reason)
        report._add_rejected(shown, exc.reason)
        return
    try:
        with transaction(conn):
            known = conn.execute(
                "SELECT id FROM invoices WHERE document_uuid = ?", (doc.document_id,)
            ).fetchone()
            if known is not None:
                _log(conn, path.name, at, "duplicate", f"already imported as Løbenr {known[0]}")
                duplicate = True
            else:
                loebenr = _insert(conn, doc, path.name, at)
                _log(conn, path.name, at, "imported", f"Løbenr {loebenr}")
                duplicate = False
    except sqlite3.IntegrityError as exc:
        # another import committed the same document between our check and our insert
        if "document_uuid" not in str(exc):
            raise
        duplicate = True
    if duplicate:
        report._add_duplicate(shown)
    else:
        report._add_imported(ImportedDoc(loebenr, shown, doc.document_id, doc.category))


def import_paths(
    conn: sqlite3.Connection,
    paths: Sequence[Path],
    *,
    received_at: ReceivedAt | None = None,
) -> ImportReport:
    """Import OIOUBL files (folders expand to their ``*.xml`` files, sorted by name).

    ``received_at`` gives each file's time of receipt (timezone-aware); default: now.
    The connection must not be inside a transaction: each file gets its own.
    """
    report = ImportReport()
    for path in expand_paths(paths):
        received = received_at(path) if received_at else dt.datetime.now(dt.UTC)
        _import_one(conn, path, received, report)
    return report
