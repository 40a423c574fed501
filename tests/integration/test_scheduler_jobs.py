"""The job store follows the manifests: robots added, changed, removed, disabled; pauses kept
across restarts; a broken manifest schedules nothing. ``robot schedule`` shows it all."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from test_scheduler_fakes import FakeHome, make_home

from paybot.cli import main
from paybot.ledger import utc_now
from paybot.scheduler.jobs import JobBook, JobState, make_scheduler, store_path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHome:
    fake = make_home(tmp_path)
    fake.write_robot("alpha", "quick", cron="30 1 * * 1-5")
    fake.write_robot("beta", "quick", cron="0 2 * * 1-5")
    fake.write_robot("gamma", "quick", cron="0 3 * * *", enabled=False)
    fake.use_env(monkeypatch)
    return fake


def stored_jobs(home: FakeHome) -> dict[str, tuple[str, dt.datetime | None]]:
    """Job id → (name, next run time) as the job store on disk has them."""
    scheduler = make_scheduler(home.settings())
    scheduler.start(paused=True)
    try:
        return {j.id: (j.name, j.next_run_time) for j in scheduler.get_jobs(jobstore="default")}
    finally:
        scheduler.shutdown()


def reconcile(home: FakeHome) -> dict[str, str]:
    scheduler = make_scheduler(home.settings())
    scheduler.start(paused=True)
    try:
        book = JobBook(scheduler, home.home, home.manifests())
        return {c.robot: c.action for c in book.reconcile(utc_now())}
    finally:
        scheduler.shutdown()


def schedule_table(capsys: pytest.CaptureFixture[str]) -> dict[str, list[str]]:
    assert main(["schedule"]) == 1  # no scheduler runs in these tests
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("scheduler: NOT RUNNING")
    return {line.split()[0]: line.split() for line in lines[2:]}


def test_jobs_follow_the_manifests(home: FakeHome) -> None:
    assert reconcile(home) == {"alpha": "added", "beta": "added"}  # gamma is disabled
    jobs = stored_jobs(home)
    assert set(jobs) == {"alpha", "beta"}
    alpha_next = jobs["alpha"][1]
    assert alpha_next is not None and alpha_next.astimezone().strftime("%M") == "30"

    assert reconcile(home) == {"alpha": "kept", "beta": "kept"}  # a restart changes nothing
    assert stored_jobs(home)["alpha"] == jobs["alpha"]

    home.write_robot("beta", "quick", cron="15 4 * * 1-5")  # changed
    (home.robots / "alpha.yaml").unlink()  # removed
    home.write_robot("gamma", "quick", cron="0 3 * * *", enabled=True)  # enabled
    assert reconcile(home) == {"alpha": "removed", "beta": "changed", "gamma": "added"}
    jobs = stored_jobs(home)
    assert set(jobs) == {"beta", "gamma"}
    assert "15 4 * * 1-5" in jobs["beta"][0]
    beta_next = jobs["beta"][1]
    assert beta_next is not None
    assert beta_next.astimezone(dt.UTC).astimezone(beta_next.tzinfo).strftime("%H:%M") == "04:15"


def test_a_past_planned_time_survives_a_schedule_change(home: FakeHome) -> None:
    """The run planned before the change still happens (or is recorded as missed)."""
    reconcile(home)
    past = utc_now() - dt.timedelta(minutes=3)
    scheduler = make_scheduler(home.settings())
    scheduler.start(paused=True)
    scheduler.modify_job("alpha", jobstore="default", next_run_time=past)
    scheduler.shutdown()
    home.write_robot("alpha", "quick", cron="45 1 * * 1-5")
    assert reconcile(home)["alpha"] == "changed"
    name, next_run = stored_jobs(home)["alpha"]
    assert "45 1 * * 1-5" in name
    assert next_run == past


def test_pause_and_resume_are_kept_across_restarts_and_changes(
    home: FakeHome, capsys: pytest.CaptureFixture[str]
) -> None:
    table = schedule_table(capsys)
    assert [table[r][1] for r in ("alpha", "beta", "gamma")] == ["new", "new", "disabled"]

    assert main(["schedule", "pause", "alpha"]) == 0  # before the scheduler ever ran
    assert capsys.readouterr().out.strip() == "alpha: paused"
    assert main(["schedule", "pause", "alpha"]) == 0
    assert capsys.readouterr().out.strip() == "alpha: already paused"
    assert reconcile(home)["alpha"] == "kept"
    home.write_robot("alpha", "quick", cron="0 5 * * 1-5")
    assert reconcile(home)["alpha"] == "changed"
    assert stored_jobs(home)["alpha"][1] is None  # still paused

    table = schedule_table(capsys)
    assert table["alpha"][1:3] == ["paused", "-"]
    assert table["beta"][1] == "scheduled"
    assert table["gamma"][1:3] == ["disabled", "-"]

    assert main(["schedule", "resume", "alpha"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("alpha: resumed; next run ") and " 05:00:00" in out
    assert schedule_table(capsys)["alpha"][1] == "scheduled"
    audit = [(r["event"], r["robot"]) for r in home.audit()]
    assert audit == [("scheduler_job_paused", "alpha"), ("scheduler_job_resumed", "alpha")]


def test_pausing_an_unknown_or_disabled_robot_is_refused(
    home: FakeHome, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schedule", "pause", "delta"]) == 2
    err = capsys.readouterr().err
    assert "robots" in err and "'delta'" in err and "known: alpha, beta, gamma" in err
    assert main(["schedule", "resume", "gamma"]) == 2
    err = capsys.readouterr().err
    assert "robots/gamma.yaml: schedule.enabled = False" in err


def test_a_broken_manifest_is_named_and_nothing_is_scheduled(
    home: FakeHome, capsys: pytest.CaptureFixture[str]
) -> None:
    (home.robots / "beta.yaml").write_text(
        (home.robots / "beta.yaml").read_text("utf-8").replace("0 2 * * 1-5", "0 25 * * 1-5"),
        "utf-8",
    )
    assert main(["scheduler"]) == 2
    err = capsys.readouterr().err
    assert f"{home.robots / 'beta.yaml'}: schedule.cron = '0 25 * * 1-5'" in err
    assert not store_path(home.settings()).exists()  # nothing scheduled, not even alpha
    assert main(["schedule"]) == 2


def test_a_cron_line_only_crontab_would_misread_stops_the_scheduler(
    home: FakeHome, capsys: pytest.CaptureFixture[str]
) -> None:
    home.write_robot("beta", "quick", cron="0 2 1 * 1")  # day of month and weekday
    assert main(["scheduler"]) == 2
    err = capsys.readouterr().err
    assert "beta.yaml: schedule.cron = '0 2 1 * 1'" in err
    assert "both day-of-month and weekday" in err
    assert not store_path(home.settings()).exists()


def test_run_now_of_an_unknown_robot_is_refused(
    home: FakeHome, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scheduler", "--run-now", "delta"]) == 2
    err = capsys.readouterr().err
    assert "--run-now delta: no such robot" in err and "known: alpha, beta, gamma" in err
    assert not store_path(home.settings()).exists()


def test_the_store_is_an_sqlite_file_in_the_data_folder(home: FakeHome) -> None:
    reconcile(home)
    path = home.settings().data_dir / "scheduler.sqlite"
    with sqlite3.connect(path) as conn:
        ids = sorted(r[0] for r in conn.execute("SELECT id FROM apscheduler_jobs"))
    assert ids == ["alpha", "beta"]


def test_the_entries_say_never_for_a_schedule_without_a_bank_day(home: FakeHome) -> None:
    home.write_robot("beta", "quick", cron="0 2 25 12 *", bank_days_only=True)
    reconcile(home)
    scheduler = make_scheduler(home.settings())
    scheduler.start(paused=True)
    try:
        entries = {
            e.robot: e for e in JobBook(scheduler, home.home, home.manifests()).entries(utc_now())
        }
    finally:
        scheduler.shutdown()
    assert entries["beta"].state is JobState.NEVER and entries["beta"].next_run is None
