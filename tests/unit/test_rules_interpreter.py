"""Interpreter invoices: docs/rules.md, "Interpreter invoices", with the shipped contract."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from paybot.domain.models import DocType, Invoice, Manual, Pay, PaymentMeans, RegisterEntry
from paybot.domain.reasons import Reason
from paybot.domain.rules import InterpreterRules
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.interpreter_calc import ExpectedLine, expected_lines
from support.decisions import assert_every_check_passed, assert_passed_then_failed
from support.domain_builders import (
    UNKNOWN_SUPPLIER,
    D,
    booking,
    context,
    interpreter_invoice,
    interpreter_rules,
    line,
    with_lines,
)

RULES = interpreter_rules()
CONTRACT = RULES.config
T = dt.time


def worked_example(**changes: Any) -> Invoice:
    """DOMAIN.md: category øvrig at the 2023/24 rate 370.72, 08:00-09:40 on a weekday,
    70 minutes of transport."""
    return interpreter_invoice(
        [line(1, "2", "370.72", item="TOLK"), line(2, "3", "92.68", item="TRANSPORT")],
        transport_minutes=70,
        **changes,
    )


def reason(decision: Pay | Manual) -> str:
    assert isinstance(decision, Manual), f"expected manual handling, got {decision!r}"
    return decision.reason


def test_worked_example_comes_to_1019_48() -> None:
    job = worked_example().interpreter
    assert job is not None
    lines = expected_lines(job, booking(), CONTRACT)
    assert lines == (
        ExpectedLine("TOLK", D("2"), D("370.72"), D("741.44")),
        ExpectedLine("TRANSPORT", D("3"), D("92.68"), D("278.04")),
    )
    assert sum((ln.amount for ln in lines), Decimal(0)) == D("1019.48")


def test_worked_example_is_paid() -> None:
    inv = worked_example()
    assert inv.line_extension_amount == D("1019.48")
    decision = RULES.decide(inv, context(booking=booking()))
    assert isinstance(decision, Pay)
    assert decision.amount == D("1274.35")  # 1,019.48 + 25 % VAT
    assert decision.account_string == "5.46.60-014-4.0"
    assert decision.posting_text == "Tolkning TB-2024-0042 fakt. T-9001"
    assert "TOLK 2" in decision.explanation.compared["lines"]


def expect(
    start: T, end: T, day: dt.date = dt.date(2024, 9, 2), **booking_changes: Any
) -> dict[str, tuple[Decimal, Decimal]]:
    """Expected lines (item → quantity, amount) for a job on ``day`` (default a Monday)."""
    inv = interpreter_invoice([], date=day, start=start, end=end)
    assert inv.interpreter is not None
    changes = {"date": day, "start": start, **booking_changes}
    lines = expected_lines(inv.interpreter, booking(**changes), CONTRACT)
    return {ln.item_id: (ln.quantity, ln.amount) for ln in lines}


def test_units_start_at_the_billed_start_and_the_start_decides_the_rate() -> None:
    # 16:30-18:10 on a Monday: units at 16:30 (normal) and 17:30 (double); øvrig 374
    assert expect(T(16, 30), T(18, 10), distance_km="0") == {
        "TOLK": (D("1"), D("374.00")),
        "TOLK-DOBBELT": (D("1"), D("748.00")),
    }
    # 07:30-08:30: the unit starting 07:30 is double although it ends in normal time
    assert expect(T(7, 30), T(8, 30), distance_km="0") == {"TOLK-DOBBELT": (D("1"), D("748.00"))}


def test_across_midnight_into_the_weekend() -> None:
    friday = dt.date(2024, 9, 6)
    # 22:15 Friday to 01:00 Saturday: 2h45 → 3 started hours, all double
    assert expect(T(22, 15), T(1, 0), friday, distance_km="0") == {
        "TOLK-DOBBELT": (D("3"), D("2244.00"))
    }
    # Sunday 06:00-09:00: all double (weekend); Monday 06:00-09:00: 2 double + 1 normal
    assert expect(T(6, 0), T(9, 0), dt.date(2024, 9, 8), distance_km="0") == {
        "TOLK-DOBBELT": (D("3"), D("2244.00"))
    }
    assert expect(T(6, 0), T(9, 0), dt.date(2024, 9, 9), distance_km="0") == {
        "TOLK": (D("1"), D("374.00")),
        "TOLK-DOBBELT": (D("2"), D("1496.00")),
    }


def test_time_is_taken_from_the_clock_on_the_wall_across_summer_time() -> None:
    """01:30-03:30 on the last Sunday of March is one hour of work; in October three."""
    march = dt.date(2024, 3, 31)
    double = 2 * (CONTRACT.hourly_rate("oevrig", march) or D(0))
    assert expect(T(1, 30), T(3, 30), march, distance_km="0") == {"TOLK-DOBBELT": (D("1"), double)}
    assert expect(T(1, 30), T(3, 30), dt.date(2024, 10, 27), distance_km="0") == {
        "TOLK-DOBBELT": (D("3"), D("2244.00"))
    }
    # Saturday 27 October 2024 23:00 to 07:30 Sunday: 9.5 hours of work, 10 started hours
    assert expect(T(23, 0), T(7, 30), dt.date(2024, 10, 26), distance_km="0") == {
        "TOLK-DOBBELT": (D("10"), D("7480.00"))
    }


def test_a_late_start_and_a_cancellation_are_measured_in_real_time() -> None:
    # planned 01:30 on 31 March 2024, started 03:40 on the wall: 70 minutes late, not 130
    sunday = dt.date(2024, 3, 31)
    inv = interpreter_invoice([], date=sunday, start=T(3, 40), end=T(4, 40))
    decision = RULES.decide(inv, context(booking=booking(date=sunday, start=T(1, 30))))
    assert isinstance(decision, Manual) and decision.reason == Reason.LATE
    assert decision.explanation.compared["minutes_late"] == "70"
    # cancelled 11:00 on 26 October 2024 for a start 10:00 the next day: 23 hours on the
    # clock but 24 in real time (the clocks go back in between), so not a late cancellation
    cancelled = booking(
        date=dt.date(2024, 10, 27),
        start=T(10, 0),
        cancelled_at=dt.datetime(2024, 10, 26, 11, 0),
    )
    inv = interpreter_invoice(
        [line(1, "1", "374.00", item="AFLYSNING")],
        date=dt.date(2024, 10, 27),
        start=T(10, 0),
        end=T(10, 0),
        cancelled=True,
    )
    decision = RULES.decide(inv, context(booking=cancelled))
    assert isinstance(decision, Manual) and decision.reason == Reason.CANCELLATION
    assert decision.explanation.rule.endswith("cancellation.in_time")


def test_public_holiday_is_double() -> None:
    christmas = dt.date(2024, 12, 25)  # a Wednesday
    assert expect(T(10, 0), T(11, 0), christmas, distance_km="0") == {
        "TOLK-DOBBELT": (D("1"), D("748.00"))
    }


def test_remote_jobs_by_the_quarter_without_transport() -> None:
    # video, 10:00-10:50: 4 started quarters = 1 hour; no transport although billed
    got = expect(T(10, 0), T(10, 50), mode="video")
    assert got == {"TOLK": (D("1.00"), D("374.00"))}
    # telephone, 5 minutes: at least one quarter
    assert expect(T(10, 0), T(10, 5), mode="telefon") == {"TOLK": (D("0.25"), D("93.50"))}


def test_sign_language_minimum_hour_then_half_hours() -> None:
    assert expect(T(10, 0), T(10, 20), language="Tegnsprog", distance_km="0") == {
        "TOLK": (D("1"), D("374.00"))
    }
    assert expect(T(10, 0), T(11, 10), language="dansk tegnsprog", distance_km="0") == {
        "TOLK": (D("1.5"), D("561.00"))
    }


def test_transport_and_mileage_only_above_ten_km() -> None:
    inv = interpreter_invoice([], date=dt.date(2024, 9, 2), transport_minutes=31, km="80")
    assert inv.interpreter is not None
    far = expected_lines(
        inv.interpreter, booking(date=dt.date(2024, 9, 2), distance_km="25"), CONTRACT
    )
    got = {ln.item_id: (ln.quantity, ln.unit_price, ln.amount) for ln in far}
    assert got["TRANSPORT"] == (D("2"), D("93.50"), D("187.00"))  # 2 started half hours
    # mileage: at most there and back (2 x 25 km) at 3.79
    assert got["KOERSEL"] == (D("50"), D("3.79"), D("189.50"))
    near = expected_lines(
        inv.interpreter, booking(date=dt.date(2024, 9, 2), distance_km="10"), CONTRACT
    )
    assert {ln.item_id for ln in near} == {"TOLK"}


def test_billing_transport_for_a_short_distance_is_a_contract_problem() -> None:
    decision = RULES.decide(worked_example(), context(booking=booking(distance_km="8")))
    assert reason(decision) == Reason.CONTRACT
    assert "TRANSPORT" in decision.note and "må ikke faktureres" in decision.note


def test_wrong_quantity_and_missing_line() -> None:
    wrong = with_lines(
        worked_example(),
        [line(1, "3", "370.72", item="TOLK"), line(2, "3", "92.68", item="TRANSPORT")],
    )
    decision = RULES.decide(wrong, context(booking=booking()))
    assert reason(decision) == Reason.CONTRACT
    assert "faktureret 3 = 1.112,16 kr." in decision.note
    missing = with_lines(worked_example(), [line(1, "2", "370.72", item="TOLK")])
    decision = RULES.decide(missing, context(booking=booking()))
    assert reason(decision) == Reason.CONTRACT and "mangler" in decision.note


def test_double_rate_billed_in_normal_time() -> None:
    inv = with_lines(
        worked_example(),
        [line(1, "2", "741.44", item="TOLK-DOBBELT"), line(2, "3", "92.68", item="TRANSPORT")],
    )
    assert reason(RULES.decide(inv, context(booking=booking()))) == Reason.CONTRACT


def test_no_rate_for_the_category_on_the_date() -> None:
    # the shipped example contract has no rates for 2025 (2024's ended, 2026's not begun)
    day = dt.date(2025, 6, 2)
    inv = worked_example(date=day)
    decision = RULES.decide(inv, context(booking=booking(date=day)))
    assert reason(decision) == Reason.TARIFF_PERIOD
    assert decision.explanation.rule == "interpreter.tariff_period.no_rate"
    assert "02-06-2025" in decision.note


def test_the_rates_of_the_issue() -> None:
    """NSK 370.72 (øvrig) from 1 July 2023 to 30 June 2024; MVJ 654/436/374 for 2024; the
    state's high mileage rate 3.79 (2024), 3.81 (2025), 3.94 (2026)."""
    rate = CONTRACT.hourly_rate
    assert rate("oevrig", dt.date(2023, 6, 30)) is None
    assert rate("oevrig", dt.date(2023, 7, 1)) == D("370.72")
    assert rate("oevrig", dt.date(2024, 6, 30)) == D("370.72")
    assert rate("oevrig", dt.date(2024, 7, 1)) == D("374.00")
    assert rate("translatoer", dt.date(2024, 1, 1)) == D("654.00")
    assert rate("statsproevet", dt.date(2024, 12, 31)) == D("436.00")
    assert rate("translatoer", dt.date(2025, 1, 1)) is None
    km = CONTRACT.mileage_rate
    assert (km(dt.date(2024, 12, 31)), km(dt.date(2025, 1, 1)), km(dt.date(2026, 6, 1))) == (
        D("3.79"), D("3.81"), D("3.94")
    )
    for period in [*CONTRACT.rates, *CONTRACT.mileage.rates]:
        assert period.valid_to is not None and period.source
        if period.valid_from.year >= 2026 and period.source.startswith("EXAMPLE"):
            continue
        assert re.search(r"20\d\d", period.source)


