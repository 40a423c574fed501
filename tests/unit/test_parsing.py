"""Reading what the page objects and exports gave: amounts, dates, invoices, reference rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from paybot.domain.models import Category, DocType, ErpStatus, RawInvoice, RawLine
from paybot.domain.money import format_dkk, format_kr, round_ore
from paybot.domain.parsing import (
    InvoiceFormatError,
    ReferenceDataError,
    parse_booking,
    parse_invoice,
    parse_register_row,
    parse_requisition,
)
from paybot.domain.reasons import Reason
from paybot.domain.values import (
    normalise_form,
    read_amount,
    read_date,
    read_decimal,
    read_time,
    read_yes_no,
)
from support.domain_builders import CITIZEN

# --- single values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.019,48", "1019.48"),
        ("-12,50", "-12.50"),
        ("0,00", "0.00"),
        ("1.234.567,89", "1234567.89"),
        ("250", "250.00"),
        ("92,675", "92.68"),  # half up to øre
        ("−3,10", "-3.10"),  # a typographic minus
    ],
)
def test_danish_amounts(text: str, expected: str) -> None:
    assert read_amount(text) == Decimal(expected)
    assert str(read_amount(text)) == expected


@pytest.mark.parametrize("text", ["1,019.48", "12.5", "1.02,3", "abc", "", "1,2,3", "10 kr"])
def test_unreadable_amounts(text: str) -> None:
    with pytest.raises(ValueError, match="tal"):
        read_decimal(text)


def test_export_cells_are_numbers_too() -> None:
    assert read_decimal(12) == Decimal(12)
    assert read_decimal(Decimal("3.79")) == Decimal("3.79")
    assert read_decimal(12.5) == Decimal("12.5")  # the float's shortest text, not its binary
    assert read_decimal(0.1) == Decimal("0.1")


def test_money_rounding_and_formatting() -> None:
    assert round_ore(Decimal("2.675")) == Decimal("2.68")
    assert round_ore(Decimal("-2.675")) == Decimal("-2.68")
    assert format_dkk(Decimal("1019.48")) == "1.019,48"
    assert format_dkk(Decimal("-1234567.5")) == "-1.234.567,50"
    assert format_kr(Decimal("0")) == "0,00 kr."


def test_dates_times_and_yes_no() -> None:
    assert read_date("27-11-2026") == dt.date(2026, 11, 27)
    assert read_date(dt.datetime(2026, 11, 27, 13, 5)) == dt.date(2026, 11, 27)
    with pytest.raises(ValueError, match="gyldig dato"):
        read_date("31-02-2026")
    with pytest.raises(ValueError, match="DD-MM"):
        read_date("2026-11-27")
    assert read_date("2026-11-27", allow_iso=True) == dt.date(2026, 11, 27)
    assert read_time("08:00") == dt.time(8, 0)
    assert read_time(dt.time(17, 30, 12)) == dt.time(17, 30)
    with pytest.raises(ValueError):
        read_time("24:00")
    assert read_yes_no("Ja") is True
    assert read_yes_no("nej") is False
    assert read_yes_no("", empty=False) is False
    with pytest.raises(ValueError):
        read_yes_no("måske")


@pytest.mark.parametrize("text", ["LÆ 135", "LÆ135", "læ 135", "LAE-135", "135", " LÆ  135 "])
def test_forms_are_normalised(text: str) -> None:
    assert normalise_form(text) == "LÆ 135"


# --- invoices -----------------------------------------------------------------------------


def small_raw(**fields: str) -> RawInvoice:
    base = {
        "loebenr": "17",
        "dokument-id": "3f1c0e8e",
        "dokumenttype": "Faktura",
        "kategori": "Øvrige",
        "status": "Ny",
        "modtaget": "11-11-2026",
        "leverandoer": "Kontorland A/S",
        "cvr": "20433213",
        "leverandoer-gln": "",
        "ydernummer": "",
        "koeber-gln": "5798528809575",
        "fakturanr": "F-1001",
        "udstedt": "10-11-2026",
        "forfald": "10-12-2026",
        "valuta": "DKK",
        "ordrereference": "",
        "kontostreng-faktura": "",
        "linjesum": "1.019,48",
        "moms": "254,87",
        "total": "1.274,35",
        "at-betale": "1.274,35",
        "betalingsform": "FIK (93)",
        "betalingskode": "93",
        "regnr": "",
        "kontonr": "",
        "fik-kortart": "71",
        "fik-betalings-id": "000000012345674",
        "fik-kreditornr": "85432109",
        "bilagsnummer": "",
    }
    base.update(fields)
    lines = (
        RawLine(nr="1", varenr="A-1", tekst="Papir", antal="2", enhed="EA",
                enhedspris="370,72", beloeb="741,44", momssats="25", moms="185,36"),
        RawLine(nr="2", varenr="", tekst="Levering", antal="3", enhed="EA",
                enhedspris="92,68", beloeb="278,04", momssats="25", moms="69,51"),
    )
    return RawInvoice(fields=base, lines=lines)


def test_parse_small_invoice() -> None:
    inv = parse_invoice(small_raw())
    assert inv.erp_id == 17
    assert inv.doc_type is DocType.INVOICE
    assert inv.category is Category.OTHER
    assert inv.status is ErpStatus.NEW
    assert inv.issue_date == dt.date(2026, 11, 10)
    assert inv.due_date == dt.date(2026, 12, 10)
    assert inv.payable_amount == Decimal("1274.35")
    assert inv.line_extension_amount == Decimal("1019.48")
    assert inv.payment.code == "93"
    assert inv.payment.fik_payment_id == "000000012345674"
    assert inv.payment.bank_account is None
    assert inv.order_reference is None
    assert [ln.amount for ln in inv.lines] == [Decimal("741.44"), Decimal("278.04")]
    assert inv.lines[0].item_id == "A-1" and inv.lines[1].item_id is None
    assert inv.lines[1].tax_percent == Decimal(25)
    assert inv.certificate is None and inv.interpreter is None


def test_display_texts_become_enums() -> None:
    inv = parse_invoice(
        small_raw(dokumenttype="Kreditnota", status="Manuel behandling", kategori="Tolk",
                  bestillingsreference="TB-1", sprog="Arabisk", tolkedato="15-01-2024",
                  starttid="08:00", sluttid="09:40", tolkekategori="Statsprøvet tolk")
    )
    assert inv.doc_type is DocType.CREDIT_NOTE
    assert inv.status is ErpStatus.MANUAL
    assert inv.category is Category.INTERPRETER
    assert inv.interpreter is not None and inv.interpreter.category == "statsproevet"


def test_payment_code_from_the_payment_form_text() -> None:
    inv = parse_invoice(small_raw(betalingskode="", betalingsform="NemKonto (97)"))
    assert inv.payment.code == "97"


def test_empty_vat_is_zero_and_empty_due_date_is_none() -> None:
    inv = parse_invoice(small_raw(moms="", forfald=""))
    assert inv.tax_amount == Decimal("0.00")
    assert inv.due_date is None


@pytest.mark.parametrize(
    "field",
    ["fakturanr", "udstedt", "cvr", "valuta", "at-betale", "linjesum", "total", "kategori"],
)
def test_required_fields(field: str) -> None:
    with pytest.raises(InvoiceFormatError) as caught:
        parse_invoice(small_raw(**{field: ""}))
    err = caught.value
    assert err.reason == Reason.FORMAT.value
    assert err.field == field
    assert "løbenr. 17" in str(err)
    assert "mangler" in err.note


def test_unreadable_field_names_field_and_value() -> None:
    with pytest.raises(InvoiceFormatError) as caught:
        parse_invoice(small_raw(forfald="32-13-2026"))
    assert caught.value.field == "forfald"
    assert "'32-13-2026'" in str(caught.value)
    assert "Forfaldsdato" in caught.value.note


def test_unreadable_line_cell() -> None:
    raw = small_raw()
    bad = raw.lines[1].model_copy(update={"beloeb": "27x,04"})
    with pytest.raises(InvoiceFormatError) as caught:
        parse_invoice(raw.model_copy(update={"lines": (raw.lines[0], bad)}))
    assert caught.value.field == "linje 2.beloeb"
    assert caught.value.label == "Linje 2, Beløb"


def certificate_raw(**fields: str) -> RawInvoice:
    values = {
        "kategori": "Lægeerklæring",
        "cvr": "86483505",
        "ydernummer": "057584",
        "linjesum": "796,00",
        "moms": "0,00",
        "total": "796,00",
        "at-betale": "796,00",
        "blanket": "LÆ135",
        "cpr": CITIZEN,
        "erklaeringsdato": "05-11-2026",
        "tolk": "Nej",
        "variant": "",
    }
    values.update(fields)
    raw = small_raw(**values)
    line = RawLine(nr="1", varenr="LÆ 135", tekst="Lægeerklæring", antal="1",
                   enhedspris="796,00", beloeb="796,00", momssats="0", moms="0,00")
    return raw.model_copy(update={"lines": (line,)})


def test_parse_certificate() -> None:
    inv = parse_invoice(certificate_raw(tolk="Ja", variant=" uden  sygesikring "))
    cert = inv.certificate
    assert cert is not None
    assert cert.form == "LÆ 135"
    assert cert.cpr == CITIZEN
    assert cert.certificate_date == dt.date(2026, 11, 5)
    assert cert.interpreter is True
    assert cert.variant == "uden sygesikring"


@pytest.mark.parametrize("bad", ["", "123", "310285-1234", "1403851234x"])
def test_cpr_problems_never_show_the_value(bad: str) -> None:
    with pytest.raises(InvoiceFormatError) as caught:
        parse_invoice(certificate_raw(cpr=bad))
    err = caught.value
    assert err.field == "cpr"
    assert err.value is None
    if bad:
        assert bad not in str(err) and bad not in err.note
    assert "CPR-nr." in err.note


def test_bank_account_is_personal() -> None:
    err = InvoiceFormatError("kontonr", "0012345678", "har ikke den rigtige form", 5)
    assert "0012345678" not in str(err)


@pytest.mark.parametrize("field", ["blanket", "erklaeringsdato"])
def test_certificate_required_fields(field: str) -> None:
    with pytest.raises(InvoiceFormatError) as caught:
        parse_invoice(certificate_raw(**{field: ""}))
    assert caught.value.field == field


def interpreter_raw(**fields: str) -> RawInvoice:
    values = {
        "kategori": "Tolk",
        "bestillingsreference": "TB-2024-0042",
        "sprog": "Arabisk",
        "tolkedato": "15-01-2024",
        "starttid": "08:00",
        "sluttid": "09:40",
        "tolkekategori": "Øvrig tolk",
        "transportminutter": "70",
        "kilometer": "12,5",
        "aflyst": "Nej",
    }
    values.update(fields)
    return small_raw(**values)


def test_parse_interpreter() -> None:
    job = parse_invoice(interpreter_raw()).interpreter
    assert job is not None
    assert job.category == "oevrig"
    assert job.start == dt.time(8, 0) and job.end == dt.time(9, 40)
    assert job.transport_minutes == 70
    assert job.km == Decimal("12.5")
    assert job.cancelled is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("tolkekategori", "Tolk"), ("starttid", "8"), ("transportminutter", "-5"), ("sprog", "")],
)
def test_interpreter_problems(field: str, value: str) -> None:
    with pytest.raises(InvoiceFormatError) as caught:
        parse_invoice(interpreter_raw(**{field: value}))
    assert caught.value.field == field


def test_interpreter_optional_fields_default() -> None:
    job = parse_invoice(interpreter_raw(transportminutter="", kilometer="", aflyst="")).interpreter
    assert job is not None
    assert (job.transport_minutes, job.km, job.cancelled) == (0, Decimal(0), False)


# --- reference rows -----------------------------------------------------------------------


def test_requisition_from_screen_cells() -> None:
    req = parse_requisition(
        {"rekvisitionsnr": "R-1", "cpr": CITIZEN, "blanket": "LÆ 135", "dato": "20-10-2026",
         "tolk-godkendt": "Ja", "status": "Åben", "annulleret": "Nej"}
    )
    assert req.number == "R-1" and req.cpr == CITIZEN and req.form == "LÆ 135"
    assert req.requested_on == dt.date(2026, 10, 20)
    assert req.interpreter_approved and req.open and not req.cancelled


def test_requisition_from_xlsx_export() -> None:
    digits = CITIZEN.replace("-", "")
    row: dict[str, Any] = {
        "Rekvisitionsnr.": "R-2",
        "CPR-nr.": int(digits),  # a spreadsheet may drop the leading zero
        "Blanket": "LÆ 225",
        "Dato": dt.datetime(2026, 10, 1, 0, 0),
        "Tolk godkendt": False,
        "Status": "Lukket",
        "Annulleret": "Ja",
    }
    req = parse_requisition(row)
    assert req.cpr == CITIZEN
    assert req.requested_on == dt.date(2026, 10, 1)
    assert not req.open and req.cancelled and not req.interpreter_approved


def test_requisition_with_bad_cpr_hides_it() -> None:
    with pytest.raises(ReferenceDataError) as caught:
        parse_requisition({"rekvisitionsnr": "R-3", "cpr": "999999-9999", "blanket": "LÆ 135",
                           "dato": "01-10-2026", "status": "Åben"})
    assert "999999" not in str(caught.value)
    assert "R-3" in str(caught.value) and "cpr" in str(caught.value)


def test_booking_from_screen_and_export() -> None:
    screen = parse_booking(
        {"reference": "TB-1", "sprog": "Arabisk", "dato": "15-01-2024", "start": "08:00",
         "slut": "09:30", "kategori": "Øvrig tolk", "afstand-km": "25,5", "form": "Fremmøde",
         "aflyst": "14-01-2024 10:15"}
    )
    assert screen.category == "oevrig" and screen.mode == "fremmoede"
    assert screen.distance_km == Decimal("25.5")
    assert screen.cancelled_at == dt.datetime(2024, 1, 14, 10, 15)
    export = parse_booking(
        {"Reference": "TB-1", "Sprog": "Arabisk", "Dato": dt.date(2024, 1, 15),
         "Start": dt.time(8, 0), "Slut": dt.time(9, 30), "Kategori": "Øvrig tolk",
         "Afstand km": 25.5, "Form": "Fremmøde", "Aflyst": dt.datetime(2024, 1, 14, 10, 15)}
    )
    assert export == screen
    assert parse_booking({**dict(export_row()), "Aflyst": ""}).cancelled_at is None


def export_row() -> dict[str, object]:
    return {"Reference": "TB-2", "Sprog": "Tegnsprog", "Dato": "16-01-2024", "Start": "17:00",
            "Slut": "18:00", "Kategori": "Translatør", "Afstand km": "0", "Form": "Video"}


def test_booking_problem_names_row_and_column() -> None:
    with pytest.raises(ReferenceDataError, match=r"tolkebestilling TB-2: form = 'Brev'"):
        parse_booking({**export_row(), "Form": "Brev"})


def test_register_row() -> None:
    entry = parse_register_row(
        {"loebenr": "17", "modtaget": "11-11-2026", "leverandoer": "Kontorland A/S",
         "cvr": "20433213", "fakturanr": "F-1001", "udstedt": "10-11-2026",
         "forfald": "10-12-2026", "beloeb": "1.274,35", "kategori": "Øvrige", "status": "Betalt"}
    )
    assert entry.erp_id == 17 and entry.status is ErpStatus.PAID
    assert entry.payable_amount == Decimal("1274.35")
    assert entry.issue_date == dt.date(2026, 11, 10)
    lenient = parse_register_row({"loebenr": "18", "kategori": "Øvrige", "status": "Ny",
                                  "udstedt": "x", "beloeb": ""})
    assert lenient.issue_date is None and lenient.payable_amount is None
    with pytest.raises(ReferenceDataError):
        parse_register_row({"loebenr": "", "kategori": "Øvrige", "status": "Ny"})


def test_csv_export_header_with_byte_order_mark() -> None:
    row = {"\ufeffRekvisitionsnr.": "R-4", "CPR-nr.": CITIZEN, "Blanket": "LÆ 145",
           "Dato": "02-10-2026", "Tolk godkendt": "Nej", "Status": "Åben", "Annulleret": "Nej"}
    assert parse_requisition(row).number == "R-4"
