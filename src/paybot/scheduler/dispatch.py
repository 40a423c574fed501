"""A scheduled run, from the job firing to the run's end: the body of every robot's job.

Every stored job calls :func:`scheduled_run` (by its textual reference, so the job store holds
no code), which hands over to the :class:`Dispatcher` of the scheduler in this process:

0. **Once across machines.** With schedulers on several machines sharing one PostgreSQL,
   the first to claim the planned time in the ledger starts the run; the others do nothing
   (:meth:`paybot.scheduler.history.History.claim`).
1. **Not twice at once.** A robot already running (started by this scheduler, or holding its
   lock, e.g. a manual ``robot run``) is not started again; the run is recorded as skipped.
2. **A child process.** ``python -m paybot run <robot>`` with ``PAYBOT_TRIGGER=scheduler``, in
   a session of its own, output to ``<output_dir>/scheduler/<robot>-<time>.log``
   (:mod:`paybot.scheduler.child`).
3. **Ended in time.** At the manifest's ``timeout_minutes`` the run and every process it
   started are ended (SIGTERM, SIGKILL after a grace). When the scheduler stops, the run gets
   SIGTERM (``robot run`` finishes the invoice it is on and exits) and is ended the same way
   if it is still there at the stop deadline.
4. **Written down** (:mod:`paybot.scheduler.history`), then told to ``on_finished`` (the
   scheduler's alerts, :mod:`paybot.notify`).

Nothing a run does (crash, garbage output, exit codes, being killed) reaches the scheduler:
every error here is logged and the scheduler carries on.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from paybot import locks
from paybot.config import ENV_HOME, RobotManifest, Settings
from paybot.ledger import RunRecord, utc_now
from paybot.run_folder import (
    ENV_DRY_RUN,
    ENV_LOCK_HELD,
    ENV_ROBOT,
    ENV_RUN_DIR,
    ENV_RUN_ID,
    ENV_TRIGGER,
    ENV_WORKERS,
)
from paybot.scheduler.child import DEFAULT_POLL_SECONDS, ChildRun, Ended
from paybot.scheduler.due import Due, DueTimes
from paybot.scheduler.history import TRIGGER, History

log = logging.getLogger("paybot.scheduler")

Command = Callable[[str], Sequence[str]]
Finished = Callable[[RunRecord, Path], None]
"""Told each finished run's row and the file with its output (never allowed to raise)."""
_PARENT_ONLY = (ENV_RUN_ID, ENV_RUN_DIR, ENV_ROBOT, ENV_WORKERS, ENV_DRY_RUN, ENV_LOCK_HELD)


def robot_run_command(robot: str) -> list[str]:
    """How a scheduled run starts: exactly as an operator would, ``robot run <robot>``."""
    return [sys.executable, "-m", "paybot", "run", robot]


@dataclass(frozen=True)
class Limits:
    stop_deadline_seconds: float = 120.0
    """After SIGTERM to a run when the scheduler stops, how long it may take to finish."""
    kill_grace_seconds: float = 10.0
    """Between SIGTERM and SIGKILL when a run is ended."""
    poll_seconds: float = DEFAULT_POLL_SECONDS
    """How often a running child's processes are noted."""
    timeouts: Mapping[str, float] = field(default_factory=dict)
    """Per robot, seconds instead of the manifest's ``timeout_minutes`` (tests)."""


