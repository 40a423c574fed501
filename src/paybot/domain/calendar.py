"""Danish bank days, the payment date, and the interpreter contract's double-rate moments.

Pure: the caller passes ``today`` and the moments in; nothing here reads the clock.
Public holidays come from the ``holidays`` package (country DK, its public holidays).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

DANISH_TIME = ZoneInfo("Europe/Copenhagen")
"""The time zone of every date the robots and the finance system agree on."""

_SATURDAY = 5


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("DK", years=year).keys())


def is_public_holiday(day: dt.date) -> bool:
    """A Danish public holiday (``holidays``, DK)."""
    return day in _holidays_of(day.year)


def is_weekend(day: dt.date) -> bool:
    return day.weekday() >= _SATURDAY


def is_bank_day(day: dt.date) -> bool:
    """A weekday that is not a Danish public holiday."""
    return not is_weekend(day) and not is_public_holiday(day)


def next_bank_day(day: dt.date) -> dt.date:
    """``day`` itself when it is a bank day, else the first bank day after it."""
    while not is_bank_day(day):
        day += dt.timedelta(days=1)
    return day


def previous_bank_day(day: dt.date) -> dt.date:
    """``day`` itself when it is a bank day, else the last bank day before it."""
    while not is_bank_day(day):
        day -= dt.timedelta(days=1)
    return day


def payment_date(today: dt.date, due_date: dt.date | None) -> dt.date:
    """The latest bank day on or before ``due_date`` that is not before ``today``; when there
    is none (the due date has passed, or there is no due date), ``today`` if it is a bank day,
    else the next bank day."""
    if due_date is not None and due_date >= today:
        latest = previous_bank_day(due_date)
        if latest >= today:
            return latest
    return next_bank_day(today)


@dataclass(frozen=True)
class DoubleRateWindow:
    """When the interpreter contract pays double: from ``evening_from`` until ``morning_until``
    the next morning, and (when set) all day on Saturdays, Sundays and public holidays."""

    evening_from: dt.time = dt.time(17, 0)
    morning_until: dt.time = dt.time(8, 0)
    weekends: bool = True
    public_holidays: bool = True


DEFAULT_WINDOW = DoubleRateWindow()


def is_double_rate_moment(moment: dt.datetime, window: DoubleRateWindow = DEFAULT_WINDOW) -> bool:
    """Whether a unit starting at ``moment`` (local time) is billed at the double rate: at or
    after 17:00 or before 08:00, on a Saturday or Sunday, or on a Danish public holiday."""
    clock = moment.time().replace(tzinfo=None)
    day = moment.date()
    if window.weekends and is_weekend(day):
        return True
    if window.public_holidays and is_public_holiday(day):
        return True
    if window.evening_from <= window.morning_until:
        # a window within one day (not the usual case, but a contract could say so)
        return window.evening_from <= clock < window.morning_until
    return clock >= window.evening_from or clock < window.morning_until


# --- showing and reading moments ------------------------------------------------------------


def danish_timestamp(moment: dt.datetime | str) -> str:
    """``2026-11-30T06:15:00.123456+00:00`` (or that moment as a datetime) →
    ``2026-11-30 07:15:00+01:00``: Copenhagen time with its offset, to the second. The one
    form every time column a person reads uses (``robot runs``, ``robot audit show``,
    ``robot audit export``); what is stored keeps UTC. Raises ``ValueError`` for a text that
    is not an ISO 8601 moment and for a moment without a time zone (it would be a guess)."""
    when = dt.datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{moment!s} has no time zone")
    return when.astimezone(DANISH_TIME).isoformat(sep=" ", timespec="seconds")


def parse_danish_moment(text: str, *, end_of_day: bool = False) -> dt.datetime:
    """A moment a person typed, in Copenhagen time unless it carries an offset: ``2026-11-30``
    (the start of that day, or with ``end_of_day`` the start of the next, for an inclusive
    ``--until``), ``2026-11-30 07:15``, ``2026-11-30T07:15:00``, ``2026-11-30 07:15+01:00``.
    Returns an aware datetime (UTC). Raises ``ValueError`` naming the text otherwise."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            if end_of_day:
                day += dt.timedelta(days=1)
            moment = dt.datetime.combine(day, dt.time(), DANISH_TIME)
        else:
            moment = dt.datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=DANISH_TIME)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (YYYY-MM-DD, or YYYY-MM-DD HH:MM in Copenhagen time)"
        ) from None
    return moment.astimezone(dt.UTC)
