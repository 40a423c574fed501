"""Danish bank days, the payment date, elapsed time, and the interpreter contract's double-rate
moments.

Pure: the caller passes ``today`` and the moments in; nothing here reads the clock.

A **bank day** (:class:`BankCalendar`) is a weekday that is neither a Danish public holiday nor
a bank closing day:

- Public holidays come from the ``holidays`` package (country DK, its public holidays; Store
  Bededag is no holiday from 2024).
- The banks' closing days (Danmarks Nationalbank, "Banklukkedage" for 2026 and 2027, and the
  same rules in earlier years): 5 June (Grundlovsdag), 24 December (juleaftensdag), 31 December
  (nytårsaftensdag) and the Friday after Ascension Day (15 May 2026, 7 May 2027). These are not
  public holidays, but no payment is settled on them. 1 May is a bank day. (``holidays``'
  OPTIONAL category for DK is not this set: it has 1 May and lacks the Friday after Ascension.)
- Extra closing days a municipality adds in ``config/bank-calendar.yaml`` (a new closing day
  announced by the Nationalbank, before this code knows it):
  :attr:`BankCalendar.extra_closing_days`.

The module-level functions use :data:`DEFAULT_CALENDAR` (the built-in rules alone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays
from dateutil.easter import easter

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


@lru_cache(maxsize=64)
def bank_closing_days(year: int) -> Mapping[dt.date, str]:
    """The banks' own closing days of ``year`` that are not public holidays, with their Danish
    names (Danmarks Nationalbank, "Banklukkedage" 2026/2027): 5 June, the Friday after
    Ascension Day (Easter Sunday + 40 days), 24 December and 31 December. Some fall on a
    weekend, which changes nothing."""
    days = {
        dt.date(year, 6, 5): "Grundlovsdag",
        easter(year) + dt.timedelta(days=40): "Fredag efter Kristi himmelfartsdag",
        dt.date(year, 12, 24): "Juleaftensdag",
        dt.date(year, 12, 31): "Nytårsaftensdag",
    }
    return MappingProxyType(dict(sorted(days.items())))


@dataclass(frozen=True)
class BankCalendar:
    """Bank days: weekdays that are not public holidays, not the banks' closing days
    (:func:`bank_closing_days`) and not one of ``extra_closing_days`` (date → name, from
    ``config/bank-calendar.yaml``). Immutable, so one calendar can serve every worker."""

    extra_closing_days: Mapping[dt.date, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        frozen = MappingProxyType(dict(sorted(self.extra_closing_days.items())))
        object.__setattr__(self, "extra_closing_days", frozen)

    def __hash__(self) -> int:
        return hash(tuple(self.extra_closing_days.items()))

    def closed_because(self, day: dt.date) -> str | None:
        """Why ``day`` is no bank day (``"weekend"``, ``"helligdag"`` or the closing day's
        name), or ``None`` when it is one."""
        if is_weekend(day):
            return "weekend"
        if is_public_holiday(day):
            return "helligdag"
        name = bank_closing_days(day.year).get(day) or self.extra_closing_days.get(day)
        return name

    def is_bank_day(self, day: dt.date) -> bool:
        return self.closed_because(day) is None

    def next_bank_day(self, day: dt.date) -> dt.date:
        """``day`` itself when it is a bank day, else the first bank day after it."""
        while not self.is_bank_day(day):
            day += dt.timedelta(days=1)
        return day

    def previous_bank_day(self, day: dt.date) -> dt.date:
        """``day`` itself when it is a bank day, else the last bank day before it."""
        while not self.is_bank_day(day):
            day -= dt.timedelta(days=1)
        return day

    def payment_date(self, today: dt.date, due_date: dt.date | None) -> dt.date:
        """The latest bank day on or before ``due_date`` that is not before ``today``; when
        there is none (the due date has passed, or there is no due date), ``today`` if it is a
        bank day, else the next bank day."""
        if due_date is not None and due_date >= today:
            latest = self.previous_bank_day(due_date)
            if latest >= today:
                return latest
        return self.next_bank_day(today)


DEFAULT_CALENDAR = BankCalendar()
"""Public holidays and the banks' closing days, without a municipality's extra days."""


def is_bank_day(day: dt.date) -> bool:
    """A weekday that is neither a Danish public holiday nor a bank closing day."""
    return DEFAULT_CALENDAR.is_bank_day(day)


def next_bank_day(day: dt.date) -> dt.date:
    """``day`` itself when it is a bank day, else the first bank day after it."""
    return DEFAULT_CALENDAR.next_bank_day(day)


def previous_bank_day(day: dt.date) -> dt.date:
    """``day`` itself when it is a bank day, else the last bank day before it."""
    return DEFAULT_CALENDAR.previous_bank_day(day)


def payment_date(today: dt.date, due_date: dt.date | None) -> dt.date:
    """:meth:`BankCalendar.payment_date` of :data:`DEFAULT_CALENDAR`."""
    return DEFAULT_CALENDAR.payment_date(today, due_date)


# --- elapsed time -----------------------------------------------------------------------------


def local_moment(day: dt.date, clock: dt.time, zone: ZoneInfo = DANISH_TIME) -> dt.datetime:
    """``day`` at ``clock`` on the wall in ``zone`` (aware). A time that happens twice (the
    autumn change) is its first pass; a time that does not exist (the spring change) is read
    with the offset before the jump, as ``zoneinfo`` does, so it lies one hour later."""
    return dt.datetime.combine(day, clock.replace(tzinfo=None), tzinfo=zone)


def aware(moment: dt.datetime, zone: ZoneInfo = DANISH_TIME) -> dt.datetime:
    """``moment`` itself when it has a time zone, else read as the wall clock in ``zone``."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def real_span(
    earlier: dt.datetime, later: dt.datetime, zone: ZoneInfo = DANISH_TIME
) -> dt.timedelta:
    """The time that really passes from ``earlier`` to ``later`` (negative when ``later`` is
    before): both read as wall-clock times in ``zone`` when they have no time zone, and
    subtracted in UTC, so a span across a change of summer time is an hour shorter or longer
    than the clocks suggest."""
    return aware(later, zone).astimezone(dt.UTC) - aware(earlier, zone).astimezone(dt.UTC)


