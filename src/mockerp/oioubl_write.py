"""Writing OIOUBL 2.1 ``Invoice`` and ``CreditNote`` documents (used by the seed).

The output is deterministic: the same :class:`DocumentSpec` gives the same bytes. Amounts are
written exactly as given (the seed decides whether they add up), with two decimals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from lxml import etree

from mockerp.oioubl_parse import NS_CAC, NS_CBC, NS_CREDIT_NOTE, NS_INVOICE

PROFILE_ID = "urn:www.nesubl.eu:profiles:profile5:ver2.0"
_CENT = Decimal("0.01")
_CHANNELS = {"42": "DK:BANK", "93": "DK:FIK", "50": "DK:GIRO", "97": "DK:NEMKONTO"}


@dataclass(frozen=True, slots=True)
class PartySpec:
    name: str
    cvr: str | None
    gln: str | None = None  # the endpoint is the GLN when given, else the CVR
    ydernummer: str | None = None  # on the party as PartyIdentification schemeName="Ydernummer"
    street: str = "Hovedgaden"
    building: str = "1"
    city: str = "Demoby"
    postal_zone: str = "9999"


@dataclass(frozen=True, slots=True)
class LineSpec:
    item_id: str | None
    name: str
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    amount: Decimal
    tax_percent: Decimal
    tax_amount: Decimal
    properties: tuple[tuple[str, str], ...] = ()
    allowance: Decimal = Decimal(0)  # a line discount: amount = quantity × price − allowance


@dataclass(frozen=True, slots=True)
class AllowanceChargeSpec:
    """A document-level allowance (``charge`` False) or charge, e.g. freight."""

    charge: bool
    reason: str
    amount: Decimal
    tax_percent: Decimal


@dataclass(frozen=True, slots=True)
class PaymentSpec:
    code: str  # 42 bank, 93 FIK, 50 giro, 97 NemKonto
    due_date: dt.date | None = None
    payment_id: str | None = None  # FIK card type
    instruction_id: str | None = None  # FIK payment id
    creditor_account: str | None = None  # FIK creditor number
    bank_reg: str | None = None
    bank_account: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentSpec:
    doc_type: Literal["invoice", "credit_note"]
    uuid: str
    number: str
    issue_date: dt.date
    currency: str
    supplier: PartySpec
    buyer_gln: str | None
    buyer_name: str
    lines: tuple[LineSpec, ...]
    line_extension: Decimal
    tax_amount: Decimal
    tax_inclusive: Decimal
    payable: Decimal
    payment: PaymentSpec | None
    order_reference: str | None = None
    accounting_cost: str | None = None
    billing_reference: str | None = None
    note: str | None = None
    allowances_charges: tuple[AllowanceChargeSpec, ...] = ()
    syntax: Literal["oioubl", "peppol"] = "oioubl"
    tax_currency: str | None = None  # Peppol: VAT accounting currency (BT-6), when not ours
    tax_currency_amount: Decimal | None = None  # the VAT in that currency (BT-111)

    @property
    def allowance_total(self) -> Decimal:
        return sum((ac.amount for ac in self.allowances_charges if not ac.charge), Decimal(0))

    @property
    def charge_total(self) -> Decimal:
        return sum((ac.amount for ac in self.allowances_charges if ac.charge), Decimal(0))

    def taxable_per_rate(self) -> dict[Decimal, Decimal]:
        """The VAT breakdown's taxable amounts: lines and document allowances/charges."""
        groups: dict[Decimal, Decimal] = {}
        for line in self.lines:
            groups[line.tax_percent] = groups.get(line.tax_percent, Decimal(0)) + line.amount
        for ac in self.allowances_charges:
            sign = Decimal(1) if ac.charge else Decimal(-1)
            groups[ac.tax_percent] = groups.get(ac.tax_percent, Decimal(0)) + sign * ac.amount
        return dict(sorted(groups.items()))


def _money(value: Decimal) -> str:
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_UP):f}"


def _quantity(value: Decimal) -> str:
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _percent(value: Decimal) -> str:
    return _quantity(value)


