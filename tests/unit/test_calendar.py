"""Bank days, the payment date (docs/rules.md, "Payment") and double-rate moments."""

from __future__ import annotations

import datetime as dt

import pytest

from paybot.domain.calendar import (
    DoubleRateWindow,
    danish_timestamp,
    is_bank_day,
    is_double_rate_moment,
    is_public_holiday,
    next_bank_day,
    parse_danish_moment,
    payment_date,
)

D = dt.date


def test_bank_days() -> None:
    assert is_bank_day(D(2026, 11, 23))  # Monday
    assert not is_bank_day(D(2026, 11, 28))  # Saturday
    assert not is_bank_day(D(2026, 12, 25))  # Christmas Day
    assert not is_bank_day(D(2026, 4, 3))  # Good Friday
    assert is_public_holiday(D(2026, 5, 14))  # Ascension Day
    assert next_bank_day(D(2026, 12, 24)) == D(2026, 12, 24)  # a weekday, not a public holiday
    assert next_bank_day(D(2026, 12, 25)) == D(2026, 12, 28)


@pytest.mark.parametrize(
    ("today", "due", "expected"),
    [
        # due on a bank day in the future: that day
        (D(2026, 11, 23), D(2026, 12, 10), D(2026, 12, 10)),
        # due on a Saturday: the Friday before
        (D(2026, 11, 23), D(2026, 11, 28), D(2026, 11, 27)),
        # due on Easter Monday 2026: back over Easter to Wednesday 1 April
        (D(2026, 3, 23), D(2026, 4, 6), D(2026, 4, 1)),
        # due today: today
        (D(2026, 11, 23), D(2026, 11, 23), D(2026, 11, 23)),
        # due Sunday, today Saturday: no bank day in [today, due] → next bank day from today
        (D(2026, 11, 28), D(2026, 11, 29), D(2026, 11, 30)),
        # due date passed: the next bank day from today (today itself when a bank day)
        (D(2026, 11, 23), D(2026, 11, 1), D(2026, 11, 23)),
        (D(2026, 12, 25), D(2026, 12, 1), D(2026, 12, 28)),
        # no due date: as soon as possible
        (D(2026, 11, 22), None, D(2026, 11, 23)),
    ],
)
def test_payment_date(today: dt.date, due: dt.date | None, expected: dt.date) -> None:
    assert payment_date(today, due) == expected


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm)


@pytest.mark.parametrize(
    ("moment", "double"),
    [
        (at(2026, 11, 23, 8, 0), False),  # Monday 08:00: normal from here
        (at(2026, 11, 23, 7, 59), True),
        (at(2026, 11, 23, 16, 59), False),
        (at(2026, 11, 23, 17, 0), True),  # 17:00 is double
        (at(2026, 11, 23, 23, 30), True),
        (at(2026, 11, 24, 0, 30), True),  # after midnight, before 08:00
        (at(2026, 11, 28, 12, 0), True),  # Saturday noon
        (at(2026, 11, 29, 12, 0), True),  # Sunday noon
        (at(2026, 12, 25, 12, 0), True),  # Christmas Day noon
        (at(2026, 12, 24, 12, 0), False),  # Christmas Eve is not a public holiday
    ],
)
def test_double_rate_moments(moment: dt.datetime, double: bool) -> None:
    assert is_double_rate_moment(moment) is double


def test_double_rate_window_is_configurable() -> None:
    window = DoubleRateWindow(
        evening_from=dt.time(18, 0), morning_until=dt.time(7, 0), weekends=False
    )
    assert not is_double_rate_moment(at(2026, 11, 23, 17, 30), window)
    assert is_double_rate_moment(at(2026, 11, 23, 6, 59), window)
    assert not is_double_rate_moment(at(2026, 11, 28, 12, 0), window)  # weekends off


def test_danish_timestamp_says_its_offset_in_winter_and_summer() -> None:
    assert danish_timestamp("2026-11-30T06:15:00.123456+00:00") == "2026-11-30 07:15:00+01:00"
    summer = dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC)
    assert danish_timestamp(summer) == "2026-07-02 00:30:00+02:00"
    with pytest.raises(ValueError, match="no time zone"):
        danish_timestamp("2026-11-30T06:15:00")
    with pytest.raises(ValueError):
        danish_timestamp("yesterday")


def test_parse_danish_moment_reads_copenhagen_time() -> None:
    utc = dt.UTC
    assert parse_danish_moment("2026-11-30") == dt.datetime(2026, 11, 29, 23, tzinfo=utc)
    assert parse_danish_moment("2026-11-30", end_of_day=True) == dt.datetime(
        2026, 11, 30, 23, tzinfo=utc
    )
    assert parse_danish_moment("2026-07-01 07:15") == dt.datetime(2026, 7, 1, 5, 15, tzinfo=utc)
    assert parse_danish_moment("2026-07-01T07:15+00:00") == dt.datetime(
        2026, 7, 1, 7, 15, tzinfo=utc
    )
    for bad in ("2026-13-01", "30-11-2026", "", "i går"):
        with pytest.raises(ValueError, match="is not a date"):
            parse_danish_moment(bad)
