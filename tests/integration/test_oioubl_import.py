"""import_paths into a real SQLite file: columns, atomicity, idempotency, folders."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockerp.db import connect
from mockerp.oioubl import import_paths

DATA = Path(__file__).resolve().parents[1] / "data" / "oioubl"
VALID = DATA / "valid"
INVALID = DATA / "invalid"
WHEN = dt.datetime(2026, 10, 31, 7, 30, tzinfo=dt.UTC)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = connect(tmp_path / "erp.db")
    try:
        yield connection
    finally:
        connection.close()


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("invoices", "invoice_lines", "invoice_history", "payments")
    }


def _row(conn: sqlite3.Connection, number: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM invoices WHERE invoice_number = ?", (number,)).fetchone()
    assert row is not None, number
    return row


def test_every_valid_sample_is_imported_with_its_fields_in_the_right_columns(
    conn: sqlite3.Connection,
) -> None:
    files = sorted(VALID.glob("*.xml"))
    report = import_paths(conn, files, received_at=lambda _: WHEN)
    assert report.ok and not report.duplicates
    assert [d.file for d in report.imported] == [str(f) for f in files]
    assert [d.loebenr for d in report.imported] == list(range(1, len(files) + 1))

    small = _row(conn, "F-2026-10412")
    assert small["category"] == "oevrige" and small["doc_type"] == "invoice"
    assert small["status"] == "ny"
    assert small["received_at"] == "2026-10-31T07:30:00+00:00"
    assert (small["issue_date"], small["due_date"]) == ("2026-10-21", "2026-11-20")
    assert (small["supplier_cvr"], small["buyer_gln"]) == ("66978001", "5798528809575")
    assert (small["line_extension_amount"], small["tax_amount"]) == ("694.85", "173.71")
    assert (small["tax_inclusive_amount"], small["payable_amount"]) == ("868.56", "868.56")
    assert (small["payment_means_code"], small["bank_reg"], small["bank_account"]) == (
        "42",
        "9570",
        "0004567890",
    )
    assert small["accounting_cost"] == "6.45.51-000-2.2"
    assert small["source_file"] == "oioubl201_bank_default_ns.xml"
    assert "<cbc:ID>F-2026-10412</cbc:ID>" in small["raw_xml"]
    lines = conn.execute(
        "SELECT * FROM invoice_lines WHERE invoice_id = ? ORDER BY line_no", (small["id"],)
    ).fetchall()
    assert [
        (x["quantity"], x["unit_price"], x["amount"], x["tax_percent"], x["tax_amount"])
        for x in lines
    ] == [
        ("10.00", "42.50", "425.00", "25", "106.25"),
        ("3.00", "89.95", "269.85", "25", "67.46"),
    ]

    fik = _row(conn, "2026-5531")
    assert (fik["payment_id"], fik["instruction_id"], fik["creditor_account"]) == (
        "71",
        "000020261044174",
        "85551234",
    )
    assert fik["supplier_gln"] == "5790007232416"
    assert _row(conn, "KN-20931")["doc_type"] == "credit_note"

    cert = _row(conn, "LE-2026-3381")
    assert cert["category"] == "laegeerklaering"
    assert (cert["cert_form"], cert["cert_cpr"], cert["cert_date"]) == (
        "LÆ 135",
        "030585-4321",
        "2026-10-12",
    )
    assert (cert["cert_interpreter"], cert["cert_variant"]) == (1, None)
    assert cert["supplier_ydernummer"] == "034567"
    assert "Lægehuset ved Fjorden" in cert["raw_xml"]

    interp = _row(conn, "T-104455")
    assert interp["category"] == "tolk"
    assert (interp["interp_booking_ref"], interp["interp_language"]) == (
        "TB-2026-04417",
        "Tigrinya",
    )
    assert (interp["interp_start"], interp["interp_end"], interp["interp_category"]) == (
        "09:00",
        "10:35",
        "oevrig",
    )
    assert (interp["interp_transport_minutes"], interp["interp_km"]) == ("55", "46")
    assert interp["interp_cancelled"] == 0
    data = (VALID / "oioubl21_interpreter_no_uuid.xml").read_bytes()
    assert interp["document_uuid"] == hashlib.sha256(data).hexdigest()

    history = conn.execute("SELECT username, action FROM invoice_history").fetchall()
    assert len(history) == len(files)
    assert all(h["action"].startswith("Modtaget") for h in history)
    assert conn.execute("SELECT COUNT(*) FROM import_log WHERE result = 'imported'").fetchone()[
        0
    ] == len(files)


def test_report_lines_for_the_command_line(conn: sqlite3.Connection) -> None:
    good = VALID / "oioubl201_bank_default_ns.xml"
    bad = INVALID / "missing_id.xml"
    first = import_paths(conn, [good, bad])
    again = import_paths(conn, [good])
    assert first.lines() == [
        f"IMPORTED {good} -> Løbenr 1 (oevrige)",
        f"REJECTED {bad}: cbc:ID missing",
    ]
    assert not first.ok
    assert again.lines() == [f"ALREADY IMPORTED {good}"]
    assert again.ok and again.duplicates == [str(good)] and not again.imported


def test_importing_again_changes_nothing(conn: sqlite3.Connection) -> None:
    files = sorted(VALID.glob("*.xml"))
    import_paths(conn, files)
    before = _counts(conn)
    report = import_paths(conn, files)
    assert report.ok and not report.imported
    assert report.duplicates == [str(f) for f in files]
    assert _counts(conn) == before


@pytest.mark.parametrize("name", sorted(p.name for p in INVALID.glob("*.xml")))
def test_a_malformed_file_is_rejected_and_leaves_the_business_tables_unchanged(
    conn: sqlite3.Connection, name: str
) -> None:
    import_paths(conn, [VALID / "oioubl21_creditnote_nemkonto.xml"])
    before = _counts(conn)
    report = import_paths(conn, [INVALID / name])
    assert not report.ok and not report.imported
    assert len(report.rejected) == 1
    shown, reason = report.rejected[0]
    assert shown.endswith(name) and reason
    assert _counts(conn) == before
    logged = conn.execute(
        "SELECT file_name, message FROM import_log WHERE result = 'rejected'"
    ).fetchall()
    assert [(r["file_name"], r["message"]) for r in logged] == [(name, reason)]


def test_a_folder_imports_its_xml_files_in_name_order_and_skips_the_bad_one(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(VALID / "oioubl21_mixed_vat_attachment.xml", folder / "c.xml")
    shutil.copy(VALID / "oioubl201_bank_default_ns.xml", folder / "a.xml")
    shutil.copy(INVALID / "payable_not_a_number.xml", folder / "b.xml")
    (folder / "readme.txt").write_text("not an invoice", encoding="utf-8")
    report = import_paths(conn, [folder])
    assert [Path(d.file).name for d in report.imported] == ["a.xml", "c.xml"]
    assert [d.loebenr for d in report.imported] == [1, 2]
    assert [(Path(f).name, r) for f, r in report.rejected] == [
        ("b.xml", "cac:LegalMonetaryTotal/cbc:PayableAmount is not a number: '12,5x'")
    ]
    assert _counts(conn)["invoices"] == 2


def test_a_missing_file_is_rejected_by_name(conn: sqlite3.Connection, tmp_path: Path) -> None:
    report = import_paths(conn, [tmp_path / "gone.xml"])
    assert report.rejected == [(str(tmp_path / "gone.xml"), "file not found")]


def test_a_failure_while_writing_leaves_nothing_half_imported(conn: sqlite3.Connection) -> None:
    # a trigger makes the second line of this invoice fail after the invoice row was written
    conn.execute(
        "CREATE TRIGGER refuse_line BEFORE INSERT ON invoice_lines WHEN NEW.line_no = 2"
        " BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
    )
    before = _counts(conn)
    with pytest.raises(sqlite3.DatabaseError, match="disk trouble"):
        import_paths(conn, [VALID / "oioubl201_bank_default_ns.xml"])
    assert _counts(conn) == before
    assert not conn.in_transaction


def test_received_at_must_carry_a_time_zone(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="time zone"):
        import_paths(
            conn,
            [VALID / "oioubl201_bank_default_ns.xml"],
            received_at=lambda _: dt.datetime(2026, 10, 1, 8, 0),
        )
