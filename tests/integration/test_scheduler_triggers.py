"""The robots' triggers: crontab weekdays, summer time in Copenhagen (2027), bank days, and
surviving the job store (pickled into SQLite and read back)."""

from __future__ import annotations

import datetime as dt
import itertools
import pickle
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from paybot.config import ROBOTS_DIR, load_manifests
from paybot.cron import crontab_weekdays
from paybot.domain.calendar import BankCalendar
from paybot.errors import ConfigError
from paybot.scheduler.jobs import robot_trigger
from paybot.scheduler.triggers import RobotTrigger

CPH = ZoneInfo("Europe/Copenhagen")
ROOT = Path(__file__).resolve().parents[2]


def fire_times(trigger: RobotTrigger, start: dt.datetime, count: int) -> list[dt.datetime]:
    times: list[dt.datetime] = []
    previous = None
    now = start
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        assert nxt is not None
        times.append(nxt)
        previous = now = nxt
    return times


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CPH)


def wall(times: list[dt.datetime]) -> list[str]:
    """``Mon 03-29 01:30 CEST`` for each time, as a clock on the wall in Copenhagen shows it."""
    return [t.astimezone(dt.UTC).astimezone(CPH).strftime("%a %m-%d %H:%M %Z") for t in times]


# --- crontab weekdays ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("0,6", "sat,sun"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("1-5/2", "mon,wed,fri"),
        ("*", "*"),
    ],
)
def test_weekdays_are_numbered_as_in_crontab(field: str, expected: str) -> None:
    assert crontab_weekdays(field) == expected


@pytest.mark.parametrize("field", ["8", "fri-mon", "5-1", "mo", "*/0", "3/2"])
def test_a_bad_weekday_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=r"day-of-week|weekday"):
        crontab_weekdays(field)


def test_monday_to_friday_is_monday_to_friday_not_tuesday_to_saturday() -> None:
    """APScheduler 3's own from_crontab("30 1 * * 1-5") fires Tuesday to Saturday."""
    trigger = RobotTrigger("30 1 * * 1-5")
    times = fire_times(trigger, local("2027-03-05 12:00"), 5)  # a Friday
    assert wall(times) == [
        "Mon 03-08 01:30 CET",
        "Tue 03-09 01:30 CET",
        "Wed 03-10 01:30 CET",
        "Thu 03-11 01:30 CET",
        "Fri 03-12 01:30 CET",
    ]


def test_restricting_both_day_of_month_and_weekday_is_refused() -> None:
    with pytest.raises(ValueError, match="either matches"):
        RobotTrigger("0 2 1 * 1")


# --- summer time ---------------------------------------------------------------------------


def test_a_daily_run_in_the_hour_that_does_not_exist_runs_once_right_after_the_jump() -> None:
    """Sunday 28 March 2027: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day."""
    times = fire_times(RobotTrigger("30 2 * * *"), local("2027-03-26 12:00"), 4)
    assert wall(times) == [
        "Sat 03-27 02:30 CET",
        "Sun 03-28 03:30 CEST",
        "Mon 03-29 02:30 CEST",
        "Tue 03-30 02:30 CEST",
    ]
    utc = [t.astimezone(dt.UTC) for t in times]
    assert [t - s for s, t in itertools.pairwise(utc)] == [
        dt.timedelta(hours=24),
        dt.timedelta(hours=23),
        dt.timedelta(hours=24),
    ]


def test_a_daily_run_in_the_hour_that_happens_twice_runs_only_once() -> None:
    """Sunday 31 October 2027: 03:00 CEST becomes 02:00 CET; 02:30 happens twice that day."""
    times = fire_times(RobotTrigger("30 2 * * *"), local("2027-10-29 12:00"), 4)
    assert wall(times) == [
        "Sat 10-30 02:30 CEST",
        "Sun 10-31 02:30 CEST",
        "Mon 11-01 02:30 CET",
        "Tue 11-02 02:30 CET",
    ]


def test_an_hourly_run_runs_in_every_hour_that_happens() -> None:
    times = fire_times(RobotTrigger("0 * * * *"), local("2027-10-31 00:30"), 5)
    utc = [t.astimezone(dt.UTC).strftime("%H:%M") for t in times]
    assert utc == ["23:00", "00:00", "01:00", "02:00", "03:00"]  # 02:00 local twice


def test_the_shipped_robots_run_on_the_working_days_around_both_changes() -> None:
    manifests = load_manifests(ROOT / ROBOTS_DIR)
    small = robot_trigger(manifests["pay-small-invoices"], "pay-small-invoices.yaml")
    # Friday 26 March 2027 is Good Friday, Monday 29 March Easter Monday; summer time from 28th
    assert wall(fire_times(small, local("2027-03-26 12:00"), 2)) == [
        "Tue 03-30 01:30 CEST",
        "Wed 03-31 01:30 CEST",
    ]
    interpreter = robot_trigger(manifests["pay-interpreter-invoices"], "x.yaml")
    assert wall(fire_times(interpreter, local("2027-10-29 12:00"), 2)) == [
        "Mon 11-01 02:30 CET",
        "Tue 11-02 02:30 CET",
    ]


# --- bank days -----------------------------------------------------------------------------


def test_bank_days_only_skips_weekends_and_easter() -> None:
    """Easter 2027: Maundy Thursday 25 March, Good Friday 26, Easter Monday 29 March."""
    trigger = RobotTrigger("0 2 * * *", bank_days_only=True)
    assert wall(fire_times(trigger, local("2027-03-23 12:00"), 3)) == [
        "Wed 03-24 02:00 CET",
        "Tue 03-30 02:00 CEST",
        "Wed 03-31 02:00 CEST",
    ]


