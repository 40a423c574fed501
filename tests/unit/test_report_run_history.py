"""The morning report lists the night's runs that wrote no report.json (killed by the OOM
killer, SIGKILL, stopped before they began), from the ledger's runs table."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from paybot.ledger import InMemoryLedger
from paybot.report.html import render_morning
from paybot.report.morning import HISTORY_ROWS, morning_path, write_morning
from paybot.report.night import RUNNING_DA, STOPPED_DA, build_night
from paybot.run.report import Report
from paybot.run.worker import ItemOutcome, Result
from paybot.run_folder import Counts

DAY = dt.date(2026, 11, 30)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 30, hour, minute, tzinfo=dt.UTC)


def ledger_with_a_night() -> InMemoryLedger:
    """Three runs of the night: one that wrote its report, one killed (ended without exit
    code, as ``mark_abandoned_runs`` leaves it), one still running; and one of the night
    before, which must not be listed."""
    now = [dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)]
    ledger = InMemoryLedger(clock=lambda: now[0])
    ledger.start_run("20261129T100000Z-old", "pay-small-invoices", "scheduler", "host", 9)
    for moment, run_id, robot in [
        (at(0, 30), "20261130T003000Z-good", "pay-small-invoices"),
        (at(1, 30), "20261130T013000Z-oom", "pay-medical-certificates"),
        (at(3, 0), "20261130T030000Z-busy", "pay-interpreters"),
    ]:
        now[0] = moment
        ledger.start_run(run_id, robot, "scheduler", "host", 1)
        now[0] = moment + dt.timedelta(minutes=10)
        if run_id.endswith("good"):
            ledger.finish_run(run_id, 0, Counts(paid=1))
        elif run_id.endswith("oom"):
            ledger.mark_abandoned_runs(robot, None, "killed (no exit code)")
    return ledger


def write_good_report(output: Path) -> None:
    report = Report(
        robot="pay-small-invoices",
        title="Småfakturaer",
        run_id="20261130T003000Z-good",
        dry_run=False,
        rule_version="2026.1",
        trigger="scheduler",
        items=[ItemOutcome(1, "1:F-1", Result.PAID, amount="100.00", currency="DKK")],
        started_at=at(0, 30).isoformat(),
        finished_at=at(1, 0).isoformat(),
    )
    folder = output / "runs" / report.run_id
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(report.as_json()), "utf-8")


def test_a_night_with_a_normal_run_and_a_killed_one_shows_both(tmp_path: Path) -> None:
    ledger = ledger_with_a_night()
    write_good_report(tmp_path)
    history = ledger.list_runs(limit=HISTORY_ROWS)
    night = build_night(tmp_path, DAY, history=history)
    assert [r.run_id for r in night.runs] == ["20261130T003000Z-good"]
    stopped = {r.run_id: r for r in night.without_report}
    assert set(stopped) == {"20261130T013000Z-oom", "20261130T030000Z-busy"}
    oom, busy = stopped["20261130T013000Z-oom"], stopped["20261130T030000Z-busy"]
    assert oom.state == STOPPED_DA and oom.exit_code is None and "killed" in oom.note
    assert busy.state == RUNNING_DA
    page = render_morning(night)
    assert 'id="uden-rapport-tabel"' in page
    assert "20261130T013000Z-oom" in page and "stoppet uden rapport" in page
    assert "20261130T030000Z-busy" in page and "i gang" in page
    assert "20261130T003000Z-good/report.html" in page
    # written to the file, too
    write_morning(tmp_path, DAY, history=history)
    assert "20261130T013000Z-oom" in morning_path(tmp_path, DAY).read_text("utf-8")


def test_without_history_only_runs_with_a_report_are_shown(tmp_path: Path) -> None:
    write_good_report(tmp_path)
    night = build_night(tmp_path, DAY)
    assert night.without_report == []
    assert 'id="uden-rapport-tabel"' not in render_morning(night)


def test_a_run_that_ended_with_an_exit_code_but_no_report_shows_the_code(tmp_path: Path) -> None:
    ledger = InMemoryLedger(clock=lambda: at(2, 0))
    ledger.start_run("20261130T020000Z-cfg", "pay-small-invoices", "scheduler", "host", 1)
    ledger.finish_run("20261130T020000Z-cfg", 3, Counts(), note="preflight failed")
    night = build_night(tmp_path, DAY, history=ledger.list_runs())
    (run,) = night.without_report
    assert run.state == STOPPED_DA and run.exit_code == 3
    assert "Kontrollen før start fejlede" in run.exit_da and run.note == "preflight failed"
