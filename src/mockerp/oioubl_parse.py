"""Reading one OIOUBL 2.x or Peppol BIS Billing 3.0 ``Invoice`` or ``CreditNote`` into plain
values (no database).

Elements are found by namespace URI, never by prefix, and only along the documented paths
(direct children), so ``UBLExtensions``, signatures and attachments that happen to contain
``cbc:ID`` elements cannot be mistaken for the invoice's own. The mapping is
``docs/oioubl.md``. Parsing is safe: no DTDs, no entities, no network, no huge trees, and
documents with a ``DOCTYPE`` are refused outright.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from lxml import etree

MAX_FILE_BYTES = 20 * 1024 * 1024

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = {"cac": NS_CAC, "cbc": NS_CBC}

DocType = Literal["invoice", "credit_note"]
Syntax = Literal["oioubl", "peppol"]
Category = Literal["laegeerklaering", "tolk", "oevrige"]

GLN_SCHEMES = frozenset({"GLN", "0088", "EAN"})
CVR_SCHEMES = frozenset({"DK:CVR", "0184", "DK:SE", "0198", "CVR"})
INVOICE_TYPE_CODES = frozenset({"380", "393"})
CREDIT_NOTE_TYPE_CODE = "381"
PEPPOL_BIS3 = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
EN16931_PREFIX = "urn:cen.eu:en16931:2017"
PEPPOL_CREDIT_NOTE_TYPE_CODES = frozenset({"381", "396"})
DK_R_005_PAYMENT_MEANS = frozenset(
    {"1", "10", "31", "42", "48", "49", "50", "58", "59", "93", "97"}
)
"""Payment means codes Peppol BIS 3's Danish rule DK-R-005 allows between Danish parties."""
OIOUBL_TAX_CATEGORIES = {
    "standardrated": "S",
    "zerorated": "Z",
    "reversecharge": "AE",
    "exempt": "E",
}
"""OIOUBL 2.x ``TaxCategory/ID`` names as EN 16931 codes; anything else is kept as sent."""

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$")
_NO_DOCTYPE = "DOCTYPE declarations are not allowed (DTDs and entities are refused)"
_YES = frozenset({"ja", "yes", "true", "1", "j"})
_NO = frozenset({"nej", "no", "false", "0", "n"})


class OioublError(Exception):
    """A file that is not a readable OIOUBL Invoice or CreditNote; ``reason`` names the element."""

    def __init__(self, file_name: str, reason: str) -> None:
        self.file_name = file_name
        self.reason = reason
        super().__init__(f"{file_name}: {reason}")


@dataclass(frozen=True, slots=True)
class ParsedLine:
    line_no: int
    line_id: str | None
    item_id: str | None
    description: str
    quantity: Decimal
    unit_code: str | None
    unit_price: Decimal  # Price/PriceAmount as sent: the price of base_quantity units
    amount: Decimal
    tax_percent: Decimal | None
    tax_amount: Decimal | None
    base_quantity: Decimal | None = None  # Price/BaseQuantity; None when absent
    allowance_amount: Decimal | None = None  # sum of the line's allowances
    charge_amount: Decimal | None = None  # sum of the line's charges
    tax_category: str | None = None  # EN 16931 code (OIOUBL names mapped: StandardRated -> S)


@dataclass(frozen=True, slots=True)
class ParsedAllowanceCharge:
    """A document-level ``cac:AllowanceCharge``."""

    charge: bool
    amount: Decimal
    reason: str | None
    tax_category: str | None
    tax_percent: Decimal | None


@dataclass(frozen=True, slots=True)
class ParsedTaxSubtotal:
    """One ``cac:TaxSubtotal`` of a document-level TaxTotal in the document currency."""

    tax_category: str | None
    tax_percent: Decimal | None
    taxable_amount: Decimal | None
    tax_amount: Decimal


@dataclass(frozen=True, slots=True)
class ParsedPayment:
    code: str | None = None
    payment_id: str | None = None  # FIK card type 71 / 73 / 75
    instruction_id: str | None = None  # FIK payment id
    creditor_account: str | None = None  # FIK creditor number
    bank_reg: str | None = None
    bank_account: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateData:
    """Item properties of a medical certificate, as sent (the robots check them)."""

    form: str | None = None
    cpr: str | None = None
    date: str | None = None
    interpreter: bool | None = None
    variant: str | None = None


