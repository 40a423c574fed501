"""Bank days, the payment date (docs/rules.md, "Payment") and double-rate moments."""

from __future__ import annotations

import datetime as dt

import pytest

from paybot.domain.calendar import (
    BankCalendar,
    DoubleRateWindow,
    bank_closing_days,
    danish_timestamp,
    elapsed_minutes,
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
    assert next_bank_day(D(2026, 12, 23)) == D(2026, 12, 23)
    assert next_bank_day(D(2026, 12, 25)) == D(2026, 12, 28)


@pytest.mark.parametrize(
    "day",
    [
        D(2026, 6, 5),  # Grundlovsdag, a Friday
        D(2026, 5, 15),  # the Friday after Ascension Day 2026
        D(2027, 5, 7),  # the Friday after Ascension Day 2027
        D(2026, 12, 24),  # Christmas Eve, a Thursday
        D(2026, 12, 31),  # New Year's Eve, a Thursday
        D(2027, 12, 24),  # a Friday
    ],
)
def test_the_banks_closing_days_are_no_bank_days(day: dt.date) -> None:
    assert not is_public_holiday(day)  # not a public holiday ...
    assert not is_bank_day(day)  # ... but the banks are closed (Danmarks Nationalbank)


def test_may_day_is_a_bank_day_and_the_closing_days_have_names() -> None:
    assert is_bank_day(D(2026, 5, 1))
    assert is_bank_day(D(2027, 6, 4))  # the day before Grundlovsdag
    assert dict(bank_closing_days(2026)) == {
        D(2026, 5, 15): "Fredag efter Kristi himmelfartsdag",
        D(2026, 6, 5): "Grundlovsdag",
        D(2026, 12, 24): "Juleaftensdag",
        D(2026, 12, 31): "Nytårsaftensdag",
    }


def test_no_payment_date_falls_on_a_closing_day_in_two_years() -> None:
    closing = set(bank_closing_days(2026)) | set(bank_closing_days(2027))
    day = D(2026, 1, 1)
    while day < D(2028, 1, 1):
        for due in (day, day + dt.timedelta(days=3), None):
            assert payment_date(day, due) not in closing
        day += dt.timedelta(days=1)


def test_a_municipality_can_add_closing_days() -> None:
    extra = BankCalendar({D(2026, 11, 26): "Ekstra lukkedag"})
    assert is_bank_day(D(2026, 11, 26))
    assert not extra.is_bank_day(D(2026, 11, 26))
    assert extra.closed_because(D(2026, 11, 26)) == "Ekstra lukkedag"
    assert extra.payment_date(D(2026, 11, 23), D(2026, 11, 26)) == D(2026, 11, 25)
    assert extra.next_bank_day(D(2026, 11, 26)) == D(2026, 11, 27)
    assert extra == BankCalendar({D(2026, 11, 26): "Ekstra lukkedag"})
    assert hash(extra) == hash(BankCalendar({D(2026, 11, 26): "Ekstra lukkedag"}))


@pytest.mark.parametrize(
    ("day", "start", "end", "minutes"),
    [
        (D(2026, 3, 29), (1, 30), (3, 30), 60),  # last Sunday of March: the clocks jump
        (D(2026, 10, 25), (1, 30), (3, 30), 180),  # last Sunday of October: 02-03 twice
        (D(2027, 3, 28), (1, 30), (3, 30), 60),
        (D(2027, 10, 31), (1, 30), (3, 30), 180),
        (D(2026, 3, 28), (1, 30), (3, 30), 120),  # the day before: as the clock says
        (D(2026, 10, 24), (23, 0), (4, 0), 360),  # over midnight into the change: 5 h + 1
        (D(2026, 3, 28), (23, 0), (4, 0), 240),  # over midnight into the jump: 5 h - 1
        (D(2026, 11, 23), (9, 0), (9, 0), 0),  # an end at the start: nothing
        (D(2026, 11, 23), (9, 0), (8, 0), 23 * 60),  # an end before the start: the next day
    ],
)
def test_elapsed_minutes_follow_the_clock_on_the_wall(
    day: dt.date, start: tuple[int, int], end: tuple[int, int], minutes: int
) -> None:
    assert elapsed_minutes(day, dt.time(*start), dt.time(*end)) == minutes


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
        # due on a bank closing day: the bank day before
        (D(2026, 5, 4), D(2026, 5, 15), D(2026, 5, 13)),  # 14 May is Ascension Day
        (D(2026, 12, 1), D(2026, 12, 24), D(2026, 12, 23)),
        (D(2026, 12, 28), D(2026, 12, 31), D(2026, 12, 30)),
        (D(2026, 6, 1), D(2026, 6, 5), D(2026, 6, 4)),
        # today a closing day, due passed: the next bank day
        (D(2026, 12, 24), D(2026, 12, 20), D(2026, 12, 28)),
        (D(2026, 12, 31), None, D(2027, 1, 4)),
        # 1 May is a bank day
        (D(2026, 4, 27), D(2026, 5, 1), D(2026, 5, 1)),
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


def test_parse_danish_moment_refuses_the_ends_of_the_calendar_with_a_value_error() -> None:
    """9999-12-31 has no next day and 0001-01-01 00:00 Copenhagen time is before year 1 in
    UTC: a ValueError naming the text (the console answers 400, the CLI exit 2), not an
    OverflowError (500)."""
    for text, end_of_day in (("9999-12-31", True), ("0001-01-01", False),
                             ("0001-01-01 00:30", False)):  # fmt: skip
        with pytest.raises(ValueError, match=text):
            parse_danish_moment(text, end_of_day=end_of_day)
    assert parse_danish_moment("9999-12-30", end_of_day=True).year == 9999
