"""Small invoices: docs/rules.md, "Small invoices", with the shipped rules file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from paybot.domain.models import DocType, Invoice, Manual, Pay, PaymentMeans, RegisterEntry
from paybot.domain.parsing import InvoiceFormatError
from paybot.domain.reasons import Reason
from paybot.domain.rules import SmallInvoiceRules
from paybot.domain.rules.context import DecisionContext
from support.decisions import assert_every_check_passed, assert_passed_then_failed
from support.domain_builders import (
    BAD_CVR,
    BYGGEMARKEDET,
    CITIZEN,
    KONTORLAND,
    OTHER_GLN,
    OUR_GLN,
    UNKNOWN_SUPPLIER,
    D,
    context,
    line,
    small_invoice,
    small_rules,
    with_lines,
)

RULES = small_rules()


def manual_reason(decision: Pay | Manual) -> str:
    assert isinstance(decision, Manual), f"expected manual handling, got {decision!r}"
    return decision.reason


def test_a_good_invoice_is_paid() -> None:
    inv = small_invoice()
    decision = RULES.decide(inv, context())
    assert isinstance(decision, Pay)
    assert decision.amount == inv.payable_amount == D("874.88")
    assert decision.account_string == "6.45.51-000-2.9"
    assert decision.posting_text == "Kontorland A/S fakt. F-1001"
    assert decision.payment_date == dt.date(2026, 12, 10)
    version = decision.explanation.rule_version
    assert version.startswith("2026.1+") and len(version.split("+")[1]) == 12
    assert decision.explanation.rule == "small_invoices.pay"
    assert decision.explanation.compared["payable_amount"] == "874.88"


def test_format_currency() -> None:
    decision = RULES.decide(small_invoice(currency="EUR"), context())
    assert manual_reason(decision) == Reason.FORMAT
    assert "EUR" in decision.note  # type: ignore[union-attr]


def test_unreadable_invoice_gives_format_decision() -> None:
    err = InvoiceFormatError("forfald", "32-13-2026", "'32-13-2026' er ikke en gyldig dato", 17)
    decision = RULES.decide_unreadable(err)
    assert decision.reason == "MANUAL_FORMAT"
    assert "Forfaldsdato" in decision.note
    assert decision.explanation.compared == {"field": "forfald", "value": "32-13-2026"}


def test_credit_note() -> None:
    decision = RULES.decide(small_invoice(doc_type=DocType.CREDIT_NOTE), context())
    assert manual_reason(decision) == Reason.CREDIT_NOTE


@pytest.mark.parametrize(("gln", "rule"), [
    (None, "buyer.missing"),
    ("5798528809576", "buyer.check_digit"),
    (OTHER_GLN, "buyer.not_ours"),
])
def test_buyer(gln: str | None, rule: str) -> None:
    decision = RULES.decide(small_invoice(buyer_gln=gln), context())
    assert manual_reason(decision) == Reason.BUYER
    assert decision.explanation.rule == f"small_invoices.{rule}"


@pytest.mark.parametrize("cvr", [BAD_CVR, UNKNOWN_SUPPLIER, "1234"])
def test_supplier(cvr: str) -> None:
    decision = RULES.decide(small_invoice(supplier_cvr=cvr), context())
    assert manual_reason(decision) == Reason.SUPPLIER
    assert cvr in decision.note


def test_duplicate_note_names_the_earlier_document() -> None:
    earlier = "løbenr. 9 (samme CVR og fakturanummer)"
    decision = RULES.decide(small_invoice(), context(duplicate_of=earlier))
    assert manual_reason(decision) == Reason.DUPLICATE
    assert earlier in decision.note


def test_amount_limit_is_inclusive() -> None:
    at_limit = with_lines(small_invoice(), [line(1, "1", "2400.00")])  # 3,000.00 incl. VAT
    assert at_limit.payable_amount == D("3000.00")
    assert isinstance(RULES.decide(at_limit, context()), Pay)
    over = with_lines(small_invoice(), [line(1, "1", "2400.01")])
    decision = RULES.decide(over, context())
    assert manual_reason(decision) == Reason.AMOUNT
    assert "3.000,01 kr." in decision.note and "3.000,00 kr." in decision.note


def test_zero_amount_is_not_paid() -> None:
    decision = RULES.decide(with_lines(small_invoice(), []), context())
    assert manual_reason(decision) == Reason.AMOUNT


def _arith(**changes: Any) -> Callable[[], Any]:
    return lambda: small_invoice(**changes)


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (lambda: small_invoice(lines=(small_invoice().lines[0].model_copy(
            update={"amount": D("500.02")}), small_invoice().lines[1])), "line_amount"),
        (lambda: small_invoice(lines=(small_invoice().lines[0].model_copy(
            update={"tax_amount": D("125.02")}), small_invoice().lines[1])), "line_vat"),
        (_arith(line_extension_amount=D("699.89")), "line_total"),
        (_arith(tax_amount=D("175.00")), "vat_total"),
        (_arith(payable_amount=D("874.89"), total=D("874.89")), "payable"),
        (_arith(total=D("874.87")), "total"),
    ],
)
def test_arithmetic(make: Callable[[], Any], rule: str) -> None:
    decision = RULES.decide(make(), context())
    assert manual_reason(decision) == Reason.ARITHMETIC
    assert decision.explanation.rule == f"small_invoices.arithmetic.{rule}"


def test_arithmetic_tolerates_one_ore_per_line() -> None:
    base = small_invoice()
    first = base.lines[0].model_copy(update={"tax_amount": D("125.01")})
    # line VAT 125.01 instead of 125.00, so the lines' VAT is 174.99 against 174.98 in total
    inv = base.model_copy(update={"lines": (first, base.lines[1])})
    assert inv.tax_amount == D("174.98")
    assert isinstance(RULES.decide(inv, context()), Pay)


def test_missing_line_vat_is_computed() -> None:
    base = small_invoice()
    lines = tuple(ln.model_copy(update={"tax_amount": None}) for ln in base.lines)
    assert isinstance(RULES.decide(base.model_copy(update={"lines": lines}), context()), Pay)


def test_due_date() -> None:
    issue = dt.date(2026, 11, 10)
    ok = small_invoice(due_date=issue + dt.timedelta(days=30))
    assert isinstance(RULES.decide(ok, context()), Pay)
    late = RULES.decide(small_invoice(due_date=issue + dt.timedelta(days=31)), context())
    assert manual_reason(late) == Reason.DUE_DATE
    assert "31 dage" in late.note
    assert manual_reason(RULES.decide(small_invoice(due_date=None), context())) == "MANUAL_DUE_DATE"


def _with_supplier(**changes: Any) -> SmallInvoiceRules:
    """The shipped rules with Kontorland's entry changed."""
    suppliers = [
        s.model_copy(update=changes) if s.cvr == "20433213" else s for s in RULES.config.suppliers
    ]
    return SmallInvoiceRules(
        RULES.config.model_copy(update={"suppliers": suppliers}), RULES.rule_version
    )


