"""What only the real SQLite ledger can show: the database's own refusal, processes sharing
one file, durability settings, and a run whose process died."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from paybot.errors import LedgerError
from paybot.ledger import Ledger, State
from support.clock import FakeClock

ROBOT = "small_invoices"
LEASE = 300.0
START = dt.datetime(2026, 11, 20, 8, 15, tzinfo=dt.UTC)


def url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(url(path))
    ledger.create_schema()
    ledger.close()
    return path


def test_the_database_itself_refuses_a_second_payment(db: Path) -> None:
    ledger = Ledger(url(db))
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", "r1")
    ledger.ensure_work("medical_certificates", 2, "20433213:F-1", "r1")
    ledger.close()
    with sqlite3.connect(db) as con:
        con.execute("UPDATE work_items SET state = 'PAID' WHERE erp_id = 1")
        with pytest.raises(sqlite3.IntegrityError, match="business_key"):
            con.execute("UPDATE work_items SET state = 'PAY_INTENT' WHERE erp_id = 2")
        con.execute("UPDATE work_items SET state = 'MANUAL' WHERE erp_id = 2")  # allowed


def test_the_ledger_turns_the_refusal_into_a_ledger_error(db: Path) -> None:
    ledger = Ledger(url(db))
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", "r1")
    ledger.ensure_work(ROBOT, 2, "20433213:F-1", "r1")
    first = ledger.claim_next(ROBOT, "w1", "r1", LEASE)
    second = ledger.claim_next(ROBOT, "w2", "r1", LEASE)
    assert first is not None and second is not None
    args: dict[str, Any] = {
        "amount": Decimal("10.00"),
        "account_string": "x",
        "payment_date": dt.date(2026, 11, 23),
        "rule_version": "v",
    }
    ledger.record_pay_intent(first, "w1", **args)
    with pytest.raises(LedgerError) as refused:
        ledger.record_pay_intent(second, "w2", **args)
    assert isinstance(refused.value.__cause__, IntegrityError)
    assert "refused by the database" in str(refused.value)


def test_unknown_states_are_refused_by_the_database(db: Path) -> None:
    Ledger(url(db)).ensure_work(ROBOT, 1, "20433213:F-1", "r1")
    with sqlite3.connect(db) as con, pytest.raises(sqlite3.IntegrityError):
        con.execute("UPDATE work_items SET state = 'MAYBE_PAID' WHERE erp_id = 1")


def test_wal_full_sync_and_exact_money_on_disk(db: Path) -> None:
    ledger = Ledger(url(db))
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", "r1")
    item = ledger.claim_next(ROBOT, "w1", "r1", LEASE)
    assert item is not None
    ledger.record_pay_intent(
        item,
        "w1",
        amount=Decimal("1019.48"),
        account_string="5.46.60-014-4.0",
        payment_date=dt.date(2026, 11, 23),
        rule_version="v",
    )
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        amount, expires = con.execute(
            "SELECT amount, lease_expires FROM work_items WHERE erp_id = 1"
        ).fetchone()
    assert amount == "1019.48"  # text, never a float
    assert expires.endswith("+00:00")
    with ledger._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_state_survives_reopening(db: Path) -> None:
    ledger = Ledger(url(db))
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", "r1")
    item = ledger.claim_next(ROBOT, "w1", "r1", LEASE)
    assert item is not None
    ledger.record_skipped(item, "w1", "handled by a clerk")
    ledger.close()
    again = Ledger(url(db)).item(ROBOT, 1)
    assert again is not None and again.state is State.SKIPPED and again.note == "handled by a clerk"


def test_in_memory_sqlite_is_refused_with_advice() -> None:
    with pytest.raises(LedgerError, match="InMemoryLedger"):
        Ledger("sqlite://")


# --- processes -------------------------------------------------------------------------------


def claim_in_rounds(path: str, worker: str, rounds: Any, results: Any) -> None:
    """Child process: in each round, claim at the same moment as the other process (a
    barrier before), and finish the item only after both have claimed (a barrier after), so
    the two claims meet while both items are still leased."""
    ledger = Ledger(url(Path(path)))
    got: list[int] = []
    try:
        while True:
            rounds.wait(timeout=30)
            item = ledger.claim_next(ROBOT, worker, "r1", LEASE)
            rounds.wait(timeout=30)
            if item is None:
                break
            got.append(item.erp_id)
            ledger.record_skipped(item, worker, "test")
    except BaseException:
        rounds.abort()  # let the other process fail at once instead of waiting
        raise
    finally:
        ledger.close()
    results.put((worker, got))


def test_two_processes_claiming_never_get_the_same_item(db: Path) -> None:
    count = 120  # even: both processes run out in the same round
    ledger = Ledger(url(db))
    for erp_id in range(1, count + 1):
        ledger.ensure_work(ROBOT, erp_id, f"20433213:F-{erp_id}", "r1")
    ledger.close()
    ctx = multiprocessing.get_context("fork")
    rounds = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=claim_in_rounds, args=(str(db), f"p{n}/w1", rounds, results))
        for n in (1, 2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    got = dict(results.get(timeout=10) for _ in procs)
    claimed = got["p1/w1"] + got["p2/w1"]
    assert len(claimed) == len(set(claimed)) == count
    assert sorted(claimed) == list(range(1, count + 1))
    assert len(got["p1/w1"]) == len(got["p2/w1"]) == count // 2


def die_holding_a_payment(path: str, now: str) -> None:
    """Child process: start a run, record a payment intent, and die before the click."""
    ledger = Ledger(url(Path(path)), clock=FakeClock(dt.datetime.fromisoformat(now)))
    ledger.start_run("run1", ROBOT, "schedule", "host-a", os.getpid())
    item = ledger.claim_next(ROBOT, "run1/w1", "run1", LEASE)
    assert item is not None
    ledger.record_pay_intent(
        item,
        "run1/w1",
        amount=Decimal("1250.00"),
        account_string="6.45.51-000-2.2",
        payment_date=dt.date(2026, 11, 23),
        rule_version="v",
    )
    os._exit(9)  # no cleanup, no release: as if killed


def test_a_dead_processs_payment_intent_is_taken_over_after_its_lease(db: Path) -> None:
    ledger = Ledger(url(db), clock=FakeClock(START))
    ledger.ensure_work(ROBOT, 1, "20433213:F-1", "run1")
    ledger.close()
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=die_holding_a_payment, args=(str(db), START.isoformat()))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 9

    clock = FakeClock(START + dt.timedelta(seconds=LEASE - 1))
    survivor = Ledger(url(db), clock=clock)
    assert survivor.claim_next(ROBOT, "run2/w1", "run2", LEASE) is None  # lease still live
    clock.advance(dt.timedelta(seconds=1))
    survivor.start_run("run2", ROBOT, "schedule", "host-a", os.getpid())
    assert survivor.mark_abandoned_runs(ROBOT, "run2") == ["run1"]
    item = survivor.claim_next(ROBOT, "run2/w1", "run2", LEASE)
    assert item is not None and item.state is State.PAY_INTENT  # reconcile before anything
    assert item.amount == Decimal("1250.00")
    paid = survivor.record_paid(item, "run2/w1", "B-2026-000001")
    assert paid.new is State.PAID
    runs = {r.run_id: r for r in survivor.list_runs(ROBOT)}
    assert runs["run1"].abandoned and runs["run2"].ended_at is None


def test_upgraded_keys_leave_no_trace_in_the_files(db: Path) -> None:
    """Old unsalted keys replaced by ``upgrade_keys`` are gone from the database file and its
    write-ahead log, not just from the table (secure_delete, WAL truncated)."""
    old = [f"cvr+cpr+blanket:sha256:{n:064x}" for n in range(1, 200)]
    ledger = Ledger(url(db))
    for n, key in enumerate(old, start=1):
        ledger.record_keys(ROBOT, n, [key, f"cvr+nr:86483505:L-{n}"])
    assert ledger.upgrade_keys(ROBOT, "cvr+cpr+blanket:sha256:", lambda k: k.upper()) == len(old)
    ledger.close()
    stored = b"".join(p.read_bytes() for p in db.parent.glob("ledger.sqlite*"))
    assert b"cvr+nr:86483505:L-17" in stored  # the search can see what is there
    assert [k for k in old if k.encode() in stored] == []
    assert [k for k in old if k.removeprefix("cvr+cpr+blanket:sha256:").encode() in stored] == []

