"""Medical certificates: docs/rules.md, "Medical certificates", with the shipped rules file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from paybot.config import load_rules
from paybot.domain.models import DocType, Invoice, Manual, Pay, PaymentMeans, RegisterEntry
from paybot.domain.reasons import Reason
from paybot.domain.rules import MedicalCertificateRules
from paybot.domain.rules.context import DecisionContext
from paybot.domain.rules.keys import KeyedHash
from paybot.domain.rules.medical_certificates_config import MedicalCertificatesConfig
from support.decisions import assert_every_check_passed, assert_passed_then_failed
from support.domain_builders import (
    CITIZEN,
    OTHER_CITIZEN,
    PRACTICE,
    RULES_DIR,
    TEST_PSEUDONYM_KEY,
    D,
    certificate_invoice,
    certificate_rules,
    context,
    line,
    requisition,
    with_lines,
)

RULES = certificate_rules()


def decide(inv: Invoice, *reqs: Any, rules: MedicalCertificateRules = RULES, **ctx: Any) -> Any:
    requisitions = reqs if reqs else (requisition(inv.certificate.form if inv.certificate else ""),)
    return rules.decide(inv, context(requisitions=requisitions, **ctx))


def reason(decision: Pay | Manual) -> str:
    assert isinstance(decision, Manual), f"expected manual handling, got {decision!r}"
    assert CITIZEN not in decision.note and CITIZEN.replace("-", "") not in decision.note
    assert all(CITIZEN not in v for v in decision.explanation.compared.values())
    return decision.reason


def test_a_requested_certificate_at_the_tariff_is_paid() -> None:
    decision = decide(certificate_invoice())
    assert isinstance(decision, Pay)
    assert decision.amount == D("796.00")
    assert decision.account_string == "5.68.90-004-4.0"
    assert decision.posting_text == "Lægeerklæring fakt. L-5001"
    assert decision.payment_date == dt.date(2026, 11, 23)  # due date passed: today
    assert decision.explanation.compared["requisition"] == "R-2026-0100"
    assert decision.explanation.compared["tariff"] == "796.00"
    assert all(CITIZEN not in v for v in decision.explanation.compared.values())


def test_account_string_per_form_and_default() -> None:
    inv = certificate_invoice("LÆ 265", "1544.00")
    assert decide(inv).account_string == "5.48.67-004-4.0"
    inv = certificate_invoice("LÆ 285", "1140.00")
    assert decide(inv).account_string == "5.57.72-004-4.0"  # the default


def test_interpreter_fee_needs_an_approved_interpreter() -> None:
    inv = certificate_invoice(amount="1035.00", interpreter=True)
    approved = requisition(interpreter_approved=True)
    assert isinstance(decide(inv, approved), Pay)
    decision = decide(inv, requisition(interpreter_approved=False))
    assert reason(decision) == Reason.TARIFF
    assert "796,00 kr." in decision.note and "ikke godkendt tolk" in decision.note
    # interpreter approved but not used: the base fee
    assert isinstance(decide(certificate_invoice(), approved), Pay)


@pytest.mark.parametrize(
    ("form", "variant", "amount", "paid"),
    [
        ("LÆ 225", None, "152.00", True),
        ("LÆ 225", "uden sygesikring", "290.00", True),
        ("LÆ 225", "Uden  Sygesikring", "290.00", True),
        ("LÆ 225", "uden sygesikring", "152.00", False),
        ("LÆ 255", "del 1+2", "993.00", True),
        ("LÆ 255", None, "275.00", True),
        ("LÆ 255", "del 3", "275.00", False),
    ],
)
def test_variants(form: str, variant: str | None, amount: str, paid: bool) -> None:
    decision = decide(certificate_invoice(form, amount, variant=variant))
    if paid:
        assert isinstance(decision, Pay)
    else:
        assert reason(decision) == Reason.TARIFF


@pytest.mark.parametrize("form", ["LÆ 105", "LÆ 165"])
def test_free_forms_are_never_paid(form: str) -> None:
    decision = decide(certificate_invoice(form, "150.00"))
    assert reason(decision) == Reason.TARIFF
    assert decision.explanation.rule == "medical_certificates.tariff.not_paid"


@pytest.mark.parametrize(
    ("form", "rule"),
    [("LÆ 131", "form.request_form"), ("LÆ 155", "form.by_time"), ("LÆ 995", "form.no_fixed_fee")],
)
def test_forms_without_a_fixed_fee(form: str, rule: str) -> None:
    decision = decide(certificate_invoice(form, "500.00"))
    assert reason(decision) == Reason.FORM
    assert decision.explanation.rule == f"medical_certificates.{rule}"


def test_tariff_period_is_the_one_on_the_certificate_date() -> None:
    before = certificate_invoice("LÆ 285", "1140.00", certificate_date=dt.date(2021, 3, 31))
    req = requisition("LÆ 285", requested_on=dt.date(2021, 3, 1))
    assert reason(decide(before, req)) == Reason.TARIFF_PERIOD
    on_first_day = certificate_invoice("LÆ 285", "1140.00", certificate_date=dt.date(2021, 4, 1))
    assert isinstance(decide(on_first_day, req), Pay)


def test_a_certificate_dated_outside_every_period_goes_to_a_person() -> None:
    """The 2013 table ended on 31 March 2014 and the example table begins in 2026: a 2025
    certificate is checked against no table, never against the 2013 fees."""
    old = certificate_invoice(certificate_date=dt.date(2025, 6, 2))
    req = requisition(requested_on=dt.date(2025, 5, 1))
    decision = decide(old, req)
    assert reason(decision) == Reason.TARIFF_PERIOD
    assert decision.explanation.rule == "medical_certificates.tariff_period.certificate_date"
    assert "02-06-2025" in decision.note and "01-07-2013-31-03-2014" in decision.note
    in_2013 = certificate_invoice(certificate_date=dt.date(2013, 9, 2))
    assert isinstance(decide(in_2013, requisition(requested_on=dt.date(2013, 8, 1))), Pay)
    by_time = certificate_invoice("LÆ 155", "1000.00", certificate_date=dt.date(2025, 6, 2))
    assert reason(decide(by_time, requisition("LÆ 155", requested_on=dt.date(2025, 5, 1)))) == (
        Reason.FORM
    )


def test_every_shipped_tariff_ends_and_names_its_source() -> None:
    for tariff in RULES.config.tariffs:
        assert tariff.valid_to is not None, tariff.form
        assert tariff.source and ("20" in tariff.source), tariff.form
    examples = [t for t in RULES.config.tariffs if (t.source or "").startswith("EXAMPLE")]
    assert {t.form for t in examples} == {t.form for t in RULES.config.tariffs}
    assert "EXAMPLE" in RULES.config.source


def test_new_tariff_period_applies_from_its_first_day() -> None:
    data = RULES.config.model_dump()
    for tariff in data["tariffs"]:
        if tariff["form"] == "LÆ 135" and tariff["valid_to"] == dt.date(2027, 12, 31):
            tariff["valid_to"] = dt.date(2027, 3, 31)
    data["tariffs"].append({"form": "LÆ 135", "valid_from": dt.date(2027, 4, 1), "fee": "820.00"})
    rules = MedicalCertificateRules(
        MedicalCertificatesConfig.model_validate(data), "test", TEST_PSEUDONYM_KEY
    )
    old = certificate_invoice(certificate_date=dt.date(2027, 3, 31))
    new = certificate_invoice(amount="820.00", certificate_date=dt.date(2027, 4, 1))
    assert isinstance(decide(old, rules=rules), Pay)
    assert isinstance(decide(new, rules=rules), Pay)
    assert (
        reason(decide(certificate_invoice(certificate_date=dt.date(2027, 4, 1)), rules=rules))
        == Reason.TARIFF
    )


def test_requisitions() -> None:
    inv = certificate_invoice()
    assert reason(RULES.decide(inv, context())) == Reason.NO_REQUISITION
    # another citizen's, or another form's, do not count
    assert reason(decide(inv, requisition(cpr=OTHER_CITIZEN))) == Reason.NO_REQUISITION
    assert reason(decide(inv, requisition("LÆ 145"))) == Reason.NO_REQUISITION
    closed = decide(inv, requisition(open=False, number="R-7"))
    assert reason(closed) == Reason.NO_REQUISITION and "R-7" in closed.note
    cancelled = decide(
        inv, requisition(cancelled=True, number="R-8"), requisition(open=False, number="R-9")
    )
    assert reason(cancelled) == Reason.REQUISITION_CANCELLED and "R-8" in cancelled.note
    after = decide(inv, requisition(requested_on=dt.date(2026, 11, 6), number="R-10"))
    assert reason(after) == Reason.CERTIFICATE_DATE
    assert "06-11-2026" in after.note and "05-11-2026" in after.note
    same_day = decide(inv, requisition(requested_on=dt.date(2026, 11, 5)))
    assert isinstance(same_day, Pay)


def test_cpr_is_compared_without_formatting() -> None:
    req = requisition(cpr=CITIZEN.replace("-", ""))
    assert isinstance(decide(certificate_invoice(), req), Pay)


def test_the_latest_open_requisition_before_the_certificate_decides() -> None:
    inv = certificate_invoice(amount="1035.00", interpreter=True)
    older = requisition(number="R-1", requested_on=dt.date(2026, 9, 1), interpreter_approved=True)
    newer = requisition(number="R-2", requested_on=dt.date(2026, 10, 1))
    too_late = requisition(
        number="R-3", requested_on=dt.date(2026, 12, 1), interpreter_approved=True
    )
    decision = decide(inv, older, newer, too_late)
    assert reason(decision) == Reason.TARIFF
    assert decision.explanation.compared["requisition"] == "R-2"


def test_unknown_practice() -> None:
    decision = decide(certificate_invoice(ydernummer="999999"))
    assert reason(decision) == Reason.SUPPLIER
    assert "999999" in decision.note
    assert reason(decide(certificate_invoice(ydernummer=None))) == Reason.SUPPLIER
    assert reason(decide(certificate_invoice(supplier_cvr="51928325"))) == Reason.SUPPLIER


def test_missing_certificate_section_is_a_format_problem() -> None:
    decision = RULES.decide(certificate_invoice(certificate=None), context())
    assert reason(decision) == Reason.FORMAT


def test_amount_limit() -> None:
    rules = MedicalCertificateRules(
        RULES.config.model_copy(update={"max_amount": D("500.00")}),
        RULES.rule_version,
        TEST_PSEUDONYM_KEY,
    )
    assert reason(decide(certificate_invoice(), rules=rules)) == Reason.AMOUNT


# --- check order ----------------------------------------------------------------------------

Spoil = Callable[[Invoice, DecisionContext, dict[str, Any]], tuple[Invoice, DecisionContext]]


def _ctx(**changes: Any) -> Spoil:
    return lambda inv, ctx, cfg: (inv, dataclasses.replace(ctx, **changes))


def _inv(**changes: Any) -> Spoil:
    return lambda inv, ctx, cfg: (inv.model_copy(update=changes), ctx)


def _cert(**changes: Any) -> Spoil:
    def spoil(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
        assert inv.certificate is not None
        cert = inv.certificate.model_copy(update=changes)
        return inv.model_copy(update={"certificate": cert}), ctx

    return spoil


def _tariff(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
    first = inv.lines[0].model_copy(update={"unit_price": D("800.00"), "amount": D("800.00")})
    return with_lines(inv, [first, *inv.lines[1:]]), ctx


def _lines(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
    cfg["max_lines"] = 1
    return with_lines(inv, [*inv.lines, line(2, "0", "0.00", vat_percent="0")]), ctx

def _payee(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
    """Pay to an account the supplier never gave us (a NemKonto invoice becomes a bank one);
    only the account changes, so an earlier payment-means problem stays."""
    p = inv.payment
    if p.code == "97":
        p = PaymentMeans(code="42", bank_reg="9570", bank_account="0099999999")
    else:
        p = p.model_copy(update={"bank_account": "0099999999", "fik_creditor": "89999999"})
    return inv.model_copy(update={"payment": p}), ctx



def _limit(inv: Invoice, ctx: DecisionContext, cfg: dict[str, Any]) -> Any:
    cfg["max_amount"] = D("100.00")
    return inv, ctx


SPOILERS: dict[Reason, Spoil] = {
    Reason.FORMAT: _inv(currency="EUR"),
    Reason.TOO_MANY_LINES: _lines,
    Reason.CREDIT_NOTE: _inv(doc_type=DocType.CREDIT_NOTE),
    Reason.SUPPLIER: _inv(ydernummer="999999"),
    Reason.SUPPLIER_NAME: _inv(supplier_name="Lægerne i Sundhedshuset ApS"),
    Reason.DUPLICATE: _ctx(duplicate_of="løbenr. 3 (samme erklæring)"),
    Reason.FORM: _cert(form="LÆ 155"),
    Reason.TARIFF_PERIOD: _cert(certificate_date=dt.date(2025, 6, 2)),
    Reason.NO_REQUISITION: _ctx(requisitions=()),
    Reason.REQUISITION_CANCELLED: _ctx(requisitions=(requisition(cancelled=True),)),
    Reason.CERTIFICATE_DATE: _ctx(requisitions=(requisition(requested_on=dt.date(2026, 12, 1)),)),
    Reason.TARIFF: _tariff,
    Reason.AMOUNT: _limit,
    Reason.DUE_BEFORE_ISSUE: _inv(issue_date=dt.date(2026, 11, 25)),
    Reason.PAYMENT_MEANS: _inv(payment=PaymentMeans(code="42")),
    Reason.PAYEE_ACCOUNT: _payee,
    Reason.ACCOUNT_STRING: _ctx(active_accounts=frozenset()),
}
EXCLUSIVE = {Reason.NO_REQUISITION, Reason.REQUISITION_CANCELLED, Reason.CERTIFICATE_DATE}


def run(*reasons: Reason) -> Pay | Manual:
    cfg: dict[str, Any] = {}
    inv, ctx = certificate_invoice(), context(requisitions=(requisition(),))
    for r in reasons:
        inv, ctx = SPOILERS[r](inv, ctx, cfg)
    rules = MedicalCertificateRules(
        RULES.config.model_copy(update=cfg), RULES.rule_version, TEST_PSEUDONYM_KEY
    )
    return rules.decide(inv, ctx)


def test_every_reason_is_reachable() -> None:
    assert tuple(SPOILERS) == MedicalCertificateRules.check_order
    assert isinstance(run(), Pay)
    for r in SPOILERS:
        assert reason(run(r)) == r


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pair
        for pair in itertools.combinations(MedicalCertificateRules.check_order, 2)
        if not set(pair) <= EXCLUSIVE
    ],
)
def test_check_order(first: Reason, second: Reason) -> None:
    assert reason(run(first, second)) == first


# --- duplicate keys -------------------------------------------------------------------------


def test_duplicate_keys_hash_the_citizen() -> None:
    inv = certificate_invoice()
    keys = RULES.duplicate_keys(inv)
    assert keys[0] == "cvr+nr:86483505:L-5001"
    assert keys[1].startswith("cvr+cpr+blanket:hmac-sha256:")
    assert all(CITIZEN not in k and CITIZEN.replace("-", "") not in k for k in keys)
    # keyed: another installation's key gives another digest for the same certificate
    other_key = certificate_rules(KeyedHash(b"\x01" * 32))
    assert other_key.duplicate_keys(inv)[1] != keys[1]
    # the same certificate billed again under another number has the same second key
    again = certificate_invoice(invoice_number="L-5002")
    assert RULES.duplicate_keys(again)[1] == keys[1]
    other = certificate_invoice(cpr=OTHER_CITIZEN)
    assert RULES.duplicate_keys(other)[1] != keys[1]
    entry = RegisterEntry(
        erp_id=42,
        category=inv.category,
        status=inv.status,
        supplier_cvr=inv.supplier_cvr,
        invoice_number=inv.invoice_number,
        issue_date=inv.issue_date,
        payable_amount=inv.payable_amount,
    )
    assert RULES.register_keys(entry) == keys[:1]


def test_rules_need_requisitions() -> None:
    assert RULES.needs_requisitions and not RULES.needs_bookings


def test_the_rules_refuse_to_hash_without_the_pseudonym_key() -> None:
    unkeyed = load_rules(RULES_DIR / "medical_certificates.yaml", "medical_certificates")
    with pytest.raises(RuntimeError, match="pseudonym key"):
        unkeyed.duplicate_keys(certificate_invoice())


# --- the checks a decision records ----------------------------------------------------------


def _no_citizen(decision: Pay | Manual) -> None:
    """No check records the citizen: not the CPR number in any form, not its birth date,
    not the certificate duplicate key's digest (only its kind)."""
    text = repr([c.compared for c in decision.explanation.checks])
    for shown in (CITIZEN, CITIZEN.replace("-", ""), CITIZEN[:6]):
        assert shown not in text
    assert "sha256" not in text