ALL_ACCOUNTS = _with_supplier(
    bank_accounts=["9570-0012345678"],
    giro_accounts=["0001234567"],
    fik_creditors=["85432109", "87654321"],
)


@pytest.mark.parametrize(
    ("payment", "ok"),
    [
        (PaymentMeans(code="97"), True),
        (PaymentMeans(code="42", bank_reg="9570", bank_account="0012345678"), True),
        (PaymentMeans(code="42", bank_reg="957", bank_account="0012345678"), False),
        (PaymentMeans(code="42", bank_reg="9570"), False),
        (PaymentMeans(code="50", bank_account="1234567"), True),
        (PaymentMeans(code="50"), False),
        (PaymentMeans(code="93", fik_card_type="71", fik_payment_id="000000012345674",
                      fik_creditor="85432109"), True),
        (PaymentMeans(code="93", fik_card_type="71", fik_payment_id="000000012345675",
                      fik_creditor="85432109"), False),
        # Peppol BIS 3 form (DK-R-010/011): "71#<payment id>", creditor as the payee account
        (PaymentMeans(code="93", fik_card_type="71#000000012345674", bank_account="85432109"),
         True),
        (PaymentMeans(code="93", fik_card_type="71#000000012345675", bank_account="85432109"),
         False),
        (PaymentMeans(code="93", fik_card_type="73#", bank_account="85432109"), True),
        (PaymentMeans(code="93", fik_card_type="71#000000012345674", bank_account="12345678"),
         False),
        (PaymentMeans(code="93", fik_card_type="75", fik_payment_id="0000000012345674",
                      fik_creditor="87654321"), True),
        (PaymentMeans(code="93", fik_card_type="73", fik_creditor="87654321"), True),
        (PaymentMeans(code="93", fik_card_type="73", fik_payment_id="000000012345674",
                      fik_creditor="87654321"), False),
        (PaymentMeans(code="93", fik_card_type="71", fik_payment_id="000000012345674",
                      fik_creditor="75432109"), False),
        (PaymentMeans(code="93", fik_card_type="04", fik_payment_id="000000012345674",
                      fik_creditor="85432109"), False),
        (PaymentMeans(code="31"), False),
        (PaymentMeans(), False),
    ],
)
def test_payment_means(payment: PaymentMeans, ok: bool) -> None:
    # Kontorland is known with every account used here, so only the means' own checks decide
    decision = ALL_ACCOUNTS.decide(small_invoice(payment=payment), context())
    if ok:
        assert isinstance(decision, Pay)
    else:
        assert manual_reason(decision) == Reason.PAYMENT_MEANS
        if payment.bank_account:
            assert payment.bank_account not in decision.note  # type: ignore[union-attr]


