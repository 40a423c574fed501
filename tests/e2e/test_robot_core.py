"""The robot core, end to end: `robot run pay-small-invoices` through real headless Chromium
against the seeded mock finance system (a real HTTP server and SQLite file)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from paybot import locks
from paybot.report.morning import morning_path
from paybot.report.night import build_night, night_of
from support.robots import (
    Template,
    leaks,
    personal_values,
    robot_world,
    seed_template,
)

pytestmark = pytest.mark.e2e

ROBOT = "pay-small-invoices"
CATEGORY = "oevrige"
DEADLINE = 180.0


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """60 new invoices: every manual-handling reason of the small-invoice robot at least once."""
    return seed_template(tmp_path_factory.mktemp("seed-60"), invoices=60, seed=11)


@pytest.fixture(scope="module")
def small_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return seed_template(tmp_path_factory.mktemp("seed-16"), invoices=16, seed=5)


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # polling a database another process writes


def ledger_states(db: Path) -> dict[int, str]:
    if not db.exists():
        return {}
    conn = sqlite3.connect(db, timeout=30)
    try:
        return {r[0]: r[1] for r in conn.execute("SELECT erp_id, state FROM work_items")}
    except sqlite3.OperationalError:  # the schema is not there yet
        return {}
    finally:
        conn.close()


def test_pays_exactly_the_ground_truth_then_changes_nothing(
    template: Template, tmp_path: Path
) -> None:
    with robot_world(tmp_path, template) as world:
        first = world.robot("run", ROBOT)
        assert first.returncode == 0, first.stdout + first.stderr
        assert world.compare_with_truth(CATEGORY) == []
        assert all(n == 1 for n in world.payments_per_invoice().values())
        expected_pay = [d for d in world.expected(CATEGORY) if d["expected"]["decision"] == "pay"]
        assert f"paid {len(expected_pay)}," in first.stdout
        reasons = {
            d["expected"]["reason"]
            for d in world.expected(CATEGORY)
            if d["expected"]["decision"] == "manual"
        }
        assert len(reasons) >= 9  # the seed holds every small-invoice reason

        before = world.outcomes()
        second = world.robot("run", ROBOT)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "paid 0, manual 0, failed 0" in second.stdout
        assert world.outcomes() == before

        # The run folders hold what an operator looks for.
        runs = sorted((world.output_dir / "runs").iterdir())
        assert len(runs) == 2
        for folder in runs:
            assert (folder / "report.md").is_file() and (folder / "report.json").is_file()
            assert (folder / "robocorp" / "log.html").is_file()
            assert (folder / "console.log").read_text("utf-8")
        report = json.loads((runs[0] / "report.json").read_text("utf-8"))
        assert report["counts"]["paid"] == len(expected_pay)
        assert (runs[0] / "report.html").is_file()

        # The morning report's total is what the finance system paid, to the øre.
        with world.erp() as conn:
            amounts = [
                Decimal(r[0])
                for r in conn.execute(
                    "SELECT p.amount FROM payments p JOIN users u ON u.id = p.approved_by"
                    " WHERE u.username = 'robot'"
                )
            ]
        started = dt.datetime.fromisoformat(report["started_at"])
        night = build_night(world.output_dir, night_of(started))
        assert len(amounts) == len(expected_pay)
        assert (night.paid, night.paid_amount) == (len(amounts), sum(amounts, Decimal(0)))
        assert morning_path(world.output_dir, night_of(started)).is_file()
        history = world.robot("runs", "--robot", ROBOT)
        assert history.returncode == 0 and history.stdout.count(ROBOT) >= 2

        # The audit trail: the whole chain verifies, signed by the robot's key and agreeing with
        # the checkpoint kept in the ledger; one invoice reads start to end.
        verified = world.robot("audit", "verify", "--require-signed")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "signed through seq" in verified.stdout
        assert "matches the ledger's checkpoint" in verified.stdout
        paid = expected_pay[0]["loebenr"]
        shown = world.robot("audit", "show", str(paid))
        assert shown.returncode == 0, shown.stderr
        for event in (
            "page_opened",
            "field_read",
            "decision",
            "value_typed",
            "button_clicked",
            "voucher_read",
            "state_changed",
        ):
            assert event in shown.stdout, f"{event} missing from the trail of løbenr {paid}"

        # By business key too (the README's form), the whole trail: every record of the
        # invoice, whichever field names it, after the collection that read it.
        records = [json.loads(line) for line in world.audit_file.read_text("utf-8").splitlines()]
        mine = [r for r in records if r.get("robot") == ROBOT and r.get("erp_id") == int(paid)]
        key = next(r["business_key"] for r in mine if r.get("business_key"))
        by_key = world.robot("audit", "show", key)
        assert by_key.returncode == 0, by_key.stderr
        seqs = [int(line.split()[0]) for line in by_key.stdout.splitlines()[1:]]
        assert seqs[1:] == [r["seq"] for r in mine]
        assert records[seqs[0] - 1]["event"] == "collected"
        assert f"{len(mine) + 1} records from " in by_key.stdout.splitlines()[0]
        assert shown.stdout.splitlines()[1:] == by_key.stdout.splitlines()[1:]

        # The auditor's export of the first run: one row per record, the chain intact.
        first_run = next(r["run_id"] for r in records if r["event"] == "run_started")
        export = world.output_dir / "revision.csv"
        exported = world.robot("audit", "export", "--run", first_run, "--out", str(export))
        assert exported.returncode == 0, exported.stderr
        assert "chain intact" in exported.stdout
        with export.open(encoding="utf-8-sig", newline="") as file:
            rows = [row for row in csv.reader(file, delimiter=";") if not row[0].startswith("#")]
        assert [int(row[0]) for row in rows[1:]] == [
            r["seq"] for r in records if r.get("run_id") == first_run
        ]

        # No personal data anywhere the robot wrote.
        assert leaks([world.data_dir, world.output_dir], personal_values(world.db)) == []

        # Changing one byte of the audit file is detected and the line named.
        data = bytearray(world.audit_file.read_bytes())
        lines = data.split(b"\n")
        middle = len(lines) // 2
        offset = sum(len(line) + 1 for line in lines[:middle]) + 20
        data[offset] = ord("0") if data[offset] != ord("0") else ord("1")
        world.audit_file.write_bytes(bytes(data))
        broken = world.robot("audit", "verify")
        assert broken.returncode == 1
        assert f"line {middle + 1}" in broken.stdout + broken.stderr
        # ... and no run signs that trail: the robot refuses to start, touching nothing.
        before = world.outcomes()
        refused = world.robot("run", ROBOT)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "cannot vouch for" in refused.stdout + refused.stderr
        assert world.outcomes() == before


def test_two_workers_give_the_same_result_as_one(template: Template, tmp_path: Path) -> None:
    with robot_world(tmp_path, template) as world:
        run = world.robot("run", ROBOT, "--workers", "2")
        assert run.returncode == 0, run.stdout + run.stderr
        assert world.compare_with_truth(CATEGORY) == []
        assert all(n == 1 for n in world.payments_per_invoice().values())
        assert world.robot("audit", "verify").returncode == 0
        trail = world.audit_file.read_text("utf-8")
        assert '"worker":"w2"' in trail, "the second worker did no work"


def test_lost_answers_are_looked_up_not_paid_twice(
    small_template: Template, tmp_path: Path
) -> None:
    """Half of all approvals are carried out but answered with an error page."""
    with robot_world(tmp_path, small_template, lost_answer_rate=0.5, fault_seed=4) as world:
        run = world.robot("run", ROBOT)
        assert run.returncode == 0, run.stdout + run.stderr
        assert world.compare_with_truth(CATEGORY) == []
        assert all(n == 1 for n in world.payments_per_invoice().values())
        trail = world.audit_file.read_text("utf-8")
        assert '"event":"reconciled"' in trail


def test_a_crash_between_click_and_voucher_is_reconciled(
    small_template: Template, tmp_path: Path
) -> None:
    """SIGKILL the whole run (robot, robocorp, Chromium) while a payment intent is open; the
    next run looks the invoice up and records the voucher instead of paying again."""
    with robot_world(tmp_path, small_template, latency_ms=150) as world:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paybot", "run", ROBOT],
            env=world.env,
            cwd=world.root,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(
                lambda: "PAY_INTENT" in ledger_states(world.ledger_file).values(),
                "a payment intent",
            )
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        crashed = [k for k, v in ledger_states(world.ledger_file).items() if v == "PAY_INTENT"]
        assert crashed
        # The kernel frees the lock when the killed processes are gone (SIGKILL is delivered
        # asynchronously, so wait for that, briefly); no stale lock file blocks the next run.
        wait_for(lambda: not locks.is_locked(world.data_dir, ROBOT), "the lock to be freed", 10)

        rerun = world.robot("run", ROBOT)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert world.compare_with_truth(CATEGORY) == []
        assert all(n == 1 for n in world.payments_per_invoice().values())
        with world.ledger() as ledger, world.erp() as erp:
            for erp_id in crashed:
                voucher = ledger.execute(
                    "SELECT voucher FROM work_items WHERE erp_id = ?", (erp_id,)
                ).fetchone()[0]
                paid = erp.execute(
                    "SELECT voucher FROM payments WHERE invoice_id = ?", (erp_id,)
                ).fetchone()
                assert paid is not None and voucher == paid[0]


def test_a_misbehaving_system_still_gets_every_invoice_right(
    small_template: Template, tmp_path: Path
) -> None:
    faults = {
        "error_rate": 0.15,
        "system_message_rate": 0.3,
        "session_expiry_requests": 30,
        "fault_seed": 9,
    }
    with robot_world(tmp_path, small_template, **faults) as world:
        codes = []
        for _ in range(4):  # failed invoices, or a failed preflight, wait for the next run
            run = world.robot("run", ROBOT)
            codes.append(run.returncode)
            assert run.returncode in (0, 1, 3), run.stdout + run.stderr
            if run.returncode == 0:
                break
        assert codes[-1] == 0, codes
        assert world.compare_with_truth(CATEGORY) == []
        assert all(n == 1 for n in world.payments_per_invoice().values())
        trail = world.audit_file.read_text("utf-8")
        assert '"event":"app_error"' in trail
        assert '"button":"systembesked-ok"' in trail
        shots = list((world.output_dir / "runs").rglob("*.png"))
        assert shots, "an application error leaves a screenshot in the run folder"


def test_a_changed_screen_stops_the_run_before_anything_is_touched(
    small_template: Template, tmp_path: Path
) -> None:
    with robot_world(tmp_path, small_template, rename_id="godkend-betal") as world:
        before = world.outcomes()
        run = world.robot("run", ROBOT)
        assert run.returncode == 3, run.stdout + run.stderr
        assert "godkend-betal" in run.stdout
        assert world.outcomes() == before
        assert set(ledger_states(world.ledger_file).values()) <= {"PENDING"}


def test_dry_run_decides_and_records_but_touches_nothing(
    small_template: Template, tmp_path: Path
) -> None:
    with robot_world(tmp_path, small_template) as world:
        before = world.outcomes()
        run = world.robot("run", ROBOT, "--dry-run")
        assert run.returncode == 0, run.stdout + run.stderr
        assert world.outcomes() == before
        expected = world.expected(CATEGORY)
        pay = sum(d["expected"]["decision"] == "pay" for d in expected)
        assert f"would pay {pay}, would hand over {len(expected) - pay}" in run.stdout
        with world.ledger() as ledger:
            rows = ledger.execute("SELECT COUNT(*) FROM decisions WHERE dry_run = 1").fetchone()
        assert rows[0] == len(expected)
        assert set(ledger_states(world.ledger_file).values()) == {"PENDING"}
        # Every record of the dry run says so; the run's start names paybot's version and the
        # configuration's checksum.
        records = [json.loads(x) for x in world.audit_file.read_text("utf-8").splitlines()]
        of_run = [r for r in records if r.get("run_id") and r.get("event") != "trail_started"]
        assert of_run and all(r.get("dry_run") is True for r in of_run)
        started = next(r for r in records if r["event"] == "run_started")
        assert started["paybot_version"] and started["config_checksum"].startswith("sha256:")
        decisions = [r for r in records if r["event"] == "decision"]
        assert len(decisions) == len(expected)
        for decision in decisions:
            assert decision["paybot_version"] == started["paybot_version"]
            assert decision["config_checksum"] == started["config_checksum"]
            assert decision["checks"] and decision["checks"][-1]["passed"] == (
                decision["decision"] == "pay"
            )


def test_exit_codes_for_config_errors_unreachable_system_and_a_busy_robot(
    small_template: Template, tmp_path: Path
) -> None:
    with robot_world(tmp_path, small_template) as world:
        bad = world.robot("run", ROBOT, env={"PAYBOT_RUNNER_MAX_ATTEMPTS": "many"})
        assert bad.returncode == 2
        assert "PAYBOT_RUNNER_MAX_ATTEMPTS" in bad.stderr and "many" in bad.stderr

        no_vault = world.robot("run", ROBOT, env={"PAYBOT_VAULT_FILE": str(tmp_path / "none")})
        assert no_vault.returncode == 2 and "none" in no_vault.stderr

        no_key = world.robot("run", ROBOT, env={"PAYBOT_AUDIT_SIGNING_KEY": ""})
        assert no_key.returncode == 2 and "no audit signing key" in no_key.stderr
        assert not world.audit_file.exists()  # nothing was started

        unknown = world.robot("run", "pay-everything")
        assert unknown.returncode == 2 and "pay-small-invoices" in unknown.stderr

        down = world.robot("run", ROBOT, env={"PAYBOT_ERP_URL": "http://127.0.0.1:9"})
        assert down.returncode == 3, down.stdout + down.stderr
        assert "Traceback" not in down.stdout + down.stderr  # an expected end, told in a sentence
        assert down.stdout.rstrip().endswith("report.html."), down.stdout

        with locks.robot_lock(world.data_dir, ROBOT, "held-by-test"):
            busy = world.robot("run", ROBOT)
        assert busy.returncode == 4 and "held-by-test" in busy.stderr


def test_sigterm_finishes_the_current_invoice_and_stops(
    small_template: Template, tmp_path: Path
) -> None:
    with robot_world(tmp_path, small_template, latency_ms=100) as world:
        proc = world.popen("run", ROBOT)
        wait_for(lambda: "PAID" in ledger_states(world.ledger_file).values(), "a first payment")
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=DEADLINE)
        assert proc.returncode == 0, output
        states = ledger_states(world.ledger_file)
        assert not {"PAY_INTENT", "MANUAL_INTENT"} & set(states.values()), states
        assert "PENDING" in states.values(), "the run should have stopped early"
        assert "stopped on request" in output
        for erp_id, state in states.items():
            paid = world.payments_per_invoice().get(erp_id, 0)
            assert paid == (1 if state == "PAID" else 0), (erp_id, state)
