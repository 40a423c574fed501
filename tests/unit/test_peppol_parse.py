"""Peppol BIS 3 and EN 16931 corners of the importer's parser, the robots' reading of the new
page cells, and an older database getting the new columns."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from mockerp import db as mockdb
from mockerp.oioubl import OioublError, parse_document
from paybot.domain.models import RawAllowanceCharge, RawInvoice, RawLine, RawVatSubtotal
from paybot.domain.parsing import InvoiceFormatError, parse_invoice

PEPPOL = Path(__file__).resolve().parents[1] / "data" / "peppol"
SAMPLE = PEPPOL / "valid" / "peppol_bis3_invoice_fik71_allowances.xml"


def test_peppol_sample_fields() -> None:
    doc = parse_document(SAMPLE.read_bytes(), SAMPLE.name)
    assert doc.syntax == "peppol"
    assert doc.document_id == __import__("hashlib").sha256(SAMPLE.read_bytes()).hexdigest()
    assert (doc.supplier_cvr, doc.supplier_name, doc.buyer_gln) == (
        "20433213", "Kontorland A/S", "5798528809575"
    )
    assert doc.tax_exclusive_amount == Decimal("612.10")
    assert doc.rounding_amount == Decimal("-0.13")
    assert doc.charge_total == Decimal("40.10") and doc.allowance_total is None
    assert [(s.tax_category, s.taxable_amount, s.tax_amount) for s in doc.tax_subtotals] == [
        ("S", Decimal("512.10"), Decimal("128.03")),
        ("Z", Decimal("100.00"), Decimal("0.00")),
    ]
    assert doc.lines[0].allowance_amount == Decimal("50.00")
    assert doc.lines[3].base_quantity == Decimal("100") and doc.lines[3].unit_price == Decimal(
        "7.50"
    )
    assert doc.payment.payment_id == "71#000000012345674"
    assert (doc.payment.creditor_account, doc.payment.bank_account) == ("85432109", None)
    assert doc.due_date is not None and doc.due_date.isoformat() == "2026-12-10"


def test_oioubl_tax_exclusive_amount_is_not_taken_as_the_net() -> None:
    path = Path(__file__).resolve().parents[1] / "data" / "oioubl" / "valid"
    doc = parse_document((path / "oioubl21_fik75_allowancecharge.xml").read_bytes(), "x.xml")
    assert doc.syntax == "oioubl" and doc.tax_exclusive_amount is None


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"<cbc:ChargeIndicator>true</cbc:ChargeIndicator>",
         b"<cbc:ChargeIndicator>maybe</cbc:ChargeIndicator>",
         "cac:AllowanceCharge[1]/cbc:ChargeIndicator is neither true nor false: 'maybe'"),
        (b'<cbc:Amount currencyID="DKK">50.00</cbc:Amount>',
         b'<cbc:Amount currencyID="DKK">50,00</cbc:Amount>',
         "cac:InvoiceLine[1]/cac:AllowanceCharge[1]/cbc:Amount is not a number: '50,00'"),
        (b"<cbc:PaymentMeansCode>93</cbc:PaymentMeansCode>",
         b"<cbc:PaymentMeansCode>57</cbc:PaymentMeansCode>",
         "'57' is not allowed by DK-R-005"),
    ],
)
def test_bad_peppol_values_are_refused_naming_the_element(
    old: bytes, new: bytes, reason: str
) -> None:
    data = SAMPLE.read_bytes()
    assert old in data
    with pytest.raises(OioublError) as caught:
        parse_document(data.replace(old, new, 1), "bad.xml")
    assert reason in caught.value.reason


def _raw(**more: object) -> RawInvoice:
    fields = {
        "loebenr": "7", "kategori": "Øvrige", "dokumenttype": "Faktura", "status": "Ny",
        "fakturanr": "1", "udstedt": "10-11-2026", "valuta": "DKK", "cvr": "20433213",
        "linjesum": "450,00", "moms": "112,50", "total": "562,50", "at-betale": "562,50",
    }
    line = RawLine(antal="10", enhedspris="50,00", beloeb="450,00", rabat="50,00",
                   momskategori="s", momssats="25", prisenhed="")
    values: dict[str, object] = {"fields": fields, "lines": (line,)}
    values.update(more)
    return RawInvoice.model_validate(values)


def test_the_new_cells_and_tables_are_read() -> None:
    inv = parse_invoice(_raw(
        allowances_charges=(RawAllowanceCharge(art="Gebyr", tekst="Fragt", beloeb="10,00",
                                               momskategori="S", momssats="25"),),
        vat_subtotals=(RawVatSubtotal(momskategori="S", momssats="25", grundlag="460,00",
                                      moms="115,00"),),
    ))
    assert inv.lines[0].allowance_amount == Decimal("50.00")
    assert inv.lines[0].tax_category == "S" and inv.lines[0].base_quantity == Decimal(1)
    assert inv.allowances_charges[0].charge and inv.allowances_charges[0].reason == "Fragt"
    assert inv.vat_subtotals[0].taxable_amount == Decimal("460.00")


@pytest.mark.parametrize(
    ("raw", "field", "label"),
    [
        (dict(allowances_charges=(RawAllowanceCharge(art="Bonus", beloeb="1,00"),)),
         "rabat/gebyr 1.art", "Rabat/gebyr 1, Art"),
        (dict(vat_subtotals=(RawVatSubtotal(momskategori="S", moms=""),)),
         "momskategori 1.moms", "Momskategori 1, Moms"),
    ],
)
def test_an_unreadable_new_cell_names_its_table_and_row(
    raw: dict[str, object], field: str, label: str
) -> None:
    with pytest.raises(InvoiceFormatError) as caught:
        parse_invoice(_raw(**raw))
    assert caught.value.field == field
    assert caught.value.label == label


def test_an_older_database_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    added = {column.split()[0] for _, column in mockdb.ADDED_COLUMNS}
    schema = "\n".join(  # the schema as it was: without the added columns
        line for line in mockdb.SCHEMA.splitlines() if (line.split() or [""])[0] not in added
    )
    old = sqlite3.connect(path)
    old.executescript(schema)
    assert "syntax" not in {r[1] for r in old.execute("PRAGMA table_info(invoices)")}
    old.execute(
        "INSERT INTO invoices (id, document_uuid, doc_type, category, received_at, invoice_number,"
        " issue_date, currency, supplier_name, line_extension_amount, tax_amount,"
        " tax_inclusive_amount, payable_amount, source_file, raw_xml) VALUES (1, 'u', 'invoice',"
        " 'oevrige', 'x', '1', '2026-11-10', 'DKK', 'A', '1', '0', '1', '1', 'f', '')"
    )
    old.commit()
    old.close()
    for _ in range(2):  # a repeat is safe
        conn = mockdb.connect(path)
        columns = {r[1] for r in conn.execute("PRAGMA table_info(invoices)")}
        line_columns = {r[1] for r in conn.execute("PRAGMA table_info(invoice_lines)")}
        assert {"syntax", "tax_exclusive_amount", "tax_amount_tax_currency"} <= columns
        assert {"base_quantity", "allowance_amount", "tax_category"} <= line_columns
        assert conn.execute("SELECT document_uuid FROM invoices").fetchone()[0] == "u"
        conn.close()


def test_the_seeds_peppol_writer_round_trips_through_the_parser() -> None:
    import datetime as dt

    from mockerp.oioubl_write import (
        AllowanceChargeSpec,
        DocumentSpec,
        LineSpec,
        PartySpec,
        PaymentSpec,
    )
    from mockerp.peppol_write import write_peppol

    line = LineSpec("KP", "Papir", Decimal(10), "PK", Decimal("50.00"), Decimal("450.00"),
                    Decimal(25), Decimal("112.50"), allowance=Decimal("50.00"))
    zero = LineSpec("AVIS", "Avis", Decimal(1), "MON", Decimal("100.00"), Decimal("100.00"),
                    Decimal(0), Decimal(0))
    spec = DocumentSpec(
        doc_type="invoice", uuid="u-1", number="N-1", issue_date=dt.date(2026, 11, 10),
        currency="EUR", supplier=PartySpec("Kontorland A/S", "20433213"),
        buyer_gln="5798528809575", buyer_name="Demo Kommune", lines=(line, zero),
        line_extension=Decimal("550.00"), tax_amount=Decimal("122.53"),
        tax_inclusive=Decimal("712.63"), payable=Decimal("712.63"),
        payment=PaymentSpec("93", dt.date(2026, 12, 10), payment_id="71",
                            instruction_id="000000012345674", creditor_account="85432109"),
        allowances_charges=(AllowanceChargeSpec(True, "Fragt", Decimal("40.10"), Decimal(25)),),
        syntax="peppol", tax_currency="DKK", tax_currency_amount=Decimal("914.13"),
    )
    doc = parse_document(write_peppol(spec), "seed.xml")
    assert (doc.syntax, doc.document_id, doc.currency) == ("peppol", "u-1", "EUR")
    assert doc.tax_amount == Decimal("122.53") and doc.tax_amount_tax_currency == Decimal("914.13")
    assert doc.tax_exclusive_amount == Decimal("590.10")
    assert [(s.tax_category, s.taxable_amount, s.tax_amount) for s in doc.tax_subtotals] == [
        ("Z", Decimal("100.00"), Decimal("0.00")),
        ("S", Decimal("490.10"), Decimal("122.53")),  # 122.525 rounded once, half up
    ]
    assert doc.lines[0].allowance_amount == Decimal("50.00") and doc.lines[0].tax_amount is None
    assert doc.payment.payment_id == "71#000000012345674"
    assert doc.payment.creditor_account == "85432109"


def test_the_seeds_oioubl_writer_sends_allowances_and_charges() -> None:
    import datetime as dt

    from mockerp.oioubl_write import (
        AllowanceChargeSpec,
        DocumentSpec,
        LineSpec,
        PartySpec,
        write_document,
    )

    line = LineSpec("KP", "Papir", Decimal(10), "PK", Decimal("50.00"), Decimal("450.00"),
                    Decimal(25), Decimal("112.50"), allowance=Decimal("50.00"))
    zero = LineSpec("AVIS", "Avis", Decimal(1), "MON", Decimal("100.00"), Decimal("100.00"),
                    Decimal(0), Decimal(0))
    spec = DocumentSpec(
        doc_type="invoice", uuid="u-2", number="N-2", issue_date=dt.date(2026, 11, 10),
        currency="DKK", supplier=PartySpec("Kontorland A/S", "20433213"),
        buyer_gln="5798528809575", buyer_name="Demo Kommune", lines=(line, zero),
        line_extension=Decimal("550.00"), tax_amount=Decimal("122.53"),
        tax_inclusive=Decimal("712.63"), payable=Decimal("712.63"), payment=None,
        allowances_charges=(AllowanceChargeSpec(True, "Fragt", Decimal("40.10"), Decimal(25)),),
    )
    doc = parse_document(write_document(spec), "seed.xml")
    assert doc.syntax == "oioubl" and doc.tax_exclusive_amount is None
    assert [(a.charge, a.amount, a.tax_category) for a in doc.allowances_charges] == [
        (True, Decimal("40.10"), "S")
    ]
    assert doc.charge_total == Decimal("40.10") and doc.allowance_total == Decimal("0.00")
    assert doc.lines[0].allowance_amount == Decimal("50.00")
    assert [(s.tax_category, s.tax_amount) for s in doc.tax_subtotals] == [
        ("Z", Decimal("0.00")), ("S", Decimal("122.53"))
    ]
