"""The original e-invoice attached to a Tryton invoice, read as a clerk reads it.

Tryton keeps what it books (supplier, reference, dates, lines, VAT, totals) but not the
e-invoice details the robots' rules check: the buyer's GLN, the payment means (FIK, bank
account), the order reference, the supplier's account string, the item properties of a
certificate or an interpreter invoice. A clerk opens the attached original for those; the
adapter reads the same file (OIOUBL 2.x or Peppol BIS 3, UBL 2 Invoice or CreditNote) into
paybot's field names (docs/finance-system.md, "The invoice"), shown as the mock shows them:
amounts ``1.019,48``, dates ``DD-MM-YYYY``. Pure: no I/O.

Raises :class:`EInvoiceUnreadable` for a file that is not a UBL invoice or credit note; a
field that is missing is left empty (the rules decide what an empty field means).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from lxml import etree

from paybot.domain.models import RawAllowanceCharge, RawLine, RawVatSubtotal
from paybot.domain.reasons import Reason
from paybot.errors import BusinessError

GLN_SCHEMES = frozenset({"GLN", "0088", "EAN"})
CVR_SCHEMES = frozenset({"DK:CVR", "0184", "DK:SE", "0198", "CVR"})
EN16931_PREFIX = "urn:cen.eu:en16931:2017"
OIOUBL_TAX_CATEGORIES = {
    "standardrated": "S",
    "zerorated": "Z",
    "reversecharge": "AE",
    "exempt": "E",
}
PAYMENT_MEANS = {"42": "Bankoverførsel", "93": "FIK", "50": "Giro", "97": "NemKonto"}
CATEGORY_LABELS = {"laegeerklaering": "Lægeerklæring", "tolk": "Tolk", "oevrige": "Øvrige"}
INTERPRETER_LABELS = {
    "translatoer": "Translatør",
    "statsproevet": "Statsprøvet tolk",
    "oevrig": "Øvrig tolk",
}
_NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
_NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"


class EInvoiceUnreadable(BusinessError):
    """The attachment is not a UBL 2 invoice or credit note: a person looks at it
    (``MANUAL_FORMAT``); retrying will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(Reason.FORMAT, message)


class _El:
    """Namespace-agnostic lookups (``{*}``) on one element."""

    def __init__(self, el: etree._Element | None) -> None:
        self.el = el

    def find(self, path: str) -> _El:
        if self.el is None:
            return _El(None)
        return _El(self.el.find(_path(path)))

    def findall(self, path: str) -> list[_El]:
        if self.el is None:
            return []
        return [_El(e) for e in self.el.findall(_path(path))]

    def text(self, path: str = "") -> str:
        el = self.find(path).el if path else self.el
        if el is None or el.text is None:
            return ""
        return " ".join(el.text.split())

    def attr(self, name: str) -> str:
        return "" if self.el is None else str(self.el.get(name) or "")


def _path(path: str) -> str:
    return "/".join("{*}" + step.split(":", 1)[-1] for step in path.split("/"))


def _number(text: str, *, decimals: int | None = None) -> str:
    """Danish notation: ``1019.5`` → ``1.019,5``; with ``decimals`` fixed places."""
    if not text:
        return ""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text  # shown as sent: the parser names it
    if decimals is not None:
        value = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    elif value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    else:
        value = value.normalize()
    whole, _, frac = f"{abs(value):f}".partition(".")
    groups = f"{int(whole):,}".replace(",", ".")
    sign = "-" if value < 0 else ""
    return f"{sign}{groups},{frac}" if frac else f"{sign}{groups}"


def _amount(text: str) -> str:
    return _number(text, decimals=2)


def _price(text: str) -> str:
    """A unit price: two decimals, more when it has them (as the mock shows it)."""
    if not text:
        return ""
    try:
        exponent = Decimal(text).normalize().as_tuple().exponent
    except InvalidOperation:
        return text
    if isinstance(exponent, int) and exponent < -2:
        return _number(text)
    return _amount(text)


def _date(text: str) -> str:
    try:
        day = dt.date.fromisoformat(text[:10])
    except ValueError:
        return text
    return f"{day.day:02d}-{day.month:02d}-{day.year:04d}"


def _format(customization: str, peppol: bool) -> str:
    """``Peppol BIS Billing 3.0``, or the OIOUBL CustomizationID as a clerk reads it
    (``OIOUBL-2.1`` → ``OIOUBL 2.1``)."""
    if peppol:
        return "Peppol BIS Billing 3.0"
    custom = customization.replace("-", " ").strip()
    return custom if custom.upper().startswith("OIOUBL") else "OIOUBL"


