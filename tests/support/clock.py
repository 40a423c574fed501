"""A clock the test moves by hand (no sleeping to let time pass)."""

from __future__ import annotations

import datetime as dt

from paybot.run.runner import today_in_denmark


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"FakeClock start {start!r} must carry a time zone")
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


def danish_today() -> dt.date:
    """Today as the finance system sees it (Copenhagen), not the machine's UTC date: from 23:00
    UTC in winter the two differ, and a test that used ``date.today()`` failed in CI then."""
    return today_in_denmark()