BYGGEMARKEDET_BANK = PaymentMeans(code="42", bank_reg="7890", bank_account="0099887766")


def test_account_string_from_order_reference() -> None:
    inv = small_invoice(supplier_cvr=BYGGEMARKEDET, supplier_name="Byggemarkedet Syd A/S",
                        order_reference="IND-2026-0415", payment=BYGGEMARKEDET_BANK)
    decision = RULES.decide(inv, context())
    assert isinstance(decision, Pay)
    assert decision.account_string == "0.25.11-000-4.0"


@pytest.mark.parametrize("ref", [None, "IND-1999-0001"])
def test_no_account_string(ref: str | None) -> None:
    inv = small_invoice(supplier_cvr=BYGGEMARKEDET, supplier_name="Byggemarkedet Syd A/S",
                        order_reference=ref, payment=BYGGEMARKEDET_BANK)
    decision = RULES.decide(inv, context())
    assert manual_reason(decision) == Reason.ACCOUNT_STRING
    assert decision.explanation.rule == "small_invoices.account_string.missing"


def test_account_string_must_be_active_in_the_chart() -> None:
    chart = frozenset({"1.00.00-000-0.0"})
    decision = RULES.decide(small_invoice(), context(active_accounts=chart))
    assert manual_reason(decision) == Reason.ACCOUNT_STRING
    assert "6.45.51-000-2.9" in decision.note


def test_posting_text_fits_50_characters() -> None:
    long_name = "Et meget langt leverandørnavn der aldrig slutter A/S"
    inv = small_invoice(supplier_name=long_name, invoice_number="2026-000123")
    decision = _with_supplier(name=long_name).decide(inv, context())
    assert isinstance(decision, Pay)
    assert len(decision.posting_text) <= 50
    assert decision.posting_text.endswith(" fakt. 2026-000123")


# --- check order: with two problems, the earlier check decides ------------------------------

Spoil = Callable[[Any, DecisionContext, dict[str, Any]], tuple[Any, DecisionContext]]


def _ctx(**changes: Any) -> Spoil:
    return lambda inv, ctx, cfg: (inv, dataclasses.replace(ctx, **changes))


def _inv(**changes: Any) -> Spoil:
    return lambda inv, ctx, cfg: (inv.model_copy(update=changes), ctx)


def _cfg(**changes: Any) -> Spoil:
    def spoil(inv: Any, ctx: DecisionContext, cfg: dict[str, Any]) -> tuple[Any, DecisionContext]:
        cfg.update(changes)
        return inv, ctx

    return spoil


