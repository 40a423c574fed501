"""TableRules: a robot's rules as one table of (reason, check) rows, the order documented in
docs/rules.md, and the checks every decision records (also for older-style checks)."""

from __future__ import annotations

import importlib.util
import re
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel

from paybot.domain.models import Category, DocType, Invoice, Manual, Pay
from paybot.domain.reasons import Reason
from paybot.domain.rules import RULES_BY_KIND, RobotRules
from paybot.domain.rules.common import (
    Passed,
    Verdict,
    check_amount_limit,
    check_credit_note,
    check_currency,
    first_verdict,
)
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.table import Payment, TableRules
from support.decisions import assert_every_check_passed, assert_passed_then_failed
from support.domain_builders import D, context, small_invoice

ROOT = Path(__file__).resolve().parents[2]
RULES_MD = ROOT / "docs" / "rules.md"
ADDING_A_ROBOT = ROOT / "docs" / "adding-a-robot.md"
EXAMPLE_RULES = ROOT / "tests" / "example_robot" / "cleaning" / "rules.py"
SECTIONS = {
    "small_invoices": "## Small invoices",
    "medical_certificates": "## Medical certificates",
    "interpreter": "## Interpreter invoices",
}


def documented_order(heading: str) -> list[str]:
    """The reason codes of one robot's section of docs/rules.md, in the order they appear."""
    text = RULES_MD.read_text("utf-8")
    start = text.index(heading + " ")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return list(dict.fromkeys(re.findall(r"MANUAL_[A-Z_]+", section)))


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_the_check_order_is_the_documented_order(kind: str) -> None:
    rules = RULES_BY_KIND[kind]
    assert [r.value for r in rules.check_order] == documented_order(SECTIONS[kind])
    assert rules.reason_codes == frozenset(documented_order(SECTIONS[kind]))


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_the_check_order_is_derived_from_the_table(kind: str) -> None:
    rules = RULES_BY_KIND[kind]
    assert issubclass(rules, TableRules)
    assert rules.check_order == tuple(dict.fromkeys(reason for reason, _ in rules.checks))


# --- the example fourth robot (docs/adding-a-robot.md) --------------------------------------


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_cleaning_rules", EXAMPLE_RULES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the config model's annotations there
    spec.loader.exec_module(module)
    return module


EXAMPLE = load_example()
CLEANER = "96379404"  # tests/example_robot/config/rules/cleaning.yaml


def cleaning_rules(max_amount: str = "2000.00") -> Any:
    data = {
        "version": "2026.1",
        "source": "test",
        "contractor_cvr": CLEANER,
        "account_string": "0.25.11-000-4.0",
        "max_amount": max_amount,
    }
    return EXAMPLE.CleaningRules.from_config(data, "2026.1+000000000000")


def cleaning_invoice() -> Invoice:
    return small_invoice(supplier_cvr=CLEANER, supplier_name="Jysk Rengøring A/S")


def test_the_guide_shows_the_example_rules_as_they_are() -> None:
    source = EXAMPLE_RULES.read_text("utf-8")
    cls = source[source.index("class CleaningRules(TableRules):") :].strip()
    assert cls in ADDING_A_ROBOT.read_text("utf-8")


def test_the_example_robot_pays_and_records_every_check() -> None:
    rules = cleaning_rules()
    ctx = context(active_accounts=frozenset({"0.25.11-000-4.0"}))
    decision = rules.decide(cleaning_invoice(), ctx)
    values = assert_every_check_passed(decision, rules.kind, rules.check_order)
    assert [r.value for r in rules.check_order] == [
        "MANUAL_FORMAT",
        "MANUAL_CREDIT_NOTE",
        "MANUAL_SUPPLIER",
        "MANUAL_DUPLICATE",
        "MANUAL_AMOUNT",
        "MANUAL_PAYMENT_MEANS",
        "MANUAL_ACCOUNT_STRING",
    ]
    assert values["amount"] == {"payable_amount": "874.88", "max_amount": "2000.00"}
    assert isinstance(decision, Pay)
    assert decision.explanation.compared["max_amount"] == "2000.00"


