"""Writing Peppol BIS Billing 3.0 ``Invoice`` documents between Danish parties (the seed).

The same :class:`~mockerp.oioubl_write.DocumentSpec` as OIOUBL, written the Peppol way
(docs/peppol.md): CVR as scheme 0184, GLN as 0088, VAT categories S/Z with scheme ``VAT``,
``TaxExclusiveAmount`` = the net total, no line VAT amounts, FIK in the Danish Peppol form
(``PaymentID`` ``71#<payment id>``, the creditor number in ``PayeeFinancialAccount/ID``;
DK-R-010/011). Deterministic: the same spec gives the same bytes. Amounts are written as given
(the seed decides whether they add up).

The seed writes a ``cbc:UUID`` so its ground truth can name the document; Peppol only warns
about a UUID (UBL-CR-003), and the importer takes a file's SHA-256 when there is none.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from mockerp.oioubl_parse import NS_CAC, NS_CBC, NS_CREDIT_NOTE, NS_INVOICE, PEPPOL_BIS3
from mockerp.oioubl_write import DocumentSpec, LineSpec, PartySpec, PaymentSpec

PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
_CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_UP):f}"


def _plain(value: Decimal) -> str:
    text = f"{value:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) or "0"


class _Writer:
    def __init__(self, root: etree._Element, currency: str) -> None:
        self.root = root
        self.currency = currency

    @staticmethod
    def cbc(parent: etree._Element, name: str, text: str, **attrs: str) -> etree._Element:
        el = etree.SubElement(parent, f"{{{NS_CBC}}}{name}", attrs)
        el.text = text
        return el

    @staticmethod
    def cac(parent: etree._Element, name: str) -> etree._Element:
        return etree.SubElement(parent, f"{{{NS_CAC}}}{name}")

    def amount(self, parent: etree._Element, name: str, value: Decimal) -> None:
        self.cbc(parent, name, _money(value), currencyID=self.currency)

    def category(self, parent: etree._Element, name: str, percent: Decimal) -> None:
        el = self.cac(parent, name)
        self.cbc(el, "ID", "S" if percent > 0 else "Z")
        self.cbc(el, "Percent", _plain(percent))
        self.cbc(self.cac(el, "TaxScheme"), "ID", "VAT")

    def address(self, party: etree._Element, spec: PartySpec | None) -> None:
        address = self.cac(party, "PostalAddress")
        if spec is not None:
            self.cbc(address, "StreetName", f"{spec.street} {spec.building}")
            self.cbc(address, "CityName", spec.city)
            self.cbc(address, "PostalZone", spec.postal_zone)
        self.cbc(self.cac(address, "Country"), "IdentificationCode", "DK")

    def supplier(self, spec: PartySpec) -> None:
        party = self.cac(self.cac(self.root, "AccountingSupplierParty"), "Party")
        if spec.gln:
            self.cbc(party, "EndpointID", spec.gln, schemeID="0088")
        elif spec.cvr:
            self.cbc(party, "EndpointID", spec.cvr, schemeID="0184")
        self.cbc(self.cac(party, "PartyName"), "Name", spec.name)
        self.address(party, spec)
        if spec.cvr:
            tax = self.cac(party, "PartyTaxScheme")
            self.cbc(tax, "CompanyID", f"DK{spec.cvr}")
            self.cbc(self.cac(tax, "TaxScheme"), "ID", "VAT")
        legal = self.cac(party, "PartyLegalEntity")
        self.cbc(legal, "RegistrationName", spec.name)
        if spec.cvr:
            self.cbc(legal, "CompanyID", spec.cvr, schemeID="0184")

    def buyer(self, gln: str | None, name: str) -> None:
        party = self.cac(self.cac(self.root, "AccountingCustomerParty"), "Party")
        if gln:
            self.cbc(party, "EndpointID", gln, schemeID="0088")
            self.cbc(self.cac(party, "PartyIdentification"), "ID", gln, schemeID="0088")
        self.address(party, None)
        self.cbc(self.cac(party, "PartyLegalEntity"), "RegistrationName", name)

    def payment(self, spec: PaymentSpec) -> None:
        means = self.cac(self.root, "PaymentMeans")
        self.cbc(means, "PaymentMeansCode", spec.code)
        if spec.code == "93":
            card = spec.payment_id or ""
            self.cbc(means, "PaymentID", f"{card}#{spec.instruction_id or ''}")
            if spec.creditor_account:
                account = self.cac(means, "PayeeFinancialAccount")
                self.cbc(account, "ID", spec.creditor_account)
        elif spec.bank_account or spec.bank_reg:
            account = self.cac(means, "PayeeFinancialAccount")
            self.cbc(account, "ID", spec.bank_account or "")
            if spec.bank_reg:
                self.cbc(self.cac(account, "FinancialInstitutionBranch"), "ID", spec.bank_reg)

    def tax_total(self, spec: DocumentSpec) -> None:
        groups = spec.taxable_per_rate()
        total = self.cac(self.root, "TaxTotal")
        self.amount(total, "TaxAmount", spec.tax_amount)
        for percent, taxable in groups.items():
            tax = (taxable * percent / Decimal(100)).quantize(_CENT, rounding=ROUND_HALF_UP)
            sub = self.cac(total, "TaxSubtotal")
            self.amount(sub, "TaxableAmount", taxable)
            self.amount(sub, "TaxAmount", spec.tax_amount if len(groups) == 1 else tax)
            self.category(sub, "TaxCategory", percent)

    def line(self, tag: str, qty_tag: str, index: int, spec: LineSpec) -> None:
        line = self.cac(self.root, tag)
        self.cbc(line, "ID", str(index))
        self.cbc(line, qty_tag, _plain(spec.quantity), unitCode=spec.unit_code)
        self.amount(line, "LineExtensionAmount", spec.amount)
        if spec.allowance:
            ac = self.cac(line, "AllowanceCharge")
            self.cbc(ac, "ChargeIndicator", "false")
            self.cbc(ac, "AllowanceChargeReasonCode", "95")
            self.cbc(ac, "AllowanceChargeReason", "Rabat")
            self.amount(ac, "Amount", spec.allowance)
        item = self.cac(line, "Item")
        self.cbc(item, "Name", spec.name)
        if spec.item_id:
            self.cbc(self.cac(item, "SellersItemIdentification"), "ID", spec.item_id)
        self.category(item, "ClassifiedTaxCategory", spec.tax_percent)
        for name, value in spec.properties:
            prop = self.cac(item, "AdditionalItemProperty")
            self.cbc(prop, "Name", name)
            self.cbc(prop, "Value", value)
        self.amount(self.cac(line, "Price"), "PriceAmount", spec.unit_price)


def write_peppol(spec: DocumentSpec) -> bytes:
    """The document as UTF-8 Peppol BIS Billing 3.0 XML bytes."""
    credit = spec.doc_type == "credit_note"
    root_ns = NS_CREDIT_NOTE if credit else NS_INVOICE
    root = etree.Element(
        f"{{{root_ns}}}{'CreditNote' if credit else 'Invoice'}",
        nsmap={None: root_ns, "cac": NS_CAC, "cbc": NS_CBC},  # type: ignore[dict-item]
    )
    w = _Writer(root, spec.currency)
    w.cbc(root, "CustomizationID", PEPPOL_BIS3)
    w.cbc(root, "ProfileID", PROFILE)
    w.cbc(root, "ID", spec.number)
    w.cbc(root, "UUID", spec.uuid)
    w.cbc(root, "IssueDate", spec.issue_date.isoformat())
    due = spec.payment.due_date if spec.payment is not None else None
    if due is not None and not credit:
        w.cbc(root, "DueDate", due.isoformat())
    w.cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", "381" if credit else "380")
    if spec.note:
        w.cbc(root, "Note", spec.note)
    w.cbc(root, "DocumentCurrencyCode", spec.currency)
    if spec.tax_currency:
        w.cbc(root, "TaxCurrencyCode", spec.tax_currency)
    if spec.accounting_cost:
        w.cbc(root, "AccountingCost", spec.accounting_cost)
    w.cbc(root, "BuyerReference", spec.order_reference or spec.number)
    if spec.order_reference:
        w.cbc(w.cac(root, "OrderReference"), "ID", spec.order_reference)
    if spec.billing_reference:
        ref = w.cac(w.cac(root, "BillingReference"), "InvoiceDocumentReference")
        w.cbc(ref, "ID", spec.billing_reference)
    w.supplier(spec.supplier)
    w.buyer(spec.buyer_gln, spec.buyer_name)
    if spec.payment is not None:
        w.payment(spec.payment)
    for ac in spec.allowances_charges:
        element = w.cac(root, "AllowanceCharge")
        w.cbc(element, "ChargeIndicator", "true" if ac.charge else "false")
        w.cbc(element, "AllowanceChargeReason", ac.reason)
        w.amount(element, "Amount", ac.amount)
        w.category(element, "TaxCategory", ac.tax_percent)
    w.tax_total(spec)
    if spec.tax_currency and spec.tax_currency_amount is not None:
        in_tax_currency = w.cac(root, "TaxTotal")
        w.cbc(
            in_tax_currency,
            "TaxAmount",
            _money(spec.tax_currency_amount),
            currencyID=spec.tax_currency,
        )
    totals = w.cac(root, "LegalMonetaryTotal")
    net = spec.line_extension - spec.allowance_total + spec.charge_total
    w.amount(totals, "LineExtensionAmount", spec.line_extension)
    w.amount(totals, "TaxExclusiveAmount", net)
    w.amount(totals, "TaxInclusiveAmount", spec.tax_inclusive)
    if spec.allowances_charges:
        w.amount(totals, "AllowanceTotalAmount", spec.allowance_total)
        w.amount(totals, "ChargeTotalAmount", spec.charge_total)
    w.amount(totals, "PayableAmount", spec.payable)
    tag, qty_tag = (
        ("CreditNoteLine", "CreditedQuantity") if credit else ("InvoiceLine", "InvoicedQuantity")
    )
    for index, line in enumerate(spec.lines, start=1):
        w.line(tag, qty_tag, index, line)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