@pytest.mark.parametrize(
    ("booking_changes", "what"),
    [
        ({"reference": "TB-2024-9999"}, "ingen tolkebestilling"),
        ({"language": "Somali"}, "sprog"),
        ({"date": dt.date(2024, 1, 16)}, "dato"),
        ({"category": "statsproevet"}, "kategori"),
    ],
)
def test_booking_must_match(booking_changes: dict[str, Any], what: str) -> None:
    decision = RULES.decide(worked_example(), context(booking=booking(**booking_changes)))
    assert reason(decision) == Reason.BOOKING
    assert what in decision.note


def test_booking_language_is_case_insensitive_and_missing_booking() -> None:
    assert isinstance(
        RULES.decide(worked_example(), context(booking=booking(language="ARABISK"))), Pay
    )
    assert reason(RULES.decide(worked_example(), context())) == Reason.BOOKING


def test_late_arrival() -> None:
    on_time = worked_example(start=T(8, 15))
    assert isinstance(RULES.decide(on_time, context(booking=booking())), Pay)
    late = worked_example(start=T(8, 16))
    decision = RULES.decide(late, context(booking=booking()))
    assert reason(decision) == Reason.LATE
    assert "16 minutter" in decision.note


def cancellation_invoice(rate: str = "370.72") -> Invoice:
    return interpreter_invoice([line(1, "1", rate, item="AFLYSNING")], cancelled=True)


