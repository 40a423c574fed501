"""Properties: time-unit rounding, the double-rate window, and check digits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from paybot.domain.calendar import DEFAULT_WINDOW
from paybot.domain.checks import cvr_valid, fik_id_valid, gln_valid, luhn_valid
from paybot.domain.rules.interpreter_calc import (
    billable_minutes,
    duration_minutes,
    expected_lines,
    split_units,
)
from support.domain_builders import booking, interpreter_invoice, interpreter_rules

CONTRACT = interpreter_rules().config
CPH = ZoneInfo("Europe/Copenhagen")


def wall_after(start: dt.datetime, minutes: int) -> dt.datetime:
    """The Copenhagen wall clock ``minutes`` of real time after the wall time ``start``."""
    moment = start.replace(tzinfo=CPH).astimezone(dt.UTC) + dt.timedelta(minutes=minutes)
    return moment.astimezone(CPH)


def names_two_moments(moment: dt.datetime) -> bool:
    """A wall time in the hour that happens twice (last Sunday of October)."""
    return moment.replace(fold=1 - moment.fold).utcoffset() != moment.utcoffset()
DK_HOLIDAYS = holidays.country_holidays("DK", years=range(2023, 2029))

units = st.sampled_from([15, 20, 30, 45, 60])


@given(duration=st.integers(0, 24 * 60 - 1), unit=units, minimum_units=st.integers(0, 4))
def test_time_unit_rounding(duration: int, unit: int, minimum_units: int) -> None:
    minimum = minimum_units * unit
    billable = billable_minutes(duration, unit, minimum)
    assert billable >= duration
    assert billable >= minimum
    assert billable % unit == 0
    assert billable < max(duration, minimum) + unit


@given(start=st.times(), end=st.times())
def test_duration_wraps_past_midnight(start: dt.time, end: dt.time) -> None:
    start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    minutes = duration_minutes(start, end)
    assert 0 <= minutes < 24 * 60
    moment = dt.datetime.combine(dt.date(2024, 1, 1), start) + dt.timedelta(minutes=minutes)
    assert moment.time() == end


def oracle_double(moment: dt.datetime) -> bool:
    """The contract's words: from 17:00 to 08:00, Saturdays, Sundays and public holidays."""
    return (
        moment.hour >= 17
        or moment.hour < 8
        or moment.weekday() in (5, 6)
        or moment.date() in DK_HOLIDAYS
    )


moments = st.datetimes(min_value=dt.datetime(2023, 1, 1), max_value=dt.datetime(2027, 12, 31))


@given(start=moments, unit=st.sampled_from([15, 30, 60]), count=st.integers(1, 30))
def test_double_rate_by_each_units_start(start: dt.datetime, unit: int, count: int) -> None:
    start = start.replace(second=0, microsecond=0)
    normal, double = split_units(start, count, unit, DEFAULT_WINDOW)
    expected_double = sum(
        oracle_double(wall_after(start, i * unit).replace(tzinfo=None)) for i in range(count)
    )
    assert double == expected_double
    assert normal + double == count


@settings(max_examples=200)
@given(
    day=st.dates(min_value=dt.date(2024, 4, 1), max_value=dt.date(2027, 12, 31)),
    start=st.times(),
    minutes=st.integers(0, 12 * 60),
    mode=st.sampled_from(["fremmoede", "video", "telefon"]),
    language=st.sampled_from(["Arabisk", "Tegnsprog"]),
    category=st.sampled_from(["translatoer", "statsproevet", "oevrig"]),
)
def test_expected_hours_sum_to_the_billable_time(
    day: dt.date, start: dt.time, minutes: int, mode: str, language: str, category: str
) -> None:
    assume(CONTRACT.hourly_rate(category, day) is not None)  # the example table has gaps
    start = start.replace(second=0, microsecond=0)
    begin = dt.datetime.combine(day, start)
    finish = wall_after(begin, minutes)
    assume(not names_two_moments(finish))  # an end in the repeated hour is ambiguous
    end = finish.time().replace(tzinfo=None)
    inv = interpreter_invoice([], date=day, start=start, end=end, category=category,
                              language=language)
    assert inv.interpreter is not None
    b = booking(date=day, start=start, category=category, language=language, mode=mode,  # type: ignore[arg-type]
                distance_km="0")
    lines = {ln.item_id: ln for ln in expected_lines(inv.interpreter, b, CONTRACT)}
    assert set(lines) <= {"TOLK", "TOLK-DOBBELT"}
    hours = sum((ln.quantity for ln in lines.values()), Decimal(0))
    if mode != "fremmoede":
        unit, minimum = 15, 15
    elif language == "Tegnsprog":
        unit, minimum = 30, 60
    else:
        unit, minimum = 60, 60
    assert hours * 60 == billable_minutes(minutes, unit, minimum)
    rate = CONTRACT.hourly_rate(category, day)
    assert rate is not None
    if "TOLK-DOBBELT" in lines:
        assert lines["TOLK-DOBBELT"].unit_price == 2 * rate
    if "TOLK" in lines:
        assert lines["TOLK"].unit_price == rate
    if not oracle_double(begin):  # the first unit decides its own rate
        assert "TOLK" in lines
    else:
        assert "TOLK-DOBBELT" in lines


# --- check digits (oracles written independently of paybot.domain.checks) ------------------

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


def cvr_check(body: str) -> int | None:
    weights = (2, 7, 6, 5, 4, 3, 2)
    rest = -sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
    return rest if rest < 10 else None


def gs1_check(body: str) -> int:
    total = 0
    for position, ch in enumerate(body[::-1], start=1):
        total += int(ch) * (3 if position % 2 == 1 else 1)
    return -total % 10


def luhn_check(body: str) -> int:
    total = 0
    for position, ch in enumerate(body[::-1], start=1):
        n = int(ch)
        if position % 2 == 1:
            n = n * 2
            n = n - 9 if n > 9 else n
        total += n
    return -total % 10


def change_one_digit(number: str, position: int, new: str) -> str:
    assume(number[position] != new)
    return number[:position] + new + number[position + 1 :]


@given(body=st.text(alphabet="0123456789", min_size=7, max_size=7), position=st.integers(0, 7),
       new=digits)
def test_cvr_check_digit(body: str, position: int, new: str) -> None:
    check = cvr_check(body)
    assume(check is not None)
    number = f"{body}{check}"
    assert cvr_valid(number)
    assert not cvr_valid(change_one_digit(number, position, new))


@given(body=st.text(alphabet="0123456789", min_size=12, max_size=12), position=st.integers(0, 12),
       new=digits)
def test_gln_check_digit(body: str, position: int, new: str) -> None:
    number = f"{body}{gs1_check(body)}"
    assert gln_valid(number)
    assert not gln_valid(change_one_digit(number, position, new))


@given(card=st.sampled_from(["71", "75"]), data=st.data())
def test_fik_luhn(card: str, data: st.DataObject) -> None:
    length = 15 if card == "71" else 16
    body = data.draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    number = f"{body}{luhn_check(body)}"
    assert luhn_valid(number)
    assert fik_id_valid(card, number)
    position = data.draw(st.integers(0, length - 1))
    changed = change_one_digit(number, position, data.draw(digits))
    assert not luhn_valid(changed)
    assert not fik_id_valid(card, changed)
