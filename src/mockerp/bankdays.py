"""Bank days: not a Saturday or Sunday, not a Danish public holiday, and not a bank closing day.

Public holidays come from the ``holidays`` package, country DK, public category (the same source
the robots use, so a date the robot picks is a date the finance system accepts).

Bank closing days (Danmarks Nationalbank, "Banklukkedage" 2026 and 2027): 5 June, the Friday
after Ascension Day (15 May 2026, 7 May 2027), 24 December and 31 December. They are no public
holidays, but a bank settles no payment on them, so the finance system refuses them as payment
dates as a bank would. 1 May is a bank day.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays
from dateutil.easter import easter


@lru_cache(maxsize=64)
def public_holidays(year: int) -> frozenset[dt.date]:
    """The Danish public holidays of one year."""
    return frozenset(holidays.country_holidays("DK", years=year).keys())


@lru_cache(maxsize=64)
def closing_days(year: int) -> frozenset[dt.date]:
    """The banks' closing days of one year that are not public holidays."""
    return frozenset(
        {
            dt.date(year, 6, 5),
            easter(year) + dt.timedelta(days=40),  # the Friday after Ascension Day
            dt.date(year, 12, 24),
            dt.date(year, 12, 31),
        }
    )


def is_closing_day(day: dt.date) -> bool:
    """A bank closing day (which may also fall on a weekend)."""
    return day in closing_days(day.year)


def is_bank_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year) and not is_closing_day(day)


def next_bank_day(day: dt.date) -> dt.date:
    """The first bank day on or after ``day``."""
    while not is_bank_day(day):
        day += dt.timedelta(days=1)
    return day
