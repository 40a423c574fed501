"""Danish formats of the mock finance system, reading typed amounts, and bank days."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockerp.bankdays import is_bank_day, next_bank_day
from mockerp.formatting import (
    UnreadableValue,
    format_amount,
    format_number,
    parse_amount,
    parse_date,
    show_date,
    show_timestamp,
)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1019.48", "1.019,48"),
        ("0", "0,00"),
        ("0.005", "0,01"),  # half up
        ("1234567.8", "1.234.567,80"),
        ("-1019.48", "-1.019,48"),
        ("999.99", "999,99"),
    ],
)
def test_format_amount(value: str, shown: str) -> None:
    assert format_amount(Decimal(value)) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2", "2"),
        ("2.000", "2"),
        ("1.50", "1,5"),
        ("37.5", "37,5"),
        ("1500", "1.500"),
        ("25.00", "25"),
    ],
)
def test_format_number_drops_trailing_zeros(value: str, shown: str) -> None:
    assert format_number(Decimal(value)) == shown


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("1.019,48", "1019.48"),
        ("1019,48", "1019.48"),
        ("1019.48", "1019.48"),
        ("1019", "1019"),
        (" 1019,5 ", "1019.5"),
        ("1.234.567", "1234567"),
        ("1.234.567,89", "1234567.89"),
        ("12,3 kr.", "12.3"),
        ("-5,00", "-5.00"),
    ],
)
def test_parse_amount(typed: str, value: str) -> None:
    assert parse_amount(typed) == Decimal(value)


@pytest.mark.parametrize(
    "typed", ["", "1.019", "1,019.48", "12,345", "1.2.3", "abc", "1e3", "10.00.00", "1 019,48x"]
)
def test_parse_amount_refuses_what_it_cannot_read_safely(typed: str) -> None:
    with pytest.raises(UnreadableValue, match=repr(typed).replace(".", r"\.")):
        parse_amount(typed)


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_shown_amounts_read_back_exactly(value: Decimal) -> None:
    assert parse_amount(format_amount(value)) == value


def test_dates() -> None:
    assert parse_date("23-11-2026") == dt.date(2026, 11, 23)
    assert parse_date("1-2-2026") == dt.date(2026, 2, 1)
    for bad in ("2026-11-23", "31-02-2026", "23/11/2026", ""):
        with pytest.raises(UnreadableValue):
            parse_date(bad)
    assert show_date("2026-11-23") == "23-11-2026"
    assert show_date(None) == ""
    # a timestamp late on 31 December UTC is already New Year in Copenhagen
    assert show_date("2026-12-31T23:30:00+00:00") == "01-01-2027"
    assert show_timestamp("2026-07-01T06:05:00+00:00") == "01-07-2026 08:05"  # summer time


@pytest.mark.parametrize(
    ("day", "bank_day"),
    [
        (dt.date(2026, 11, 23), True),  # Monday
        (dt.date(2026, 11, 28), False),  # Saturday
        (dt.date(2026, 11, 29), False),  # Sunday
        (dt.date(2026, 12, 25), False),  # Juledag
        (dt.date(2026, 12, 28), True),
        (dt.date(2026, 4, 2), False),  # Skærtorsdag
        (dt.date(2026, 4, 6), False),  # 2. påskedag
        (dt.date(2026, 5, 14), False),  # Kristi himmelfartsdag
        (dt.date(2027, 1, 1), False),  # Nytårsdag
    ],
)
def test_bank_days(day: dt.date, bank_day: bool) -> None:
    assert is_bank_day(day) is bank_day


def test_next_bank_day_skips_christmas_and_the_weekend() -> None:
    assert next_bank_day(dt.date(2026, 12, 25)) == dt.date(2026, 12, 28)
    assert next_bank_day(dt.date(2026, 11, 23)) == dt.date(2026, 11, 23)