def test_late_cancellation_is_paid_as_one_hour() -> None:
    cancelled = dt.datetime(2024, 1, 14, 8, 1)  # 23 h 59 min before 08:00
    decision = RULES.decide(
        cancellation_invoice(), context(booking=booking(cancelled_at=cancelled))
    )
    assert isinstance(decision, Pay)
    assert decision.amount == D("463.40")


def test_cancellation_in_time_is_not_paid() -> None:
    cancelled = dt.datetime(2024, 1, 14, 8, 0)  # exactly 24 hours before
    decision = RULES.decide(
        cancellation_invoice(), context(booking=booking(cancelled_at=cancelled))
    )
    assert reason(decision) == Reason.CANCELLATION
    assert "24 timer" in decision.note


def test_cancellation_fee_without_a_cancellation() -> None:
    decision = RULES.decide(cancellation_invoice(), context(booking=booking()))
    assert reason(decision) == Reason.CANCELLATION
    assert decision.explanation.rule == "interpreter.cancellation.not_cancelled"


def test_job_billed_although_the_booking_was_cancelled() -> None:
    cancelled = dt.datetime(2024, 1, 10, 9, 0)
    decision = RULES.decide(worked_example(), context(booking=booking(cancelled_at=cancelled)))
    assert reason(decision) == Reason.CANCELLATION
    assert decision.explanation.rule == "interpreter.cancellation.booking_cancelled"