def add_real_minutes(
    moment: dt.datetime, minutes: int, zone: ZoneInfo = DANISH_TIME
) -> dt.datetime:
    """The wall-clock moment in ``zone`` (aware) ``minutes`` of real time after ``moment``
    (read as in :func:`aware`)."""
    return (aware(moment, zone).astimezone(dt.UTC) + dt.timedelta(minutes=minutes)).astimezone(zone)


def elapsed_minutes(
    day: dt.date, start: dt.time, end: dt.time, zone: ZoneInfo = DANISH_TIME
) -> int:
    """Minutes really elapsed from ``start`` on ``day`` to ``end`` as read off the wall clock
    in ``zone`` (Europe/Copenhagen by default); an ``end`` before ``start`` is the next day,
    an ``end`` equal to ``start`` is 0 minutes. Across the change to summer time (last Sunday
    of March, 02:00 → 03:00) 01:30-03:30 is 60 minutes; across the change back (last Sunday
    of October, 03:00 → 02:00) 01:30-03:30 is 180 minutes. A time in the repeated hour is
    read as its first pass (:func:`local_moment`)."""
    end_day = day if end >= start else day + dt.timedelta(days=1)
    span = real_span(local_moment(day, start, zone), local_moment(end_day, end, zone))
    return max(0, int(span.total_seconds() // 60))


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


def danish_timestamp_or_text(ts: str) -> str:
    """:func:`danish_timestamp` of ``ts``, or ``ts`` itself when it is no ISO 8601 moment
    with a zone (for showing what a file holds, never for deciding)."""
    try:
        return danish_timestamp(ts)
    except ValueError:
        return ts


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
        return moment.astimezone(dt.UTC)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (YYYY-MM-DD, or YYYY-MM-DD HH:MM in Copenhagen time)"
        ) from None
    except OverflowError:  # 9999-12-31 has no next day; 0001-01-01 00:00 is year 0 in UTC
        raise ValueError(f"{text!r} is outside the dates that can be read") from None