def test_the_example_robot_hands_over_and_records_the_failed_check_last() -> None:
    rules = cleaning_rules(max_amount="500.00")
    ctx = context(active_accounts=frozenset({"0.25.11-000-4.0"}))
    decision = rules.decide(cleaning_invoice(), ctx)
    assert_passed_then_failed(decision, Reason.AMOUNT, rules.check_order)
    assert isinstance(decision, Manual)
    assert decision.explanation.rule == "cleaning.rules:CleaningRules.amount.limit"


# --- older-style checks: Verdict | None ------------------------------------------------------


class LimitConfig(BaseModel):
    max_amount: Decimal


def old_style_currency(invoice: Invoice) -> Verdict | None:
    """A check written before Passed: ``None`` when the invoice passes."""
    if invoice.currency == "DKK":
        return None
    return Verdict(Reason.FORMAT, "format.currency", "Ikke DKK.", {"currency": invoice.currency})


class OldStyleRules(TableRules):
    kind = "old_style"
    category = Category.OTHER
    config_model = LimitConfig
    config: LimitConfig
    checks = (
        (Reason.FORMAT, lambda r, inv, ctx: old_style_currency(inv)),
        (Reason.AMOUNT, lambda r, inv, ctx: check_amount_limit(inv, r.config.max_amount)),
    )

    def payment(self, invoice: Invoice, ctx: DecisionContext) -> Payment:
        return Payment(account_string="1.2.3", posting_text="x")


def old_style(max_amount: str = "3000.00") -> OldStyleRules:
    return OldStyleRules.from_config({"max_amount": max_amount}, "1+abc")


def test_a_check_returning_none_counts_as_passed_with_nothing_compared() -> None:
    decision = old_style().decide(small_invoice(), context())
    assert isinstance(decision, Pay)
    first, second = decision.explanation.checks
    assert (first.rule, first.reason, first.passed, first.compared) == (
        "old_style.format",
        "MANUAL_FORMAT",
        True,
        {},
    )
    assert second.passed and second.compared["max_amount"] == "3000.00"


def test_an_old_style_verdict_still_decides() -> None:
    decision = old_style().decide(small_invoice(currency="SEK"), context())
    assert_passed_then_failed(decision, Reason.FORMAT, OldStyleRules.check_order)
    assert isinstance(decision, Manual) and decision.note == "Ikke DKK."
    decision = old_style("100.00").decide(small_invoice(), context())
    assert_passed_then_failed(decision, Reason.AMOUNT, OldStyleRules.check_order)


def test_a_table_rules_class_is_robot_rules() -> None:
    rules: RobotRules = old_style()  # mypy checks the protocol; here its runtime shape
    assert rules.reason_codes == frozenset({"MANUAL_FORMAT", "MANUAL_AMOUNT"})
    assert rules.duplicate_keys(small_invoice()) == ("cvr+nr:20433213:F-1001",)


def test_passed_is_falsy_so_old_chains_still_find_the_first_failure() -> None:
    ok, credit = small_invoice(), small_invoice(doc_type=DocType.CREDIT_NOTE)
    assert isinstance(check_currency(ok), Passed)
    assert not check_currency(ok)
    chained = check_currency(credit) or check_credit_note(credit)
    assert isinstance(chained, Verdict) and chained.reason is Reason.CREDIT_NOTE
    checks = [lambda inv, ctx: check_currency(inv), lambda inv, ctx: check_credit_note(inv)]
    assert first_verdict(checks, ok, context()) is None
    found = first_verdict(checks, credit, context())
    assert found is not None and found.reason is Reason.CREDIT_NOTE


def test_the_table_stops_at_the_first_failure() -> None:
    """The table stops at the first failure: nothing after it runs."""
    ran: list[str] = []

    class Spy(OldStyleRules):
        checks = (
            (Reason.AMOUNT, lambda r, inv, ctx: check_amount_limit(inv, D("1.00"))),
            (Reason.FORMAT, lambda r, inv, ctx: ran.append("format")),
        )

    decision = Spy.from_config({"max_amount": "1"}, "1").decide(small_invoice(), context())
    assert isinstance(decision, Manual) and decision.reason == "MANUAL_AMOUNT"
    assert ran == []
    assert Spy.check_order == (Reason.AMOUNT, Reason.FORMAT)
