"""The night the finance system is down, as the operator meets it: the scheduler starts the
real robot (headless Chromium) against a stopped mock finance system, the run ends with exit 3
(nothing touched), a mail reaches the SMTP server on 127.0.0.1 saying what happened and what to
do, and ``robot status`` shows the run and the alert."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.robots import Template, robot_world, seed_template
from support.smtp import smtp_server

pytestmark = pytest.mark.e2e

ROBOT = "pay-small-invoices"
DEADLINE = 240.0
OPS = "drift@kommune.example"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return seed_template(tmp_path_factory.mktemp("alerts-seed"), invoices=10, seed=5)


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    pause = threading.Event()
    end = time.monotonic() + DEADLINE
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {DEADLINE:g} s waiting for {what}")
        pause.wait(0.1)  # polling what other processes write


def finished(ledger: Path) -> list[sqlite3.Row]:
    if not ledger.exists():
        return []
    conn = sqlite3.connect(ledger, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute("SELECT * FROM runs WHERE exit_code IS NOT NULL"))
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def test_a_night_with_the_finance_system_down_is_mailed_and_shown(
    template: Template, tmp_path: Path
) -> None:
    with robot_world(tmp_path, template) as world, smtp_server() as (inbox, port):
        world.server.stop()  # the finance system is down tonight
        notify = {
            "PAYBOT_NOTIFY_SMTP_HOST": "127.0.0.1",
            "PAYBOT_NOTIFY_SMTP_PORT": str(port),
            "PAYBOT_NOTIFY_SMTP_STARTTLS": "false",
            "PAYBOT_NOTIFY_EMAIL": OPS,
        }
        world.env |= notify
        scheduler = world.popen("scheduler", "--run-now", ROBOT)
        try:
            [row] = wait_for(lambda: finished(world.ledger_file), "the run to end")
            assert row["exit_code"] == 3 and row["trigger"] == "scheduler"
            [mail] = wait_for(lambda: inbox.mails, "the alert")
            status = world.robot("status", "--json")
        finally:
            scheduler.send_signal(signal.SIGTERM)
            output, _ = scheduler.communicate(timeout=180)
        assert scheduler.returncode == 0, output
    assert inbox.recipients == [[OPS]]
    assert "kunne ikke komme i gang" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert "Ingen fakturaer er rørt" in text
    assert "What to do: check that the finance system answers at" in text
    assert f"robot run {ROBOT}" in text
    assert mail.get_body(("html",)).get_content().count("<h2") == 2
    assert status.returncode == 1, status.stdout + status.stderr  # degraded
    shown = json.loads(status.stdout)
    assert shown["scheduler"]["alive"] is True
    robot = next(r for r in shown["robots"] if r["robot"] == ROBOT)
    assert robot["last_run"]["outcome"] == "preflight"
    assert robot["last_run"]["exit_code"] == 3
    assert shown["alerts"]["last"]["sent_at"] is not None
    assert any(ROBOT in p and "preflight" in p for p in shown["problems"])
