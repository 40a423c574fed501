"""The bad nights, as the operator meets them: the scheduler starts the real robot (headless
Chromium) against the seeded mock finance system, and something goes wrong during the
scheduled run:

- the finance system is down: the run ends with exit 3, nothing touched;
- Chromium crashes in the middle of the run: the browser is replaced, the run carries on and
  finishes, the restart is counted;
- the robot's worker process is killed (SIGKILL, as the kernel's OOM killer does) in the middle
  of the run: the run is recorded as crashed, no invoice is lost, the next run reconciles.

Each ends with no Chromium or chromedriver of the run left (found by paybot's own markers), a
mail received by the SMTP server on 127.0.0.1 that says what happened and what to do and holds
no personal data, and ``robot status`` (and ``--json``) showing it. "In the middle of the run"
is read from the ledger (invoices paid, others still waiting), never guessed with a sleep.
"""

from __future__ import annotations

import contextlib
import json
import signal
from email.message import EmailMessage
from pathlib import Path

import psutil
import pytest

from support.robots import (
    RobotWorld,
    Template,
    personal_values,
    process_names,
    robot_world,
    seed_template,
)
from support.scheduled import mail_text, notify_env, scheduled_run
from support.smtp import smtp_server
from support.waiting import wait_for

pytestmark = pytest.mark.e2e

ROBOT = "pay-small-invoices"
CATEGORY = "oevrige"
OPS = "drift@kommune.example"
GONE_SECONDS = 15.0


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return seed_template(tmp_path_factory.mktemp("alerts-seed"), invoices=16, seed=5)


def mid_run(world: RobotWorld, paid: int) -> bool:
    """At least ``paid`` invoices paid and at least one still waiting: the middle of a run."""
    states = world.item_states()
    return states.count("PAID") >= paid and "PENDING" in states


def assert_no_personal_data(world: RobotWorld, mail: EmailMessage) -> None:
    raw = mail.as_string()
    assert [v for v in personal_values(world.db) if v in raw] == []


def assert_paid_once_each_as_the_truth_says(world: RobotWorld) -> None:
    assert world.compare_with_truth(CATEGORY) == []
    assert all(n == 1 for n in world.payments_per_invoice().values())


def test_a_night_with_the_finance_system_down_is_mailed_and_shown(
    template: Template, tmp_path: Path
) -> None:
    with robot_world(tmp_path, template) as world, smtp_server() as (inbox, port):
        world.server.stop()  # the finance system is down tonight
        world.env |= notify_env(port, OPS)
        with scheduled_run(world, ROBOT) as scheduler:
            [row] = wait_for(world.finished_runs, "the run to end")
            assert row["exit_code"] == 3 and row["trigger"] == "scheduler"
            [mail] = wait_for(lambda: inbox.mails, "the alert")
            status = world.robot("status", "--json")
        assert scheduler.returncode == 0, scheduler.output
        assert not world.browser_processes()
    assert inbox.recipients == [[OPS]]
    assert "kunne ikke komme i gang" in mail["Subject"]
    text, html = mail_text(mail)
    assert "Ingen fakturaer er rørt" in text
    assert "What to do: check that the finance system answers at" in text
    assert f"robot run {ROBOT}" in text
    assert html.count("<h2") == 2
    assert status.returncode == 1, status.stdout + status.stderr  # degraded
    shown = json.loads(status.stdout)
    assert shown["scheduler"]["alive"] is True
    robot = next(r for r in shown["robots"] if r["robot"] == ROBOT)
    assert robot["last_run"]["outcome"] == "preflight"
    assert robot["last_run"]["exit_code"] == 3
    assert shown["alerts"]["last"]["sent_at"] is not None
    assert any(ROBOT in p and "preflight" in p for p in shown["problems"])


