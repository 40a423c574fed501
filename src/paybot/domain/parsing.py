"""From what a page object read to the typed invoice.

:func:`parse_invoice` turns a :class:`~paybot.domain.models.RawInvoice` (the ``felt-*`` texts and
the line table of docs/finance-system.md) into an :class:`~paybot.domain.models.Invoice`. A
required field that is missing or unreadable, or any shown value that cannot be read, raises
:class:`InvoiceFormatError` (reason ``MANUAL_FORMAT``) naming the field; the value is left out
of the message for personal fields (CPR, bank account).

The reference data parsers (requisitions, bookings, inbox rows) live in
:mod:`paybot.domain.reference_rows` and are re-exported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from paybot.domain.checks import cpr_shape_valid, normalise_cpr
from paybot.domain.models import (
    AllowanceCharge,
    Category,
    CertificateInfo,
    InterpreterInfo,
    Invoice,
    InvoiceLine,
    PaymentMeans,
    RawAllowanceCharge,
    RawInvoice,
    RawLine,
    RawVatSubtotal,
    VatSubtotal,
)
from paybot.domain.reasons import Reason
from paybot.domain.reference_rows import (
    ReferenceDataError,
    parse_booking,
    parse_register_row,
    parse_requisition,
)
from paybot.domain.values import (
    CATEGORY_TEXTS,
    DOC_TYPE_TEXTS,
    INTERPRETER_CATEGORY_TEXTS,
    STATUS_TEXTS,
    normalise_form,
    read_amount,
    read_choice,
    read_date,
    read_decimal,
    read_int,
    read_time,
    read_yes_no,
)
from paybot.errors import BusinessError

__all__ = [
    "FIELD_LABELS",
    "PERSONAL_FIELDS",
    "InvoiceFormatError",
    "ReferenceDataError",
    "parse_booking",
    "parse_invoice",
    "parse_register_row",
    "parse_requisition",
]

T = TypeVar("T")

PERSONAL_FIELDS: frozenset[str] = frozenset({"cpr", "regnr", "kontonr"})
"""Fields whose value never appears in an error message or a note."""

FIELD_LABELS: dict[str, str] = {
    "loebenr": "Løbenr.",
    "dokument-id": "Dokument-ID",
    "dokumenttype": "Dokumenttype",
    "kategori": "Kategori",
    "status": "Status",
    "leverandoer": "Leverandør",
    "cvr": "CVR-nr.",
    "fakturanr": "Fakturanr.",
    "udstedt": "Fakturadato",
    "forfald": "Forfaldsdato",
    "valuta": "Valuta",
    "linjesum": "Linjesum",
    "moms": "Moms",
    "total": "Total inkl. moms",
    "at-betale": "At betale",
    "betalingskode": "Betalingskode",
    "blanket": "Blanket",
    "cpr": "CPR-nr.",
    "erklaeringsdato": "Erklæringsdato",
    "tolk": "Tolk medvirket",
    "variant": "Takstvariant",
    "bestillingsreference": "Bestillingsreference",
    "sprog": "Sprog",
    "tolkedato": "Dato (tolkning)",
    "starttid": "Starttid",
    "sluttid": "Sluttid",
    "tolkekategori": "Tolkekategori",
    "transportminutter": "Transportminutter",
    "kilometer": "Kilometer",
    "aflyst": "Aflyst",
    "antal": "Antal",
    "enhedspris": "Enhedspris",
    "beloeb": "Beløb",
    "momssats": "Momssats",
    "nr": "Nr.",
    "prisenhed": "Pris pr.",
    "rabat": "Rabat",
    "gebyr": "Gebyr",
    "momskategori": "Momskategori",
    "art": "Art",
    "grundlag": "Momsgrundlag",
    "rabatter": "Rabat i alt",
    "gebyrer": "Gebyrer i alt",
    "total-ekskl-moms": "Total ekskl. moms",
    "forudbetalt": "Forudbetalt",
    "afrunding": "Afrunding",
    "afregningsvaluta": "Momsvaluta",
    "moms-afregningsvaluta": "Moms i momsvaluta",
}


class InvoiceFormatError(BusinessError):
    """A field of an invoice is missing or cannot be read: manual handling, ``MANUAL_FORMAT``.

    ``field`` is the ``felt-*`` name without the prefix, or ``linje N.<cell>`` for a line cell,
    ``rabat/gebyr N.<cell>`` for a document allowance/charge and ``momskategori N.<cell>`` for a
    row of the VAT breakdown (N counts from 1). ``value`` is ``None`` for personal fields (and
    then not in the message).
    ``problem`` is a short Danish description; :attr:`note` is a sentence for the caseworker.
    """

    def __init__(
        self, field: str, value: str | None, problem: str, invoice: int | None = None
    ) -> None:
        self.field = field
        self.value = None if _base_field(field) in PERSONAL_FIELDS else value
        self.problem = problem
        self.invoice = invoice
        where = f"faktura løbenr. {invoice}" if invoice is not None else "faktura"
        shown = "(værdi skjult)" if self.value is None else repr(self.value)
        super().__init__(Reason.FORMAT, f"{where}: {field} = {shown}: {problem}")

    @property
    def label(self) -> str:
        base = _base_field(self.field)
        label = FIELD_LABELS.get(base, base)
        if self.field.startswith(("linje ", "rabat/gebyr ", "momskategori ")):
            return f"{self.field.split('.', 1)[0].capitalize()}, {label}"
        return label

    @property
    def note(self) -> str:
        """A Danish sentence for the caseworker (never a personal value)."""
        return f"Feltet '{self.label}' kan ikke læses: {self.problem}. Kontrollér fakturaen."


def _base_field(field: str) -> str:
    return field.rsplit(".", 1)[-1]


_MISSING = "mangler"


class _Reader:
    """Reads fields of one raw invoice, turning every problem into an InvoiceFormatError."""

    def __init__(self, raw: RawInvoice, invoice: int | None) -> None:
        self.raw = raw
        self.invoice = invoice

    def fail(self, field: str, value: str, problem: str) -> InvoiceFormatError:
        return InvoiceFormatError(field, value, problem, self.invoice)

    def convert(self, field: str, text: str, read: Callable[[str], T]) -> T:
        try:
            return read(text)
        except ValueError as exc:
            problem = str(exc)
            if field in PERSONAL_FIELDS:
                problem = "har ikke den rigtige form"
            raise self.fail(field, text, problem) from None

    def required(self, field: str, read: Callable[[str], T]) -> T:
        text = self.raw.get(field)
        if not text:
            raise self.fail(field, text, _MISSING)
        return self.convert(field, text, read)

    def optional(self, field: str, read: Callable[[str], T]) -> T | None:
        text = self.raw.get(field)
        return self.convert(field, text, read) if text else None

    def text(self, field: str, *, required: bool = False) -> str:
        text = self.raw.get(field)
        if required and not text:
            raise self.fail(field, text, _MISSING)
        return text

    def optional_text(self, field: str) -> str | None:
        return self.raw.get(field) or None


def _not_negative_int(text: str) -> int:
    value = read_int(text)
    if value < 0:
        raise ValueError(f"'{text}' er negativ")
    return value


def _not_negative_decimal(text: str) -> Decimal:
    value = read_decimal(text)
    if value < 0:
        raise ValueError(f"'{text}' er negativ")
    return value


def _cpr(text: str) -> str:
    cpr = normalise_cpr(text)
    if cpr is None or not cpr_shape_valid(cpr):
        raise ValueError("har ikke formen DDMMÅÅ-XXXX med en gyldig dato")
    return cpr


def _erp_id(raw: RawInvoice) -> int:
    text = raw.get("loebenr")
    try:
        value = read_int(text) if text else None
    except ValueError:
        value = None
    if value is None or value <= 0:
        raise InvoiceFormatError("loebenr", text, "mangler eller er ikke et løbenummer")
    return value


def _payment_code(reader: _Reader) -> str | None:
    code = reader.optional_text("betalingskode")
    if code is None:
        shown = reader.text("betalingsform")
        if "(" in shown and shown.endswith(")"):
            code = shown[shown.rindex("(") + 1 : -1].strip() or None
    return code


def _line(reader: _Reader, position: int, raw: RawLine) -> InvoiceLine:
    prefix = f"linje {position}."

    def cell(name: str) -> str:
        return str(getattr(raw, name)).strip()

    def required(name: str, read: Callable[[str], T]) -> T:
        text = cell(name)
        if not text:
            raise reader.fail(prefix + name, text, _MISSING)
        return reader.convert(prefix + name, text, read)

    def optional(name: str, read: Callable[[str], T]) -> T | None:
        text = cell(name)
        return reader.convert(prefix + name, text, read) if text else None

    line_no = optional("nr", read_int)
    base = optional("prisenhed", _positive_decimal)
    return InvoiceLine(
        line_no=line_no if line_no is not None else position,
        item_id=cell("varenr") or None,
        description=cell("tekst"),
        quantity=required("antal", read_decimal),
        unit_code=cell("enhed") or None,
        unit_price=required("enhedspris", read_decimal),
        amount=required("beloeb", read_amount),
        tax_percent=optional("momssats", read_decimal),
        tax_amount=optional("moms", read_amount),
        base_quantity=base if base is not None else Decimal(1),
        allowance_amount=optional("rabat", read_amount) or Decimal("0.00"),
        charge_amount=optional("gebyr", read_amount) or Decimal("0.00"),
        tax_category=_vat_category(cell("momskategori")),
    )


def _vat_category(text: str) -> str | None:
    return text.strip().upper() or None


def _positive_decimal(text: str) -> Decimal:
    value = read_decimal(text)
    if value <= 0:
        raise ValueError(f"'{text}' er ikke over 0")
    return value


_ALLOWANCE_KINDS = {"rabat": False, "fradrag": False, "gebyr": True, "tillæg": True}


def _allowance_kind(text: str) -> bool:
    kind = _ALLOWANCE_KINDS.get(text.strip().casefold())
    if kind is None:
        raise ValueError(f"'{text}' er hverken Rabat eller Gebyr")
    return kind


def _cells(
    reader: _Reader, prefix: str, raw: RawAllowanceCharge | RawVatSubtotal
) -> Callable[[str, Callable[[str], T]], T | None]:
    def optional(name: str, read: Callable[[str], T]) -> T | None:
        text = str(getattr(raw, name)).strip()
        return reader.convert(prefix + name, text, read) if text else None

    return optional


def _allowance_charge(reader: _Reader, position: int, raw: RawAllowanceCharge) -> AllowanceCharge:
    prefix = f"rabat/gebyr {position}."
    optional = _cells(reader, prefix, raw)
    charge = optional("art", _allowance_kind)
    amount = optional("beloeb", read_amount)
    if charge is None or amount is None:
        missing = "art" if charge is None else "beloeb"
        raise reader.fail(prefix + missing, "", _MISSING)
    return AllowanceCharge(
        charge=charge,
        amount=amount,
        reason=" ".join(raw.tekst.split()),
        tax_category=_vat_category(raw.momskategori),
        tax_percent=optional("momssats", read_decimal),
    )


def _vat_subtotal(reader: _Reader, position: int, raw: RawVatSubtotal) -> VatSubtotal:
    prefix = f"momskategori {position}."
    optional = _cells(reader, prefix, raw)
    tax = optional("moms", read_amount)
    if tax is None:
        raise reader.fail(prefix + "moms", "", _MISSING)
    return VatSubtotal(
        tax_category=_vat_category(raw.momskategori),
        tax_percent=optional("momssats", read_decimal),
        taxable_amount=optional("grundlag", read_amount),
        tax_amount=tax,
    )


def _certificate(reader: _Reader) -> CertificateInfo:
    variant = reader.optional_text("variant")
    return CertificateInfo(
        form=reader.required("blanket", normalise_form),
        cpr=reader.required("cpr", _cpr),
        certificate_date=reader.required("erklaeringsdato", read_date),
        interpreter=reader.optional("tolk", read_yes_no) or False,
        variant=" ".join(variant.split()) if variant else None,
    )


def _interpreter_category(text: str) -> str:
    return read_choice(text, INTERPRETER_CATEGORY_TEXTS, "en tolkekategori")


def _interpreter(reader: _Reader) -> InterpreterInfo:
    return InterpreterInfo(
        booking_ref=reader.text("bestillingsreference", required=True),
        language=reader.text("sprog", required=True),
        date=reader.required("tolkedato", read_date),
        start=reader.required("starttid", read_time),
        end=reader.required("sluttid", read_time),
        category=reader.required("tolkekategori", _interpreter_category),
        transport_minutes=reader.optional("transportminutter", _not_negative_int) or 0,
        km=reader.optional("kilometer", _not_negative_decimal) or Decimal(0),
        cancelled=reader.optional("aflyst", read_yes_no) or False,
    )


def parse_invoice(raw: RawInvoice) -> Invoice:
    """The typed invoice, or :class:`InvoiceFormatError` naming the first unreadable field.

    Required (docs/rules.md, "Reading"): Løbenr., document type, category, status, invoice
    number, invoice date, supplier CVR, currency, line total, total incl. VAT, payable amount and
    every line's quantity, unit price and amount; certificates also form, CPR and certificate
    date; interpreter invoices also booking reference, language, date, start and end time and
    interpreter category. Empty optional fields become ``None`` (VAT, prepaid, rounding, line
    allowance and charge: 0; price base quantity: 1). A document allowance/charge needs its kind
    (Rabat/Gebyr) and amount, a VAT breakdown row its VAT.
    """
    erp_id = _erp_id(raw)
    r = _Reader(raw, erp_id)
    category = r.required("kategori", lambda t: read_choice(t, CATEGORY_TEXTS, "en kategori"))
    doc_type = r.required(
        "dokumenttype", lambda t: read_choice(t, DOC_TYPE_TEXTS, "Faktura eller Kreditnota")
    )
    status = r.required("status", lambda t: read_choice(t, STATUS_TEXTS, "en status"))
    lines = tuple(_line(r, i, line) for i, line in enumerate(raw.lines, start=1))
    issue_date: dt.date = r.required("udstedt", read_date)
    return Invoice(
        erp_id=erp_id,
        document_id=r.text("dokument-id"),
        doc_type=doc_type,
        category=category,
        status=status,
        invoice_number=r.text("fakturanr", required=True),
        issue_date=issue_date,
        due_date=r.optional("forfald", read_date),
        currency=r.text("valuta", required=True).upper(),
        supplier_name=r.text("leverandoer"),
        supplier_cvr=r.text("cvr", required=True).replace(" ", ""),
        supplier_gln=r.optional_text("leverandoer-gln"),
        ydernummer=r.optional_text("ydernummer"),
        buyer_gln=r.optional_text("koeber-gln"),
        order_reference=r.optional_text("ordrereference"),
        accounting_cost=r.optional_text("kontostreng-faktura"),
        note=r.text("note"),
        lines=lines,
        line_extension_amount=r.required("linjesum", read_amount),
        tax_amount=r.optional("moms", read_amount) or Decimal("0.00"),
        total=r.required("total", read_amount),
        payable_amount=r.required("at-betale", read_amount),
        allowances_charges=tuple(
            _allowance_charge(r, i, ac) for i, ac in enumerate(raw.allowances_charges, start=1)
        ),
        vat_subtotals=tuple(
            _vat_subtotal(r, i, vs) for i, vs in enumerate(raw.vat_subtotals, start=1)
        ),
        allowance_total=r.optional("rabatter", read_amount),
        charge_total=r.optional("gebyrer", read_amount),
        tax_exclusive_amount=r.optional("total-ekskl-moms", read_amount),
        prepaid_amount=r.optional("forudbetalt", read_amount) or Decimal("0.00"),
        rounding_amount=r.optional("afrunding", read_amount) or Decimal("0.00"),
        tax_currency=(r.optional_text("afregningsvaluta") or "").upper() or None,
        tax_amount_tax_currency=r.optional("moms-afregningsvaluta", read_amount),
        syntax=r.optional_text("format"),
        payment=PaymentMeans(
            code=_payment_code(r),
            fik_card_type=r.optional_text("fik-kortart"),
            fik_payment_id=r.optional_text("fik-betalings-id"),
            fik_creditor=r.optional_text("fik-kreditornr"),
            bank_reg=r.optional_text("regnr"),
            bank_account=r.optional_text("kontonr"),
        ),
        certificate=_certificate(r) if category is Category.CERTIFICATE else None,
        interpreter=_interpreter(r) if category is Category.INTERPRETER else None,
        voucher=r.optional_text("bilagsnummer"),
    )
