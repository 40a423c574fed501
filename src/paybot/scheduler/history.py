"""What the scheduler writes down: audit events and the run history rows ``robot run`` cannot.

``robot run`` records every run it makes in the ledger's ``runs`` table. The scheduler adds:

- rows for runs that never started a process: **missed** (the scheduler was off or busy past
  the grace) and **skipped** (the robot was already running);
- the end of a run ``robot run`` could not record itself (it was killed, or died): the row it
  started is finished with the exit code and a note, or, when it never got as far as starting
  one, a row is added;
- audit events ``scheduler_job_added`` (action: added, changed), ``scheduler_job_removed``,
  ``scheduler_job_paused``, ``scheduler_job_resumed``, ``scheduler_run_started``,
  ``scheduler_run_finished``, ``scheduler_run_missed`` and ``scheduler_run_killed``.

A scheduled run's row is found by the pid ``robot run`` records (the child the scheduler
started) on this host, started after the child was.

Schedulers on several machines sharing one PostgreSQL all fire each planned run; the first to
claim it in the ledger (:meth:`History.claim`, the table ``scheduled_runs``) starts it, or
records it as missed or skipped; the others leave it alone and write nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from paybot.audit import AuditTrail
from paybot.audit.events import Event
from paybot.exit_codes import EXIT_BUSY
from paybot.ledger import LedgerPort, RunRecord, utc_now
from paybot.run_folder import Counts, Outcome, new_run_id, run_dir
from paybot.scheduler.proctree import Proc

TRIGGER = "scheduler"
_FIND_SLACK = dt.timedelta(seconds=5)


def local_text(moment: dt.datetime, zone: str = "Europe/Copenhagen") -> str:
    """``2027-03-29 01:30 CEST``."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