def _tax_category(text: str) -> str:
    return OIOUBL_TAX_CATEGORIES.get(text.strip().casefold(), text.strip().upper())


def _scheme_kind(el: _El) -> str:
    """``gln``, ``cvr`` or ``other``, by the identifier's scheme (as OIOUBL and Peppol BIS 3
    name them: ``GLN``/``0088``, ``DK:CVR``/``0184``, an ``ISO6523-ACTORID-UPIS`` prefix, or
    OIOUBL's agency ``9`` for a GLN)."""
    scheme = el.attr("schemeID").strip().upper()
    agency = el.attr("schemeAgencyID").strip()
    if scheme in GLN_SCHEMES:
        return "gln"
    if scheme in CVR_SCHEMES:
        return "cvr"
    if scheme == "ISO6523-ACTORID-UPIS":
        prefix = el.text().split(":", 1)[0]
        if prefix == "0088":
            return "gln"
        return "cvr" if prefix in {"0184", "0198"} else "other"
    if not scheme and agency == "9":
        return "gln"
    return "other"


def _scheme_value(el: _El) -> str:
    value = el.text()
    if el.attr("schemeID").strip().upper() == "ISO6523-ACTORID-UPIS" and ":" in value:
        value = value.split(":", 1)[1]
    return value.strip()


def _strip_dk(value: str) -> str:
    stripped = value.strip()
    return stripped[2:].strip() if stripped[:2].upper() == "DK" else stripped


def _party_gln(party: _El) -> str:
    for path in ("cbc:EndpointID", "cac:PartyIdentification/cbc:ID"):
        for el in party.findall(path):
            if _scheme_kind(el) == "gln":
                return _scheme_value(el)
    return ""


def _party_cvr(party: _El) -> str:
    for path in ("cac:PartyLegalEntity/cbc:CompanyID", "cac:PartyTaxScheme/cbc:CompanyID"):
        for el in party.findall(path):
            kind = _scheme_kind(el)
            if kind == "cvr" or (kind == "other" and not el.attr("schemeID")):
                value = _scheme_value(el)
                if value:
                    return _strip_dk(value)
    for path in ("cbc:EndpointID", "cac:PartyIdentification/cbc:ID"):
        for el in party.findall(path):
            if _scheme_kind(el) == "cvr" and _scheme_value(el):
                return _strip_dk(_scheme_value(el))
    return ""


def _party_name(party: _El) -> str:
    return (
        party.text("cac:PartyName/cbc:Name")
        or party.text("cac:PartyLegalEntity/cbc:RegistrationName")
        or party.text("cac:PartyTaxScheme/cbc:RegistrationName")
    )


def _ydernummer(party: _El) -> str:
    for el in party.findall("cac:PartyIdentification/cbc:ID"):
        if el.attr("schemeName").strip().casefold() == "ydernummer":
            return el.text()
    return ""


