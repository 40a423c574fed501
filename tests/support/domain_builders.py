"""Builders for the domain tests: invoices whose figures add up, generated CPR numbers,
requisitions, bookings, and the shipped rules.

A builder gives a valid document that the robot would pay; a test changes one thing and
checks the outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from paybot.config import load_rules
from paybot.domain.models import (
    Booking,
    Category,
    CertificateInfo,
    DocType,
    ErpStatus,
    InterpreterInfo,
    Invoice,
    InvoiceLine,
    PaymentMeans,
    Requisition,
)
from paybot.domain.money import percent_of, round_ore
from paybot.domain.rules import InterpreterRules, MedicalCertificateRules, SmallInvoiceRules
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.keys import KeyedHash

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "config" / "rules"

OUR_GLN = "5798528809575"
OTHER_GLN = "5798015430398"  # another public body
KONTORLAND = "20433213"  # known small supplier with an account string
BYGGEMARKEDET = "13413169"  # known small supplier without an account string
UNKNOWN_SUPPLIER = "57525533"  # valid CVR, not on the list
BAD_CVR = "51928325"  # fails modulus 11
PRACTICE = ("86483505", "057584")
INTERPRETER_SUPPLIER = "11226914"
ACTIVE_ACCOUNTS = frozenset(
    {
        "6.45.51-000-2.2",
        "6.45.51-000-2.9",
        "6.45.51-000-4.0",
        "0.25.11-000-4.0",
        "3.22.01-000-2.9",
        "5.32.32-000-4.0",
        "5.57.72-004-4.0",
        "5.68.90-004-4.0",
        "5.48.67-004-4.0",
        "5.46.60-014-4.0",
    }
)
TODAY = dt.date(2026, 11, 23)  # a Monday


def D(text: str) -> Decimal:  # noqa: N802 - reads like a literal
    return Decimal(text)


def make_cpr(birth: dt.date, serial: int) -> str:
    """A generated CPR number (DDMMYY-SSSS) for ``birth``: the first serial digit is chosen
    so the CPR office's century rule gives ``birth``'s year. Not checked against modulus 11."""
    yy = birth.year % 100
    if 1900 <= birth.year <= 1999:
        first = 0 + serial % 4  # 0-3: 1900s
    elif 2000 <= birth.year <= 2036:
        first = 4
    elif 2000 <= birth.year <= 2057:
        first = 5
    else:
        raise ValueError(f"no CPR century rule for {birth.year}")
    return f"{birth:%d%m}{yy:02d}-{first}{serial % 1000:03d}"


CITIZEN = make_cpr(dt.date(1985, 3, 14), 217)
OTHER_CITIZEN = make_cpr(dt.date(1990, 6, 2), 338)


def line(
    nr: int,
    quantity: str,
    unit_price: str,
    *,
    item: str | None = None,
    vat_percent: str = "25",
    text: str = "Vare",
) -> InvoiceLine:
    amount = round_ore(D(quantity) * D(unit_price))
    return InvoiceLine(
        line_no=nr,
        item_id=item,
        description=text,
        quantity=D(quantity),
        unit_price=D(unit_price),
        amount=amount,
        tax_percent=D(vat_percent),
        tax_amount=percent_of(amount, D(vat_percent)),
    )


def with_lines(invoice: Invoice, lines: Iterable[InvoiceLine]) -> Invoice:
    """The invoice with these lines and totals that add up."""
    lines = tuple(lines)
    total = sum((ln.amount for ln in lines), Decimal(0))
    vat = sum((ln.tax_amount or Decimal(0) for ln in lines), Decimal(0))
    return invoice.model_copy(
        update={
            "lines": lines,
            "line_extension_amount": total,
            "tax_amount": vat,
            "total": total + vat,
            "payable_amount": total + vat,
        }
    )


def small_invoice(**changes: Any) -> Invoice:
    base = Invoice(
        erp_id=17,
        document_id="3f1c0e8e-0000-4000-8000-000000000017",
        doc_type=DocType.INVOICE,
        category=Category.OTHER,
        status=ErpStatus.NEW,
        invoice_number="F-1001",
        issue_date=dt.date(2026, 11, 10),
        due_date=dt.date(2026, 12, 10),
        currency="DKK",
        supplier_name="Kontorland A/S",
        supplier_cvr=KONTORLAND,
        buyer_gln=OUR_GLN,
        line_extension_amount=D("0"),
        tax_amount=D("0"),
        total=D("0"),
        payable_amount=D("0"),
        payment=PaymentMeans(code="42", bank_reg="9570", bank_account="0012345678"),
    )
    base = with_lines(base, [line(1, "4", "125.00"), line(2, "2", "99.95")])
    return base.model_copy(update=changes)


def certificate_invoice(
    form: str = "LÆ 135",
    amount: str = "796.00",
    *,
    cpr: str = CITIZEN,
    certificate_date: dt.date = dt.date(2026, 11, 5),
    interpreter: bool = False,
    variant: str | None = None,
    **changes: Any,
) -> Invoice:
    base = Invoice(
        erp_id=42,
        document_id="doc-42",
        doc_type=DocType.INVOICE,
        category=Category.CERTIFICATE,
        status=ErpStatus.NEW,
        invoice_number="L-5001",
        issue_date=dt.date(2026, 11, 6),
        due_date=dt.date(2026, 11, 20),
        currency="DKK",
        supplier_name="Lægerne i Sundhedshuset I/S",
        supplier_cvr=PRACTICE[0],
        ydernummer=PRACTICE[1],
        buyer_gln=OUR_GLN,
        line_extension_amount=D("0"),
        tax_amount=D("0"),
        total=D("0"),
        payable_amount=D("0"),
        payment=PaymentMeans(code="97"),
        certificate=CertificateInfo(
            form=form,
            cpr=cpr,
            certificate_date=certificate_date,
            interpreter=interpreter,
            variant=variant,
        ),
    )
    base = with_lines(base, [line(1, "1", amount, vat_percent="0", text=form)])
    return base.model_copy(update=changes)


def requisition(
    form: str = "LÆ 135",
    *,
    cpr: str = CITIZEN,
    number: str = "R-2026-0100",
    requested_on: dt.date = dt.date(2026, 10, 20),
    interpreter_approved: bool = False,
    open: bool = True,
    cancelled: bool = False,
) -> Requisition:
    return Requisition(
        number=number,
        cpr=cpr,
        form=form,
        requested_on=requested_on,
        interpreter_approved=interpreter_approved,
        open=open,
        cancelled=cancelled,
    )


def interpreter_invoice(
    lines: Iterable[InvoiceLine],
    *,
    date: dt.date = dt.date(2024, 1, 15),
    start: dt.time = dt.time(8, 0),
    end: dt.time = dt.time(9, 40),
    category: str = "oevrig",
    language: str = "Arabisk",
    transport_minutes: int = 0,
    km: str = "0",
    cancelled: bool = False,
    booking_ref: str = "TB-2024-0042",
    **changes: Any,
) -> Invoice:
    base = Invoice(
        erp_id=77,
        document_id="doc-77",
        doc_type=DocType.INVOICE,
        category=Category.INTERPRETER,
        status=ErpStatus.NEW,
        invoice_number="T-9001",
        issue_date=date,
        due_date=date + dt.timedelta(days=30),
        currency="DKK",
        supplier_name="Tolkeservice Midt ApS",
        supplier_cvr=INTERPRETER_SUPPLIER,
        buyer_gln=OUR_GLN,
        line_extension_amount=D("0"),
        tax_amount=D("0"),
        total=D("0"),
        payable_amount=D("0"),
        payment=PaymentMeans(code="42", bank_reg="7244", bank_account="0001234567"),
        interpreter=InterpreterInfo(
            booking_ref=booking_ref,
            language=language,
            date=date,
            start=start,
            end=end,
            category=category,
            transport_minutes=transport_minutes,
            km=D(km),
            cancelled=cancelled,
        ),
    )
    return with_lines(base, lines).model_copy(update=changes)


def booking(
    *,
    date: dt.date = dt.date(2024, 1, 15),
    start: dt.time = dt.time(8, 0),
    end: dt.time = dt.time(9, 30),
    category: str = "oevrig",
    language: str = "Arabisk",
    distance_km: str = "25",
    mode: Literal["fremmoede", "video", "telefon"] = "fremmoede",
    cancelled_at: dt.datetime | None = None,
    reference: str = "TB-2024-0042",
) -> Booking:
    return Booking(
        reference=reference,
        language=language,
        date=date,
        planned_start=start,
        planned_end=end,
        category=category,
        distance_km=D(distance_km),
        mode=mode,
        cancelled_at=cancelled_at,
    )


def context(**changes: Any) -> DecisionContext:
    values: dict[str, Any] = {"today": TODAY, "active_accounts": ACTIVE_ACCOUNTS}
    values.update(changes)
    return DecisionContext(**values)


def small_rules() -> SmallInvoiceRules:
    rules = load_rules(RULES_DIR / "small_invoices.yaml", "small_invoices")
    assert isinstance(rules, SmallInvoiceRules)
    return rules


TEST_PSEUDONYM_KEY = KeyedHash(bytes(range(32)))
"""A fixed pseudonym key for unit tests (never a production key)."""


def certificate_rules(keyed_hash: KeyedHash = TEST_PSEUDONYM_KEY) -> MedicalCertificateRules:
    rules = load_rules(RULES_DIR / "medical_certificates.yaml", "medical_certificates", keyed_hash)
    assert isinstance(rules, MedicalCertificateRules)
    return rules


def interpreter_rules() -> InterpreterRules:
    rules = load_rules(RULES_DIR / "interpreter_contract.yaml", "interpreter")
    assert isinstance(rules, InterpreterRules)
    return rules