class History:
    """Writes the scheduler's part of the run history and the audit trail."""

    def __init__(
        self,
        ledger: LedgerPort,
        trail: AuditTrail,
        *,
        output_dir: Path,
        host: str | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        shared: bool = False,
    ) -> None:
        self.ledger = ledger
        self.trail = trail
        self.output_dir = output_dir
        self.host = host or socket.gethostname()
        self._clock = clock
        self.shared = shared
        """The ledger is shared by schedulers on several machines (PostgreSQL)."""

    # --- each planned run once, across machines ---------------------------------------------

    def claim(self, robot: str, scheduled_at: dt.datetime, outcome: str) -> str | None:
        """Before this scheduler starts, or records as missed or skipped, the run of ``robot``
        planned for ``scheduled_at``: ``None`` when it is this machine's to act on, else the
        name of the machine whose scheduler acted on it first (this one then does nothing).
        Always ``None`` with a ledger of one machine's own."""
        if not self.shared:
            return None
        holder = self.ledger.claim_scheduled_run(robot, scheduled_at, self.host, outcome)
        return None if holder == self.host else holder

    # --- jobs --------------------------------------------------------------------------------

    def job_event(
        self, robot: str, event: Event, *, schedule: str, next_run: dt.datetime | None, **more: Any
    ) -> None:
        self.trail.logger(robot=robot).event(
            event,
            job=robot,
            schedule=schedule,
            next_run=next_run.isoformat() if next_run else None,
            **more,
        )

    # --- runs that never started -------------------------------------------------------------

    def _row(self, robot: str, scheduled_at: dt.datetime, note: str, pid: int) -> RunRecord:
        return self.ledger.record_run(
            RunRecord(
                run_id=new_run_id(scheduled_at),
                robot=robot,
                trigger=TRIGGER,
                host=self.host,
                pid=pid,
                started_at=scheduled_at,
                ended_at=self._clock(),
                note=note,
            )
        )

    def missed(
        self, job: str, robot: str, scheduled_at: dt.datetime, why: str, zone: str
    ) -> RunRecord:
        """A run that should have started at ``scheduled_at`` and will not: a row (started =
        the planned time, no exit code) and ``scheduler_run_missed``."""
        note = f"missed: planned for {local_text(scheduled_at, zone)}; {why}"
        row = self._row(robot, scheduled_at, note, os.getpid())
        self.trail.logger(robot=robot, run_id=row.run_id).event(
            Event.SCHEDULER_RUN_MISSED,
            durable=True,
            job=job,
            scheduled_at=scheduled_at.isoformat(),
            why=why,
        )
        return row

    def skipped(self, job: str, robot: str, scheduled_at: dt.datetime, why: str) -> RunRecord:
        """A run not started because the robot was already running."""
        row = self._row(robot, scheduled_at, f"skipped: {why}", os.getpid())
        self.trail.logger(robot=robot, run_id=row.run_id).event(
            Event.SCHEDULER_RUN_MISSED,
            durable=True,
            job=job,
            scheduled_at=scheduled_at.isoformat(),
            why=f"skipped: {why}",
        )
        return row

    # --- runs with a process -----------------------------------------------------------------

    def started(
        self,
        job: str,
        robot: str,
        pid: int,
        log_path: Path,
        planned_at: dt.datetime,
        folded: Sequence[dt.datetime] = (),
    ) -> None:
        """``folded``: earlier planned runs that were missed and are made up by this one."""
        self.trail.logger(robot=robot).event(
            Event.SCHEDULER_RUN_STARTED,
            job=job,
            pid=pid,
            output=str(log_path),
            scheduled_at=planned_at.isoformat(),
            folded=[t.isoformat() for t in folded],
        )

    def killed(self, job: str, robot: str, pid: int, why: str, survivors: Sequence[Proc]) -> None:
        self.trail.logger(robot=robot).event(
            Event.SCHEDULER_RUN_KILLED,
            durable=True,
            job=job,
            pid=pid,
            why=why,
            survivors=[p.pid for p in survivors],
        )

    def _row_of(self, robot: str, pid: int, spawned_at: dt.datetime) -> RunRecord | None:
        for row in self.ledger.list_runs(robot, limit=20):
            if (
                row.pid == pid
                and row.host == self.host
                and row.started_at >= spawned_at - _FIND_SLACK
            ):
                return row
        return None

    def finished(
        self,
        job: str,
        robot: str,
        *,
        pid: int,
        spawned_at: dt.datetime,
        exit_code: int,
        killed: str | None,
        log_path: Path,
    ) -> RunRecord:
        """The child has ended (``exit_code``; ``killed`` says why the scheduler ended it).
        Makes sure the run history has a finished row for it and audits the end."""
        row = self._row_of(robot, pid, spawned_at)
        if row is None:
            if killed:
                note = f"killed: {killed}; it ended before recording the run (output: {log_path})"
            elif exit_code == EXIT_BUSY:
                note = "skipped: already running (robot run found the robot's lock held)"
            else:
                note = (
                    f"robot run exited with {exit_code} before recording the run "
                    f"(output: {log_path})"
                )
            row = self.ledger.record_run(
                RunRecord(
                    run_id=new_run_id(spawned_at),
                    robot=robot,
                    trigger=TRIGGER,
                    host=self.host,
                    pid=pid,
                    started_at=spawned_at,
                    ended_at=self._clock(),
                    exit_code=exit_code,
                    note=note,
                )
            )
        elif not row.finished:
            outcome = Outcome.read(run_dir(self.output_dir, row.run_id))
            counts = outcome.counts if outcome else Counts()
            note = (
                f"killed: {killed}"
                if killed
                else f"robot run exited with {exit_code} without recording the end of the run"
            )
            row = self.ledger.finish_run(row.run_id, exit_code, counts, note)
        elif killed:  # robot run recorded its end, but the scheduler had to end the run
            note = f"{row.note}; " if row.note else ""
            assert row.exit_code is not None
            row = self.ledger.finish_run(
                row.run_id, row.exit_code, row, f"{note}ended by the scheduler: {killed}"
            )
        self.trail.logger(robot=robot, run_id=row.run_id).event(
            Event.SCHEDULER_RUN_FINISHED,
            durable=True,
            job=job,
            pid=pid,
            exit_code=row.exit_code,
            process_exit=exit_code,
        )
        return row
