"""Bank days: not a Saturday or Sunday, and not a Danish public holiday.

Public holidays come from the ``holidays`` package, country DK, public category (the same source
the robots use, so a date the robot picks is a date the finance system accepts).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def public_holidays(year: int) -> frozenset[dt.date]:
    """The Danish public holidays of one year."""
    return frozenset(holidays.country_holidays("DK", years=year).keys())


def is_bank_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


def next_bank_day(day: dt.date) -> dt.date:
    """The first bank day on or after ``day``."""
    while not is_bank_day(day):
        day += dt.timedelta(days=1)
    return day