def test_a_late_cancellation_may_bill_nothing_else() -> None:
    cancelled = dt.datetime(2024, 1, 15, 7, 0)
    inv = interpreter_invoice(
        [line(1, "1", "370.72", item="AFLYSNING"), line(2, "3", "92.68", item="TRANSPORT")],
        cancelled=True,
    )
    decision = RULES.decide(inv, context(booking=booking(cancelled_at=cancelled)))
    assert reason(decision) == Reason.CONTRACT


def test_amount_limit() -> None:
    # 5 double hours for a translatør on a Saturday in 2024: 5 x 1,308 = 6,540 + VAT
    sat = dt.date(2024, 9, 7)
    inv = interpreter_invoice(
        [line(1, "5", "1308.00", item="TOLK-DOBBELT")],
        date=sat,
        start=T(10, 0),
        end=T(15, 0),
        category="translatoer",
    )
    b = booking(date=sat, start=T(10, 0), end=T(15, 0), category="translatoer", distance_km="5")
    decision = RULES.decide(inv, context(booking=b))
    assert reason(decision) == Reason.AMOUNT


# --- check order ----------------------------------------------------------------------------

Spoil = Callable[[Invoice, DecisionContext, dict[str, Any]], tuple[Invoice, DecisionContext]]


def _ctx(**changes: Any) -> Spoil:
    return lambda inv, ctx, cfg: (inv, dataclasses.replace(ctx, **changes))


def _inv(**changes: Any) -> Spoil:
    return lambda inv, ctx, cfg: (inv.model_copy(update=changes), ctx)


