"""Invoice arithmetic as EN 16931 defines it (Peppol BIS Billing 3.0; OIOUBL 2.x alike).

Pure functions on ``Decimal``; no I/O. The rules (EN 16931-1:2017, the business rules of the
Peppol BIS 3 schematron, 2024 release):

- line net amount = quantity × (price / price base quantity) − line allowances + line charges,
  rounded half up to øre (BR-LIN-04 with BT-146/BT-149);
- sum of line net amounts − document allowances + document charges = the total without VAT
  (BR-CO-10, BR-CO-13);
- VAT per VAT category (code and rate) = the category's taxable amount (its lines' net amounts
  minus its document allowances plus its document charges, BR-S-08/BR-Z-08/BR-E-08) × rate,
  **rounded once per category** (BR-CO-17), not the sum of each line's rounded VAT;
- VAT total = the sum of the categories' VAT (BR-CO-14); total with VAT = total without VAT +
  VAT total (BR-CO-15); amount due = total with VAT − prepaid amount + rounding amount (BR-CO-16).

:func:`audit` compares what an invoice states with what these rules give and returns the first
figure that differs (:class:`Finding`, with a Danish note naming the figure, the stated and the
computed value), or ``None``. Tolerance: one øre per rounding (a line's net amount, a category's
VAT; a VAT total without a stated breakdown gets one øre per category); sums of stated figures
must add up exactly. OIOUBL 2.x quirks are the importer's business: ``TaxExclusiveAmount`` holds
the VAT there, so an OIOUBL invoice has no stated total without VAT (``None``) and is checked
without that figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from paybot.domain.models import AllowanceCharge, Invoice, InvoiceLine
from paybot.domain.money import TOLERANCE, format_kr, format_quantity, plain, round_ore

STANDARD = "S"
ZERO_RATE_CATEGORIES: frozenset[str] = frozenset({"Z", "E", "AE", "K", "G", "O"})
"""EN 16931 VAT categories (UNCL5305 subset) whose rate is 0 %: zero rated, exempt, reverse
charge, intra-community, export, outside the scope of VAT."""
KNOWN_CATEGORIES: frozenset[str] = ZERO_RATE_CATEGORIES | {STANDARD}
HUNDRED = Decimal(100)
ONE = Decimal(1)
ZERO = Decimal("0.00")
MAX_ROUNDING = Decimal("0.99")
"""A rounding amount (BT-114) beyond ±0.99 kr. is not a rounding: it goes to a person."""


@dataclass(frozen=True, order=True)
class VatKey:
    """One VAT category: the UNCL5305 code (``S``, ``Z``, ``E``, …) and the rate in percent."""

    category: str
    percent: Decimal

    @property
    def text(self) -> str:
        """``kategori S (25 %)``."""
        return f"kategori {self.category} ({format_quantity(self.percent)} %)"


def line_net(
    quantity: Decimal,
    price: Decimal,
    base_quantity: Decimal = ONE,
    allowances: Decimal = ZERO,
    charges: Decimal = ZERO,
) -> Decimal:
    """quantity × price / base quantity − allowances + charges, half up to øre (BR-LIN-04).

    A base quantity of 0 counts as 1 (UBL's default is 1; 0 would divide by zero)."""
    base = base_quantity if base_quantity else ONE
    return round_ore(quantity * price / base - allowances + charges)


def vat_of(taxable: Decimal, percent: Decimal) -> Decimal:
    """``percent`` % of ``taxable``, rounded once, half up to øre (BR-CO-17)."""
    return round_ore(taxable * percent / HUNDRED)


@dataclass(frozen=True)
class CategoryTotal:
    key: VatKey
    taxable: Decimal
    vat: Decimal


@dataclass(frozen=True)
class Totals:
    """Every document total EN 16931 defines, computed from lines and allowances/charges."""

    line_total: Decimal  # BT-106
    allowance_total: Decimal  # BT-107
    charge_total: Decimal  # BT-108
    tax_exclusive: Decimal  # BT-109
    categories: tuple[CategoryTotal, ...]  # BG-23, sorted by key
    vat_total: Decimal  # BT-110
    tax_inclusive: Decimal  # BT-112
    prepaid: Decimal  # BT-113
    rounding: Decimal  # BT-114
    payable: Decimal  # BT-115


def breakdown(
    lines: Iterable[tuple[VatKey, Decimal]],
    allowances: Iterable[tuple[VatKey, Decimal]] = (),
    charges: Iterable[tuple[VatKey, Decimal]] = (),
) -> tuple[CategoryTotal, ...]:
    """The VAT breakdown: per category the taxable amount and its VAT, rounded once."""
    taxable: dict[VatKey, Decimal] = {}
    for key, amount in lines:
        taxable[key] = taxable.get(key, ZERO) + amount
    for key, amount in allowances:
        taxable[key] = taxable.get(key, ZERO) - amount
    for key, amount in charges:
        taxable[key] = taxable.get(key, ZERO) + amount
    return tuple(
        CategoryTotal(key, amount, vat_of(amount, key.percent))
        for key, amount in sorted(taxable.items())
    )


def totals(
    lines: Iterable[tuple[VatKey, Decimal]],
    allowances: Iterable[tuple[VatKey, Decimal]] = (),
    charges: Iterable[tuple[VatKey, Decimal]] = (),
    *,
    prepaid: Decimal = ZERO,
    rounding: Decimal = ZERO,
) -> Totals:
    """The document totals of lines (their net amounts) and document allowances/charges."""
    lines, allowances, charges = tuple(lines), tuple(allowances), tuple(charges)
    line_total = sum((a for _, a in lines), ZERO)
    allowance_total = sum((a for _, a in allowances), ZERO)
    charge_total = sum((a for _, a in charges), ZERO)
    tax_exclusive = line_total - allowance_total + charge_total
    categories = breakdown(lines, allowances, charges)
    vat_total = sum((c.vat for c in categories), ZERO)
    tax_inclusive = tax_exclusive + vat_total
    return Totals(
        line_total=line_total,
        allowance_total=allowance_total,
        charge_total=charge_total,
        tax_exclusive=tax_exclusive,
        categories=categories,
        vat_total=vat_total,
        tax_inclusive=tax_inclusive,
        prepaid=prepaid,
        rounding=rounding,
        payable=tax_inclusive - prepaid + rounding,
    )


# --- comparing an invoice with the rules --------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """The first figure that differs: ``rule`` (e.g. ``vat_category``), a Danish note naming
    the figure with the stated and the computed value, and the values compared."""

    rule: str
    note: str
    compared: Mapping[str, str] = field(default_factory=dict)


def vat_key(category: str | None, percent: Decimal | None, standard_percent: Decimal) -> VatKey:
    """The category of a line or allowance: as stated; a missing rate is the standard rate,
    a missing code ``S`` for a rate above 0 and ``Z`` for 0 (OIOUBL's StandardRated/ZeroRated)."""
    rate = standard_percent if percent is None else percent
    code = (category or "").strip().upper() or (STANDARD if rate > 0 else "Z")
    return VatKey(code, _plain_rate(rate))


def _plain_rate(rate: Decimal) -> Decimal:
    """``25.00`` → ``25``, ``12.50`` → ``12.5``: one key per rate, printed without exponent."""
    return Decimal(f"{rate.normalize():f}") if rate else Decimal(0)


def _key_problem(key: VatKey, standard_percent: Decimal) -> str | None:
    if key.category not in KNOWN_CATEGORIES:
        return f"momskategorien {key.category} kender robotten ikke (kun S, Z, E, AE, K, G og O)"
    if key.category == STANDARD and key.percent != standard_percent:
        return (
            f"momssatsen for kategori S er {format_quantity(key.percent)} %, men den danske "
            f"momssats er {format_quantity(standard_percent)} %"
        )
    if key.category in ZERO_RATE_CATEGORIES and key.percent != 0:
        return (
            f"kategori {key.category} er uden moms, men momssatsen er "
            f"{format_quantity(key.percent)} %"
        )
    return None


def _line_formula(line: InvoiceLine, net: Decimal) -> str:
    text = f"{format_quantity(line.quantity)} × {format_kr(line.unit_price)}"
    if line.base_quantity not in (ONE, Decimal(0)):
        text += f" pr. {format_quantity(line.base_quantity)}"
    if line.allowance_amount:
        text += f" − rabat {format_kr(line.allowance_amount)}"
    if line.charge_amount:
        text += f" + gebyr {format_kr(line.charge_amount)}"
    return f"{text} giver {format_kr(net)}"


def _check_lines(invoice: Invoice, standard: Decimal) -> Finding | None:
    for line in invoice.lines:
        key = vat_key(line.tax_category, line.tax_percent, standard)
        problem = _key_problem(key, standard)
        if problem is not None:
            return Finding(
                "vat_category",
                f"Linje {line.line_no}: {problem}.",
                {"line": str(line.line_no), "category": key.category, "percent": str(key.percent)},
            )
        net = line_net(
            line.quantity,
            line.unit_price,
            line.base_quantity,
            line.allowance_amount,
            line.charge_amount,
        )
        if abs(net - line.amount) > TOLERANCE:
            return Finding(
                "line_amount",
                f"Linje {line.line_no}: {_line_formula(line, net)}, men linjens beløb er "
                f"{format_kr(line.amount)} (forskel {format_kr(line.amount - net)})",
                {
                    "line": str(line.line_no),
                    "quantity": str(line.quantity),
                    "unit_price": str(line.unit_price),
                    "base_quantity": str(line.base_quantity),
                    "allowance": plain(line.allowance_amount),
                    "charge": plain(line.charge_amount),
                    "amount": plain(line.amount),
                    "expected": plain(net),
                },
            )
        if line.tax_amount is not None:
            expected = vat_of(line.amount, key.percent)
            if abs(line.tax_amount - expected) > TOLERANCE:
                return Finding(
                    "line_vat",
                    f"Linje {line.line_no}: momsen er {format_kr(line.tax_amount)}, men "
                    f"{format_quantity(key.percent)} % af {format_kr(line.amount)} giver "
                    f"{format_kr(expected)}",
                    {
                        "line": str(line.line_no),
                        "tax_amount": plain(line.tax_amount),
                        "expected": plain(expected),
                        "vat_percent": str(key.percent),
                    },
                )
    return None


def _sum_finding(rule: str, label: str, stated: Decimal, computed: Decimal, how: str) -> Finding:
    return Finding(
        rule,
        f"{label} er {format_kr(stated)}, men {how} giver {format_kr(computed)} "
        f"(forskel {format_kr(stated - computed)})",
        {"stated": plain(stated), "computed": plain(computed)},
    )


def _document_keys(
    invoice: Invoice, standard: Decimal, charge: bool
) -> list[tuple[VatKey, Decimal, AllowanceCharge]]:
    return [
        (vat_key(ac.tax_category, ac.tax_percent, standard), ac.amount, ac)
        for ac in invoice.allowances_charges
        if ac.charge is charge
    ]


def _check_breakdown(
    invoice: Invoice, standard: Decimal, computed: tuple[CategoryTotal, ...]
) -> Finding | None:
    by_key = {c.key: c for c in computed}
    stated_keys: set[VatKey] = set()
    for sub in invoice.vat_subtotals:
        key = vat_key(sub.tax_category, sub.tax_percent, standard)
        stated_keys.add(key)
        found = by_key.get(key)
        if found is None:
            return Finding(
                "vat_breakdown",
                f"Momsspecifikationen har {key.text} med moms {format_kr(sub.tax_amount)}, men "
                "ingen linje, rabat eller gebyr har den kategori",
                {"category": key.category, "percent": str(key.percent)},
            )
        if sub.taxable_amount is not None and sub.taxable_amount != found.taxable:
            return _sum_finding(
                "vat_taxable",
                f"Momsgrundlaget for {key.text}",
                sub.taxable_amount,
                found.taxable,
                "linjerne, rabatterne og gebyrerne i kategorien",
            )
        if abs(sub.tax_amount - found.vat) > TOLERANCE:
            return Finding(
                "vat_category",
                f"Momsen for {key.text} er {format_kr(sub.tax_amount)}, men "
                f"{format_quantity(key.percent)} % af {format_kr(found.taxable)} giver "
                f"{format_kr(found.vat)} (forskel {format_kr(sub.tax_amount - found.vat)})",
                {
                    "category": key.category,
                    "percent": str(key.percent),
                    "taxable": plain(found.taxable),
                    "tax_amount": plain(sub.tax_amount),
                    "expected": plain(found.vat),
                },
            )
    missing = [c for c in computed if c.key not in stated_keys]
    if invoice.vat_subtotals and missing:
        key = missing[0].key
        return Finding(
            "vat_breakdown",
            f"Momsspecifikationen mangler {key.text} (grundlag {format_kr(missing[0].taxable)})",
            {"category": key.category, "percent": str(key.percent)},
        )
    return None


def audit(invoice: Invoice, standard_percent: Decimal) -> Finding | None:
    """The first figure of ``invoice`` that EN 16931's arithmetic does not give, or ``None``.

    ``standard_percent`` is the Danish standard rate (25): the rate of category ``S`` and of a
    line that states no rate. Order: each line (VAT category, net amount, stated line VAT), the
    line total, document allowances and charges, the total without VAT, the VAT breakdown, the
    VAT total, the prepaid and rounding amounts, the amount due, the total with VAT.
    """
    standard = _plain_rate(standard_percent)
    found = _check_lines(invoice, standard)
    if found is not None:
        return found
    line_sum = sum((line.amount for line in invoice.lines), ZERO)
    if line_sum != invoice.line_extension_amount:
        return Finding(
            "line_total",
            f"Linjerne giver tilsammen {format_kr(line_sum)}, men linjesummen er "
            f"{format_kr(invoice.line_extension_amount)} "
            f"(forskel {format_kr(invoice.line_extension_amount - line_sum)})",
            {"sum_of_lines": plain(line_sum), "line_total": plain(invoice.line_extension_amount)},
        )
    allowances = _document_keys(invoice, standard, charge=False)
    charges = _document_keys(invoice, standard, charge=True)
    for key, _, ac in allowances + charges:
        problem = _key_problem(key, standard)
        if problem is not None:
            what = "Gebyret" if ac.charge else "Rabatten"
            return Finding(
                "vat_category",
                f"{what} '{ac.reason or 'uden tekst'}' på {format_kr(ac.amount)}: {problem}.",
                {"category": key.category, "percent": str(key.percent)},
            )
    result = totals(
        ((vat_key(ln.tax_category, ln.tax_percent, standard), ln.amount) for ln in invoice.lines),
        ((k, a) for k, a, _ in allowances),
        ((k, a) for k, a, _ in charges),
        prepaid=invoice.prepaid_amount,
        rounding=invoice.rounding_amount,
    )
    for stated, computed, rule, label, how in (
        (
            invoice.allowance_total,
            result.allowance_total,
            "allowance_total",
            "Rabat i alt",
            "rabatterne",
        ),
        (invoice.charge_total, result.charge_total, "charge_total", "Gebyrer i alt", "gebyrerne"),
        (
            invoice.tax_exclusive_amount,
            result.tax_exclusive,
            "tax_exclusive",
            "Total ekskl. moms",
            "linjesum − rabatter + gebyrer",
        ),
    ):
        if stated is not None and stated != computed:
            return _sum_finding(rule, label, stated, computed, how)
    found = _check_breakdown(invoice, standard, result.categories)
    if found is not None:
        return found
    if invoice.vat_subtotals:
        expected_vat = sum((s.tax_amount for s in invoice.vat_subtotals), ZERO)
        vat_tolerance = ZERO
        how = "momsspecifikationen"
    else:
        expected_vat = result.vat_total
        vat_tolerance = TOLERANCE * max(1, len(result.categories))
        how = "momsen pr. kategori, afrundet én gang pr. kategori,"
    if abs(invoice.tax_amount - expected_vat) > vat_tolerance:
        finding = _sum_finding("vat_total", "Momsen", invoice.tax_amount, expected_vat, how)
        compared = {
            "tax_amount": plain(invoice.tax_amount),
            "expected": plain(expected_vat),
            **describe(result.categories),
        }
        return Finding(finding.rule, finding.note, compared)
    if invoice.prepaid_amount < 0:
        return Finding(
            "prepaid",
            f"Forudbetalt beløb er negativt ({format_kr(invoice.prepaid_amount)}).",
            {"prepaid": plain(invoice.prepaid_amount)},
        )
    if abs(invoice.rounding_amount) > MAX_ROUNDING:
        return Finding(
            "rounding",
            f"Afrundingen er {format_kr(invoice.rounding_amount)}; mere end "
            f"{format_kr(MAX_ROUNDING)} er ikke en afrunding.",
            {"rounding": plain(invoice.rounding_amount)},
        )
    tax_exclusive = result.tax_exclusive
    expected_payable = (
        tax_exclusive + invoice.tax_amount - invoice.prepaid_amount + invoice.rounding_amount
    )
    if invoice.payable_amount != expected_payable:
        parts = "linjesum plus moms"
        if invoice.allowances_charges:
            parts = "total ekskl. moms plus moms"
        if invoice.prepaid_amount:
            parts += " minus forudbetalt"
        if invoice.rounding_amount:
            parts += " plus afrunding"
        return Finding(
            "payable",
            f"Beløbet at betale er {format_kr(invoice.payable_amount)}, men {parts} giver "
            f"{format_kr(expected_payable)} "
            f"(forskel {format_kr(invoice.payable_amount - expected_payable)})",
            {
                "payable_amount": plain(invoice.payable_amount),
                "expected": plain(expected_payable),
                "prepaid": plain(invoice.prepaid_amount),
                "rounding": plain(invoice.rounding_amount),
            },
        )
    expected_total = tax_exclusive + invoice.tax_amount
    if invoice.total != expected_total:
        how = "total ekskl. moms plus moms"
        return _sum_finding("total", "Total inkl. moms", invoice.total, expected_total, how)
    return None


def describe(categories: Iterable[CategoryTotal]) -> dict[str, str]:
    """The breakdown for an explanation: ``{"vat_S_25": "5.50", ...}``."""
    return {f"vat_{c.key.category}_{c.key.percent}": plain(c.vat) for c in categories}
