"""``robot scheduler``: the long-running process that starts the robots on their schedules.

Start: take the scheduler's own lock (one scheduler per data folder), open the job store with
the scheduler paused, make the jobs match the manifests (:class:`~paybot.scheduler.jobs.
JobBook`), then let it run. Runs that came due while the scheduler was down are started at once
when within their grace (several missed ones folded into one), else recorded as missed.

While it runs, it writes a heartbeat to the ledger every minute (``robot status`` reads it),
signs its own audit events (:mod:`paybot.scheduler.sealing`), sends an alert after each run
that did not end well (:mod:`paybot.notify`), tries again to deliver alerts that could not be
sent, and sends the morning summary (``notify.summary_time``).

Stop (SIGTERM, SIGINT, or :meth:`SchedulerService.request_stop`): no new runs; every running
``robot run`` gets SIGTERM and finishes the invoice it is on; a run still there at
``scheduler.stop_deadline_seconds`` is ended with everything it started. Then the process
exits 0.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
)

from paybot.audit import AuditTrail
from paybot.audit.events import Event
from paybot.config import RobotManifest, Settings, ledger_url
from paybot.errors import Busy
from paybot.ledger import Ledger, RunRecord, utc_now
from paybot.notify import Notifier
from paybot.notify.compose import Message, summary_message
from paybot.private import private_dir, private_opener
from paybot.scheduler import dispatch
from paybot.scheduler.dispatch import Command, Dispatcher, Limits, robot_run_command
from paybot.scheduler.due import DueTimes, NotingExecutor
from paybot.scheduler.history import History
from paybot.scheduler.jobs import Change, JobBook, make_scheduler, robot_of
from paybot.scheduler.proctree import read_proc
from paybot.scheduler.sealing import Sealer, open_scheduler_trail
from paybot.status import HEARTBEAT_SECONDS, gather, heartbeat_name

log = logging.getLogger("paybot.scheduler")

LOCK_FILE = "scheduler.lock"
WAKEUP_SECONDS = 15.0
"""How often the scheduler looks at the job store again (a pause or resume by another
process takes effect within this time)."""
STOP_MARGIN_SECONDS = 30.0


class StopRequest(threading.Event):
    """Set by a signal handler (which must do no more than that); ``reason`` is logged."""

    reason = "stop requested"

    def request(self, reason: str) -> None:
        self.reason = reason
        self.set()


class SchedulerBusy(Busy):
    """Another scheduler runs on this data folder (exit 4)."""


@dataclass
class SchedulerLock:
    path: Path
    file: IO[str]

    @classmethod
    def acquire(cls, data_dir: Path) -> SchedulerLock:
        path = data_dir / LOCK_FILE
        private_dir(path.parent)
        file = open(path, "a+", encoding="utf-8", opener=private_opener)  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            holder = read_lock_holder(data_dir)
            raise SchedulerBusy(
                f"{path}: another scheduler holds this data folder (pid {holder.get('pid', '?')} "
                f"on {holder.get('host', '?')})"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
        file.flush()
        return cls(path, file)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
        self.file.close()


def read_lock_holder(data_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((data_dir / LOCK_FILE).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def running_scheduler(data_dir: Path) -> int | None:
    """The pid of the scheduler running on this data folder (this host), or None."""
    holder = read_lock_holder(data_dir)
    if holder.get("host") != socket.gethostname() or not holder.get("pid", "").isdigit():
        return None
    pid = int(holder["pid"])
    proc = read_proc(pid)
    if proc is None or proc.dead:
        return None
    with open(data_dir / LOCK_FILE, encoding="utf-8") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return pid
        fcntl.flock(file.fileno(), fcntl.LOCK_UN)
    return None


@dataclass
class ServiceOptions:
    limits: Limits = field(default_factory=Limits)
    command: Command = robot_run_command
    run_now: tuple[str, ...] = ()
    wakeup_seconds: float = WAKEUP_SECONDS
    env: Mapping[str, str] | None = None
    clock: Callable[[], dt.datetime] = utc_now
    """The alerts' clock (when to try again, the morning summary); tests move it."""


