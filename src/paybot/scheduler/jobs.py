"""The robots' jobs in APScheduler's persistent job store, kept in line with ``robots/*.yaml``.

One job per enabled robot, its id the robot's name, in a ``SQLAlchemyJobStore`` on SQLite
(``<data_dir>/scheduler.sqlite``). The store keeps each job's next run time, so after a
restart the scheduler knows which runs it missed while it was down. The job's ``name`` holds
the schedule it was made from (cron line, time zone, bank days, grace); when the manifest says
something else, the job is changed on the next start.

Pausing a robot (``robot schedule pause``) is APScheduler's pause: the job stays, without a
next run time, and stays paused across restarts and manifest changes until resumed. A robot
with ``schedule.enabled: false`` has no job at all.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from paybot.config import (
    BANK_CALENDAR_FILE,
    ROBOTS_DIR,
    RobotManifest,
    Settings,
    load_bank_calendar,
)
from paybot.domain.calendar import DANISH_TIME, DEFAULT_CALENDAR, BankCalendar
from paybot.errors import ConfigError
from paybot.private import private_file
from paybot.scheduler.triggers import RobotTrigger

STORE = "default"
ONCE = "once"
"""An in-memory store for one-off runs (``robot scheduler --run-now``); never persisted."""
STORE_FILE = "scheduler.sqlite"
JOB_FUNC = "paybot.scheduler.dispatch:scheduled_run"
RUN_NOW_PREFIX = "run-now:"
ZONE = DANISH_TIME
MIN_GRACE_SECONDS = 30
"""``misfire_grace_minutes: 0`` still allows this much delay (the scheduler's own latency)."""


class JobState(StrEnum):
    SCHEDULED = "scheduled"
    PAUSED = "paused"
    DISABLED = "disabled"
    NEW = "new"
    """Enabled in the manifest, not yet in the job store (the scheduler adds it on start)."""
    NEVER = "never"
    """The schedule has no future fire time (e.g. bank days only on a holiday)."""


@dataclass(frozen=True)
class Entry:
    robot: str
    schedule: str
    state: JobState
    next_run: dt.datetime | None
    timeout_minutes: int
    grace_minutes: int


@dataclass(frozen=True)
class Change:
    robot: str
    action: str
    """``added``, ``changed``, ``removed`` or ``kept``."""
    schedule: str
    next_run: dt.datetime | None


def store_path(settings: Settings) -> Path:
    return settings.data_dir / STORE_FILE


def manifest_file(home: Path, robot: str) -> str:
    return str(home / ROBOTS_DIR / f"{robot}.yaml")


def robot_trigger(
    manifest: RobotManifest, file: str, calendar: BankCalendar = DEFAULT_CALENDAR
) -> RobotTrigger:
    """The manifest's schedule as a trigger (bank days from ``calendar``); a cron line we
    cannot read names file, key and value."""
    s = manifest.schedule
    try:
        return RobotTrigger(s.cron, s.timezone, s.bank_days_only, calendar)
    except ValueError as exc:
        raise ConfigError(file, "schedule.cron", s.cron, str(exc)) from None


def check_schedules(home: Path, manifests: Mapping[str, RobotManifest]) -> None:
    """Every manifest's schedule can be turned into a trigger, and the bank calendar can be
    read (raises :class:`ConfigError`)."""
    calendar = load_bank_calendar(home / BANK_CALENDAR_FILE)
    for name, manifest in manifests.items():
        robot_trigger(manifest, manifest_file(home, name), calendar)


def grace_seconds(manifest: RobotManifest) -> int:
    return max(manifest.schedule.misfire_grace_minutes * 60, MIN_GRACE_SECONDS)


def job_name(manifest: RobotManifest, trigger: RobotTrigger) -> str:
    """What the job was made from; a different text means the manifest changed."""
    grace = manifest.schedule.misfire_grace_minutes
    return f"{manifest.name}: {trigger.describe()}, grace {grace} min"


def robot_of(job_id: str) -> str:
    return job_id.removeprefix(RUN_NOW_PREFIX)


class GatedSQLAlchemyJobStore(SQLAlchemyJobStore):  # type: ignore[misc]  # no type hints
    """The SQLite job store; hands out due jobs only while ``gate`` is set.

    APScheduler 3 looks for due jobs once more *after* ``shutdown()`` has stopped the
    executors (and in a scheduler started paused, when it is shut down): the job's next run
    time is moved on although it never ran, and the run is lost without a trace. Closed, the
    gate prevents that; commands that only look at or change the store never open it."""

    def __init__(self, gate: threading.Event, url: str) -> None:
        super().__init__(url=url)
        self.gate = gate

    def get_due_jobs(self, now: dt.datetime) -> list[Any]:
        return list(super().get_due_jobs(now)) if self.gate.is_set() else []


class GatedMemoryJobStore(MemoryJobStore):  # type: ignore[misc]  # no type hints
    """The in-memory store of one-off runs, gated as :class:`GatedSQLAlchemyJobStore`."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate

    def get_due_jobs(self, now: dt.datetime) -> list[Any]:
        return list(super().get_due_jobs(now)) if self.gate.is_set() else []


def make_scheduler(
    settings: Settings, executor: Any | None = None, gate: threading.Event | None = None
) -> BackgroundScheduler:
    """A scheduler on the robots' job store (not started). It runs jobs only while ``gate``
    is set (never, without one)."""
    path = store_path(settings)
    private_file(path)  # 0600 before SQLite opens it
    executors = {"default": executor} if executor is not None else {}
    gate = gate or threading.Event()
    return BackgroundScheduler(
        jobstores={
            STORE: GatedSQLAlchemyJobStore(gate, f"sqlite:///{path}"),
            ONCE: GatedMemoryJobStore(gate),
        },
        executors=executors,
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=ZONE,
    )


class JobBook:
    """The robots' jobs in a started scheduler (started paused, for commands that only look
    or pause)."""

    def __init__(
        self, scheduler: BackgroundScheduler, home: Path, manifests: Mapping[str, RobotManifest]
    ) -> None:
        self.scheduler = scheduler
        self.home = home
        self.manifests = dict(manifests)
        self.calendar = load_bank_calendar(home / BANK_CALENDAR_FILE)

    def _trigger(self, robot: str) -> RobotTrigger:
        return robot_trigger(self.manifests[robot], manifest_file(self.home, robot), self.calendar)

    def _jobs(self) -> dict[str, Any]:
        return {job.id: job for job in self.scheduler.get_jobs(jobstore=STORE)}

    def _spec(self, robot: str) -> dict[str, Any]:
        manifest = self.manifests[robot]
        trigger = self._trigger(robot)
        return {
            "func": JOB_FUNC,
            "trigger": trigger,
            "args": [robot],
            "kwargs": {},
            "name": job_name(manifest, trigger),
            "misfire_grace_time": grace_seconds(manifest),
            "coalesce": True,
            "max_instances": 1,
        }

    def _add(self, robot: str, *, paused: bool = False) -> Any:
        spec = self._spec(robot)
        extra = {"next_run_time": None} if paused else {}
        return self.scheduler.add_job(
            spec.pop("func"), id=robot, jobstore=STORE, replace_existing=True, **spec, **extra
        )

    def reconcile(self, now: dt.datetime) -> list[Change]:
        """Make the job store match the manifests: add, change or remove jobs. A changed job
        keeps a planned time already passed (it still runs, or is recorded as missed) and a
        pause; a future planned time is replaced by the new schedule's."""
        changes: list[Change] = []
        jobs = self._jobs()
        wanted = {n for n, m in self.manifests.items() if m.schedule.enabled}
        for job_id, job in sorted(jobs.items()):
            if job_id not in wanted:
                self.scheduler.remove_job(job_id, jobstore=STORE)
                changes.append(Change(job_id, "removed", str(job.name), None))
        for robot in sorted(wanted):
            spec = self._spec(robot)
            job = jobs.get(robot)
            if job is None:
                added = self._add(robot)
                changes.append(Change(robot, "added", spec["name"], added.next_run_time))
                continue
            same = (
                job.name == spec["name"]
                and job.func_ref == JOB_FUNC
                and list(job.args) == spec["args"]
                and job.misfire_grace_time == spec["misfire_grace_time"]
            )
            if same:
                changes.append(Change(robot, "kept", spec["name"], job.next_run_time))
                continue
            stored = job.next_run_time
            if stored is not None and stored > now:
                spec["next_run_time"] = spec["trigger"].get_next_fire_time(None, now)
            self.scheduler.modify_job(robot, jobstore=STORE, **spec)
            changed = self.scheduler.get_job(robot, jobstore=STORE)
            changes.append(Change(robot, "changed", spec["name"], changed.next_run_time))
        return changes

    def _enabled(self, robot: str) -> RobotManifest:
        manifest = self.manifests.get(robot)
        file = str(self.home / ROBOTS_DIR)
        if manifest is None:
            known = ", ".join(sorted(self.manifests)) or "none"
            raise ConfigError(file, "robot", robot, f"no such robot; known: {known}")
        if not manifest.schedule.enabled:
            raise ConfigError(
                manifest_file(self.home, robot),
                "schedule.enabled",
                False,
                "the robot is disabled in its manifest; set it to true to schedule it",
            )
        return manifest

    def pause(self, robot: str) -> bool:
        """Pause the robot's job (kept across restarts). False when it was paused already."""
        self._enabled(robot)
        job = self._jobs().get(robot)
        if job is None:
            self._add(robot, paused=True)
            return True
        if job.next_run_time is None:
            return False
        self.scheduler.pause_job(robot, jobstore=STORE)
        return True

    def resume(self, robot: str) -> bool:
        """Resume the robot's job from now on. False when it was not paused."""
        self._enabled(robot)
        job = self._jobs().get(robot)
        if job is None:
            self._add(robot)
            return False
        if job.next_run_time is not None:
            return False
        self.scheduler.resume_job(robot, jobstore=STORE)
        return True

    def add_run_now(self, robot: str, now: dt.datetime) -> None:
        """A one-off run of ``robot`` right away, through the same path as a scheduled one."""
        if robot not in self.manifests:
            self._enabled(robot)  # raises naming the known robots
        job_id = RUN_NOW_PREFIX + robot
        self.scheduler.add_job(
            JOB_FUNC,
            trigger=DateTrigger(run_date=now, timezone=ZONE),
            args=[robot],
            kwargs={"job": job_id},
            id=job_id,
            name=f"{robot}: once, now",
            jobstore=ONCE,
            misfire_grace_time=None,
            replace_existing=True,
        )

    def entries(self, now: dt.datetime) -> list[Entry]:
        """Every robot with its state and next run, for ``robot schedule``."""
        jobs = self._jobs()
        found: list[Entry] = []
        for robot, manifest in sorted(self.manifests.items()):
            trigger = self._trigger(robot)
            upcoming = trigger.get_next_fire_time(None, now)
            job = jobs.get(robot)
            if not manifest.schedule.enabled:
                state, next_run = JobState.DISABLED, None
            elif job is None:
                state, next_run = JobState.NEW, upcoming
            elif job.next_run_time is None:
                state = JobState.PAUSED if upcoming is not None else JobState.NEVER
                next_run = None
            else:
                state, next_run = JobState.SCHEDULED, job.next_run_time
            found.append(
                Entry(
                    robot=robot,
                    schedule=trigger.describe(),
                    state=state,
                    next_run=next_run,
                    timeout_minutes=manifest.schedule.timeout_minutes,
                    grace_minutes=manifest.schedule.misfire_grace_minutes,
                )
            )
        return found