def test_a_pay_decision_records_every_check_passed_with_its_values() -> None:
    inv = certificate_invoice()
    decision = run()
    values = assert_every_check_passed(
        decision, "medical_certificates", MedicalCertificateRules.check_order
    )
    _no_citizen(decision)
    assert values["supplier"] == {"cvr": PRACTICE[0], "ydernummer": PRACTICE[1]}
    assert values["duplicate"] == {"keys": f"cvr+nr:{PRACTICE[0]}:L-5001; cvr+cpr+blanket"}
    assert inv.certificate is not None
    day = inv.certificate.certificate_date.isoformat()
    assert values["form"] == {"form": "LÆ 135", "certificate_date": day}
    assert values["requisition.exists"]["requisitions"] == "R-2026-0100"
    assert values["requisition.dated"]["requisition_date"] == "2026-10-20"
    assert values["tariff"]["tariff"] == values["tariff"]["payable_amount"] == "796.00"
    assert values["payment_means"] == {"code": "97"}


@pytest.mark.parametrize("failing", list(SPOILERS))
def test_a_manual_decision_records_the_passed_checks_then_the_failed_one(
    failing: Reason,
) -> None:
    decision = run(failing)
    assert_passed_then_failed(decision, failing, MedicalCertificateRules.check_order)
    _no_citizen(decision)