def _prop_key(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


_PROPERTY_KEYS = {
    "blanket": "blanket",
    "cpr": "cpr",
    "cprnr": "cpr",
    "erklaeringsdato": "erklaeringsdato",
    "erklæringsdato": "erklaeringsdato",
    "tolk": "tolk",
    "takstvariant": "takstvariant",
    "bestillingsreference": "bestillingsreference",
    "sprog": "sprog",
    "tolkedato": "tolkedato",
    "starttid": "starttid",
    "sluttid": "sluttid",
    "tolkekategori": "tolkekategori",
    "transportminutter": "transportminutter",
    "kilometer": "kilometer",
    "aflyst": "aflyst",
    "ydernummer": "ydernummer",
}


def _properties(lines: list[_El]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        for prop in line.findall("cac:Item/cac:AdditionalItemProperty"):
            key = _PROPERTY_KEYS.get(_prop_key(prop.text("cbc:Name")))
            if key:
                found.setdefault(key, prop.text("cbc:Value"))
    return found


def _yes_no(text: str) -> str:
    low = text.strip().casefold()
    if low in {"ja", "yes", "true", "1", "j"}:
        return "Ja"
    if low in {"nej", "no", "false", "0", "n"}:
        return "Nej"
    return text


def _due_date(root: _El) -> str:
    for path in (
        "cac:PaymentMeans/cbc:PaymentDueDate",
        "cbc:DueDate",
        "cac:PaymentTerms/cbc:PaymentDueDate",
        "cac:PaymentTerms/cac:SettlementPeriod/cbc:EndDate",
    ):
        for el in root.findall(path):
            if el.text():
                return _date(el.text())
    return ""


def _payment(root: _El, peppol: bool) -> dict[str, str]:
    means = root.find("cac:PaymentMeans")
    code = means.text("cbc:PaymentMeansCode")
    payee = means.text("cac:PayeeFinancialAccount/cbc:ID")
    creditor = means.text("cac:CreditAccount/cbc:AccountID")
    bank_reg = means.text("cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID")
    bank_account = payee
    if peppol and code == "93":
        creditor, bank_reg, bank_account = payee or creditor, "", ""
    return {
        "betalingsform": (PAYMENT_MEANS.get(code, f"Ukendt ({code})") if code else ""),
        "betalingskode": code,
        "regnr": bank_reg,
        "kontonr": bank_account,
        "fik-kortart": means.text("cbc:PaymentID"),
        "fik-betalings-id": means.text("cbc:InstructionID"),
        "fik-kreditornr": creditor,
    }


def _allowances(parent: _El) -> list[tuple[bool, _El]]:
    out = []
    for el in parent.findall("cac:AllowanceCharge"):
        out.append((el.text("cbc:ChargeIndicator").casefold() in {"true", "1"}, el))
    return out


def _sum(items: list[tuple[bool, _El]], *, charge: bool) -> str:
    amounts = [Decimal(el.text("cbc:Amount") or 0) for c, el in items if c is charge]
    return _amount(str(sum(amounts, Decimal(0)))) if amounts else ""


def read_einvoice(
    data: bytes,
) -> tuple[
    dict[str, str], tuple[RawLine, ...], tuple[RawAllowanceCharge, ...], tuple[RawVatSubtotal, ...]
]:
    """The e-invoice's fields (paybot's names), lines, document allowances/charges and VAT
    breakdown, as text the way the mock shows them. Raises :class:`EInvoiceUnreadable`."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        tree = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise EInvoiceUnreadable(f"not well-formed XML: {exc.msg}") from exc
    local = etree.QName(tree).localname
    namespace = etree.QName(tree).namespace
    if (local, namespace) not in {("Invoice", _NS_INVOICE), ("CreditNote", _NS_CREDIT_NOTE)}:
        raise EInvoiceUnreadable(f"root element {local} in {namespace} is not a UBL 2 invoice")
    root = _El(tree)
    credit = local == "CreditNote" or root.text("cbc:InvoiceTypeCode") == "381"
    peppol = root.text("cbc:CustomizationID").startswith(EN16931_PREFIX)
    line_tag, qty_tag = (
        ("cac:CreditNoteLine", "cbc:CreditedQuantity")
        if local == "CreditNote"
        else ("cac:InvoiceLine", "cbc:InvoicedQuantity")
    )
    line_els = root.findall(line_tag)
    props = _properties(line_els)
    if "blanket" in props:
        category = "laegeerklaering"
    elif "tolkekategori" in props or "bestillingsreference" in props:
        category = "tolk"
    else:
        category = "oevrige"
    supplier = root.find("cac:AccountingSupplierParty/cac:Party")
    buyer = root.find("cac:AccountingCustomerParty/cac:Party")
    totals = root.find("cac:LegalMonetaryTotal")
    currency = root.text("cbc:DocumentCurrencyCode")
    tax_currency = root.text("cbc:TaxCurrencyCode").upper()
    if tax_currency == currency.upper():
        tax_currency = ""
    tax_total = Decimal(0)
    tax_total_tax_currency: Decimal | None = None
    subtotals: list[RawVatSubtotal] = []
    for tt in root.findall("cac:TaxTotal"):
        amount_el = tt.find("cbc:TaxAmount")
        amount = Decimal(amount_el.text() or 0)
        shown_currency = (amount_el.attr("currencyID") or currency).upper()
        if tax_currency and shown_currency == tax_currency:
            tax_total_tax_currency = (tax_total_tax_currency or Decimal(0)) + amount
            continue
        tax_total += amount
        for sub in tt.findall("cac:TaxSubtotal"):
            cat = sub.find("cac:TaxCategory")
            subtotals.append(
                RawVatSubtotal(
                    momskategori=_tax_category(cat.text("cbc:ID")),
                    momssats=_number(cat.text("cbc:Percent")),
                    grundlag=_amount(sub.text("cbc:TaxableAmount")),
                    moms=_amount(sub.text("cbc:TaxAmount")),
                )
            )
    doc_acs = _allowances(root)
    notes = [el.text() for el in root.findall("cbc:Note") if el.text()]
    fields = {
        # The UUID, or for a document without one the SHA-256 of the file (as the mock's
        # importer names it).
        "dokument-id": root.text("cbc:UUID") or hashlib.sha256(data).hexdigest(),
        "dokumenttype": "Kreditnota" if credit else "Faktura",
        "format": _format(root.text("cbc:CustomizationID"), peppol),
        "kategori": CATEGORY_LABELS[category],
        "fakturanr": root.text("cbc:ID"),
        "udstedt": _date(root.text("cbc:IssueDate")),
        "forfald": _due_date(root),
        "valuta": currency,
        "ordrereference": root.text("cac:OrderReference/cbc:ID"),
        "kontostreng-faktura": root.text("cbc:AccountingCost"),
        "note": " ".join(notes),
        "leverandoer": _party_name(supplier),
        "cvr": _party_cvr(supplier),
        "leverandoer-gln": _party_gln(supplier),
        "ydernummer": _ydernummer(supplier) or props.get("ydernummer", ""),
        "koeber-gln": _party_gln(buyer),
        "linjesum": _amount(totals.text("cbc:LineExtensionAmount")),
        "rabatter": _amount(totals.text("cbc:AllowanceTotalAmount")),
        "gebyrer": _amount(totals.text("cbc:ChargeTotalAmount")),
        "total-ekskl-moms": _amount(totals.text("cbc:TaxExclusiveAmount")) if peppol else "",
        "moms": _amount(str(tax_total)),
        "total": _amount(totals.text("cbc:TaxInclusiveAmount")),
        "forudbetalt": _amount(totals.text("cbc:PrepaidAmount")),
        "afrunding": _amount(totals.text("cbc:PayableRoundingAmount")),
        "at-betale": _amount(totals.text("cbc:PayableAmount")),
        "afregningsvaluta": tax_currency,
        "moms-afregningsvaluta": (
            _amount(str(tax_total_tax_currency)) if tax_total_tax_currency is not None else ""
        ),
        **_payment(root, peppol),
    }
    if category == "laegeerklaering":
        fields |= {
            "blanket": props.get("blanket", ""),
            "cpr": props.get("cpr", ""),
            "erklaeringsdato": _date(props.get("erklaeringsdato", "")),
            "tolk": _yes_no(props.get("tolk", "nej")),
            "variant": props.get("takstvariant", ""),
        }
    elif category == "tolk":
        fields |= {
            "bestillingsreference": props.get("bestillingsreference") or fields["ordrereference"],
            "sprog": props.get("sprog", ""),
            "tolkedato": _date(props.get("tolkedato", "")),
            "starttid": props.get("starttid", ""),
            "sluttid": props.get("sluttid", ""),
            "tolkekategori": INTERPRETER_LABELS.get(
                props.get("tolkekategori", ""), props.get("tolkekategori", "")
            ),
            "transportminutter": _number(props.get("transportminutter", "")),
            "kilometer": _number(props.get("kilometer", "")),
            "aflyst": _yes_no(props.get("aflyst", "nej")),
        }
    lines = []
    for index, el in enumerate(line_els, start=1):
        qty = el.find(qty_tag)
        acs = _allowances(el)
        cat_id = el.text("cac:Item/cac:ClassifiedTaxCategory/cbc:ID") or el.text(
            "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID"
        )
        percent = el.text("cac:Item/cac:ClassifiedTaxCategory/cbc:Percent") or el.text(
            "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent"
        )
        taxes = [Decimal(t.text() or 0) for t in el.findall("cac:TaxTotal/cbc:TaxAmount")]
        lines.append(
            RawLine(
                nr=el.text("cbc:ID") or str(index),
                varenr=el.text("cac:Item/cac:SellersItemIdentification/cbc:ID"),
                tekst=el.text("cac:Item/cbc:Name") or el.text("cac:Item/cbc:Description"),
                antal=_number(qty.text()),
                enhed=qty.attr("unitCode"),
                enhedspris=_price(el.text("cac:Price/cbc:PriceAmount")),
                prisenhed=_number(el.text("cac:Price/cbc:BaseQuantity")),
                rabat=_sum(acs, charge=False),
                gebyr=_sum(acs, charge=True),
                beloeb=_amount(el.text("cbc:LineExtensionAmount")),
                momskategori=_tax_category(cat_id) if cat_id else "",
                momssats=_number(percent),
                moms=_amount(str(sum(taxes, Decimal(0)))) if taxes else "",
            )
        )
    allowances = tuple(
        RawAllowanceCharge(
            art="Gebyr" if charge else "Rabat",
            tekst=el.text("cbc:AllowanceChargeReason") or el.text("cbc:AllowanceChargeReasonCode"),
            beloeb=_amount(el.text("cbc:Amount")),
            momskategori=_tax_category(el.text("cac:TaxCategory/cbc:ID"))
            if el.text("cac:TaxCategory/cbc:ID")
            else "",
            momssats=_number(el.text("cac:TaxCategory/cbc:Percent")),
        )
        for charge, el in doc_acs
    )
    return fields, tuple(lines), allowances, tuple(subtotals)
