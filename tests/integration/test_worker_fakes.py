"""The item worker against a fake finance system (tests/support/finance_system.py, an
in-memory implementation of the finance-system port) and the in-memory ledger: retries, the
circuit breaker, and reconciliation, without a browser."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from paybot.audit.masking import mask_data
from paybot.config import RobotConfig, load_robot_config
from paybot.domain.models import RawInvoice
from paybot.domain.reasons import Reason
from paybot.domain.rules import SmallInvoiceRules
from paybot.erp.port import ReferenceData
from paybot.errors import LoginRefused
from paybot.ledger import InMemoryLedger, State
from paybot.run.ordering import KeyOrder
from paybot.run.worker import CircuitBreaker, Result, RunContext, Worker
from support.finance_system import Events, FakeFinanceSystem, Payment, good_invoice

ROOT = Path(__file__).resolve().parents[2]
ROBOT = "pay-small-invoices"
TODAY = dt.date(2026, 11, 30)


def recorded(worker: Worker) -> Events:
    assert isinstance(worker.audit, Events)
    return worker.audit


@pytest.fixture(scope="module")
def cfg() -> RobotConfig:
    return load_robot_config(ROOT, ROBOT, env={})


def make(
    cfg: RobotConfig, tmp_path: Path, items: int, limit: int = 5, restart_every: int = 0
) -> tuple[Worker, InMemoryLedger, FakeFinanceSystem]:
    ledger = InMemoryLedger(clock=lambda: dt.datetime(2026, 11, 30, 1, 30, tzinfo=dt.UTC))
    for erp_id in range(1, items + 1):
        ledger.ensure_work(ROBOT, erp_id, f"20433213:F-{erp_id}", "run-1")
    fast = cfg.settings.model_copy(
        update={
            "runner": cfg.settings.runner.model_copy(
                update={"backoff_seconds": 0.0, "browser_restart_every": restart_every}
            )
        }
    )
    ctx = RunContext(
        cfg=RobotConfig(
            home=cfg.home,
            settings=fast,
            manifest=cfg.manifest,
            reasons=cfg.reasons,
            rules=cfg.rules,
            rules_file=cfg.rules_file,
        ),
        run_id="run-1",
        run_dir=tmp_path,
        today=lambda: TODAY,
        dry_run=False,
        ledger=ledger,
        active_accounts=frozenset({"6.45.51-000-2.9"}),  # Kontorland: office supplies, kind 2.9
        reference=ReferenceData(),
        order=KeyOrder(),
        breaker=CircuitBreaker(limit),
        stop=threading.Event(),
    )
    erp = FakeFinanceSystem(invoices=items)
    return Worker("w1", ctx, erp, Events()), ledger, erp


def test_the_worker_pays_each_invoice_once(cfg: RobotConfig, tmp_path: Path) -> None:
    worker, ledger, erp = make(cfg, tmp_path, items=3)
    worker.run()
    assert [o.result for o in worker.outcomes] == [Result.PAID] * 3
    assert erp.approvals == 3
    assert {i.state for i in ledger.items(ROBOT)} == {State.PAID}


def test_a_system_that_is_down_stops_the_run_after_n_failures_in_a_row(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    worker, ledger, erp = make(cfg, tmp_path, items=10, limit=5)
    erp.down = True
    worker.run()
    assert worker.ctx.breaker.tripped.is_set()
    tried = len(worker.outcomes)
    assert 1 <= tried < 10, "the run must stop instead of trying every invoice"
    assert all(o.result == Result.FAILED for o in worker.outcomes)
    assert erp.approvals == 0
    assert {i.state for i in ledger.items(ROBOT)} == {State.PENDING}
    assert max(i.attempts for i in ledger.items(ROBOT)) >= 1


def test_an_open_intent_is_looked_up_and_not_paid_again(cfg: RobotConfig, tmp_path: Path) -> None:
    """A run died after clicking approve: the finance system has the payment, the ledger an
    intent. The next run records the voucher it finds; it never clicks approve again."""
    worker, ledger, erp = make(cfg, tmp_path, items=1)
    item = ledger.claim_next(ROBOT, "dead", "run-0", 60)
    assert item is not None
    ledger.record_pay_intent(
        item,
        "dead",
        amount=Decimal("125.00"),
        account_string="6.45.51-000-2.2",
        payment_date=TODAY,
        rule_version="v",
    )
    erp.payments[1] = Payment("B-2026-000042", "robot")
    erp.status[1] = "Betalt"
    ledger.release_leases_of_other_runs(ROBOT, "run-1")
    worker.run()
    assert erp.approvals == 0
    assert worker.outcomes[0].result == Result.PAID
    assert ledger.items(ROBOT)[0].voucher == "B-2026-000042"
    assert "reconciled" in recorded(worker).names()


def test_an_intent_the_system_never_saw_is_cancelled_and_paid_once(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    worker, ledger, erp = make(cfg, tmp_path, items=1)
    item = ledger.claim_next(ROBOT, "dead", "run-0", 60)
    assert item is not None
    ledger.record_pay_intent(
        item,
        "dead",
        amount=Decimal("125.00"),
        account_string="6.45.51-000-2.2",
        payment_date=TODAY,
        rule_version="v",
    )
    ledger.release_leases_of_other_runs(ROBOT, "run-1")
    worker.run()
    assert erp.approvals == 1
    assert ledger.items(ROBOT)[0].state == State.PAID


@pytest.mark.parametrize("arrived", [True, False], ids=["handed-over", "never-arrived"])
def test_an_open_hand_over_intent_is_looked_up_not_sent_twice(
    cfg: RobotConfig, tmp_path: Path, arrived: bool
) -> None:
    """A run died while handing an invoice over. If the finance system shows it handed over
    with the intent's reason, that is recorded; if it is still new, the intent is cancelled and
    the invoice decided again (here: paid)."""
    worker, ledger, erp = make(cfg, tmp_path, items=1)
    item = ledger.claim_next(ROBOT, "dead", "run-0", 60)
    assert item is not None
    ledger.record_manual_intent(item, "dead", reason=Reason.AMOUNT, rule_version="v")
    if arrived:
        erp.status[1] = "Manuel behandling"
        erp.manual[1] = (Reason.AMOUNT, "Over beløbsgrænsen.")
    ledger.release_leases_of_other_runs(ROBOT, "run-1")
    worker.run()
    assert erp.hand_overs == 0
    if arrived:
        assert worker.outcomes[0].result == Result.MANUAL and erp.approvals == 0
        assert ledger.items(ROBOT)[0].state == State.MANUAL
    else:
        assert worker.outcomes[0].result == Result.PAID and erp.approvals == 1
        assert ledger.items(ROBOT)[0].state == State.PAID


def test_an_invoice_a_clerk_paid_meanwhile_is_skipped(cfg: RobotConfig, tmp_path: Path) -> None:
    worker, ledger, erp = make(cfg, tmp_path, items=1)
    item = ledger.claim_next(ROBOT, "dead", "run-0", 60)
    assert item is not None
    ledger.record_pay_intent(
        item,
        "dead",
        amount=Decimal("125.00"),
        account_string="6.45.51-000-2.2",
        payment_date=TODAY,
        rule_version="v",
    )
    erp.payments[1] = Payment("B-2026-000007", "sagsbehandler")
    ledger.release_leases_of_other_runs(ROBOT, "run-1")
    worker.run()
    assert erp.approvals == 0
    assert worker.outcomes[0].result == Result.SKIPPED
    assert ledger.items(ROBOT)[0].state == State.SKIPPED


def test_a_run_that_goes_past_midnight_pays_with_the_new_date(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    """The finance system refuses a payment date before its today: the date is asked per
    invoice, not once at the start of the run (a clerk may start a run at 23:50)."""
    worker, _, erp = make(cfg, tmp_path, items=2)
    days = iter([TODAY, TODAY + dt.timedelta(days=1)])
    worker.ctx.today = lambda: next(days)
    worker.run()
    assert [o.result for o in worker.outcomes] == [Result.PAID] * 2
    # due 30-11-2026: paid on the due date, then (due date passed at midnight) the new today
    assert erp.payment_dates == [TODAY, TODAY + dt.timedelta(days=1)]


def test_the_decision_record_lists_every_check_with_the_bank_account_masked(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    worker, ledger, erp = make(cfg, tmp_path, items=1)
    bank = good_invoice(1).fields | {"betalingskode": "42", "regnr": "9570"}
    bank |= {"kontonr": "0012345678"}
    erp.read = lambda erp_id: RawInvoice(fields=bank, lines=good_invoice(erp_id).lines)
    worker.run()
    assert [o.result for o in worker.outcomes] == [Result.PAID]
    events = recorded(worker).seen
    (fields,) = [f for e, f in events if e == "decision"]
    checks = fields["checks"]
    reasons = list(dict.fromkeys(c["reason"] for c in checks))
    assert reasons == [r.value for r in SmallInvoiceRules.check_order]
    assert all(c["passed"] and c["compared"] for c in checks)
    (means,) = [c for c in checks if c["reason"] == "MANUAL_PAYMENT_MEANS"]
    assert means["rule"] == "small_invoices.payment_means"
    assert means["compared"]["code"] == "42"
    # the trail masks the account by its key; so does the ledger's copy of the decision
    masked = mask_data({"event": "decision", **fields})
    assert isinstance(masked, dict)
    assert "0012345678" not in json.dumps(masked)
    assert '"bank_account": "********78"' in json.dumps(masked)
    (stored,) = ledger.decisions_for(ROBOT, 1)
    assert "0012345678" not in json.dumps(stored.decision)
    assert [c["reason"] for c in stored.decision["explanation"]["checks"]] == [
        c["reason"] for c in checks
    ]


# --- hand-over marks and runner.max_nights ---------------------------------------------------


def test_an_invoice_marked_for_a_person_is_handed_over_not_paid(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    worker, ledger, erp = make(cfg, tmp_path, items=2)
    ledger.request_handover(ROBOT, 2, reason="MANUAL_SUPPLIER", note="Ring til os", by="ops")
    worker.run()
    assert [o.result for o in worker.outcomes] == [Result.PAID, Result.MANUAL]
    assert erp.manual == {
        2: ("MANUAL_SUPPLIER", f"{cfg.reasons.text('MANUAL_SUPPLIER')} Ring til os")
    }
    assert ledger.item(ROBOT, 2).state is State.MANUAL  # type: ignore[union-attr]
    assert ledger.decisions_for(ROBOT, 2)[0].decision["explanation"]["rule"] == "handover"


def tonight_of(worker: Worker, run_id: str) -> RunContext:
    """What a new run shares: its own id, key order and circuit breaker."""
    return dataclasses.replace(
        worker.ctx, run_id=run_id, order=KeyOrder(), breaker=CircuitBreaker(5)
    )


def test_after_max_nights_of_failures_a_person_takes_the_invoice(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    worker, ledger, erp = make(cfg, tmp_path, items=2)
    erp.broken = {1}
    nights = cfg.settings.runner.max_nights
    assert nights == 3
    for night in range(1, nights + 1):
        ctx = tonight_of(worker, f"night-{night}")
        tonight = Worker("w1", ctx, erp, Events())
        tonight.run()
        failed = [o for o in tonight.outcomes if o.erp_id == 1]
        assert [o.result for o in failed] == [Result.FAILED]
        marked = ledger.handover_for(ROBOT, 1)
        if night < nights:
            assert marked is None and failed[0].note is None
        else:
            assert marked is not None and marked.reason == "MANUAL_REPEATED_FAILURES"
            assert (marked.by, failed[0].note) == ("robot", marked.note)
            assert "3 kørsler" in marked.note
    assert erp.approvals == 1  # invoice 2, on the first night
    erp.broken = set()  # the page works again: the invoice still goes to a person
    ctx = tonight_of(worker, "night-4")
    last = Worker("w1", ctx, erp, Events())
    last.run()
    assert [(o.erp_id, o.result) for o in last.outcomes] == [(1, Result.MANUAL)]
    assert erp.manual[1][0] == "MANUAL_REPEATED_FAILURES" and erp.approvals == 1


def test_a_browser_that_dies_after_the_click_is_replaced_and_the_payment_reconciled(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    worker, ledger, erp = make(cfg, tmp_path, items=3)
    erp.crash_after_click = {2}
    worker.run()
    assert [o.result for o in worker.outcomes] == [Result.PAID] * 3
    assert erp.approvals == 3, "the invoice whose answer was lost is looked up, not paid again"
    assert erp.browsers == 2 and worker.ctx.restarts.count == 1
    assert not worker.ctx.breaker.tripped.is_set()
    assert {i.attempts for i in ledger.items(ROBOT)} == {0}, "a browser crash costs no attempt"
    assert {i.state for i in ledger.items(ROBOT)} == {State.PAID}


def test_a_browser_that_keeps_dying_stops_the_run_naming_the_browser(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    worker, ledger, erp = make(cfg, tmp_path, items=5)
    erp.browser_dead = erp.browser_dies_always = True
    worker.run()
    limit = cfg.settings.runner.max_browser_restarts
    assert worker.ctx.restarts.tripped.is_set() and worker.ctx.restarts.count == limit
    assert not worker.ctx.breaker.tripped.is_set(), "the finance system is not to blame"
    assert len(worker.outcomes) == 1 and worker.outcomes[0].result == Result.FAILED
    assert "browser" in worker.ctx.restarts.stop_message()
    assert "finance system seems" not in worker.ctx.restarts.stop_message()
    assert erp.approvals == 0
    assert {i.state for i in ledger.items(ROBOT)} == {State.PENDING}


def test_an_unreachable_system_stops_the_run_naming_the_network(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    worker, _, erp = make(cfg, tmp_path, items=10, limit=4)
    erp.network_down = True
    worker.run()
    assert worker.ctx.breaker.tripped.is_set()
    assert "network" in worker.ctx.breaker.stop_message()
    worker2, _, erp2 = make(cfg, tmp_path, items=10, limit=4)
    erp2.down = True
    worker2.run()
    assert "finance system seems to be down" in worker2.ctx.breaker.stop_message()


def test_a_fresh_browser_every_n_invoices_between_two_invoices(
    cfg: RobotConfig, tmp_path: Path
) -> None:
    worker, _, erp = make(cfg, tmp_path, items=5, restart_every=2)
    worker.run()
    assert [o.result for o in worker.outcomes] == [Result.PAID] * 5
    assert erp.browsers == 3 and erp.logins == 2, "after invoices 2 and 4, each with a login"
    assert worker.fresh_browsers == 2
    assert worker.ctx.restarts.count == 0, "planned restarts are not failures"
    assert erp.approvals == 5


def _refused(erp_id: int) -> RawInvoice:
    raise LoginRefused("login as 'robot' refused: the account is locked")


@pytest.mark.parametrize("where", ["the new login", "the invoice page"])
def test_a_refused_login_is_not_retried(cfg: RobotConfig, tmp_path: Path, where: str) -> None:
    """LoginRefused says retrying will not help (a wrong password, a locked account): the
    worker leaves the invoice after the first refusal instead of logging in again and again,
    which could lock the account for good."""
    worker, ledger, erp = make(cfg, tmp_path, items=1)
    assert cfg.settings.runner.max_attempts >= 2, "the test needs room for a retry"
    if where == "the new login":
        erp.session_expires = True  # the worker logs in again, and is refused
        erp.refuse_login = True
    else:
        erp.read = _refused
    worker.run()
    assert [o.result for o in worker.outcomes] == [Result.FAILED]
    assert "refused" in (worker.outcomes[0].error or "")
    assert erp.login_tries <= 1
    errors = [f for e, f in worker.audit.seen if e == "app_error"]  # type: ignore[attr-defined]
    assert len(errors) == 1, errors
    assert erp.approvals == 0
    assert [(i.state, i.attempts) for i in ledger.items(ROBOT)] == [(State.PENDING, 1)]