class SchedulerService:
    """The scheduler in this process: :meth:`start`, then :meth:`stop` (or :meth:`serve`)."""

    def __init__(
        self,
        home: Path,
        settings: Settings,
        manifests: Mapping[str, RobotManifest],
        options: ServiceOptions | None = None,
    ) -> None:
        self.home = home
        self.settings = settings
        self.manifests = dict(manifests)
        self.options = options or ServiceOptions()
        self.due = DueTimes()
        self.gate = threading.Event()
        self._lock: SchedulerLock | None = None
        self._ledger: Ledger | None = None
        self._trail: AuditTrail | None = None
        self._scheduler: Any = None
        self.history: History | None = None
        self.dispatcher: Dispatcher | None = None
        self.notifier: Notifier | None = None
        self.changes: list[Change] = []
        self._last_beat: dt.datetime | None = None
        self._stack: ExitStack | None = None
        self.sealer: Sealer | None = None

    # --- start -------------------------------------------------------------------------------

    def start(self) -> list[Change]:
        """Take the lock, reconcile the job store with the manifests and start the jobs.
        Raises :class:`SchedulerBusy` when another scheduler holds the data folder."""
        s = self.settings
        self._lock = SchedulerLock.acquire(s.data_dir)
        try:
            self._ledger = Ledger(ledger_url(s), retry_seconds=s.ledger.retry_seconds)
            self._ledger.ensure_schema()
            self._stack = ExitStack()
            self.sealer = open_scheduler_trail(self._stack, s, self._ledger, self.options.env)
            self._trail = self.sealer.trail
            self.history = History(
                self._ledger,
                self._trail,
                output_dir=s.output_dir,
                host=s.machine_name,
                shared=s.ledger.shared,
            )
            self.dispatcher = Dispatcher(
                home=self.home,
                settings=s,
                manifests=self.manifests,
                history=self.history,
                due=self.due,
                limits=self.options.limits,
                command=self.options.command,
                env=self.options.env,
            )
            self.notifier = Notifier(
                s, self.manifests, self._ledger, env=self.options.env, clock=self.options.clock
            )
            self.dispatcher.on_finished = self._after_run
            self.beat()
            dispatch.install(self.dispatcher)
            executor = NotingExecutor(self.due, max_workers=max(4, len(self.manifests) + 1))
            self._scheduler = make_scheduler(s, executor, self.gate)
            self._scheduler.add_listener(
                self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR
            )
            self._scheduler.start(paused=True)
            book = JobBook(self._scheduler, self.home, self.manifests)
            now = utc_now()
            self.changes = book.reconcile(now)
            self._report_changes()
            self.sealer.seal()
            for robot in self.options.run_now:
                book.add_run_now(robot, now)
                log.info("%s: one run now (--run-now)", robot)
            self.gate.set()
            self._scheduler.resume()
        except BaseException:
            self._close()
            raise
        return self.changes

    # --- heartbeat and alerts ----------------------------------------------------------------

    def beat(self) -> None:
        """Write the heartbeat ``robot status`` reads (never raises)."""
        if self._ledger is None:
            return
        try:
            self._last_beat = self._ledger.beat(
                heartbeat_name(self.settings), self.settings.machine_name, os.getpid()
            ).at
        except Exception:
            log.exception("could not write the scheduler's heartbeat to the ledger")

    def tick(self) -> None:
        """What the scheduler does on each wake-up besides starting runs: the heartbeat (each
        minute), signing its own audit events, alerts to try again, the morning summary.
        Never raises."""
        now = utc_now()
        if self._last_beat is None or (now - self._last_beat).total_seconds() >= HEARTBEAT_SECONDS:
            self.beat()
        if self.sealer is not None:
            self.sealer.seal()
        if self.notifier is not None:
            self.notifier.deliver_due()
            self.notifier.morning_summary(self._summary)

    def _summary(self) -> Message:
        assert self._ledger is not None
        now = utc_now()
        entries = JobBook(self._scheduler, self.home, self.manifests).entries(now)
        return summary_message(gather(self.settings, self.manifests, self._ledger, entries, now))

    def _after_run(self, row: RunRecord, log_path: Path | None = None) -> None:
        if self.notifier is not None:
            self.notifier.after_run(row, log_path=log_path)

    @property
    def scheduler(self) -> Any:
        """The APScheduler instance (None before :meth:`start`)."""
        return self._scheduler

    def run_now(self, robot: str) -> None:
        """Start ``robot`` once right away, as ``--run-now`` does at start."""
        if self._scheduler is None:
            raise RuntimeError(f"the scheduler is not started; cannot run {robot} now")
        JobBook(self._scheduler, self.home, self.manifests).add_run_now(robot, utc_now())

    def _report_changes(self) -> None:
        assert self.history is not None
        events = {"added": Event.SCHEDULER_JOB_ADDED, "changed": Event.SCHEDULER_JOB_ADDED}
        for change in self.changes:
            when = change.next_run.isoformat() if change.next_run else "paused"
            log.info("%s: %s; %s; next run %s", change.robot, change.action, change.schedule, when)
            if change.action in events:
                self.history.job_event(
                    change.robot,
                    events[change.action],
                    schedule=change.schedule,
                    next_run=change.next_run,
                    action=change.action,
                )
            elif change.action == "removed":
                self.history.job_event(
                    change.robot,
                    Event.SCHEDULER_JOB_REMOVED,
                    schedule=change.schedule,
                    next_run=None,
                )

    # --- events from APScheduler -------------------------------------------------------------

    def _zone_of(self, robot: str) -> str:
        manifest = self.manifests.get(robot)
        return manifest.schedule.timezone if manifest else "Europe/Copenhagen"

    def _on_event(self, event: Any) -> None:
        try:
            if event.code == EVENT_JOB_MISSED:
                self._missed(event.job_id, event.scheduled_run_time)
            elif event.code == EVENT_JOB_MAX_INSTANCES:
                self._refused(event.job_id, event.scheduled_run_times[-1])
            elif event.code == EVENT_JOB_ERROR:
                log.error("job %s failed: %s", event.job_id, event.exception)
        except Exception:
            log.exception("job %s: could not record the event", event.job_id)

    def _missed(self, job: str, at: dt.datetime) -> None:
        assert self.history is not None
        robot = robot_of(job)
        due = self.due.take_submitted(job, at)
        manifest = self.manifests.get(robot)
        grace = manifest.schedule.misfire_grace_minutes if manifest else 0
        now = utc_now()
        for moment in (*due.folded, at):
            other = self.history.claim(robot, moment, "missed")
            if other is not None:
                log.info("%s: the run planned for %s was run by %s", robot, moment, other)
                continue
            late = int((now - moment).total_seconds() // 60)
            why = (
                f"the scheduler found it {late} min late, beyond the grace of {grace} min "
                "(the scheduler was not running, or the machine was busy)"
            )
            log.warning(
                "%s: missed the run planned for %s", robot, moment.isoformat(),
                extra={"robot": robot},
            )  # fmt: skip
            row = self.history.missed(job, robot, moment, why, self._zone_of(robot))
            self._after_run(row)

    def _refused(self, job: str, at: dt.datetime) -> None:
        assert self.history is not None
        robot = robot_of(job)
        due = self.due.take_refused(job, at)
        for moment in (*due.folded, at):
            if self.history.claim(robot, moment, "skipped") is not None:
                continue  # another machine's scheduler took it
            log.warning(
                "%s: skipped the run planned for %s: still running", robot, moment,
                extra={"robot": robot},
            )  # fmt: skip
            self.history.skipped(job, robot, moment, "already running (the previous run of "
                                 "this job has not ended)")  # fmt: skip

    # --- stop --------------------------------------------------------------------------------

    def stop(self) -> bool:
        """Stop taking runs, let running ones finish (SIGTERM, deadline, kill) and close.
        False when a run was still going on after the deadline and the kill (see the log)."""
        if self._scheduler is None or self.dispatcher is None:
            self._close()
            return True
        self.gate.clear()
        with contextlib.suppress(Exception):
            self._scheduler.pause()
        running = self.dispatcher.running()
        if running:
            log.info("stopping: asking %s to finish", ", ".join(running))
        self.dispatcher.request_stop()
        limits = self.options.limits
        budget = limits.stop_deadline_seconds + limits.kill_grace_seconds + STOP_MARGIN_SECONDS
        idle = self.dispatcher.wait_idle(budget)
        self._scheduler.shutdown(wait=idle)
        if self.sealer is not None:
            self.sealer.seal()
        self._close()
        log.info("scheduler stopped")
        return idle

    def _close(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self.gate.clear()
            self._scheduler.shutdown(wait=False)
        dispatch.install(None)
        self.notifier = None
        self.sealer = None
        if self._stack is not None:  # the trail and the ledger's checkpoint table
            self._stack.close()
            self._stack = None
        self._trail = None
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def serve(self, stop: threading.Event) -> int:
        """Run until ``stop`` is set (by a signal handler); exit code 0."""
        self.start()
        while not stop.wait(self.options.wakeup_seconds):
            self._scheduler.wakeup()
            self.tick()
        log.info("%s; stopping", getattr(stop, "reason", "stop requested"))
        self.stop()
        return 0