def _payee(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
    """Pay to an account the supplier never gave us (a NemKonto invoice becomes a bank one);
    only the account changes, so an earlier payment-means problem stays."""
    p = inv.payment
    if p.code == "97":
        p = PaymentMeans(code="42", bank_reg="9570", bank_account="0099999999")
    else:
        p = p.model_copy(update={"bank_account": "0099999999", "fik_creditor": "89999999"})
    return inv.model_copy(update={"payment": p}), ctx


SPOILERS: dict[Reason, Spoil] = {
    Reason.FORMAT: _inv(currency="SEK"),
    Reason.TOO_MANY_LINES: _cfg(max_lines=1),
    Reason.CREDIT_NOTE: _inv(doc_type=DocType.CREDIT_NOTE),
    Reason.BUYER: _inv(buyer_gln=OTHER_GLN),
    Reason.SUPPLIER: _inv(supplier_cvr=UNKNOWN_SUPPLIER),
    Reason.SUPPLIER_NAME: _inv(supplier_name="Kontorland Nord A/S"),
    Reason.DUPLICATE: _ctx(duplicate_of="løbenr. 3"),
    Reason.PERSONAL_DATA: _inv(note=f"Vedr. borger {CITIZEN}"),
    Reason.AMOUNT: _cfg(max_amount=D("100.00")),
    Reason.ARITHMETIC: _inv(total=D("1.00")),
    Reason.DUE_BEFORE_ISSUE: _inv(issue_date=dt.date(2026, 12, 20)),
    Reason.DUE_DATE: _cfg(max_payment_terms_days=10),
    Reason.PAYMENT_MEANS: _inv(payment=PaymentMeans(code="31")),
    Reason.PAYEE_ACCOUNT: _payee,
    Reason.ACCOUNT_STRING: _ctx(active_accounts=frozenset()),
}


def test_every_reason_has_a_spoiler_and_is_reachable() -> None:
    assert tuple(SPOILERS) == SmallInvoiceRules.check_order
    for reason, spoil in SPOILERS.items():
        cfg: dict[str, Any] = {}
        inv, ctx = spoil(small_invoice(), context(), cfg)
        rules = SmallInvoiceRules(RULES.config.model_copy(update=cfg), RULES.rule_version)
        assert manual_reason(rules.decide(inv, ctx)) == reason


@pytest.mark.parametrize(
    ("first", "second"), list(itertools.combinations(SmallInvoiceRules.check_order, 2))
)
def test_check_order(first: Reason, second: Reason) -> None:
    cfg: dict[str, Any] = {}
    inv, ctx = SPOILERS[first](small_invoice(), context(), cfg)
    inv, ctx = SPOILERS[second](inv, ctx, cfg)
    rules = SmallInvoiceRules(RULES.config.model_copy(update=cfg), RULES.rule_version)
    assert manual_reason(rules.decide(inv, ctx)) == first


# --- duplicate keys -----------------------------------------------------------------------


def test_duplicate_keys_match_the_register_keys() -> None:
    inv = small_invoice()
    entry = RegisterEntry(erp_id=17, category=inv.category, status=inv.status,
                          supplier_cvr=inv.supplier_cvr, invoice_number=inv.invoice_number,
                          issue_date=inv.issue_date, payable_amount=inv.payable_amount)
    keys = RULES.duplicate_keys(inv)
    assert keys == (f"cvr+nr:{inv.supplier_cvr}:F-1001",
                    f"cvr+beloeb+dato:{inv.supplier_cvr}:874.88:2026-11-10")
    assert RULES.register_keys(entry) == keys
    other_number = small_invoice(invoice_number="F-1002")
    assert RULES.duplicate_keys(other_number)[1] == keys[1]  # same CVR + amount + date
    unreadable = entry.model_copy(update={"payable_amount": None})
    assert RULES.register_keys(unreadable) == keys[:1]


def test_rules_know_what_they_need() -> None:
    assert not RULES.needs_requisitions and not RULES.needs_bookings
    assert Decimal(3000) == RULES.config.max_amount


def test_no_note_puts_a_full_stop_after_kr() -> None:
    """``format_kr`` ends in "kr."; a sentence must not add another full stop after it."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "paybot" / "domain"
    pattern = re.compile(r"format_kr\([^)]*\)\}\.")
    offenders = [
        f"{f.name}:{n}"
        for f in src.rglob("*.py")
        for n, line in enumerate(f.read_text("utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


# --- the checks a decision records ----------------------------------------------------------


def test_a_pay_decision_records_every_check_passed_with_its_values() -> None:
    inv = small_invoice()
    values = assert_every_check_passed(
        RULES.decide(inv, context()), "small_invoices", SmallInvoiceRules.check_order
    )
    assert values["buyer"]["buyer_gln"] == OUR_GLN
    assert values["supplier"] == {"cvr": KONTORLAND, "supplier": "Kontorland A/S"}
    assert values["duplicate"]["keys"] == "; ".join(RULES.duplicate_keys(inv))
    assert "cvr+nr:20433213:F-1001" in values["duplicate"]["keys"]
    assert values["amount"] == {"payable_amount": "874.88", "max_amount": "3000.00"}
    assert values["arithmetic"]["tax_amount"] == "174.98"
    assert values["due_date"]["due_date"] == "2026-12-10"
    assert values["payment_means"]["code"] == "42"
    assert values["account_string"] == {"account_string": "6.45.51-000-2.9"}


@pytest.mark.parametrize("failing", list(SPOILERS))
def test_a_manual_decision_records_the_passed_checks_then_the_failed_one(
    failing: Reason,
) -> None:
    cfg: dict[str, Any] = {}
    inv, ctx = SPOILERS[failing](small_invoice(), context(), cfg)
    rules = SmallInvoiceRules(RULES.config.model_copy(update=cfg), RULES.rule_version)
    assert_passed_then_failed(rules.decide(inv, ctx), failing, SmallInvoiceRules.check_order)


def test_an_unreadable_invoice_records_the_failed_format_check() -> None:
    err = InvoiceFormatError("forfald", "32-13-2026", "'32-13-2026' er ikke en gyldig dato", 17)
    decision = RULES.decide_unreadable(err)
    assert_passed_then_failed(decision, Reason.FORMAT, SmallInvoiceRules.check_order)
