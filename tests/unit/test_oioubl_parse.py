"""parse_document over real-world-shaped OIOUBL samples, malformed files and tricky corners."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mockerp.oioubl import MAX_FILE_BYTES, OioublError, ParsedDocument, parse_document

DATA = Path(__file__).resolve().parents[1] / "data" / "oioubl"
VALID = DATA / "valid"
INVALID = DATA / "invalid"

# what each valid sample must give (a subset of fields; amounts as Decimal)
EXPECTED: dict[str, dict[str, Any]] = {
    "oioubl201_bank_default_ns.xml": {
        "document_id": "3f6c1a52-8d0e-4c3b-9a57-0b1e2f4d6a01",
        "doc_type": "invoice",
        "category": "oevrige",
        "invoice_number": "F-2026-10412",
        "issue_date": dt.date(2026, 10, 21),
        "due_date": dt.date(2026, 11, 20),
        "supplier_name": "Papirhuset Vestjylland ApS",
        "supplier_cvr": "66978001",
        "supplier_gln": None,
        "buyer_gln": "5798528809575",
        "order_reference": "IND-2026-0777",
        "accounting_cost": "6.45.51-000-2.2",
        "line_extension_amount": Decimal("694.85"),
        "tax_amount": Decimal("173.71"),
        "tax_inclusive_amount": Decimal("868.56"),
        "payable_amount": Decimal("868.56"),
        "note": "Leveret til Rådhuset, 2. sal",
        "payment": ("42", None, None, None, "9570", "0004567890"),
        "lines": 2,
    },
    "oioubl21_peppol_schemes_fik71.xml": {
        "document_id": "8b2f0c3e-71a4-4e59-b0d2-6c9a1e7f3b22",
        "invoice_number": "2026-5531",
        "due_date": dt.date(2026, 11, 15),  # cbc:DueDate at the root (UBL 2.1)
        "supplier_cvr": "26616417",  # PartyLegalEntity/CompanyID schemeID 0184, no DK prefix
        "supplier_gln": "5790007232416",  # EndpointID schemeID 0088
        "buyer_gln": "5798528809575",
        "payable_amount": Decimal("1500.00"),  # not the 99999.99 inside UBLExtensions
        "payment": ("93", "71", "000020261044174", "85551234", None, None),
        "category": "oevrige",
    },
    "oioubl21_creditnote_nemkonto.xml": {
        "doc_type": "credit_note",
        "invoice_number": "KN-20931",
        "supplier_cvr": "50234045",  # only as DK:SE in PartyTaxScheme
        "supplier_gln": "5790006208016",
        "payable_amount": Decimal("436.25"),
        "tax_amount": Decimal("87.25"),
        "payment": ("97", None, None, None, None, None),
        "lines": 2,
    },
    "oioubl21_fik75_allowancecharge.xml": {
        "invoice_number": "600218",
        "line_extension_amount": Decimal("840.00"),
        "tax_amount": Decimal("221.25"),
        "payable_amount": Decimal("1106.25"),  # lines 840 - 50 + 95 + VAT: stored as sent
        "payment": ("93", "75", "0000009823100574", "87001234", None, None),
    },
    "oioubl21_mixed_vat_attachment.xml": {
        "invoice_number": "BB-88412",
        "supplier_cvr": "20418044",  # CompanyID without schemeID
        "tax_amount": Decimal("32.00"),  # summed over two TaxTotals (0.00 + 32.00)
        "payable_amount": Decimal("489.00"),
        "payment": ("97", None, None, None, None, None),
    },
    "oioubl202_certificate_lae135.xml": {
        "category": "laegeerklaering",
        "supplier_cvr": "57000147",
        "ydernummer": "034567",
        "buyer_gln": "5798528809575",  # EndpointID with schemeAgencyID 9 only
        "tax_amount": Decimal("0.00"),
        "payable_amount": Decimal("1035.00"),
        "payment": ("42", None, None, None, "5470", "1122334"),
    },
    "oioubl21_interpreter_no_uuid.xml": {
        "category": "tolk",
        "supplier_cvr": "35488219",  # PartyIdentification/ID schemeID DK:CVR
        "supplier_gln": "5790009356011",
        "order_reference": "TB-2026-04417",
        "note": "Tolkning ved samtale i Jobcenter\nTak for opgaven",
        "line_extension_amount": Decimal("1109.34"),
        "payable_amount": Decimal("1386.68"),
        "lines": 3,
    },
}

# each malformed sample and the words its reason must contain
REJECTED: dict[str, str] = {
    "empty.xml": "file is empty",
    "truncated.xml": "not well-formed XML (line",
    "order_root.xml": "root element is Order, expected Invoice or CreditNote",
    "missing_id.xml": "cbc:ID missing",
    "payable_not_a_number.xml": (
        "cac:LegalMonetaryTotal/cbc:PayableAmount is not a number: '12,5x'"
    ),
    "missing_payable_amount.xml": "cac:LegalMonetaryTotal/cbc:PayableAmount missing",
    "impossible_issue_date.xml": "cbc:IssueDate is not a date",
    "xxe_external_entity.xml": "DOCTYPE declarations are not allowed",
    "billion_laughs.xml": "DOCTYPE declarations are not allowed",
    "wrong_namespace.xml": "cbc:ID missing",
    "line_amount_empty.xml": "cac:InvoiceLine[2]/cbc:LineExtensionAmount missing",
}


def _parse(path: Path) -> ParsedDocument:
    return parse_document(path.read_bytes(), path.name)


def test_there_are_enough_samples_and_all_are_covered() -> None:
    valid = {p.name for p in VALID.glob("*.xml")}
    invalid = {p.name for p in INVALID.glob("*.xml")}
    assert len(valid) >= 6 and len(invalid) >= 6
    assert valid == set(EXPECTED)
    assert invalid == set(REJECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_valid_sample_fields(name: str) -> None:
    doc = _parse(VALID / name)
    for field, want in EXPECTED[name].items():
        if field == "payment":
            p = doc.payment
            got: Any = (
                p.code,
                p.payment_id,
                p.instruction_id,
                p.creditor_account,
                p.bank_reg,
                p.bank_account,
            )
        elif field == "lines":
            got = len(doc.lines)
        else:
            got = getattr(doc, field)
        assert got == want, f"{name}: {field}"


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_malformed_sample_is_refused_naming_the_file_and_element(name: str) -> None:
    with pytest.raises(OioublError) as caught:
        _parse(INVALID / name)
    assert caught.value.file_name == name
    assert REJECTED[name] in caught.value.reason
    assert str(caught.value).startswith(f"{name}: ")


def test_xxe_does_not_leak_the_referenced_file() -> None:
    with pytest.raises(OioublError) as caught:
        _parse(INVALID / "xxe_external_entity.xml")
    assert "root:" not in str(caught.value)


def test_certificate_properties_land_in_the_certificate() -> None:
    doc = _parse(VALID / "oioubl202_certificate_lae135.xml")
    assert doc.certificate is not None
    assert doc.certificate.form == "LÆ 135"
    assert doc.certificate.cpr == "030585-4321"
    assert doc.certificate.date == "2026-10-12"
    assert doc.certificate.interpreter is True  # "Ja"
    assert doc.interpreter is None
    assert "Lægehuset ved Fjorden" in doc.source_text  # ISO-8859-1 decoded


def test_interpreter_properties_are_collected_from_all_lines_in_any_case() -> None:
    doc = _parse(VALID / "oioubl21_interpreter_no_uuid.xml")
    data = doc.interpreter
    assert data is not None
    assert data.booking_ref == "TB-2026-04417"  # from OrderReference: no property
    assert (data.language, data.date, data.start, data.end) == (
        "Tigrinya",
        "2026-10-20",
        "09:00",
        "10:35",
    )
    assert (data.category, data.transport_minutes, data.km, data.cancelled) == (
        "oevrig",
        "55",
        "46",
        False,
    )
    assert [line.item_id for line in doc.lines] == ["TOLK", "TRANSPORT", "KOERSEL"]


def test_without_uuid_the_document_id_is_the_files_sha256() -> None:
    data = (VALID / "oioubl21_interpreter_no_uuid.xml").read_bytes()
    assert parse_document(data, "x.xml").document_id == hashlib.sha256(data).hexdigest()


def test_price_per_base_quantity_and_tax_percent_fallback() -> None:
    doc = _parse(VALID / "oioubl21_fik75_allowancecharge.xml")
    assert doc.lines[1].unit_price == Decimal("65.00")  # as sent: the price of 2
    assert doc.lines[1].base_quantity == Decimal("2")
    assert doc.lines[1].tax_category == "S"  # StandardRated
    mixed = _parse(VALID / "oioubl21_mixed_vat_attachment.xml")
    assert mixed.lines[0].tax_percent == Decimal("0")  # from the line's TaxSubtotal
    assert mixed.lines[1].tax_percent == Decimal("25")  # from ClassifiedTaxCategory


def _invoice(body: str, root: str = "Invoice") -> bytes:
    return (
        f'<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2"'
        ' xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"'
        ' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
        f"{body}</{root}>"
    ).encode()


_MINIMAL = (
    "<cbc:ID>1</cbc:ID><cbc:IssueDate>2026-10-01</cbc:IssueDate>{type}"
    "<cbc:DocumentCurrencyCode>DKK</cbc:DocumentCurrencyCode>"
    "<cac:AccountingSupplierParty><cac:Party><cac:PartyName><cbc:Name>A</cbc:Name>"
    "</cac:PartyName></cac:Party></cac:AccountingSupplierParty>"
    "<cac:LegalMonetaryTotal><cbc:LineExtensionAmount>10</cbc:LineExtensionAmount>"
    "<cbc:TaxInclusiveAmount>12.5</cbc:TaxInclusiveAmount><cbc:PayableAmount>12.5"
    "</cbc:PayableAmount></cac:LegalMonetaryTotal>"
    "<cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity>1</cbc:InvoicedQuantity>"
    "<cbc:LineExtensionAmount>10</cbc:LineExtensionAmount><cac:Item>{props}</cac:Item>"
    "<cac:Price><cbc:PriceAmount>10</cbc:PriceAmount></cac:Price></cac:InvoiceLine>"
)


def _minimal(type_code: str = "", props: str = "") -> bytes:
    return _invoice(_MINIMAL.format(type=type_code, props=props))


def test_a_minimal_invoice_without_tax_total_has_zero_vat() -> None:
    doc = parse_document(_minimal(), "m.xml")
    assert doc.tax_amount == Decimal(0)
    assert doc.supplier_cvr is None and doc.buyer_gln is None and doc.due_date is None


def test_invoice_type_code_381_is_a_credit_note_and_unknown_codes_are_refused() -> None:
    code = "<cbc:InvoiceTypeCode>{}</cbc:InvoiceTypeCode>"
    assert parse_document(_minimal(code.format("381")), "c.xml").doc_type == "credit_note"
    assert parse_document(_minimal(code.format("380")), "i.xml").doc_type == "invoice"
    with pytest.raises(OioublError, match="cbc:InvoiceTypeCode '325'"):
        parse_document(_minimal(code.format("325")), "p.xml")


def test_property_names_are_compared_case_and_spelling_insensitively() -> None:
    props = (
        "<cac:AdditionalItemProperty><cbc:Name>BLANKET</cbc:Name><cbc:Value>LÆ 125</cbc:Value>"
        "</cac:AdditionalItemProperty><cac:AdditionalItemProperty><cbc:Name>Erklaeringsdato"
        "</cbc:Name><cbc:Value>2026-09-30</cbc:Value></cac:AdditionalItemProperty>"
    )
    doc = parse_document(_minimal(props=props), "p.xml")
    assert doc.category == "laegeerklaering"
    assert doc.certificate is not None
    assert (doc.certificate.form, doc.certificate.date) == ("LÆ 125", "2026-09-30")
    assert doc.certificate.interpreter is False  # no Tolk property: no interpreter


def test_a_booking_reference_alone_makes_an_interpreter_invoice() -> None:
    props = (
        "<cac:AdditionalItemProperty><cbc:Name>Bestillingsreference</cbc:Name>"
        "<cbc:Value>TB-1</cbc:Value></cac:AdditionalItemProperty>"
    )
    doc = parse_document(_minimal(props=props), "t.xml")
    assert doc.category == "tolk"
    assert doc.interpreter is not None and doc.interpreter.booking_ref == "TB-1"


def test_files_over_the_size_limit_are_refused() -> None:
    data = _minimal() + b"<!--" + b"x" * MAX_FILE_BYTES + b"-->"
    with pytest.raises(OioublError, match="limit"):
        parse_document(data, "big.xml")


def test_a_doctype_without_entities_is_refused_too() -> None:
    data = b'<?xml version="1.0"?>\n<!DOCTYPE Invoice>\n' + _minimal()
    with pytest.raises(OioublError, match="DOCTYPE"):
        parse_document(data, "d.xml")


def test_a_root_in_the_wrong_namespace_is_named() -> None:
    data = _minimal().replace(b'xmlns="urn:oasis', b'xmlns="urn:example', 1)
    with pytest.raises(OioublError, match="root element Invoice is in urn:example"):
        parse_document(data, "n.xml")
