"""A real scheduled run of a real robot: ``robot scheduler --run-now pay-small-invoices`` starts
``robot run`` (headless Chromium) against the seeded mock finance system, exactly as a night's
run would. The scheduler is stopped with SIGTERM in the middle of the first run: nothing is left
half paid. A second scheduler start pays the rest; ``robot runs`` shows both."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from support.robots import RobotWorld, Template, robot_world, seed_template
from support.waiting import wait_for

pytestmark = pytest.mark.e2e

ROBOT = "pay-small-invoices"
CATEGORY = "oevrige"
STOP_DEADLINE = 120


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return seed_template(tmp_path_factory.mktemp("scheduler-seed"), invoices=30, seed=3)


def finished_runs(world: RobotWorld) -> list[sqlite3.Row]:
    return world.query(
        "SELECT * FROM runs WHERE exit_code IS NOT NULL AND robot = 'pay-small-invoices' "
        "ORDER BY started_at",
    )


def start_scheduler(world: RobotWorld) -> subprocess.Popen[str]:
    return world.popen(
        "scheduler",
        "--run-now",
        ROBOT,
        env={"PAYBOT_SCHEDULER_STOP_DEADLINE_SECONDS": str(STOP_DEADLINE)},
    )


def stop(scheduler: subprocess.Popen[str]) -> tuple[int, str]:
    scheduler.send_signal(signal.SIGTERM)
    try:
        out, _ = scheduler.communicate(timeout=STOP_DEADLINE + 30)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.communicate()
    return scheduler.returncode, out


def assert_nothing_half_paid(world: RobotWorld) -> None:
    """Every work item is PAID, MANUAL or PENDING; an invoice paid in the finance system is
    PAID with its voucher in the ledger, and the other way round; nothing is paid twice."""
    items = world.query("SELECT erp_id, state, voucher FROM work_items")
    states = {r["state"] for r in items}
    assert states <= {"PAID", "MANUAL", "PENDING"}, states
    paid_in_ledger = {r["erp_id"]: r["voucher"] for r in items if r["state"] == "PAID"}
    assert all(paid_in_ledger.values())
    with world.erp() as conn:
        paid_in_mock = {
            r["id"]: r["voucher"]
            for r in conn.execute(
                "SELECT i.id, p.voucher AS voucher FROM invoices i "
                "JOIN payments p ON p.invoice_id = i.id WHERE i.category = 'oevrige'"
            )
        }
    newly_paid = {k: v for k, v in paid_in_mock.items() if k in {r["erp_id"] for r in items}}
    assert newly_paid == paid_in_ledger
    assert all(n == 1 for n in world.payments_per_invoice().values())


def test_a_scheduled_run_pays_and_a_sigterm_mid_run_leaves_nothing_half_paid(
    template: Template, tmp_path: Path
) -> None:
    with robot_world(tmp_path / "world", template) as world:
        first = start_scheduler(world)
        try:
            wait_for(
                lambda: world.query("SELECT 1 FROM work_items WHERE state = 'PAID'"),
                "the first invoice paid by the scheduled run",
            )
        finally:
            code, out = stop(first)
        assert code == 0, out
        assert "SIGTERM received" in out
        [interrupted] = finished_runs(world)
        assert interrupted["trigger"] == "scheduler", out
        assert interrupted["paid"] >= 1
        assert_nothing_half_paid(world)
        pending = world.query("SELECT 1 FROM work_items WHERE state = 'PENDING'")

        second = start_scheduler(world)
        try:
            wait_for(lambda: len(finished_runs(world)) == 2, "the second scheduled run")
        finally:
            code, out = stop(second)
        assert code == 0, out
        _, complete = finished_runs(world)
        assert (complete["trigger"], complete["exit_code"]) == ("scheduler", 0), out
        assert complete["paid"] > 0 or not pending
        assert interrupted["paid"] + complete["paid"] == len(
            [d for d in world.expected(CATEGORY) if d["expected"]["decision"] == "pay"]
        )
        assert_nothing_half_paid(world)
        assert world.compare_with_truth(CATEGORY) == []

        runs = world.robot("runs", "--robot", ROBOT)
        assert runs.returncode == 0, runs.stderr
        lines = runs.stdout.splitlines()
        assert len(lines) == 3
        for line, row in zip(lines[1:], (complete, interrupted), strict=True):
            assert line.startswith(row["run_id"]) and " scheduler " in line
        events = [
            line
            for line in world.audit_file.read_text("utf-8").splitlines()
            if '"scheduler_run_' in line
        ]
        assert sum('"scheduler_run_started"' in e for e in events) == 2
        assert sum('"scheduler_run_finished"' in e for e in events) == 2
