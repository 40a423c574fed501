"""``robot scheduler`` as systemd runs it (a real process, stopped with SIGTERM during a run),
and ``robot runs`` reading the history back."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_scheduler_fakes import FakeHome, make_home, wait_for

from paybot.cli import main
from paybot.ledger import Ledger, RunRecord
from paybot.scheduler.proctree import snapshot

STOP_DEADLINE = 30


@pytest.fixture
def home(tmp_path: Path) -> FakeHome:
    return make_home(tmp_path, {"fake-graceful": "graceful", "fake-quick": "quick"})


def test_sigterm_lets_the_running_robot_finish_its_invoice_and_exits_0(home: FakeHome) -> None:
    env = home.env | {"PAYBOT_SCHEDULER_STOP_DEADLINE_SECONDS": str(STOP_DEADLINE)}
    log = home.home / "scheduler.log"
    with log.open("wb") as out:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "paybot", "scheduler", "--run-now", "fake-graceful"],
            env=env,
            cwd=home.home,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: home.marker("graceful.item2") is not None, "the run to be at work")
        sid = next(p.sid for p in snapshot().values() if p.ppid == scheduler.pid)
        began = time.monotonic()
        scheduler.send_signal(signal.SIGTERM)
        code = scheduler.wait(timeout=STOP_DEADLINE + 15)
        took = time.monotonic() - began
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait()
    output = log.read_text("utf-8", "replace")
    assert code == 0, output
    assert took < STOP_DEADLINE, output  # it stopped because the robot finished, not the deadline
    done = home.marker("graceful.stopped")
    assert done is not None and int(done) >= 2  # the robot got SIGTERM and finished cleanly
    [row] = home.runs("fake-graceful")
    assert (row.trigger, row.exit_code, row.paid, row.note) == ("scheduler", 0, int(done), None)
    assert "SIGTERM received" in output and "asking fake-graceful to finish" in output
    assert "scheduler stopped" in output
    assert not [p for p in snapshot().values() if p.sid == sid and not p.dead]
    events = [e["event"] for e in home.audit() if e["event"].startswith("scheduler_")]
    assert events == [
        "scheduler_job_added",
        "scheduler_job_added",
        "scheduler_run_started",
        "scheduler_run_finished",
    ]


def add_runs(home: FakeHome) -> None:
    ledger = Ledger(home.settings().ledger.url)
    ledger.create_schema()
    start = dt.datetime(2027, 3, 29, 0, 30, tzinfo=dt.UTC)  # 02:30 in Copenhagen (CEST)
    ledger.record_run(
        RunRecord(
            run_id="20270329-003000-aaaa",
            robot="fake-quick",
            trigger="scheduler",
            host="host",
            pid=1,
            started_at=start,
            ended_at=start + dt.timedelta(minutes=4),
            exit_code=0,
            paid=7,
            manual=2,
            failed=1,
        )
    )
    ledger.record_run(
        RunRecord(
            run_id="20270328-003000-bbbb",
            robot="fake-graceful",
            trigger="scheduler",
            host="host",
            pid=2,
            started_at=start - dt.timedelta(days=1),
            ended_at=start,
            note="missed: planned for 2027-03-28 01:30 CET; call 070761-1234 about it",
        )
    )
    ledger.close()


def test_robot_runs_shows_the_history_as_a_table(
    home: FakeHome, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home.use_env(monkeypatch)
    assert main(["runs"]) == 0
    assert capsys.readouterr().out.startswith("no runs recorded yet")
    add_runs(home)
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "RUN", "ID", "ROBOT", "TRIGGER", "STARTED", "ENDED", "EXIT", "PAID", "MANUAL", "FAILED",
        "NOTE",
    ]  # fmt: skip
    assert len(lines) == 3
    newest = lines[1].split()
    assert newest[:3] == ["20270329-003000-aaaa", "fake-quick", "scheduler"]
    assert newest[-4:] == ["0", "7", "2", "1"]
    missed = lines[2]
    # Copenhagen time with its offset: CET, then CEST after the clocks went forward
    assert "2027-03-28 01:30:00+01:00  2027-03-29 02:30:00+02:00" in missed
    assert "missed: planned for 2027-03-28 01:30 CET" in missed
    assert "070761-1234" not in missed and "070761-****" in missed

    assert main(["runs", "--robot", "fake-graceful", "--limit", "5"]) == 0
    only = capsys.readouterr().out.splitlines()
    assert len(only) == 2 and "fake-graceful" in only[1]
    assert main(["runs", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_robot_runs_refuses_a_bad_limit(
    home: FakeHome, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home.use_env(monkeypatch)
    with pytest.raises(SystemExit) as caught:
        main(["runs", "--limit", "0"])
    assert caught.value.code == 2
    assert "'0' must be at least 1" in capsys.readouterr().err


def test_a_bad_stop_deadline_names_the_variable(
    home: FakeHome, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home.use_env(monkeypatch)
    monkeypatch.setenv("PAYBOT_SCHEDULER_STOP_DEADLINE_SECONDS", "-5")
    assert main(["scheduler"]) == 2
    err = capsys.readouterr().err
    assert "PAYBOT_SCHEDULER_STOP_DEADLINE_SECONDS (scheduler.stop_deadline_seconds)" in err
    assert os.environ["PAYBOT_HOME"] == str(home.home)
