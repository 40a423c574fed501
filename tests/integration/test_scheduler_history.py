"""The scheduler's part of the run history: ``record_run`` (the ledger extension, over the
in-memory and the SQLite ledger) and how the end of a scheduled run is written down whatever
state ``robot run`` left its row in."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from paybot.audit import AuditTrail
from paybot.errors import LedgerError
from paybot.ledger import InMemoryLedger, Ledger, LedgerPort, RunRecord
from paybot.run_folder import Counts, Outcome, run_dir
from paybot.scheduler.history import History
from support.clock import FakeClock

T0 = dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC)
HOST = socket.gethostname()


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerPort]:
    clock = FakeClock(T0)
    made: LedgerPort = (
        InMemoryLedger(clock=clock)
        if request.param == "memory"
        else Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}", clock=clock)
    )
    made.create_schema()
    yield made
    made.close()


def record(run_id: str, **changes: object) -> RunRecord:
    base = RunRecord(run_id, "pay-small-invoices", "scheduler", HOST, 4242, started_at=T0)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_record_run_inserts_a_finished_row_as_given_with_the_note_masked(
    ledger: LedgerPort,
) -> None:
    row = record("r1", ended_at=T0, note="missed; caseworker said 070761-1234")
    stored = ledger.record_run(row)
    assert stored.note == "missed; caseworker said 070761-****"
    [listed] = ledger.list_runs()
    assert listed == stored and listed.exit_code is None and listed.ended_at == T0
    with pytest.raises(LedgerError, match="run r1 of pay-small-invoices: already recorded"):
        ledger.record_run(row)
    assert ledger.mark_abandoned_runs("pay-small-invoices", None) == []  # it is finished


@pytest.fixture
def history(ledger: LedgerPort, tmp_path: Path) -> Iterator[History]:
    with AuditTrail(tmp_path / "audit.jsonl", forward_to_robocorp=False) as trail:
        yield History(ledger, trail, output_dir=tmp_path / "output", clock=FakeClock(T0))


def finish(history: History, exit_code: int, killed: str | None = None) -> RunRecord:
    return history.finished(
        "pay-small-invoices",
        "pay-small-invoices",
        pid=4242,
        spawned_at=T0,
        exit_code=exit_code,
        killed=killed,
        log_path=Path("/var/log/x.log"),
    )


def test_a_row_robot_run_finished_is_left_as_it_is(history: History) -> None:
    history.ledger.start_run("r1", "pay-small-invoices", "scheduler", HOST, 4242)
    history.ledger.finish_run("r1", 0, Counts(paid=3))
    row = finish(history, 0)
    assert (row.run_id, row.exit_code, row.paid, row.note) == ("r1", 0, 3, None)


def test_a_row_robot_run_could_not_finish_is_finished_with_the_outcome_it_left(
    history: History, tmp_path: Path
) -> None:
    history.ledger.start_run("r1", "pay-small-invoices", "scheduler", HOST, 4242)
    Outcome(0, Counts(paid=5, manual=1)).write(run_dir(tmp_path / "output", "r1"))
    row = finish(history, 137, killed="it ran longer than its timeout of 90 min")
    assert (row.exit_code, row.paid, row.manual) == (137, 5, 1)
    assert row.note == "killed: it ran longer than its timeout of 90 min"


def test_a_finished_row_of_a_run_the_scheduler_ended_says_so(history: History) -> None:
    history.ledger.start_run("r1", "pay-small-invoices", "scheduler", HOST, 4242)
    history.ledger.finish_run("r1", 0, Counts(paid=2), "stopped between two invoices")
    row = finish(history, 143, killed="the scheduler was stopping")
    assert (row.exit_code, row.paid) == (0, 2)
    assert (
        row.note
        == "stopped between two invoices; ended by the scheduler: the scheduler was stopping"
    )


def test_another_process_row_is_not_taken_for_the_runs(history: History) -> None:
    history.ledger.start_run("other", "pay-small-invoices", "manual", HOST, 999)
    row = finish(history, 2)
    assert row.run_id != "other" and row.exit_code == 2
    assert row.note == "robot run exited with 2 before recording the run (output: /var/log/x.log)"
    assert [r.ended_at for r in history.ledger.list_runs() if r.run_id == "other"] == [None]


def test_robot_run_finding_the_lock_held_is_a_skipped_run(history: History) -> None:
    row = finish(history, 4)
    assert row.exit_code == 4
    assert row.note == "skipped: already running (robot run found the robot's lock held)"