class _Builder:
    def __init__(self, root: etree._Element, currency: str) -> None:
        self.root = root
        self.currency = currency

    @staticmethod
    def cbc(
        parent: etree._Element, name: str, text: str | None = None, **attrs: str
    ) -> etree._Element:
        el = etree.SubElement(parent, f"{{{NS_CBC}}}{name}", attrs)
        if text is not None:
            el.text = text
        return el

    @staticmethod
    def cac(parent: etree._Element, name: str) -> etree._Element:
        return etree.SubElement(parent, f"{{{NS_CAC}}}{name}")

    def amount(self, parent: etree._Element, name: str, value: Decimal) -> None:
        self.cbc(parent, name, _money(value), currencyID=self.currency)

    def tax_category(self, parent: etree._Element, name: str, percent: Decimal) -> None:
        category = self.cac(parent, name)
        self.cbc(
            category,
            "ID",
            "ZeroRated" if percent == 0 else "StandardRated",
            schemeAgencyID="320",
            schemeID="urn:oioubl:id:taxcategoryid-1.1",
        )
        self.cbc(category, "Percent", _percent(percent))
        scheme = self.cac(category, "TaxScheme")
        self.cbc(scheme, "ID", "63", schemeAgencyID="320", schemeID="urn:oioubl:id:taxschemeid-1.5")
        self.cbc(scheme, "Name", "Moms")

    def supplier(self, party_spec: PartySpec) -> None:
        party = self.cac(self.cac(self.root, "AccountingSupplierParty"), "Party")
        if party_spec.gln:
            self.cbc(party, "EndpointID", party_spec.gln, schemeID="GLN")
        elif party_spec.cvr:
            self.cbc(party, "EndpointID", f"DK{party_spec.cvr}", schemeID="DK:CVR")
        if party_spec.ydernummer:
            ident = self.cac(party, "PartyIdentification")
            self.cbc(ident, "ID", party_spec.ydernummer, schemeID="ZZZ", schemeName="Ydernummer")
        self.cbc(self.cac(party, "PartyName"), "Name", party_spec.name)
        address = self.cac(party, "PostalAddress")
        self.cbc(
            address,
            "AddressFormatCode",
            "StructuredDK",
            listAgencyID="320",
            listID="urn:oioubl:codelist:addressformatcode-1.1",
        )
        self.cbc(address, "StreetName", party_spec.street)
        self.cbc(address, "BuildingNumber", party_spec.building)
        self.cbc(address, "CityName", party_spec.city)
        self.cbc(address, "PostalZone", party_spec.postal_zone)
        self.cbc(self.cac(address, "Country"), "IdentificationCode", "DK")
        if party_spec.cvr:
            tax_scheme = self.cac(party, "PartyTaxScheme")
            self.cbc(tax_scheme, "CompanyID", f"DK{party_spec.cvr}", schemeID="DK:SE")
            scheme = self.cac(tax_scheme, "TaxScheme")
            self.cbc(
                scheme, "ID", "63", schemeAgencyID="320", schemeID="urn:oioubl:id:taxschemeid-1.5"
            )
            self.cbc(scheme, "Name", "Moms")
        legal = self.cac(party, "PartyLegalEntity")
        self.cbc(legal, "RegistrationName", party_spec.name)
        if party_spec.cvr:
            self.cbc(legal, "CompanyID", f"DK{party_spec.cvr}", schemeID="DK:CVR")

    def buyer(self, gln: str | None, name: str) -> None:
        party = self.cac(self.cac(self.root, "AccountingCustomerParty"), "Party")
        if gln:
            self.cbc(party, "EndpointID", gln, schemeAgencyID="9", schemeID="GLN")
            ident = self.cac(party, "PartyIdentification")
            self.cbc(ident, "ID", gln, schemeAgencyID="9", schemeID="GLN")
        self.cbc(self.cac(party, "PartyName"), "Name", name)
        self.cbc(self.cac(party, "Contact"), "ID", "BOGHOLDERI")

    def payment(self, spec: PaymentSpec) -> None:
        means = self.cac(self.root, "PaymentMeans")
        self.cbc(means, "ID", "1")
        self.cbc(means, "PaymentMeansCode", spec.code)
        if spec.due_date is not None:
            self.cbc(means, "PaymentDueDate", spec.due_date.isoformat())
        channel = _CHANNELS.get(spec.code)
        if channel:
            self.cbc(
                means,
                "PaymentChannelCode",
                channel,
                listAgencyID="320",
                listID="urn:oioubl:codelist:paymentchannelcode-1.1",
            )
        if spec.instruction_id:
            self.cbc(means, "InstructionID", spec.instruction_id)
        if spec.payment_id:
            self.cbc(
                means,
                "PaymentID",
                spec.payment_id,
                schemeAgencyID="320",
                schemeID="urn:oioubl:id:paymentid-1.1",
            )
        if spec.bank_account or spec.bank_reg:
            account = self.cac(means, "PayeeFinancialAccount")
            self.cbc(account, "ID", spec.bank_account or "")
            if spec.bank_reg:
                self.cbc(self.cac(account, "FinancialInstitutionBranch"), "ID", spec.bank_reg)
        if spec.creditor_account:
            self.cbc(self.cac(means, "CreditAccount"), "AccountID", spec.creditor_account)

    def tax_total(self, spec: DocumentSpec) -> None:
        """The VAT breakdown: per rate the taxable amount and its VAT rounded once (EN 16931);
        a single rate carries the document's VAT total as given (the seed may make it wrong)."""
        groups = spec.taxable_per_rate()
        tax_total = self.cac(self.root, "TaxTotal")
        self.amount(tax_total, "TaxAmount", spec.tax_amount)
        for percent, taxable in groups.items():
            tax = (taxable * percent / Decimal(100)).quantize(_CENT, rounding=ROUND_HALF_UP)
            subtotal = self.cac(tax_total, "TaxSubtotal")
            self.amount(subtotal, "TaxableAmount", taxable)
            self.amount(subtotal, "TaxAmount", spec.tax_amount if len(groups) == 1 else tax)
            self.tax_category(subtotal, "TaxCategory", percent)

    def allowance_charge(
        self,
        parent: etree._Element,
        charge: bool,
        reason: str,
        amount: Decimal,
        percent: Decimal | None,
    ) -> None:
        element = self.cac(parent, "AllowanceCharge")
        self.cbc(element, "ChargeIndicator", "true" if charge else "false")
        self.cbc(element, "AllowanceChargeReason", reason)
        self.amount(element, "Amount", amount)
        if percent is not None:
            self.tax_category(element, "TaxCategory", percent)

    def line(self, tag: str, qty_tag: str, index: int, spec: LineSpec) -> None:
        line = self.cac(self.root, tag)
        self.cbc(line, "ID", str(index))
        self.cbc(line, qty_tag, _quantity(spec.quantity), unitCode=spec.unit_code)
        self.amount(line, "LineExtensionAmount", spec.amount)
        if spec.allowance:
            self.allowance_charge(line, False, "Rabat", spec.allowance, None)
        tax_total = self.cac(line, "TaxTotal")
        self.amount(tax_total, "TaxAmount", spec.tax_amount)
        subtotal = self.cac(tax_total, "TaxSubtotal")
        self.amount(subtotal, "TaxableAmount", spec.amount)
        self.amount(subtotal, "TaxAmount", spec.tax_amount)
        self.tax_category(subtotal, "TaxCategory", spec.tax_percent)
        item = self.cac(line, "Item")
        self.cbc(item, "Name", spec.name)
        if spec.item_id:
            self.cbc(self.cac(item, "SellersItemIdentification"), "ID", spec.item_id)
        self.tax_category(item, "ClassifiedTaxCategory", spec.tax_percent)
        for name, value in spec.properties:
            prop = self.cac(item, "AdditionalItemProperty")
            self.cbc(prop, "Name", name)
            self.cbc(prop, "Value", value)
        price = self.cac(line, "Price")
        self.amount(price, "PriceAmount", spec.unit_price)
        self.cbc(price, "BaseQuantity", "1", unitCode=spec.unit_code)