def _booking(**changes: Any) -> Spoil:
    def spoil(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
        assert ctx.booking is not None
        return inv, dataclasses.replace(ctx, booking=ctx.booking.model_copy(update=changes))

    return spoil


def _late(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
    assert inv.interpreter is not None
    job = inv.interpreter.model_copy(update={"start": T(8, 30)})  # still 2 started hours
    return inv.model_copy(update={"interpreter": job}), ctx


def _contract(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
    return with_lines(
        inv, [line(1, "2", "370.72", item="TOLK"), line(2, "4", "92.68", item="TRANSPORT")]
    ), ctx


def _limit(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
    cfg["max_amount"] = D("100.00")
    return inv, ctx


def _lines(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
    cfg["max_lines"] = 1
    return inv, ctx


def _no_rates(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
    cfg["rates"] = []  # no period of the rate table covers the job
    return inv, ctx


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
    Reason.FORMAT: _inv(currency="NOK"),
    Reason.TOO_MANY_LINES: _lines,
    Reason.CREDIT_NOTE: _inv(doc_type=DocType.CREDIT_NOTE),
    Reason.SUPPLIER: _inv(supplier_cvr=UNKNOWN_SUPPLIER),
    Reason.SUPPLIER_NAME: _inv(supplier_name="Tolkeservice Midt I/S"),
    Reason.DUPLICATE: _ctx(duplicate_of="løbenr. 5 (samme bestillingsreference)"),
    Reason.BOOKING: _booking(language="Tigrinya"),
    Reason.CANCELLATION: _booking(cancelled_at=dt.datetime(2024, 1, 10, 12, 0)),
    Reason.LATE: _late,
    Reason.TARIFF_PERIOD: _no_rates,
    Reason.CONTRACT: _contract,
    Reason.ARITHMETIC: _inv(total=D("1.00")),
    Reason.AMOUNT: _limit,
    Reason.DUE_BEFORE_ISSUE: _inv(issue_date=dt.date(2024, 3, 1)),
    Reason.PAYMENT_MEANS: _inv(payment=PaymentMeans(code="93", fik_card_type="71")),
    Reason.PAYEE_ACCOUNT: _payee,
    Reason.ACCOUNT_STRING: _ctx(active_accounts=frozenset()),
}


def run(*reasons: Reason) -> Pay | Manual:
    cfg: dict[str, Any] = {}
    inv, ctx = worked_example(), context(booking=booking())
    for r in reasons:
        inv, ctx = SPOILERS[r](inv, ctx, cfg)
    rules = InterpreterRules(CONTRACT.model_copy(update=cfg), RULES.rule_version)
    return rules.decide(inv, ctx)


def test_every_reason_is_reachable() -> None:
    assert tuple(SPOILERS) == InterpreterRules.check_order
    assert isinstance(run(), Pay)
    for r in SPOILERS:
        assert reason(run(r)) == r


@pytest.mark.parametrize(
    ("first", "second"), list(itertools.combinations(InterpreterRules.check_order, 2))
)
def test_check_order(first: Reason, second: Reason) -> None:
    assert reason(run(first, second)) == first


# --- duplicate keys -------------------------------------------------------------------------


def test_duplicate_keys() -> None:
    inv = worked_example()
    keys = RULES.duplicate_keys(inv)
    assert keys == ("cvr+nr:11226914:T-9001", "bestilling:TB-2024-0042")
    same_job = worked_example(booking_ref=" tb-2024-0042 ", invoice_number="T-9002")
    assert RULES.duplicate_keys(same_job)[1] == keys[1]
    entry = RegisterEntry(
        erp_id=77,
        category=inv.category,
        status=inv.status,
        supplier_cvr=inv.supplier_cvr,
        invoice_number=inv.invoice_number,
        issue_date=inv.issue_date,
        payable_amount=inv.payable_amount,
    )
    assert RULES.register_keys(entry) == keys[:1]
    assert RULES.needs_bookings and not RULES.needs_requisitions


# --- the checks a decision records ----------------------------------------------------------


def test_a_pay_decision_records_every_check_passed_with_its_values() -> None:
    values = assert_every_check_passed(run(), "interpreter", InterpreterRules.check_order)
    assert values["format.interpreter"] == {"booking_ref": "TB-2024-0042"}
    assert values["duplicate"]["keys"].endswith("; bestilling:TB-2024-0042")
    assert values["booking"]["booking"] == "TB-2024-0042"
    assert values["cancellation"]["invoice_cancelled"] == "nej"
    assert values["late"]["minutes_late"] == "0"
    assert values["contract"] == {
        "lines": "TOLK 2 x 370.72 = 741.44; TRANSPORT 3 x 92.68 = 278.04"
    }
    assert values["arithmetic"]["line_total"] == "1019.48"
    assert values["amount"]["payable_amount"] == "1274.35"
    assert values["account_string"] == {"account_string": "5.46.60-014-4.0"}


@pytest.mark.parametrize("failing", list(SPOILERS))
def test_a_manual_decision_records_the_passed_checks_then_the_failed_one(
    failing: Reason,
) -> None:
    assert_passed_then_failed(run(failing), failing, InterpreterRules.check_order)