@pytest.mark.slow
def test_a_chromium_crash_in_a_scheduled_run_is_replaced_mailed_and_shown(
    template: Template, tmp_path: Path
) -> None:
    with (
        robot_world(tmp_path, template, latency_ms=100) as world,
        smtp_server() as (inbox, port),
    ):
        world.env |= notify_env(port, OPS)
        with scheduled_run(world, ROBOT) as scheduler:
            wait_for(lambda: mid_run(world, paid=2), "two payments with invoices still waiting")
            chromium = [p for p in world.browser_processes() if "chromedriver" not in p.name()]
            assert chromium, "the run's Chromium should carry paybot's marker"
            for p in chromium:  # Chromium crashes: every process of it; chromedriver stays
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
            [row] = wait_for(world.finished_runs, "the run to end")
            [mail] = wait_for(lambda: inbox.mails, "the alert")
            wait_for(lambda: not world.browser_processes(), "the run's browsers to end", 15)
            status = world.robot("status", "--json")
            screen = world.robot("status")
        assert scheduler.returncode == 0, scheduler.output
        assert row["exit_code"] == 0 and row["trigger"] == "scheduler", dict(row)
        assert "restarted 1 time" in row["note"]
        assert world.last_report()["browser_restarts"] == 1
        assert '"event":"browser_restarted"' in world.audit_file.read_text("utf-8")
        assert set(world.item_states()) <= {"PAID", "MANUAL", "SKIPPED"}
        assert_paid_once_each_as_the_truth_says(world)
        assert_no_personal_data(world, mail)

    assert inbox.recipients == [[OPS]]
    assert "browseren gik ned og blev startet igen" in mail["Subject"]
    text, html = mail_text(mail)
    assert "Browseren (Chromium) gik ned under kørslen og blev startet igen" in text
    assert "What happened: the browser (Chromium) died or stopped answering" in text
    assert "restarted 1 time(s)" in text
    assert "What to do: nothing for tonight" in text and "dmesg" in text
    assert "browseren gik ned" in html and html.count("<h2") == 2

    assert status.returncode == 0, status.stdout + status.stderr  # recovered: healthy
    shown = json.loads(status.stdout)
    robot = next(r for r in shown["robots"] if r["robot"] == ROBOT)
    assert robot["last_run"]["outcome"] == "recovered"
    assert "restarted 1 time" in robot["last_run"]["note"]
    assert any(ROBOT in n and "browser failed" in n for n in shown["notices"])
    assert shown["alerts"]["last"]["kind"] == "recovered"
    assert shown["alerts"]["last"]["sent_at"] is not None
    assert "recovered" in screen.stdout and "worth knowing:" in screen.stdout


@pytest.mark.slow
def test_a_killed_worker_in_a_scheduled_run_is_mailed_shown_and_reconciled(
    template: Template, tmp_path: Path
) -> None:
    """SIGKILL the robot's worker (the robocorp child of the ``robot run`` the scheduler
    started, as the OOM killer would) between two payments."""
    with (
        robot_world(tmp_path, template, latency_ms=100) as world,
        smtp_server() as (inbox, port),
    ):
        world.env |= notify_env(port, OPS)
        with scheduled_run(world, ROBOT) as scheduler:
            wait_for(lambda: mid_run(world, paid=1), "a payment with invoices still waiting")
            worker = wait_for(scheduler.robot_worker, "the robot's worker process")
            assert {"chromium", "chromedriver"} <= process_names(world.browser_processes())
            worker.send_signal(signal.SIGKILL)
            [row] = wait_for(world.finished_runs, "the run to be recorded")
            [mail] = wait_for(lambda: inbox.mails, "the alert")
            wait_for(lambda: not world.browser_processes(), "no Chromium or chromedriver left")
            status = world.robot("status", "--json")
            screen = world.robot("status")
        assert scheduler.returncode == 0, scheduler.output
        assert row["exit_code"] == 1 and row["trigger"] == "scheduler", dict(row)
        assert "SIGKILL" in row["note"]
        items = {r["erp_id"]: r["state"] for r in world.query("SELECT * FROM work_items")}
        assert {d["loebenr"] for d in world.expected(CATEGORY)} <= set(items)  # none lost
        assert "PAID" in items.values() and "PENDING" in items.values()  # the rest wait
        assert_no_personal_data(world, mail)

        rerun = world.robot("run", ROBOT)  # the next run reconciles and pays the rest
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert_paid_once_each_as_the_truth_says(world)
        assert not world.browser_processes()

    assert inbox.recipients == [[OPS]]
    assert "kørslen stoppede uventet" in mail["Subject"]
    text, html = mail_text(mail)
    assert "Kørslen stoppede uventet" in text and "ingen faktura betales to gange" in text
    assert "What happened: the run's process ended unexpectedly" in text
    assert "SIGKILL" in text and "OOM killer" in text
    assert "the next run reconciles the invoice it was on" in text
    assert f"robot run {ROBOT}" in text and "dmesg" in text
    assert html.count("<h2") == 2

    assert status.returncode == 1, status.stdout + status.stderr  # degraded
    shown = json.loads(status.stdout)
    robot = next(r for r in shown["robots"] if r["robot"] == ROBOT)
    assert robot["last_run"]["outcome"] == "crashed"
    assert robot["last_run"]["exit_code"] == 1
    assert any(ROBOT in p and "crashed" in p for p in shown["problems"])
    assert shown["alerts"]["last"]["kind"] == "crashed"
    assert shown["alerts"]["last"]["sent_at"] is not None
    assert "crashed" in screen.stdout and "needs attention:" in screen.stdout
