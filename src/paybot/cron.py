"""Crontab lines as crontab(5) reads them, as APScheduler triggers.

APScheduler 3 numbers weekdays from Monday = 0, so its own
``CronTrigger.from_crontab("30 1 * * 1-5")`` runs Tuesday to Saturday (APScheduler issue
286). Here ``0``/``7`` is Sunday and ``1-5`` Monday to Friday, as in crontab; names
(``mon-fri``) work too. The manifests' validation and the scheduler both use it, so they read a
line the same way.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab: 0 (and 7) = Sunday
_WEEK_ORDER = (1, 2, 3, 4, 5, 6, 0)  # Monday first, for readable output


def _weekday_number(text: str) -> int:
    word = text.strip().lower()
    if word in _CRON_DAYS:
        return _CRON_DAYS.index(word)
    if not word.isdigit() or not 0 <= int(word) <= 7:
        raise ValueError(f"weekday {text!r}: use 0-7 (0 and 7 are Sunday) or sun, mon, ... sat")
    return int(word)


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field (``1-5``, ``0,6``, ``mon-fri``, ``*/2``) as APScheduler's
    ``day_of_week`` (``mon,tue,wed,thu,fri``), with crontab's numbering (0 and 7 = Sunday)."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        body, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"day-of-week step {part!r}: the step must be a whole number ≥ 1")
            step = int(step_text)
        if body == "*":
            low, high = 0, 6
        elif "-" in body:
            first, _, last = body.partition("-")
            low, high = _weekday_number(first), _weekday_number(last)
            if low > high:
                raise ValueError(f"day-of-week range {part!r} runs backwards")
        elif slash:
            raise ValueError(f"day-of-week {part!r}: a step needs a range or *, e.g. 1-5/2")
        else:
            low = high = _weekday_number(body)
        days.update(day % 7 for day in range(low, high + 1, step))
    return ",".join(_CRON_DAYS[d] for d in _WEEK_ORDER if d in days)


def cron_trigger(cron: str, timezone: str) -> CronTrigger:
    """APScheduler's ``CronTrigger`` for a crontab line ``minute hour day month weekday``."""
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(
            f"{len(fields)} fields; a cron line has 5: minute hour day-of-month month weekday"
        )
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise ValueError(
            "both day-of-month and weekday are restricted; crontab runs when either matches, "
            "which is rarely meant: set one of them to *"
        )
    trigger: CronTrigger = CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(weekday),
        timezone=ZoneInfo(timezone),
    )
    return trigger
