"""When a robot runs: its manifest's cron line as an APScheduler trigger.

:class:`RobotTrigger` wraps APScheduler's ``CronTrigger`` and fixes what a municipality would
otherwise trip over:

- **Weekdays as in crontab.** APScheduler 3 numbers weekdays from Monday = 0, so its own
  ``CronTrigger.from_crontab("30 1 * * 1-5")`` runs Tuesday to Saturday (APScheduler issue 286).
  Here ``0``/``7`` is Sunday and ``1-5`` Monday to Friday, as in crontab(5); names (``mon-fri``)
  work too.
- **Summer time.** A fixed-hour job runs once a day across both changes: a time that does not
  exist on the last Sunday of March (02:30 in Copenhagen) runs right after the clocks jump
  (03:30 summer time), and a time that happens twice on the last Sunday of October runs only
  the first time. Jobs with ``*`` in the hour field run on every hour that happens.
- **Bank days** (``bank_days_only``): fire times on Saturdays, Sundays, Danish public
  holidays and the banks' closing days (5 June, the Friday after Ascension Day, 24 and 31
  December, and the extra days of ``config/bank-calendar.yaml``: a
  :class:`~paybot.domain.calendar.BankCalendar`) are skipped.

The trigger is pickled into the job store by the text of its settings alone (cron line, time
zone, bank days, the extra closing days as ISO dates), so a stored job survives an APScheduler
upgrade.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from paybot.cron import cron_trigger
from paybot.domain.calendar import DEFAULT_CALENDAR, BankCalendar

_MAX_SKIPS = 5000
"""Fire times skipped (repeated hours, non-bank days) before giving up: ``None`` = never."""
_HORIZON = dt.timedelta(days=10 * 366)
"""No fire time this far ahead means never (every weekday pattern repeats well within it)."""
STATE_VERSION = 1


def _is_repeated_hour(moment: dt.datetime) -> bool:
    """The second pass of a wall-clock time that happens twice (autumn clock change)."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


class RobotTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler has no type hints
    """A robot's schedule: a crontab line in a time zone, optionally on bank days only."""

    __slots__ = (
        "_fixed_hour",
        "_inner",
        "_zone",
        "bank_days_only",
        "calendar",
        "cron",
        "timezone",
    )

    def __init__(
        self,
        cron: str,
        timezone: str = "Europe/Copenhagen",
        bank_days_only: bool = False,
        calendar: BankCalendar = DEFAULT_CALENDAR,
    ) -> None:
        self.cron = " ".join(cron.split())
        self.timezone = timezone
        self.bank_days_only = bank_days_only
        self.calendar = calendar
        self._build()

    def _build(self) -> None:
        self._zone = ZoneInfo(self.timezone)
        self._inner = cron_trigger(self.cron, self.timezone)
        self._fixed_hour = self.cron.split()[1] != "*"

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        candidate: dt.datetime | None = self._inner.get_next_fire_time(previous_fire_time, now)
        horizon = now + _HORIZON
        for _ in range(_MAX_SKIPS):
            if candidate is None or candidate > horizon:
                return None
            local = candidate.astimezone(dt.UTC).astimezone(self._zone)  # a real wall time
            if self._fixed_hour and _is_repeated_hour(local):
                candidate = self._inner.get_next_fire_time(local, local)
            elif self.bank_days_only and not self.calendar.is_bank_day(local.date()):
                next_day = dt.datetime.combine(
                    local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=self._zone
                )
                candidate = self._inner.get_next_fire_time(None, next_day)
            else:
                return local
        return None

    def describe(self) -> str:
        """``30 1 * * 1-5 Europe/Copenhagen, bank days only``."""
        return f"{self.cron} {self.timezone}" + (", bank days only" if self.bank_days_only else "")

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "cron": self.cron,
            "timezone": self.timezone,
            "bank_days_only": self.bank_days_only,
        }
        if self.calendar.extra_closing_days:  # absent when empty: older stores read the same
            state["closing_days"] = [
                [day.isoformat(), name] for day, name in self.calendar.extra_closing_days.items()
            ]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("version", 1) > STATE_VERSION:
            raise ValueError(
                f"a stored RobotTrigger of version {state.get('version')}: this paybot reads "
                f"versions up to {STATE_VERSION}; upgrade paybot"
            )
        self.cron = state["cron"]
        self.timezone = state["timezone"]
        self.bank_days_only = bool(state["bank_days_only"])
        self.calendar = BankCalendar(
            {dt.date.fromisoformat(day): name for day, name in state.get("closing_days", [])}
        )
        self._build()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RobotTrigger):
            return NotImplemented
        return self.__getstate__() == other.__getstate__()

    def __hash__(self) -> int:
        return hash((self.cron, self.timezone, self.bank_days_only, self.calendar))

    def __str__(self) -> str:
        return f"robot-cron[{self.describe()}]"

    def __repr__(self) -> str:
        return (
            f"RobotTrigger(cron={self.cron!r}, timezone={self.timezone!r}, "
            f"bank_days_only={self.bank_days_only!r})"
        )