def write_document(spec: DocumentSpec) -> bytes:
    """The document as UTF-8 OIOUBL 2.1 XML bytes (``spec.syntax`` is ignored: Peppol BIS 3 is
    :func:`mockerp.peppol_write.write_peppol`)."""
    credit = spec.doc_type == "credit_note"
    root_ns = NS_CREDIT_NOTE if credit else NS_INVOICE
    root = etree.Element(
        f"{{{root_ns}}}{'CreditNote' if credit else 'Invoice'}",
        nsmap={None: root_ns, "cac": NS_CAC, "cbc": NS_CBC},  # type: ignore[dict-item]
    )
    b = _Builder(root, spec.currency)
    b.cbc(root, "UBLVersionID", "2.1")
    b.cbc(root, "CustomizationID", "OIOUBL-2.1")
    b.cbc(
        root, "ProfileID", PROFILE_ID, schemeAgencyID="320", schemeID="urn:oioubl:id:profileid-1.6"
    )
    b.cbc(root, "ID", spec.number)
    b.cbc(root, "CopyIndicator", "false")
    b.cbc(root, "UUID", spec.uuid)
    b.cbc(root, "IssueDate", spec.issue_date.isoformat())
    b.cbc(
        root,
        "CreditNoteTypeCode" if credit else "InvoiceTypeCode",
        "381" if credit else "380",
        listAgencyID="320",
        listID="urn:oioubl:codelist:invoicetypecode-1.2",
    )
    if spec.note:
        b.cbc(root, "Note", spec.note)
    b.cbc(root, "DocumentCurrencyCode", spec.currency)
    if spec.accounting_cost:
        b.cbc(root, "AccountingCost", spec.accounting_cost)
    if spec.order_reference:
        b.cbc(b.cac(root, "OrderReference"), "ID", spec.order_reference)
    if spec.billing_reference:
        reference = b.cac(b.cac(root, "BillingReference"), "InvoiceDocumentReference")
        b.cbc(reference, "ID", spec.billing_reference)
    b.supplier(spec.supplier)
    b.buyer(spec.buyer_gln, spec.buyer_name)
    if spec.payment is not None:
        b.payment(spec.payment)
    for ac in spec.allowances_charges:
        b.allowance_charge(root, ac.charge, ac.reason, ac.amount, ac.tax_percent)
    b.tax_total(spec)
    totals = b.cac(root, "LegalMonetaryTotal")
    b.amount(totals, "LineExtensionAmount", spec.line_extension)
    b.amount(totals, "TaxExclusiveAmount", spec.tax_amount)  # OIOUBL: holds the VAT
    b.amount(totals, "TaxInclusiveAmount", spec.tax_inclusive)
    if spec.allowances_charges:
        b.amount(totals, "AllowanceTotalAmount", spec.allowance_total)
        b.amount(totals, "ChargeTotalAmount", spec.charge_total)
    b.amount(totals, "PayableAmount", spec.payable)
    tag, qty_tag = (
        ("CreditNoteLine", "CreditedQuantity") if credit else ("InvoiceLine", "InvoicedQuantity")
    )
    for index, line in enumerate(spec.lines, start=1):
        b.line(tag, qty_tag, index, line)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
