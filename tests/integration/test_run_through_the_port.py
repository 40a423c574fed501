"""A whole run (preflight, keyset collect, workers, report) through the finance-system port
alone: the run loop drives any implementation of paybot.erp.port.FinanceSystem, here the
in-memory one, with no browser and no locator."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from paybot.audit import AuditTrail
from paybot.config import Credentials, RobotConfig, load_robot_config
from paybot.exit_codes import EXIT_OK, EXIT_PREFLIGHT
from paybot.ledger import InMemoryLedger, State
from paybot.run.runner import Runner, RunRequest
from paybot.run_folder import Outcome
from support.finance_system import FakeFinanceSystem, fake_connect

ROOT = Path(__file__).resolve().parents[2]
ROBOT = "pay-small-invoices"
TODAY = dt.date(2026, 11, 30)
INVOICES = 30  # good_invoice(n) is issued on n November: 30 distinct invoices


@pytest.fixture
def cfg(tmp_path: Path) -> RobotConfig:
    loaded = load_robot_config(ROOT, ROBOT, env={})
    settings = loaded.settings.model_copy(update={"data_dir": tmp_path / "data"})
    return RobotConfig(
        home=loaded.home,
        settings=settings,
        manifest=loaded.manifest,
        reasons=loaded.reasons,
        rules=loaded.rules,
        rules_file=loaded.rules_file,
    )


def run(
    cfg: RobotConfig, tmp_path: Path, ledger: InMemoryLedger, fake: FakeFinanceSystem, n: int
) -> Outcome:
    run_dir = tmp_path / f"run-{n}"
    run_dir.mkdir()
    req = RunRequest(
        cfg=cfg,
        credentials=Credentials(username="robot", password="x", source="test"),
        run_id=f"run-{n}",
        run_dir=run_dir,
        today=lambda: TODAY,
    )
    trail = AuditTrail(tmp_path / "audit.jsonl")
    return Runner(req, ledger, trail, finance_system=fake_connect(fake)).run()


def test_a_run_collects_page_by_page_pays_each_invoice_once_then_changes_nothing(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    ledger = InMemoryLedger()
    fake = FakeFinanceSystem(invoices=INVOICES)
    fake.page_size = 7
    first = run(cfg, tmp_path, ledger, fake, 1)
    assert first.exit_code == EXIT_OK, first.message
    assert first.counts.paid == INVOICES
    assert fake.inbox_asked == [0, 7, 14, 21, 28], "keyset paging from the collect mark"
    assert fake.approvals == INVOICES
    assert {i.state for i in ledger.items(ROBOT)} == {State.PAID}
    assert fake.closed, "the run closes its sessions"

    fake.inbox_asked.clear()
    second = run(cfg, tmp_path, ledger, fake, 2)
    assert second.exit_code == EXIT_OK
    assert second.counts.paid == 0
    assert fake.inbox_asked == [INVOICES], "the second run starts after the last Løbenr"
    assert fake.approvals == INVOICES


@pytest.mark.parametrize("fault", ["refuse_login", "changed_screen"])
def test_a_refused_login_or_a_changed_screen_stops_in_preflight(
    cfg: RobotConfig, tmp_path: Path, fault: str
) -> None:
    ledger = InMemoryLedger()
    fake = FakeFinanceSystem(invoices=3)
    fake.refuse_login = fault == "refuse_login"
    fake.changed_screen = "filter-form" if fault == "changed_screen" else ""
    outcome = run(cfg, tmp_path, ledger, fake, 1)
    assert outcome.exit_code == EXIT_PREFLIGHT
    assert fake.logins <= 1, "a refused login is not retried"
    assert fake.inbox_asked == [] and fake.approvals == 0
    assert ledger.items(ROBOT) == []


def test_a_long_collect_gets_a_fresh_browser_every_n_pages(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    settings = cfg.settings.model_copy(
        update={"runner": cfg.settings.runner.model_copy(update={"browser_restart_every": 2})}
    )
    cfg = dataclasses.replace(cfg, settings=settings)
    fake = FakeFinanceSystem(invoices=INVOICES)
    fake.page_size = 7  # 5 pages: fresh browsers after pages 2 and 4, none after the last
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    req = RunRequest(
        cfg=cfg,
        credentials=Credentials(username="robot", password="x", source="test"),
        run_id="run-1",
        run_dir=run_dir,
        today=lambda: TODAY,
    )
    trail = AuditTrail(tmp_path / "audit.jsonl")
    runner = Runner(req, InMemoryLedger(), trail, finance_system=fake_connect(fake))
    assert runner.collect(fake) == INVOICES
    assert fake.browsers == 1 + 2 and fake.logins == 2, "a fresh browser is logged in"
    assert fake.inbox_asked == [0, 7, 14, 21, 28], "every page read once, none skipped"
