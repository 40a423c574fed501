"""EN 16931 arithmetic (paybot.domain.en16931) and the arithmetic check built on it.

The issue's examples as fixtures, one test per figure that can differ, and property tests:
random correct invoices (1-50 lines, VAT categories S 25 % and Z/E 0 %, line and document
allowances and charges, prepaid and rounding amounts) are never refused; a figure changed by
more than its tolerance always is.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paybot.domain import en16931
from paybot.domain.models import AllowanceCharge, Invoice, InvoiceLine, Pay, VatSubtotal
from paybot.domain.rules.common import Passed, Verdict, check_arithmetic
from support.domain_builders import D, context, small_invoice, small_rules

RULES = small_rules()
STANDARD = D("25")
ORE = D("0.01")


def _line(nr: int, quantity: str, price: str, amount: str, **more: Any) -> InvoiceLine:
    return InvoiceLine(
        line_no=nr, quantity=D(quantity), unit_price=D(price), amount=D(amount), **more
    )


def _invoice(lines: list[InvoiceLine], **totals: Any) -> Invoice:
    return small_invoice().model_copy(update={"lines": tuple(lines), **totals})


# --- the examples ----------------------------------------------------------------------


def _four_small_lines() -> Invoice:
    lines = [
        _line(i, "1", p, p, tax_percent=STANDARD)
        for i, p in enumerate(("2.50", "4.50", "6.50", "8.50"), start=1)
    ]
    return _invoice(
        lines,
        line_extension_amount=D("22.00"),
        tax_amount=D("5.50"),
        total=D("27.50"),
        payable_amount=D("27.50"),
    )


def test_vat_is_rounded_once_per_category_not_per_line() -> None:
    # 25 % of each line rounded: 0.63 + 1.13 + 1.63 + 2.13 = 5.52; of the sum: 5.50
    inv = _four_small_lines()
    assert isinstance(check_arithmetic(inv, STANDARD), Passed)
    decision = RULES.decide(inv, context())
    assert isinstance(decision, Pay) and decision.amount == D("27.50")


def test_line_discount_is_part_of_the_line_net_amount() -> None:
    line = _line(1, "10", "50.00", "450.00", allowance_amount=D("50.00"), tax_percent=STANDARD)
    inv = _invoice(
        [line],
        line_extension_amount=D("450.00"),
        tax_amount=D("112.50"),
        total=D("562.50"),
        payable_amount=D("562.50"),
    )
    assert isinstance(check_arithmetic(inv, STANDARD), Passed)
    assert isinstance(RULES.decide(inv, context()), Pay)
    without_discount = inv.model_copy(
        update={"lines": (line.model_copy(update={"allowance_amount": D("0")}),)}
    )
    verdict = check_arithmetic(without_discount, STANDARD)
    assert isinstance(verdict, Verdict) and verdict.rule == "arithmetic.line_amount"
    assert verdict.note == (
        "Linje 1: 10 × 50,00 kr. giver 500,00 kr., men linjens beløb er 450,00 kr. "
        "(forskel -50,00 kr.)"
    )


def test_wrong_vat_names_the_category_the_stated_and_the_computed_value() -> None:
    inv = _four_small_lines().model_copy(
        update={
            "vat_subtotals": (
                VatSubtotal(
                    tax_category="S",
                    tax_percent=STANDARD,
                    taxable_amount=D("22.00"),
                    tax_amount=D("5.52"),
                ),
            ),
            "tax_amount": D("5.52"),
            "total": D("27.52"),
            "payable_amount": D("27.52"),
        }
    )
    verdict = check_arithmetic(inv, STANDARD)
    assert isinstance(verdict, Verdict) and verdict.rule == "arithmetic.vat_category"
    assert verdict.note == (
        "Momsen for kategori S (25 %) er 5,52 kr., men 25 % af 22,00 kr. giver 5,50 kr. "
        "(forskel 0,02 kr.)"
    )
    assert verdict.compared["expected"] == "5.50"
    assert verdict.compared["percent"] == "25"  # not "2.5E+1"


def test_price_per_base_quantity_and_line_charge() -> None:
    # 250 units at 12.50 per 100 = 31.25, plus a handling charge of 10.00
    line = _line(
        1, "250", "12.50", "41.25", base_quantity=D("100"), charge_amount=D("10.00"),
        tax_percent=STANDARD,
    )
    inv = _invoice(
        [line],
        line_extension_amount=D("41.25"),
        tax_amount=D("10.31"),  # 10.3125
        total=D("51.56"),
        payable_amount=D("51.56"),
    )
    assert isinstance(check_arithmetic(inv, STANDARD), Passed)
    wrong = inv.model_copy(update={"lines": (line.model_copy(update={"amount": D("41.30")}),)})
    verdict = check_arithmetic(wrong, STANDARD)
    assert isinstance(verdict, Verdict)
    assert "250 × 12,50 kr. pr. 100 + gebyr 10,00 kr. giver 41,25 kr." in verdict.note


def _mixed() -> Invoice:
    """S 25 %: 400 + freight 100 - discount 20 = 480, VAT 120; Z: 200; E: 50 - 10 = 40."""
    lines = [
        _line(1, "4", "100.00", "400.00", tax_category="S", tax_percent=STANDARD),
        _line(2, "2", "100.00", "200.00", tax_category="Z", tax_percent=D("0")),
        _line(3, "1", "50.00", "50.00", tax_category="E", tax_percent=D("0")),
    ]
    acs = (
        AllowanceCharge(charge=True, amount=D("100.00"), reason="Fragt", tax_category="S",
                        tax_percent=STANDARD),
        AllowanceCharge(charge=False, amount=D("20.00"), reason="Rabat", tax_category="S",
                        tax_percent=STANDARD),
        AllowanceCharge(charge=False, amount=D("10.00"), reason="Rabat", tax_category="E",
                        tax_percent=D("0")),
    )
    subtotals = (
        VatSubtotal(tax_category="S", tax_percent=STANDARD, taxable_amount=D("480.00"),
                    tax_amount=D("120.00")),
        VatSubtotal(tax_category="Z", tax_percent=D("0"), taxable_amount=D("200.00"),
                    tax_amount=D("0.00")),
        VatSubtotal(tax_category="E", tax_percent=D("0"), taxable_amount=D("40.00"),
                    tax_amount=D("0.00")),
    )
    return _invoice(
        lines,
        allowances_charges=acs,
        vat_subtotals=subtotals,
        line_extension_amount=D("650.00"),
        allowance_total=D("30.00"),
        charge_total=D("100.00"),
        tax_exclusive_amount=D("720.00"),
        tax_amount=D("120.00"),
        total=D("840.00"),
        prepaid_amount=D("100.00"),
        rounding_amount=D("0.25"),
        payable_amount=D("740.25"),
    )


def test_document_allowances_and_charges_per_category_with_prepaid_and_rounding() -> None:
    assert isinstance(check_arithmetic(_mixed(), STANDARD), Passed)
    t = en16931.totals(
        [(en16931.VatKey("S", STANDARD), D("400.00")), (en16931.VatKey("Z", D(0)), D("200"))],
        [(en16931.VatKey("S", STANDARD), D("20.00"))],
        [(en16931.VatKey("S", STANDARD), D("100.00"))],
        prepaid=D("100"),
        rounding=D("0.25"),
    )
    assert (t.tax_exclusive, t.vat_total, t.tax_inclusive, t.payable) == (
        D("680.00"), D("120.00"), D("800.00"), D("700.25")
    )


@pytest.mark.parametrize(
    ("changes", "rule", "words"),
    [
        ({"allowance_total": D("20.00")}, "allowance_total", "Rabat i alt er 20,00 kr."),
        ({"charge_total": D("90.00")}, "charge_total", "Gebyrer i alt er 90,00 kr."),
        ({"tax_exclusive_amount": D("650.00")}, "tax_exclusive", "Total ekskl. moms er 650,00"),
        ({"payable_amount": D("840.00")}, "payable", "minus forudbetalt plus afrunding"),
        ({"total": D("839.00")}, "total", "Total inkl. moms er 839,00 kr."),
        ({"rounding_amount": D("5.00"), "payable_amount": D("745.00")}, "rounding", "5,00 kr."),
        ({"prepaid_amount": D("-1.00"), "payable_amount": D("841.25")}, "prepaid", "-1,00"),
    ],
)
def test_each_document_figure_is_named(changes: dict[str, Any], rule: str, words: str) -> None:
    verdict = check_arithmetic(_mixed().model_copy(update=changes), STANDARD)
    assert isinstance(verdict, Verdict) and verdict.rule == f"arithmetic.{rule}", verdict
    assert words in verdict.note


def test_breakdown_must_cover_every_category_and_only_those() -> None:
    inv = _mixed()
    missing = inv.model_copy(update={"vat_subtotals": inv.vat_subtotals[:2]})
    verdict = check_arithmetic(missing, STANDARD)
    assert isinstance(verdict, Verdict) and verdict.rule == "arithmetic.vat_breakdown"
    assert "mangler kategori E (0 %)" in verdict.note
    taxable = inv.vat_subtotals[0].model_copy(update={"taxable_amount": D("400.00")})
    verdict = check_arithmetic(
        inv.model_copy(update={"vat_subtotals": (taxable, *inv.vat_subtotals[1:])}), STANDARD
    )
    assert isinstance(verdict, Verdict) and verdict.rule == "arithmetic.vat_taxable"


@pytest.mark.parametrize(
    ("category", "percent", "words"),
    [
        ("S", "20", "den danske momssats er 25 %"),
        ("Z", "25", "kategori Z er uden moms"),
        ("L", "7", "momskategorien L kender robotten ikke"),
    ],
)
def test_vat_category_and_rate_must_agree(category: str, percent: str, words: str) -> None:
    inv = _four_small_lines()
    first = inv.lines[0].model_copy(update={"tax_category": category, "tax_percent": D(percent)})
    verdict = check_arithmetic(inv.model_copy(update={"lines": (first, *inv.lines[1:])}), STANDARD)
    assert isinstance(verdict, Verdict) and verdict.rule == "arithmetic.vat_category"
    assert words in verdict.note


def test_vat_total_without_breakdown_tolerates_one_ore_per_category() -> None:
    inv = _four_small_lines()
    tolerated = check_arithmetic(
        inv.model_copy(update={"tax_amount": D("5.51"), "total": D("27.51"),
                               "payable_amount": D("27.51")}),
        STANDARD,
    )
    assert isinstance(tolerated, Passed)
    verdict = check_arithmetic(
        inv.model_copy(update={"tax_amount": D("5.52"), "total": D("27.52"),
                               "payable_amount": D("27.52")}),
        STANDARD,
    )
    assert isinstance(verdict, Verdict) and verdict.rule == "arithmetic.vat_total"
    assert "Momsen er 5,52 kr." in verdict.note and "5,50 kr." in verdict.note


# --- property tests ------------------------------------------------------------------------------

CATEGORIES = (("S", STANDARD), ("Z", D("0")), ("E", D("0")))
MODES = (ROUND_HALF_UP, ROUND_HALF_EVEN)  # suppliers' programs round either way


def _ore(value: Decimal, mode: str = ROUND_HALF_UP) -> Decimal:
    return value.quantize(ORE, rounding=mode)


@st.composite
def correct_invoices(draw: st.DrawFn) -> Invoice:
    """An invoice a correct accounting program could send: figures follow EN 16931, rounded
    half up or half even (within the one-øre tolerance)."""
    mode = draw(st.sampled_from(MODES))
    money = st.integers(min_value=1, max_value=200_000).map(lambda c: Decimal(c) / 100)
    n = draw(st.integers(min_value=1, max_value=50))
    lines: list[InvoiceLine] = []
    for nr in range(1, n + 1):
        category, percent = draw(st.sampled_from(CATEGORIES))
        quantity = Decimal(draw(st.integers(min_value=1, max_value=400))) / draw(
            st.sampled_from((Decimal(1), Decimal(2), Decimal(4)))
        )
        price = draw(money)
        base = draw(st.sampled_from((Decimal(1), Decimal(1), Decimal(10), Decimal(100))))
        gross = _ore(quantity * price / base, mode)
        allowance = _ore(gross * Decimal(draw(st.integers(0, 30))) / 100) if draw(
            st.booleans()
        ) else Decimal("0.00")
        charge = Decimal(draw(st.integers(0, 5000))) / 100 if draw(st.booleans()) else D("0.00")
        amount = gross - allowance + charge
        stated_vat = _ore(amount * percent / 100, mode) if draw(st.booleans()) else None
        lines.append(
            InvoiceLine(
                line_no=nr, quantity=quantity, unit_price=price, base_quantity=base,
                allowance_amount=allowance, charge_amount=charge, amount=amount,
                tax_category=category, tax_percent=percent, tax_amount=stated_vat,
            )
        )
    taxable: dict[tuple[str, Decimal], Decimal] = {}
    for line in lines:
        key = (line.tax_category or "", line.tax_percent or Decimal(0))
        taxable[key] = taxable.get(key, Decimal(0)) + line.amount
    acs: list[AllowanceCharge] = []
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(sorted(taxable)))
        charge = draw(st.booleans())
        limit = int(taxable[key] * 50)  # an allowance takes at most half of the category
        if not charge and limit < 1:
            continue
        amount = Decimal(draw(st.integers(1, max(limit, 1) if not charge else 50_000))) / 100
        taxable[key] += amount if charge else -amount
        acs.append(AllowanceCharge(charge=charge, amount=amount, reason="x",
                                   tax_category=key[0], tax_percent=key[1]))
    vat = {key: _ore(base * key[1] / 100, mode) for key, base in taxable.items()}
    line_total = sum((ln.amount for ln in lines), Decimal(0))
    allowances = sum((a.amount for a in acs if not a.charge), Decimal(0))
    charges = sum((a.amount for a in acs if a.charge), Decimal(0))
    net = line_total - allowances + charges
    vat_total = sum(vat.values(), Decimal(0))
    total = net + vat_total
    prepaid = _ore(total * Decimal(draw(st.integers(0, 100))) / 100) if draw(
        st.booleans()
    ) else D("0.00")
    rounding = Decimal(draw(st.integers(-49, 49))) / 100 if draw(st.booleans()) else D("0.00")
    stated = draw(st.booleans())  # Peppol states breakdown, net and sums; OIOUBL often not
    return small_invoice().model_copy(
        update={
            "lines": tuple(lines),
            "allowances_charges": tuple(acs),
            "vat_subtotals": tuple(
                VatSubtotal(tax_category=k[0], tax_percent=k[1], taxable_amount=taxable[k],
                            tax_amount=vat[k])
                for k in sorted(taxable)
            ) if stated else (),
            "allowance_total": allowances if stated and acs else None,
            "charge_total": charges if stated and acs else None,
            "tax_exclusive_amount": net if stated else None,
            "line_extension_amount": line_total,
            "tax_amount": vat_total,
            "total": total,
            "prepaid_amount": prepaid,
            "rounding_amount": rounding,
            "payable_amount": total - prepaid + rounding,
        }
    )


PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY
@given(correct_invoices())
def test_a_correct_invoice_is_never_refused(inv: Invoice) -> None:
    verdict = check_arithmetic(inv, STANDARD)
    assert isinstance(verdict, Passed), verdict


BEYOND = st.integers(min_value=2, max_value=100_000).map(lambda c: Decimal(c) / 100)


@PROPERTY
@given(correct_invoices(), BEYOND, st.booleans(), st.data())
def test_an_error_beyond_the_tolerance_is_always_refused(
    inv: Invoice, size: Decimal, negative: bool, data: st.DataObject
) -> None:
    delta = -size if negative else size
    figure = data.draw(st.sampled_from(
        ("line", "line_total", "vat", "total", "payable", "tax_exclusive", "category_vat")
    ))
    update: dict[str, Any]
    if figure == "line":
        i = data.draw(st.integers(0, len(inv.lines) - 1))
        lines = list(inv.lines)
        lines[i] = lines[i].model_copy(update={"amount": lines[i].amount + delta})
        update = {"lines": tuple(lines)}
    elif figure == "line_total":
        update = {"line_extension_amount": inv.line_extension_amount + delta}
    elif figure == "vat":  # the whole chain follows the wrong VAT, as a careless program would
        delta = delta + (len(inv.vat_subtotals) or 3) * ORE * (-1 if negative else 1)
        update = {"tax_amount": inv.tax_amount + delta, "total": inv.total + delta,
                  "payable_amount": inv.payable_amount + delta}
    elif figure == "total":
        update = {"total": inv.total + delta}
    elif figure == "payable":
        update = {"payable_amount": inv.payable_amount + delta}
    elif figure == "tax_exclusive":
        update = {"tax_exclusive_amount": (inv.tax_exclusive_amount or inv.line_extension_amount)
                  + delta}
        if inv.tax_exclusive_amount is None:  # not stated: the net is then the lines' sum
            update = {"line_extension_amount": inv.line_extension_amount + delta}
    else:
        if not inv.vat_subtotals:
            update = {"payable_amount": inv.payable_amount + delta}
        else:
            subs = list(inv.vat_subtotals)
            subs[0] = subs[0].model_copy(update={"tax_amount": subs[0].tax_amount + delta})
            update = {"vat_subtotals": tuple(subs)}
    verdict = check_arithmetic(inv.model_copy(update=update), STANDARD)
    assert isinstance(verdict, Verdict), (figure, delta)
    assert verdict.reason.value == "MANUAL_ARITHMETIC"