def _seconds_text(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"


class Dispatcher:
    def __init__(
        self,
        *,
        home: Path,
        settings: Settings,
        manifests: Mapping[str, RobotManifest],
        history: History,
        due: DueTimes,
        limits: Limits,
        command: Command = robot_run_command,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.home = home
        self.settings = settings
        self.manifests = dict(manifests)
        self.history = history
        self.due = due
        self.limits = limits
        self.command = command
        base = dict(os.environ if env is None else env)
        for name in _PARENT_ONLY:
            base.pop(name, None)
        self.env = base | {ENV_TRIGGER: TRIGGER, ENV_HOME: str(home)}
        self._clock = clock
        self.stopping = threading.Event()
        self._stop_at = float("inf")
        self._running: set[str] = set()
        self._changed = threading.Condition()
        self.on_finished: Finished | None = None

    # --- the scheduler's side ----------------------------------------------------------------

    def request_stop(self) -> None:
        """No new runs; running ones get SIGTERM and ``stop_deadline_seconds`` to end."""
        with self._changed:
            if not self.stopping.is_set():
                self._stop_at = time.monotonic() + self.limits.stop_deadline_seconds
                self.stopping.set()
            self._changed.notify_all()

    def running(self) -> list[str]:
        with self._changed:
            return sorted(self._running)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is going on; False when ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._running, timeout=timeout)

    # --- one run -----------------------------------------------------------------------------

    def run(self, job: str, robot: str) -> None:
        """The body of a job; never raises (the scheduler must survive anything)."""
        due = self.due.take_newest(job) or Due(job, self._clock())
        try:
            self._run(due, robot)
        except Exception:
            log.exception("%s: the scheduled run failed inside the scheduler", robot)

    def _claim(self, robot: str) -> str | None:
        """Reserve the robot for this run, or say why it cannot run now."""
        with self._changed:
            if self.stopping.is_set():
                return "the scheduler is stopping"
            if robot in self._running:
                return "already running (started by this scheduler)"
            self._running.add(robot)
        try:
            running = locks.is_running(self.settings, robot)
        except SQLAlchemyError as exc:
            self._release(robot)
            return f"the ledger's database cannot be reached ({type(exc).__name__})"
        if running:
            self._release(robot)
            return "already running (the robot's lock is held)"
        return None

    def _release(self, robot: str) -> None:
        with self._changed:
            self._running.discard(robot)
            self._changed.notify_all()

    def _run(self, due: Due, robot: str) -> None:
        manifest = self.manifests.get(robot)
        if manifest is None:
            log.error("%s: job %s names no robot in robots/; not started", robot, due.job)
            return
        other = self.history.claim(robot, due.at, "started")
        if other is not None:
            log.info(
                "%s: the run planned for %s was taken by the scheduler on %s",
                robot, due.at.isoformat(), other, extra={"robot": robot},
            )  # fmt: skip
            return
        why_not = self._claim(robot)
        if why_not is not None:
            log.warning("%s: not started: %s", robot, why_not, extra={"robot": robot})
            self.history.skipped(due.job, robot, due.at, why_not)
            return
        try:
            self._start_and_watch(due, robot, manifest)
        finally:
            self._release(robot)

    def _start_and_watch(self, due: Due, robot: str, manifest: RobotManifest) -> None:
        spawned_at = self._clock()
        log_path = (
            self.settings.output_dir / "scheduler" / f"{robot}-{spawned_at:%Y%m%d-%H%M%S}.log"
        )
        try:
            child = ChildRun.start(
                self.command(robot),
                cwd=self.home,
                env=self.env,
                log_path=log_path,
                poll_seconds=self.limits.poll_seconds,
            )
        except OSError as exc:
            log.error("%s: could not start the run: %s", robot, exc)
            self.history.skipped(due.job, robot, due.at, f"could not start robot run: {exc}")
            return
        if due.folded:
            log.info("%s: %d earlier planned runs folded into this one", robot, len(due.folded))
        log.info(
            "%s: run started (pid %d), output %s", robot, child.pid, log_path,
            extra={"robot": robot, "pid": child.pid},
        )  # fmt: skip
        self.history.started(due.job, robot, child.pid, log_path, due.at, due.folded)
        killed = self._watch(due, robot, manifest, child)
        code = child.reap()
        row = self.history.finished(
            due.job,
            robot,
            pid=child.pid,
            spawned_at=spawned_at,
            exit_code=code,
            killed=killed,
            log_path=log_path,
        )
        log.info(
            "%s: run %s ended, exit code %s%s",
            robot,
            row.run_id,
            row.exit_code,
            f" (killed: {killed})" if killed else "",
            extra={"robot": robot, "run_id": row.run_id, "exit_code": row.exit_code},
        )
        if self.on_finished is not None:
            try:
                self.on_finished(row, log_path)
            except Exception:
                log.exception("%s: run %s: telling about the end failed", robot, row.run_id)

    def _watch(self, due: Due, robot: str, manifest: RobotManifest, child: ChildRun) -> str | None:
        """Wait for the child; end it at its timeout or the stop deadline. Returns why it was
        killed, or None when it ended by itself."""
        timeout = self.limits.timeouts.get(robot, manifest.schedule.timeout_minutes * 60.0)
        deadline = time.monotonic() + timeout
        ended = child.wait(deadline, self.stopping)
        why = f"it ran longer than its timeout of {_seconds_text(timeout)}"
        if ended is Ended.STOPPED:
            log.info("%s: the scheduler is stopping; SIGTERM to the run (pid %d)", robot, child.pid)
            child.ask_to_stop()
            ended = child.wait(min(deadline, self._stop_at))
            if self._stop_at <= deadline:
                why = (
                    "the scheduler was stopping and the run did not end within "
                    f"{_seconds_text(self.limits.stop_deadline_seconds)} of SIGTERM"
                )
        if ended is Ended.EXITED:
            leftovers = child.leftovers()
            if leftovers:
                result = child.terminate(self.limits.kill_grace_seconds)
                log.warning("%s: ended %d processes the run left behind", robot, len(leftovers))
                self.history.killed(
                    due.job, robot, child.pid, "processes left behind after the run ended",
                    result.survivors,
                )  # fmt: skip
            return None
        log.warning("%s: ending the run (pid %d): %s", robot, child.pid, why)
        result = child.terminate(self.limits.kill_grace_seconds)
        if result.survivors:
            log.error(
                "%s: %d processes of the run survived SIGKILL: %s",
                robot,
                len(result.survivors),
                ", ".join(str(p.pid) for p in result.survivors),
            )
        self.history.killed(due.job, robot, child.pid, why, result.survivors)
        return why


_active: Dispatcher | None = None
_active_lock = threading.Lock()


def install(dispatcher: Dispatcher | None) -> None:
    """Make ``dispatcher`` the one :func:`scheduled_run` hands jobs to (None: none)."""
    global _active
    with _active_lock:
        _active = dispatcher


def scheduled_run(robot: str, job: str | None = None) -> None:
    """What every robot's job calls (stored in the job store as ``paybot.scheduler.dispatch:
    scheduled_run`` with the robot's name)."""
    with _active_lock:
        dispatcher = _active
    if dispatcher is None:
        raise RuntimeError(f"no scheduler is running in this process to start {robot}")
    dispatcher.run(job or robot, robot)