def test_bank_days_only_skips_holidays_in_the_week_and_new_year() -> None:
    """Ascension Day 2027 is Thursday 6 May (and the banks are closed on Friday 7 May); 1
    January 2028 is a Saturday."""
    trigger = RobotTrigger("45 1 * * 1-5", bank_days_only=True)
    assert wall(fire_times(trigger, local("2027-05-05 12:00"), 2)) == [
        "Mon 05-10 01:45 CEST",
        "Tue 05-11 01:45 CEST",
    ]
    assert wall(fire_times(trigger, local("2027-12-31 12:00"), 1)) == ["Mon 01-03 01:45 CET"]


def test_bank_days_only_skips_the_banks_closing_days() -> None:
    """The Friday after Ascension is 7 May 2027; 5 June 2026 is a Friday; 24 and 31 December
    2027 are Fridays."""
    trigger = RobotTrigger("30 1 * * 1-5", bank_days_only=True)
    assert wall(fire_times(trigger, local("2027-05-06 12:00"), 1)) == ["Mon 05-10 01:30 CEST"]
    assert wall(fire_times(trigger, local("2026-06-04 12:00"), 1)) == ["Mon 06-08 01:30 CEST"]
    assert wall(fire_times(trigger, local("2027-12-23 12:00"), 2)) == [
        "Mon 12-27 01:30 CET",
        "Tue 12-28 01:30 CET",
    ]
    assert wall(fire_times(trigger, local("2027-12-30 12:00"), 1)) == ["Mon 01-03 01:30 CET"]
    may_day = RobotTrigger("30 1 1 5 *", bank_days_only=True)  # 1 May 2028 is a Monday
    assert wall(fire_times(may_day, local("2027-06-01 00:00"), 1)) == ["Mon 05-01 01:30 CEST"]


def test_bank_days_only_skips_a_municipalitys_extra_closing_day_and_keeps_it_stored() -> None:
    calendar = BankCalendar({dt.date(2027, 3, 24): "Ekstra lukkedag"})
    trigger = RobotTrigger("0 2 * * *", bank_days_only=True, calendar=calendar)
    assert wall(fire_times(trigger, local("2027-03-23 12:00"), 1)) == ["Tue 03-30 02:00 CEST"]
    state = trigger.__getstate__()
    assert state["closing_days"] == [["2027-03-24", "Ekstra lukkedag"]]
    copy = pickle.loads(pickle.dumps(trigger))  # noqa: S301 - our own bytes
    assert copy == trigger
    assert copy != RobotTrigger("0 2 * * *", bank_days_only=True)
    assert copy.calendar == calendar


def test_a_schedule_with_no_bank_day_never_fires() -> None:
    christmas = RobotTrigger("0 2 25 12 *", bank_days_only=True)
    assert christmas.get_next_fire_time(None, local("2027-01-01 00:00")) is None


# --- the job store -------------------------------------------------------------------------


def test_the_trigger_pickles_by_its_settings_alone() -> None:
    trigger = RobotTrigger("30 1 * * 1-5", "Europe/Copenhagen", bank_days_only=True)
    state = trigger.__getstate__()
    assert state == {
        "version": 1,
        "cron": "30 1 * * 1-5",
        "timezone": "Europe/Copenhagen",
        "bank_days_only": True,
    }
    copy = pickle.loads(pickle.dumps(trigger))  # noqa: S301 - our own bytes
    assert copy == trigger
    start = local("2027-03-20 00:00")
    assert fire_times(copy, start, 6) == fire_times(trigger, start, 6)


def test_a_newer_stored_trigger_is_refused_with_a_clear_message() -> None:
    trigger = RobotTrigger.__new__(RobotTrigger)
    with pytest.raises(ValueError, match=r"version 2.*upgrade paybot"):
        trigger.__setstate__({"version": 2, "cron": "* * * * *", "timezone": "UTC"})


def test_a_job_with_the_trigger_survives_the_sqlite_job_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scheduler.sqlite'}"
    trigger = RobotTrigger("30 1 * * 1-5", bank_days_only=True)
    first = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone=CPH)
    first.start(paused=True)
    first.add_job("os:getpid", trigger=trigger, id="r", next_run_time=local("2027-03-24 01:30"))
    first.shutdown()
    again = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone=CPH)
    again.start(paused=True)
    try:
        job = again.get_job("r")
        assert job.trigger == trigger
        assert job.next_run_time == local("2027-03-24 01:30")
        nxt = job.trigger.get_next_fire_time(job.next_run_time, job.next_run_time)
        assert wall([nxt]) == ["Tue 03-30 01:30 CEST"]  # over Easter
    finally:
        again.shutdown()


def test_a_cron_line_the_trigger_cannot_read_names_file_key_and_value(tmp_path: Path) -> None:
    robots = tmp_path / "robots"
    robots.mkdir()
    text = (ROOT / "robots" / "pay-small-invoices.yaml").read_text("utf-8")
    (robots / "pay-small-invoices.yaml").write_text(
        text.replace('cron: "30 1 * * 1-5"', 'cron: "30 1 1 * 1-5"'), "utf-8"
    )
    # Loading the manifest already refuses it (the manifest and the scheduler read cron lines
    # with the same parser, paybot.cron).
    with pytest.raises(ConfigError) as caught:
        load_manifests(robots)
    message = str(caught.value)
    assert "robots/pay-small-invoices.yaml" in message
    assert "schedule.cron = '30 1 1 * 1-5'" in message
    assert "set one of them to *" in message
