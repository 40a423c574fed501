"""Which planned fire times each job hand-over stands for, so none is lost without a trace.

APScheduler 3 calls a job's function without telling it when the run was planned, and with
``coalesce=True`` it hands over only the last of several missed fire times: the others are
dropped silently. :class:`NotingExecutor` writes down, at the moment a job is handed over,
the planned time and the earlier fire times folded into it, so that the run (or the
"missed"/"skipped" listener) can record all of them.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

from apscheduler.executors.base import MaxInstancesReachedError
from apscheduler.executors.pool import ThreadPoolExecutor

MAX_FOLDED = 1000
"""At most this many earlier fire times are listed for one hand-over."""


@dataclass(frozen=True)
class Due:
    job: str
    at: dt.datetime
    """The planned fire time of this hand-over (the last one, when several were folded)."""
    folded: tuple[dt.datetime, ...] = ()
    """Earlier planned fire times that were missed and folded into this one (coalesced)."""


def fire_times_between(
    trigger: Any, first: dt.datetime | None, last: dt.datetime
) -> list[dt.datetime]:
    """The trigger's fire times from ``first`` (included) up to ``last`` (excluded)."""
    times: list[dt.datetime] = []
    moment = first
    while moment is not None and moment < last and len(times) < MAX_FOLDED:
        times.append(moment)
        moment = trigger.get_next_fire_time(moment, last)
    return times


class DueTimes:
    """Hand-overs by job: *submitted* (the function will be called, or the run is found too
    late and reported missed) and *refused* (the job was still running)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._submitted: dict[tuple[str, dt.datetime], Due] = {}
        self._refused: dict[tuple[str, dt.datetime], Due] = {}

    def submitted(self, due: Due) -> None:
        with self._lock:
            self._submitted[(due.job, due.at)] = due

    def refused(self, due: Due) -> None:
        with self._lock:
            self._refused[(due.job, due.at)] = due

    def take_newest(self, job: str) -> Due | None:
        """For the job's function when it starts: its own hand-over, the newest of the job's
        (``max_instances=1``: a newer one cannot exist while it runs)."""
        with self._lock:
            mine = [key for key in self._submitted if key[0] == job]
            return self._submitted.pop(max(mine, key=lambda k: k[1])) if mine else None

    def take_submitted(self, job: str, at: dt.datetime) -> Due:
        with self._lock:
            return self._submitted.pop((job, at), None) or Due(job, at)

    def take_refused(self, job: str, at: dt.datetime) -> Due:
        with self._lock:
            return self._refused.pop((job, at), None) or Due(job, at)


class NotingExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # APScheduler has no type hints
    """APScheduler's thread pool executor that notes each hand-over in a :class:`DueTimes`."""

    def __init__(self, due: DueTimes, max_workers: int = 10) -> None:
        super().__init__(max_workers)
        self.due = due

    @staticmethod
    def _due(job: Any, run_times: list[dt.datetime]) -> Due:
        last = run_times[-1]
        return Due(
            str(job.id), last, tuple(fire_times_between(job.trigger, job.next_run_time, last))
        )

    def submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        try:
            super().submit_job(job, run_times)
        except MaxInstancesReachedError:
            self.due.refused(self._due(job, run_times))
            raise

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        # Noted before the pool may start the function, which takes it (take_newest).
        self.due.submitted(self._due(job, run_times))
        super()._do_submit_job(job, run_times)
