"""Assertions on the checks a decision records (``explanation.checks``)."""

from __future__ import annotations

from paybot.domain.models import CheckMade, Manual, Pay
from paybot.domain.reasons import Reason


def reasons_in_order(checks: tuple[CheckMade, ...]) -> list[str]:
    """The reason codes of ``checks``, each once, in order."""
    return list(dict.fromkeys(c.reason for c in checks))


def assert_every_check_passed(
    decision: Pay | Manual, kind: str, check_order: tuple[Reason, ...]
) -> dict[str, dict[str, str]]:
    """A pay decision records every check of the table, passed, each with the values it
    compared; returns the compared values by rule (without the ``kind.`` prefix)."""
    assert isinstance(decision, Pay), f"expected pay, got {decision!r}"
    checks = decision.explanation.checks
    assert reasons_in_order(checks) == [r.value for r in check_order]
    for check in checks:
        assert check.passed, check
        assert check.compared, f"{check.rule} records no values"
        assert check.rule.startswith(f"{kind}.")
    by_rule = {c.rule.removeprefix(f"{kind}."): c.compared for c in checks}
    assert len(by_rule) == len(checks), "two checks with one rule name"
    return by_rule


def assert_passed_then_failed(
    decision: Pay | Manual, failing: Reason, check_order: tuple[Reason, ...]
) -> None:
    """A manual decision records the checks before ``failing``, passed, then the failed one,
    which is the rule, reason and values of the decision itself."""
    assert isinstance(decision, Manual), f"expected manual handling, got {decision!r}"
    *passed, failed = decision.explanation.checks
    assert all(c.passed for c in passed), passed
    assert not failed.passed
    assert failed.reason == decision.reason == failing.value
    assert failed.rule == decision.explanation.rule
    assert failed.compared == decision.explanation.compared
    before = [r.value for r in check_order[: check_order.index(failing)]]
    assert [r for r in reasons_in_order(tuple(passed)) if r != failing.value] == before