@dataclass(frozen=True, slots=True)
class InterpreterData:
    """Item properties of an interpreter invoice, as sent (the robots check them)."""

    booking_ref: str | None = None
    language: str | None = None
    date: str | None = None
    start: str | None = None
    end: str | None = None
    category: str | None = None
    transport_minutes: str | None = None
    km: str | None = None
    cancelled: bool | None = None


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    document_id: str
    doc_type: DocType
    category: Category
    invoice_number: str
    issue_date: dt.date
    due_date: dt.date | None
    currency: str
    supplier_name: str
    supplier_cvr: str | None
    supplier_gln: str | None
    ydernummer: str | None
    buyer_gln: str | None
    buyer_name: str | None
    order_reference: str | None
    accounting_cost: str | None
    note: str | None
    line_extension_amount: Decimal
    tax_amount: Decimal
    tax_inclusive_amount: Decimal
    payable_amount: Decimal
    payment: ParsedPayment
    lines: tuple[ParsedLine, ...]
    certificate: CertificateData | None = None
    interpreter: InterpreterData | None = None
    source_text: str = field(default="", repr=False)
    syntax: Syntax = "oioubl"
    customization_id: str | None = None
    allowances_charges: tuple[ParsedAllowanceCharge, ...] = ()
    tax_subtotals: tuple[ParsedTaxSubtotal, ...] = ()
    allowance_total: Decimal | None = None
    charge_total: Decimal | None = None
    tax_exclusive_amount: Decimal | None = None  # Peppol only: OIOUBL puts the VAT there
    prepaid_amount: Decimal | None = None
    rounding_amount: Decimal | None = None
    tax_currency: str | None = None  # cbc:TaxCurrencyCode when not the document currency
    tax_amount_tax_currency: Decimal | None = None  # VAT in that currency, kept apart


# --- small helpers -------------------------------------------------------------------------

_Element = etree._Element


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _local(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1]


def _namespace(tag: object) -> str:
    text = str(tag)
    return text[1:].split("}", 1)[0] if text.startswith("{") else ""


def _joined(el: _Element) -> str:
    return "".join(str(part) for part in el.itertext()).strip()


def _text(el: _Element | None) -> str | None:
    if el is None:
        return None
    value = _joined(el)
    return value or None


def _find(el: _Element | None, path: str) -> _Element | None:
    if el is None:
        return None
    return el.find(path, NS)


def _findall(el: _Element | None, path: str) -> list[_Element]:
    if el is None:
        return []
    return list(el.iterfind(path, NS))


def _find_text(el: _Element | None, path: str) -> str | None:
    return _text(_find(el, path))


def _strip_dk(value: str) -> str:
    stripped = value.strip()
    if stripped[:2].upper() == "DK":
        return stripped[2:].strip()
    return stripped


def _prop_key(name: str) -> str:
    key = name.strip().casefold()
    for old, new in (("æ", "ae"), ("ø", "oe"), ("å", "aa"), (" ", ""), ("-", ""), ("_", "")):
        key = key.replace(old, new)
    return key


def _yes_no(value: str | None) -> bool | None:
    if value is None:
        return None
    key = value.strip().casefold()
    if key in _YES:
        return True
    if key in _NO:
        return False
    return None


