"""What the run writes to robocorp's log, without robocorp: a check's line is masked, and
outside a robocorp-tasks run the steps do nothing but run their body."""

from __future__ import annotations

import pytest

from paybot.run import robolog
from paybot.run.worker import check_line


def test_a_checks_line_says_pass_or_fail_and_masks_personal_data() -> None:
    line = check_line(
        {
            "rule": "medical_certificates.requisition",
            "reason": "MANUAL_NO_REQUISITION",
            "passed": False,
            "compared": {"cpr": "0707611234", "kontonr": "0012345678", "form": "LÆ 115"},
        }
    )
    assert line.startswith("✗ medical_certificates.requisition (MANUAL_NO_REQUISITION)")
    assert "0707611234" not in line and "070761-****" in line
    assert "0012345678" not in line and "********78" in line and "form=LÆ 115" in line
    assert check_line({"rule": "r", "reason": "X", "passed": True}) == "✓ r (X)"


def test_outside_robocorp_a_step_only_runs_its_body() -> None:
    with robolog.step("Løbenr. 1 · 1:2") as step:
        robolog.info("x")
        robolog.error("y")
    assert step.status == robolog.PASS
    with pytest.raises(RuntimeError), robolog.step("Løbenr. 2 · 1:3") as failing:
        raise RuntimeError("boom")
    assert failing.status == robolog.FAIL
