"""What the seed writes, the importer reads back unchanged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mockerp.oioubl import parse_document
from mockerp.oioubl_write import DocumentSpec, LineSpec, PartySpec, PaymentSpec, write_document

D = Decimal


def _spec(doc_type: str = "invoice") -> DocumentSpec:
    lines = (
        LineSpec(
            "TOLK",
            "Tolkning",
            D(2),
            "HUR",
            D("374.00"),
            D("748.00"),
            D(25),
            D("187.00"),
            (("Bestillingsreference", "TB-2026-00001"), ("Tolkekategori", "oevrig")),
        ),
        LineSpec("KOERSEL", "Kørsel", D("46.5"), "KMT", D("3.79"), D("176.24"), D(25), D("44.06")),
    )
    return DocumentSpec(
        doc_type=doc_type,  # type: ignore[arg-type]
        uuid="6f1c8a9e-1111-4222-8333-944455556666",
        number="T-1",
        issue_date=dt.date(2026, 10, 20),
        currency="DKK",
        supplier=PartySpec("Tolkeservice Midt ApS", "11226914", ydernummer="012345"),
        buyer_gln="5798528809575",
        buyer_name="Demo Kommune",
        lines=lines,
        line_extension=D("924.24"),
        tax_amount=D("231.06"),
        tax_inclusive=D("1155.30"),
        payable=D("1155.30"),
        payment=PaymentSpec(
            "93",
            dt.date(2026, 11, 19),
            payment_id="71",
            instruction_id="000000012345674",
            creditor_account="88112233",
        ),
        order_reference="TB-2026-00001",
    )


def test_an_invoice_round_trips() -> None:
    spec = _spec()
    data = write_document(spec)
    assert data == write_document(spec)  # deterministic
    doc = parse_document(data, "t.xml")
    assert (doc.document_id, doc.doc_type, doc.category) == (spec.uuid, "invoice", "tolk")
    assert (doc.invoice_number, doc.issue_date, doc.due_date) == (
        "T-1",
        dt.date(2026, 10, 20),
        dt.date(2026, 11, 19),
    )
    assert (doc.supplier_cvr, doc.ydernummer, doc.buyer_gln) == (
        "11226914",
        "012345",
        "5798528809575",
    )
    assert (doc.line_extension_amount, doc.tax_amount, doc.payable_amount) == (
        D("924.24"),
        D("231.06"),
        D("1155.30"),
    )
    p = doc.payment
    assert (p.code, p.payment_id, p.instruction_id, p.creditor_account) == (
        "93",
        "71",
        "000000012345674",
        "88112233",
    )
    assert [(x.item_id, x.quantity, x.unit_price, x.amount, x.tax_amount) for x in doc.lines] == [
        ("TOLK", D(2), D("374.00"), D("748.00"), D("187.00")),
        ("KOERSEL", D("46.5"), D("3.79"), D("176.24"), D("44.06")),
    ]
    assert doc.interpreter is not None and doc.interpreter.booking_ref == "TB-2026-00001"


def test_a_credit_note_round_trips() -> None:
    doc = parse_document(write_document(_spec("credit_note")), "c.xml")
    assert doc.doc_type == "credit_note"
    assert len(doc.lines) == 2