class _Reader:
    """Reads values out of one parsed document; every failure names the file and element."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name

    def fail(self, reason: str) -> OioublError:
        return OioublError(self.file_name, reason)

    def decimal(self, el: _Element | None, where: str, *, required: bool) -> Decimal | None:
        raw = None if el is None else _joined(el)
        if not raw:
            if required:
                raise self.fail(f"{where} missing")
            return None
        if not _NUMBER.match(raw):
            raise self.fail(f"{where} is not a number: {raw!r}")
        try:
            return Decimal(raw)
        except InvalidOperation as exc:  # pragma: no cover - the pattern rules this out
            raise self.fail(f"{where} is not a number: {raw!r}") from exc

    def amount(self, el: _Element | None, where: str) -> Decimal:
        value = self.decimal(el, where, required=True)
        assert value is not None
        return value

    def date(self, el: _Element | None, where: str, *, required: bool) -> dt.date | None:
        raw = _text(el)
        if raw is None:
            if required:
                raise self.fail(f"{where} missing")
            return None
        match = _DATE.match(raw)
        if match is None:
            raise self.fail(f"{where} is not a date (YYYY-MM-DD): {raw!r}")
        try:
            return dt.date.fromisoformat(match.group(1))
        except ValueError as exc:
            raise self.fail(f"{where} is not a date (YYYY-MM-DD): {raw!r}") from exc


def _scheme_kind(el: _Element) -> Literal["gln", "cvr", "other"]:
    scheme = (el.get("schemeID") or "").strip().upper()
    agency = (el.get("schemeAgencyID") or "").strip()
    value = _text(el) or ""
    if scheme in GLN_SCHEMES:
        return "gln"
    if scheme in CVR_SCHEMES:
        return "cvr"
    if scheme == "ISO6523-ACTORID-UPIS":
        prefix = value.split(":", 1)[0]
        if prefix == "0088":
            return "gln"
        if prefix in {"0184", "0198"}:
            return "cvr"
        return "other"
    if not scheme and agency == "9":
        return "gln"
    return "other"


def _scheme_value(el: _Element) -> str | None:
    value = _text(el)
    if value is None:
        return None
    if (el.get("schemeID") or "").strip().upper() == "ISO6523-ACTORID-UPIS" and ":" in value:
        value = value.split(":", 1)[1]
    return value.strip()


def _party_gln(party: _Element | None) -> str | None:
    for path in ("cbc:EndpointID", "cac:PartyIdentification/cbc:ID"):
        for el in _findall(party, path):
            if _scheme_kind(el) == "gln":
                return _scheme_value(el)
    return None


def _party_cvr(party: _Element | None) -> str | None:
    for path in ("cac:PartyLegalEntity/cbc:CompanyID", "cac:PartyTaxScheme/cbc:CompanyID"):
        for el in _findall(party, path):
            kind = _scheme_kind(el)
            if kind == "cvr" or (kind == "other" and not el.get("schemeID")):
                value = _scheme_value(el)
                if value:
                    return _strip_dk(value)
    for path in ("cbc:EndpointID", "cac:PartyIdentification/cbc:ID"):
        for el in _findall(party, path):
            if _scheme_kind(el) == "cvr":
                value = _scheme_value(el)
                if value:
                    return _strip_dk(value)
    return None


def _party_name(party: _Element | None) -> str | None:
    return (
        _find_text(party, "cac:PartyName/cbc:Name")
        or _find_text(party, "cac:PartyLegalEntity/cbc:RegistrationName")
        or _find_text(party, "cac:PartyTaxScheme/cbc:RegistrationName")
    )


def _party_ydernummer(party: _Element | None) -> str | None:
    for el in _findall(party, "cac:PartyIdentification/cbc:ID"):
        if (el.get("schemeName") or "").strip().casefold() == "ydernummer":
            return _text(el)
    return None


def _decode(data: bytes, encoding: str | None) -> str:
    codec = (encoding or "UTF-8").lower()
    if codec in {"utf-8", "utf8"}:
        codec = "utf-8-sig"
    try:
        return data.decode(codec)
    except (LookupError, UnicodeDecodeError):
        return data.decode("utf-8", errors="replace")


# --- the document ---------------------------------------------------------------------------


def _root(data: bytes, file_name: str) -> _Element:
    if len(data) > MAX_FILE_BYTES:
        raise OioublError(
            file_name, f"file is {len(data)} bytes, more than the limit of {MAX_FILE_BYTES}"
        )
    if not data.strip():
        raise OioublError(file_name, "file is empty")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise OioublError(file_name, _NO_DOCTYPE) from exc
        raise OioublError(file_name, f"not well-formed XML (line {exc.lineno}): {exc.msg}") from exc
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise OioublError(file_name, _NO_DOCTYPE)
    return root


def _doc_type(root: _Element, reader: _Reader) -> DocType:
    local, namespace = _local(root.tag), _namespace(root.tag)
    if local not in {"Invoice", "CreditNote"}:
        raise reader.fail(f"root element is {local}, expected Invoice or CreditNote")
    expected = NS_INVOICE if local == "Invoice" else NS_CREDIT_NOTE
    if namespace != expected:
        shown = namespace or "no namespace"
        raise reader.fail(f"root element {local} is in {shown}, expected {expected}")
    if local == "CreditNote":
        return "credit_note"
    code = _find_text(root, "cbc:InvoiceTypeCode")
    if code is None or code in INVOICE_TYPE_CODES:
        return "invoice"
    if code == CREDIT_NOTE_TYPE_CODE:
        return "credit_note"
    raise reader.fail(
        f"cbc:InvoiceTypeCode {code!r} is neither an invoice (380) nor a credit note (381)"
    )


def _properties(lines: list[_Element]) -> dict[str, tuple[str, str | None]]:
    """Item properties from all lines: normalised name -> (name as sent, value); first wins."""
    found: dict[str, tuple[str, str | None]] = {}
    for line in lines:
        for prop in _findall(line, "cac:Item/cac:AdditionalItemProperty"):
            name = _find_text(prop, "cbc:Name")
            if name is None:
                continue
            found.setdefault(_prop_key(name), (name, _find_text(prop, "cbc:Value")))
    return found


def _lines(
    root: _Element, local_root: str, reader: _Reader
) -> tuple[list[_Element], tuple[ParsedLine, ...]]:
    line_tag, qty_tag = (
        ("cac:CreditNoteLine", "cbc:CreditedQuantity")
        if local_root == "CreditNote"
        else ("cac:InvoiceLine", "cbc:InvoicedQuantity")
    )
    elements = _findall(root, line_tag)
    if not elements:
        raise reader.fail(f"{line_tag} missing (a document needs at least one line)")
    parsed: list[ParsedLine] = []
    for index, el in enumerate(elements, start=1):
        where = f"{line_tag}[{index}]"
        qty_el = _find(el, qty_tag)
        quantity = reader.amount(qty_el, f"{where}/{qty_tag}")
        amount = reader.amount(
            _find(el, "cbc:LineExtensionAmount"), f"{where}/cbc:LineExtensionAmount"
        )
        price = reader.amount(
            _find(el, "cac:Price/cbc:PriceAmount"), f"{where}/cac:Price/cbc:PriceAmount"
        )
        base = reader.decimal(
            _find(el, "cac:Price/cbc:BaseQuantity"),
            f"{where}/cac:Price/cbc:BaseQuantity",
            required=False,
        )
        line_acs = _allowances_charges(el, where, reader)
        tax_amounts = [
            reader.amount(tax, f"{where}/cac:TaxTotal/cbc:TaxAmount")
            for tax in _findall(el, "cac:TaxTotal/cbc:TaxAmount")
        ]
        percent_el = _find(el, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent")
        percent_where = f"{where}/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent"
        if percent_el is None:
            percent_el = _find(el, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent")
            percent_where = f"{where}/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent"
        category = _tax_category(
            _find_text(el, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID")
            or _find_text(el, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID")
        )
        parsed.append(
            ParsedLine(
                line_no=index,
                line_id=_find_text(el, "cbc:ID"),
                item_id=_find_text(el, "cac:Item/cac:SellersItemIdentification/cbc:ID"),
                description=(
                    _find_text(el, "cac:Item/cbc:Name")
                    or _find_text(el, "cac:Item/cbc:Description")
                    or ""
                ),
                quantity=quantity,
                unit_code=(qty_el.get("unitCode") or None) if qty_el is not None else None,
                unit_price=price,
                amount=amount,
                tax_percent=reader.decimal(percent_el, percent_where, required=False),
                tax_amount=sum(tax_amounts, Decimal(0)) if tax_amounts else None,
                base_quantity=base,
                allowance_amount=_sum_of(line_acs, charge=False),
                charge_amount=_sum_of(line_acs, charge=True),
                tax_category=category,
            )
        )
    return elements, tuple(parsed)


def _tax_category(value: str | None) -> str | None:
    if value is None:
        return None
    return OIOUBL_TAX_CATEGORIES.get(value.strip().casefold(), value.strip().upper())


def _charge_indicator(el: _Element | None, where: str, reader: _Reader) -> bool:
    value = (_text(el) or "").strip().casefold()
    if value in {"true", "1"}:
        return True
    if value in {"false", "0"}:
        return False
    raise reader.fail(f"{where}/cbc:ChargeIndicator is neither true nor false: {value!r}")


def _allowances_charges(
    parent: _Element, where: str, reader: _Reader
) -> tuple[ParsedAllowanceCharge, ...]:
    """The ``cac:AllowanceCharge`` children of ``parent`` (a document or a line)."""
    found: list[ParsedAllowanceCharge] = []
    for index, el in enumerate(_findall(parent, "cac:AllowanceCharge"), start=1):
        here = f"{where}/" if where else ""
        here += f"cac:AllowanceCharge[{index}]"
        charge = _charge_indicator(_find(el, "cbc:ChargeIndicator"), here, reader)
        amount = reader.amount(_find(el, "cbc:Amount"), f"{here}/cbc:Amount")
        category = _find(el, "cac:TaxCategory")
        found.append(
            ParsedAllowanceCharge(
                charge=charge,
                amount=amount,
                reason=_find_text(el, "cbc:AllowanceChargeReason")
                or _find_text(el, "cbc:AllowanceChargeReasonCode"),
                tax_category=_tax_category(_find_text(category, "cbc:ID")),
                tax_percent=reader.decimal(
                    _find(category, "cbc:Percent"),
                    f"{here}/cac:TaxCategory/cbc:Percent",
                    required=False,
                ),
            )
        )
    return tuple(found)


def _sum_of(items: tuple[ParsedAllowanceCharge, ...], *, charge: bool) -> Decimal | None:
    amounts = [item.amount for item in items if item.charge is charge]
    return sum(amounts, Decimal(0)) if amounts else None


def _syntax(root: _Element) -> tuple[Syntax, str | None]:
    customization = _find_text(root, "cbc:CustomizationID")
    if customization is not None and customization.startswith(EN16931_PREFIX):
        return "peppol", customization
    return "oioubl", customization


def _currency_of(el: _Element, document_currency: str) -> str:
    return (el.get("currencyID") or "").strip().upper() or document_currency.upper()


@dataclass(frozen=True, slots=True)
class _Taxes:
    total: Decimal
    subtotals: tuple[ParsedTaxSubtotal, ...]
    tax_currency: str | None
    total_tax_currency: Decimal | None


def _taxes(root: _Element, currency: str, reader: _Reader) -> _Taxes:
    """Document-level VAT: TaxTotals in the document currency are summed (some OIOUBL
    producers send one per category); a TaxTotal in ``cbc:TaxCurrencyCode`` (EN 16931 BT-111,
    a foreign-currency invoice's VAT in the VAT accounting currency) is kept apart."""
    tax_currency = (_find_text(root, "cbc:TaxCurrencyCode") or "").upper() or None
    if tax_currency == currency.upper():
        tax_currency = None
    total = Decimal(0)
    total_tax_currency: Decimal | None = None
    subtotals: list[ParsedTaxSubtotal] = []
    for index, tax_total in enumerate(_findall(root, "cac:TaxTotal"), start=1):
        where = f"cac:TaxTotal[{index}]"
        amount_el = _find(tax_total, "cbc:TaxAmount")
        amount = reader.amount(amount_el, f"{where}/cbc:TaxAmount")
        assert amount_el is not None
        if tax_currency is not None and _currency_of(amount_el, currency) == tax_currency:
            total_tax_currency = (total_tax_currency or Decimal(0)) + amount
            continue
        total += amount
        for sub_index, sub in enumerate(_findall(tax_total, "cac:TaxSubtotal"), start=1):
            here = f"{where}/cac:TaxSubtotal[{sub_index}]"
            category = _find(sub, "cac:TaxCategory")
            subtotals.append(
                ParsedTaxSubtotal(
                    tax_category=_tax_category(_find_text(category, "cbc:ID")),
                    tax_percent=reader.decimal(
                        _find(category, "cbc:Percent"),
                        f"{here}/cac:TaxCategory/cbc:Percent",
                        required=False,
                    ),
                    taxable_amount=reader.decimal(
                        _find(sub, "cbc:TaxableAmount"),
                        f"{here}/cbc:TaxableAmount",
                        required=False,
                    ),
                    tax_amount=reader.amount(_find(sub, "cbc:TaxAmount"), f"{here}/cbc:TaxAmount"),
                )
            )
    return _Taxes(total, tuple(subtotals), tax_currency, total_tax_currency)


def _peppol_payment(means: _Element, reader: _Reader) -> ParsedPayment:
    """Peppol BIS 3 payment means; DK-R-005 limits the codes between Danish parties. FIK keeps
    its Peppol form (DK-R-010/011): ``PaymentID`` ``71#<payment id>`` is stored as sent (the
    robots read that form); its ``PayeeFinancialAccount/ID`` is the FIK creditor number, stored
    as the creditor (a company's number, not a bank account)."""
    code = _find_text(means, "cbc:PaymentMeansCode")
    if code is not None and code not in DK_R_005_PAYMENT_MEANS:
        allowed = ", ".join(sorted(DK_R_005_PAYMENT_MEANS, key=int))
        raise reader.fail(
            f"cac:PaymentMeans/cbc:PaymentMeansCode {code!r} is not allowed by DK-R-005 "
            f"(allowed: {allowed})"
        )
    payee = _find_text(means, "cac:PayeeFinancialAccount/cbc:ID")
    if code == "93":
        return ParsedPayment(
            code=code,
            payment_id=_find_text(means, "cbc:PaymentID"),
            instruction_id=_find_text(means, "cbc:InstructionID"),
            creditor_account=payee or _find_text(means, "cac:CreditAccount/cbc:AccountID"),
        )
    return ParsedPayment(
        code=code,
        payment_id=_find_text(means, "cbc:PaymentID"),
        instruction_id=_find_text(means, "cbc:InstructionID"),
        creditor_account=_find_text(means, "cac:CreditAccount/cbc:AccountID"),
        bank_reg=_find_text(
            means, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"
        ),
        bank_account=payee,
    )


def _payment(root: _Element) -> ParsedPayment:
    means = _find(root, "cac:PaymentMeans")
    if means is None:
        return ParsedPayment()
    return ParsedPayment(
        code=_find_text(means, "cbc:PaymentMeansCode"),
        payment_id=_find_text(means, "cbc:PaymentID"),
        instruction_id=_find_text(means, "cbc:InstructionID"),
        creditor_account=_find_text(means, "cac:CreditAccount/cbc:AccountID"),
        bank_reg=_find_text(
            means, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"
        ),
        bank_account=_find_text(means, "cac:PayeeFinancialAccount/cbc:ID"),
    )


def _due_date(root: _Element, reader: _Reader) -> dt.date | None:
    for path in (
        "cac:PaymentMeans/cbc:PaymentDueDate",
        "cbc:DueDate",
        "cac:PaymentTerms/cbc:PaymentDueDate",
        "cac:PaymentTerms/cac:SettlementPeriod/cbc:EndDate",
    ):
        for el in _findall(root, path):
            if _text(el) is not None:
                return reader.date(el, path, required=False)
    return None


def _iter_notes(root: _Element) -> Iterator[str]:
    for el in _findall(root, "cbc:Note"):
        text = _text(el)
        if text:
            yield text


def parse_document(data: bytes, file_name: str) -> ParsedDocument:
    """Read one OIOUBL 2.x or Peppol BIS 3 Invoice or CreditNote (docs/oioubl.md,
    docs/peppol.md); raises :class:`OioublError` naming the element."""
    reader = _Reader(file_name)
    root = _root(data, file_name)
    doc_type = _doc_type(root, reader)
    local_root = _local(root.tag)

    invoice_number = _find_text(root, "cbc:ID")
    if invoice_number is None:
        raise reader.fail("cbc:ID missing")
    issue_date = reader.date(_find(root, "cbc:IssueDate"), "cbc:IssueDate", required=True)
    assert issue_date is not None
    currency = _find_text(root, "cbc:DocumentCurrencyCode")
    if currency is None:
        raise reader.fail("cbc:DocumentCurrencyCode missing")

    supplier = _find(root, "cac:AccountingSupplierParty/cac:Party")
    if supplier is None:
        raise reader.fail("cac:AccountingSupplierParty/cac:Party missing")
    supplier_name = _party_name(supplier)
    if supplier_name is None:
        raise reader.fail("cac:AccountingSupplierParty/cac:Party/cac:PartyName/cbc:Name missing")
    buyer = _find(root, "cac:AccountingCustomerParty/cac:Party")

    totals = _find(root, "cac:LegalMonetaryTotal")
    if totals is None:
        raise reader.fail("cac:LegalMonetaryTotal missing")
    line_extension = reader.amount(
        _find(totals, "cbc:LineExtensionAmount"), "cac:LegalMonetaryTotal/cbc:LineExtensionAmount"
    )
    tax_inclusive = reader.amount(
        _find(totals, "cbc:TaxInclusiveAmount"), "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"
    )
    payable = reader.amount(
        _find(totals, "cbc:PayableAmount"), "cac:LegalMonetaryTotal/cbc:PayableAmount"
    )
    syntax, customization_id = _syntax(root)
    taxes = _taxes(root, currency, reader)

    def total(name: str) -> Decimal | None:
        return reader.decimal(
            _find(totals, f"cbc:{name}"), f"cac:LegalMonetaryTotal/cbc:{name}", required=False
        )

    means = _find(root, "cac:PaymentMeans")
    if syntax == "peppol" and means is not None:
        payment = _peppol_payment(means, reader)
    else:
        payment = _payment(root)

    line_elements, lines = _lines(root, local_root, reader)
    props = _properties(line_elements)

    def prop(key: str) -> str | None:
        entry = props.get(key)
        return entry[1] if entry else None

    order_reference = _find_text(root, "cac:OrderReference/cbc:ID")
    category: Category
    if "blanket" in props:
        category = "laegeerklaering"
    elif "tolkekategori" in props or "bestillingsreference" in props:
        category = "tolk"
    else:
        category = "oevrige"

    certificate = None
    interpreter = None
    if category == "laegeerklaering":
        tolk = prop("tolk")
        certificate = CertificateData(
            form=prop("blanket"),
            cpr=prop("cpr"),
            date=prop("erklaeringsdato"),
            interpreter=False if tolk is None else _yes_no(tolk),
            variant=prop("takstvariant"),
        )
    elif category == "tolk":
        cancelled = prop("aflyst")
        interpreter = InterpreterData(
            booking_ref=prop("bestillingsreference") or order_reference,
            language=prop("sprog"),
            date=prop("tolkedato"),
            start=prop("starttid"),
            end=prop("sluttid"),
            category=prop("tolkekategori"),
            transport_minutes=prop("transportminutter"),
            km=prop("kilometer"),
            cancelled=False if cancelled is None else _yes_no(cancelled),
        )

    uuid = _find_text(root, "cbc:UUID")
    document_id = uuid if uuid is not None else hashlib.sha256(data).hexdigest()
    notes = list(_iter_notes(root))
    return ParsedDocument(
        document_id=document_id,
        doc_type=doc_type,
        category=category,
        invoice_number=invoice_number,
        issue_date=issue_date,
        due_date=_due_date(root, reader),
        currency=currency,
        supplier_name=supplier_name,
        supplier_cvr=_party_cvr(supplier),
        supplier_gln=_party_gln(supplier),
        ydernummer=_party_ydernummer(supplier) or prop("ydernummer"),
        buyer_gln=_party_gln(buyer),
        buyer_name=_party_name(buyer),
        order_reference=order_reference,
        accounting_cost=_find_text(root, "cbc:AccountingCost"),
        note="\n".join(notes) if notes else None,
        line_extension_amount=line_extension,
        tax_amount=taxes.total,
        tax_inclusive_amount=tax_inclusive,
        payable_amount=payable,
        payment=payment,
        lines=lines,
        certificate=certificate,
        interpreter=interpreter,
        source_text=_decode(data, root.getroottree().docinfo.encoding),
        syntax=syntax,
        customization_id=customization_id,
        allowances_charges=_allowances_charges(root, "", reader),
        tax_subtotals=taxes.subtotals,
        allowance_total=total("AllowanceTotalAmount"),
        charge_total=total("ChargeTotalAmount"),
        # OIOUBL 2.x puts the VAT in TaxExclusiveAmount: only EN 16931 documents state a net
        tax_exclusive_amount=total("TaxExclusiveAmount") if syntax == "peppol" else None,
        prepaid_amount=total("PrepaidAmount"),
        rounding_amount=total("PayableRoundingAmount"),
        tax_currency=taxes.tax_currency,
        tax_amount_tax_currency=taxes.total_tax_currency,
    )
