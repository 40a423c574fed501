"""Runs that came due while the scheduler was down: made up once (coalesced) within the grace,
recorded as missed beyond it — every planned time accounted for. The job store is prepared
with a planned time in the past, as a restart after downtime finds it; no waiting for a clock.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from test_scheduler_fakes import FakeHome, make_home, wait_for

from paybot.ledger import utc_now
from paybot.scheduler.jobs import JobBook, make_scheduler

ROBOT = "fake-quick"


def hourly_home(
    tmp_path: Path, minutes_ago: int, grace: int, task: str = "quick"
) -> tuple[FakeHome, dt.datetime]:
    """A robot that runs every hour at the minute it was ``minutes_ago`` minutes ago; returns
    the home and that last planned time."""
    home = make_home(tmp_path)
    last = (utc_now() - dt.timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
    home.write_robot(ROBOT, task, cron=f"{last.minute} * * * *", misfire_grace_minutes=grace)
    return home, last


def plan_in_the_past(home: FakeHome, planned: dt.datetime) -> None:
    """The job store as the scheduler left it when it went down before ``planned``."""
    scheduler = make_scheduler(home.settings())
    scheduler.start(paused=True)
    try:
        JobBook(scheduler, home.home, home.manifests()).reconcile(utc_now())
        scheduler.modify_job(ROBOT, jobstore="default", next_run_time=planned)
    finally:
        scheduler.shutdown()


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def next_run(home: FakeHome) -> dt.datetime | None:
    scheduler = make_scheduler(home.settings())
    scheduler.start(paused=True)
    try:
        when: dt.datetime | None = scheduler.get_job(ROBOT).next_run_time
        return when
    finally:
        scheduler.shutdown()


def test_runs_missed_within_the_grace_are_made_up_once(tmp_path: Path) -> None:
    home, last = hourly_home(tmp_path, minutes_ago=2, grace=5)
    down_since = last - dt.timedelta(hours=3)  # 3 earlier hourly runs missed too
    plan_in_the_past(home, down_since)
    service = home.service()
    service.start()
    try:
        [row] = wait_for(lambda: [r for r in home.runs() if r.finished], "the made-up run")
    finally:
        service.stop()
    assert (row.robot, row.trigger, row.exit_code, row.paid) == (ROBOT, "scheduler", 0, 2)
    assert home.marker(f"{ROBOT}.ran") == "scheduler"
    assert len(home.runs()) == 1  # once, not four times; nothing recorded as missed
    [started] = home.audit("scheduler_run_started")
    assert moment(started["scheduled_at"]) == last
    assert [moment(t) for t in started["folded"]] == [
        down_since + dt.timedelta(hours=h) for h in range(3)
    ]
    [finished] = home.audit("scheduler_run_finished")
    assert (finished["run_id"], finished["exit_code"]) == (row.run_id, 0)
    upcoming = next_run(home)
    assert upcoming is not None and upcoming > utc_now()

    again = home.service()  # a restart: the store is kept, nothing is due
    assert {(c.robot, c.action) for c in again.start()} == {(ROBOT, "kept")}
    again.stop()
    assert next_run(home) == upcoming and len(home.runs()) == 1


def test_runs_missed_beyond_the_grace_are_each_recorded_as_missed(tmp_path: Path) -> None:
    home, last = hourly_home(tmp_path, minutes_ago=10, grace=5)
    planned = [last - dt.timedelta(hours=h) for h in (2, 1, 0)]
    plan_in_the_past(home, planned[0])
    service = home.service()
    service.start()
    try:
        rows = wait_for(lambda: len(home.runs()) == 3 and home.runs(), "three missed runs")
    finally:
        service.stop()
    assert sorted(r.started_at for r in rows) == planned
    for row in rows:
        assert row.trigger == "scheduler" and row.exit_code is None and row.ended_at is not None
        assert row.note is not None and row.note.startswith("missed: planned for ")
        assert "beyond the grace of 5 min" in row.note
    missed = home.audit("scheduler_run_missed")
    assert sorted(moment(e["scheduled_at"]) for e in missed) == planned
    assert {e["run_id"] for e in missed} == {r.run_id for r in rows}
    assert home.marker(f"{ROBOT}.ran") is None  # the robot did not run
    assert home.audit("scheduler_run_started") == []
    upcoming = next_run(home)
    assert upcoming is not None and upcoming > utc_now()


@pytest.mark.parametrize("grace_minutes", [0])
def test_a_grace_of_zero_still_allows_the_schedulers_own_delay(
    tmp_path: Path, grace_minutes: int
) -> None:
    home = make_home(tmp_path)
    home.write_robot(ROBOT, "quick", misfire_grace_minutes=grace_minutes)
    plan_in_the_past(home, utc_now() - dt.timedelta(seconds=2))
    service = home.service()
    service.start()
    try:
        [row] = wait_for(lambda: [r for r in home.runs() if r.finished], "the run")
    finally:
        service.stop()
    assert row.exit_code == 0 and row.note is None


def test_a_robot_is_not_started_while_this_scheduler_still_runs_it(tmp_path: Path) -> None:
    """Its job and a one-off run fall due together: one runs, the other is skipped."""
    home, _ = hourly_home(tmp_path, minutes_ago=1, grace=5, task="graceful")
    plan_in_the_past(home, utc_now() - dt.timedelta(seconds=30))
    service = home.service(run_now=(ROBOT,))
    service.start()
    try:
        wait_for(lambda: home.marker("graceful.item1") is not None, "the run to be at work")
        [skipped] = wait_for(lambda: [r for r in home.runs() if r.note], "the skipped run")
    finally:
        service.stop()  # SIGTERM: the graceful robot finishes its invoice and exits
    assert skipped.note == "skipped: already running (started by this scheduler)"
    assert home.marker("graceful.stopped") is not None
    ran = [r for r in home.runs() if r.run_id != skipped.run_id]
    assert [(r.exit_code, r.note) for r in ran] == [(0, None)]
    assert ran[0].paid >= 1


def test_a_job_that_comes_due_while_its_last_run_still_runs_is_recorded_as_skipped(
    tmp_path: Path,
) -> None:
    home, _ = hourly_home(tmp_path, minutes_ago=1, grace=5, task="graceful")
    plan_in_the_past(home, utc_now() - dt.timedelta(seconds=30))
    service = home.service()
    service.start()
    try:
        wait_for(lambda: home.marker("graceful.item1") is not None, "the run to be at work")
        service.scheduler.reschedule_job(ROBOT, trigger=IntervalTrigger(seconds=1))
        skipped = wait_for(lambda: [r for r in home.runs() if r.note], "a skipped run")
    finally:
        service.stop()
    assert skipped[0].note == (
        "skipped: already running (the previous run of this job has not ended)"
    )
    assert skipped[0].exit_code is None
    assert [r.exit_code for r in home.runs() if not r.note] == [0]
