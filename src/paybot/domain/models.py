"""What the robots reason about: invoices, reference data and decisions.

Pure data (pydantic, frozen); no I/O. Money is ``Decimal`` everywhere. An :class:`Invoice` is
built from the strings a page object read (:class:`RawInvoice`) by
``paybot.domain.parsing.parse_invoice``, which names the field when a value cannot be read.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from paybot.domain.reasons import Reason


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Category(StrEnum):
    """The finance system's inbox categories (the URL values)."""

    CERTIFICATE = "laegeerklaering"
    INTERPRETER = "tolk"
    OTHER = "oevrige"


class DocType(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class ErpStatus(StrEnum):
    NEW = "ny"
    PAID = "betalt"
    MANUAL = "manuel"


# --- what a page object read: strings exactly as shown on the screen -----------------------


class RawLine(Frozen):
    """One row of the invoice's line table, as text."""

    nr: str = ""
    varenr: str = ""
    tekst: str = ""
    antal: str = ""
    enhed: str = ""
    enhedspris: str = ""
    beloeb: str = ""
    momssats: str = ""
    moms: str = ""
    prisenhed: str = ""  # price base quantity (empty: 1)
    rabat: str = ""  # the line's allowances
    gebyr: str = ""  # the line's charges
    momskategori: str = ""  # S, Z, E, AE, K, G, O


class RawAllowanceCharge(Frozen):
    """One row of the document allowances and charges table, as text."""

    art: str = ""  # "Rabat" or "Gebyr"
    tekst: str = ""
    beloeb: str = ""
    momskategori: str = ""
    momssats: str = ""


class RawVatSubtotal(Frozen):
    """One row of the VAT breakdown table, as text."""

    momskategori: str = ""
    momssats: str = ""
    grundlag: str = ""
    moms: str = ""


class RawInvoice(Frozen):
    """An invoice detail page as text: ``fields`` maps the ``felt-*`` ids (without the
    ``felt-`` prefix) to their shown text; ``lines`` are the rows of the line table,
    ``allowances_charges`` and ``vat_subtotals`` those of the document allowances/charges and
    the VAT breakdown tables (absent on pages that do not show them)."""

    fields: dict[str, str]
    lines: tuple[RawLine, ...] = ()
    allowances_charges: tuple[RawAllowanceCharge, ...] = ()
    vat_subtotals: tuple[RawVatSubtotal, ...] = ()

    def get(self, name: str) -> str:
        return self.fields.get(name, "").strip()


class RegisterEntry(Frozen):
    """One row of the inbox list: enough to find duplicates without opening the invoice."""

    erp_id: int
    category: Category
    status: ErpStatus
    supplier_cvr: str
    invoice_number: str
    issue_date: dt.date | None
    payable_amount: Decimal | None


# --- the typed invoice ---------------------------------------------------------------------


class InvoiceLine(Frozen):
    line_no: int
    item_id: str | None = None
    description: str = ""
    quantity: Decimal
    unit_code: str | None = None
    unit_price: Decimal
    amount: Decimal
    tax_percent: Decimal | None = None
    tax_amount: Decimal | None = None
    base_quantity: Decimal = Decimal(1)  # price base quantity: the price is per this many
    allowance_amount: Decimal = Decimal("0.00")
    charge_amount: Decimal = Decimal("0.00")
    tax_category: str | None = None  # EN 16931 VAT category code; None: S above 0 %, else Z


class AllowanceCharge(Frozen):
    """A document-level allowance (``charge`` False) or charge, with its VAT category."""

    charge: bool
    amount: Decimal
    reason: str = ""
    tax_category: str | None = None
    tax_percent: Decimal | None = None


class VatSubtotal(Frozen):
    """One VAT category of the stated VAT breakdown (``TaxSubtotal``)."""

    tax_category: str | None = None
    tax_percent: Decimal | None = None
    taxable_amount: Decimal | None = None
    tax_amount: Decimal


class PaymentMeans(Frozen):
    code: str | None = None  # 42 bank, 93 FIK, 50 giro, 97 NemKonto
    fik_card_type: str | None = None  # 71 / 73 / 75
    fik_payment_id: str | None = None
    fik_creditor: str | None = None
    bank_reg: str | None = None
    bank_account: str | None = None


class CertificateInfo(Frozen):
    form: str  # normalised "LÆ 135"
    cpr: str  # DDMMYY-SSSS: personal data, never logged unmasked
    certificate_date: dt.date
    interpreter: bool = False
    variant: str | None = None


class InterpreterInfo(Frozen):
    booking_ref: str
    language: str
    date: dt.date
    start: dt.time
    end: dt.time
    category: str  # translatoer / statsproevet / oevrig
    transport_minutes: int = 0
    km: Decimal = Decimal("0")
    cancelled: bool = False


class Invoice(Frozen):
    erp_id: int
    document_id: str
    doc_type: DocType
    category: Category
    status: ErpStatus
    invoice_number: str
    issue_date: dt.date
    due_date: dt.date | None = None
    currency: str
    supplier_name: str
    supplier_cvr: str
    supplier_gln: str | None = None
    ydernummer: str | None = None
    buyer_gln: str | None = None
    order_reference: str | None = None
    accounting_cost: str | None = None
    note: str = ""
    """The invoice's free-text note (OIOUBL ``cbc:Note``), empty when there is none."""
    lines: tuple[InvoiceLine, ...] = ()
    line_extension_amount: Decimal
    tax_amount: Decimal  # VAT total in the document currency
    total: Decimal  # TaxInclusiveAmount
    payable_amount: Decimal
    allowances_charges: tuple[AllowanceCharge, ...] = ()
    vat_subtotals: tuple[VatSubtotal, ...] = ()
    allowance_total: Decimal | None = None  # as stated; None when not stated
    charge_total: Decimal | None = None
    tax_exclusive_amount: Decimal | None = None  # None for OIOUBL (its field holds the VAT)
    prepaid_amount: Decimal = Decimal("0.00")
    rounding_amount: Decimal = Decimal("0.00")
    tax_currency: str | None = None  # VAT accounting currency when not the document's
    tax_amount_tax_currency: Decimal | None = None  # VAT in that currency; never added
    syntax: str | None = None  # "OIOUBL 2.1", "Peppol BIS 3", ... as the finance system shows
    payment: PaymentMeans = Field(default_factory=PaymentMeans)
    certificate: CertificateInfo | None = None
    interpreter: InterpreterInfo | None = None
    voucher: str | None = None

    @property
    def business_key(self) -> str:
        """Supplier CVR + invoice number: the ledger's key for "this invoice"."""
        return business_key(self.supplier_cvr, self.invoice_number)


def business_key(cvr: str, invoice_number: str) -> str:
    return f"{cvr.strip()}:{invoice_number.strip()}"


# --- reference data ------------------------------------------------------------------------


class Requisition(Frozen):
    number: str
    cpr: str
    form: str  # the answer form requested, e.g. "LÆ 135"
    requested_on: dt.date
    interpreter_approved: bool
    open: bool
    cancelled: bool


class Booking(Frozen):
    reference: str
    language: str
    date: dt.date
    planned_start: dt.time
    planned_end: dt.time
    category: str  # translatoer / statsproevet / oevrig
    distance_km: Decimal  # one way
    mode: Literal["fremmoede", "video", "telefon"]
    cancelled_at: dt.datetime | None = None


# --- decisions -----------------------------------------------------------------------------


class CheckMade(Frozen):
    """One check the rules made: its rule (``small_invoices.buyer``), the reason code it
    guards (``MANUAL_BUYER``), whether it passed, and the values it compared."""

    rule: str
    reason: Reason
    passed: bool
    compared: dict[str, str] = Field(default_factory=dict)


class Explanation(Frozen):
    """Why: the rule that decided, the values it compared (personal data is masked by the
    audit trail, not here), the version of the rules file, and every check made in order
    (for a manual decision the passed ones, then the failed one)."""

    rule: str
    rule_version: str
    compared: dict[str, str] = Field(default_factory=dict)
    checks: tuple[CheckMade, ...] = ()


class Pay(Frozen):
    kind: Literal["pay"] = "pay"
    amount: Decimal
    account_string: str
    posting_text: str
    payment_date: dt.date
    explanation: Explanation


class Manual(Frozen):
    kind: Literal["manual"] = "manual"
    reason: Reason  # a stable MANUAL_* code; its Danish text is in config/reasons.yaml
    note: str  # Danish, for the caseworker; no CPR numbers
    explanation: Explanation


Decision = Pay | Manual
