"""How the robots are doing, in one place: for ``robot status`` and the morning summary.

Read only: the scheduler's heartbeat (written each minute by ``robot scheduler``), each
robot's job (state, next run), last run and work items, invoices failing for more than one
run, and the alerts' outbox.

Health (and ``robot status``'s exit code):

- **down** (2): no scheduler has written its heartbeat within :data:`HEARTBEAT_STALE` while
  some robot is scheduled: nothing will run tonight;
- **degraded** (1): the scheduler is alive, but a robot's last run did not end well, an
  invoice has failed in more than one run, or an alert could not be delivered;
- **healthy** (0): none of that.

A last run that went well after its browser had to be replaced (``recovered``) is not a
problem; it is listed under ``notices`` (what an operator should know, health unchanged).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from paybot.config import RobotManifest, Settings
from paybot.ledger import AlertRecord, Heartbeat, LedgerPort, RunRecord, State
from paybot.notify.facts import Failing, Kind, classify, failing_items
from paybot.scheduler.jobs import Entry, JobState

SCHEDULER = "scheduler"
"""The heartbeat's name (on a ledger of one machine's own)."""


def heartbeat_name(settings: Settings) -> str:
    """The scheduler's heartbeat on this machine: :data:`SCHEDULER`, or ``scheduler@<machine>``
    on a ledger several machines share (each machine's scheduler is watched on its own)."""
    return f"{SCHEDULER}@{settings.machine_name}" if settings.ledger.shared else SCHEDULER


HEARTBEAT_SECONDS = 60.0
"""How often the scheduler writes its heartbeat."""
HEARTBEAT_STALE = dt.timedelta(seconds=3 * HEARTBEAT_SECONDS)
"""A heartbeat older than this means the scheduler is gone (or hung)."""


class Health(IntEnum):
    """``robot status``'s exit code."""

    HEALTHY = 0
    DEGRADED = 1
    DOWN = 2


@dataclass(frozen=True)
class RobotStatus:
    robot: str
    title: str
    job: str
    """``scheduled``, ``paused``, ``disabled``, ``new`` or ``never`` (see ``robot schedule``)."""
    next_run: dt.datetime | None
    last_run: RunRecord | None
    last_kind: Kind | None
    items: dict[str, int]
    """Work items by state."""
    failing: list[Failing]
    """Invoices waiting after failing in at least one run."""
    marked: int
    """Invoices marked for a person, not yet handed over in the finance system."""

    @property
    def long_failing(self) -> list[Failing]:
        return [f for f in self.failing if f.nights > 1]


@dataclass(frozen=True)
class Status:
    now: dt.datetime
    heartbeat: Heartbeat | None
    scheduler_alive: bool
    robots: list[RobotStatus]
    alerts_configured: bool
    last_alert: AlertRecord | None
    unsent_alerts: list[AlertRecord]
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """Worth knowing, not a problem (a run that recovered from a browser failure)."""
    health: Health = Health.HEALTHY

    def as_json(self) -> dict[str, Any]:
        """For a monitoring system: plain JSON types, times in UTC ISO 8601."""

        def iso(moment: dt.datetime | None) -> str | None:
            return moment.astimezone(dt.UTC).isoformat() if moment else None

        def run(r: RunRecord | None, kind: Kind | None) -> dict[str, Any] | None:
            if r is None:
                return None
            return {
                "run_id": r.run_id,
                "trigger": r.trigger,
                "started_at": iso(r.started_at),
                "ended_at": iso(r.ended_at),
                "exit_code": r.exit_code,
                "outcome": kind.value if kind else None,
                "paid": r.paid,
                "manual": r.manual,
                "failed": r.failed,
                "skipped": r.skipped,
                "note": r.note,
            }

        def alert(a: AlertRecord | None) -> dict[str, Any] | None:
            if a is None:
                return None
            return {
                "id": a.id,
                "robot": a.robot,
                "channel": a.channel,
                "kind": a.kind,
                "created_at": iso(a.created_at),
                "sent_at": iso(a.sent_at),
                "tries": a.tries,
                "last_error": a.last_error,
            }

        return {
            "status": self.health.name.lower(),
            "exit_code": int(self.health),
            "problems": self.problems,
            "notices": self.notices,
            "checked_at": iso(self.now),
            "scheduler": {
                "alive": self.scheduler_alive,
                "heartbeat_at": iso(self.heartbeat.at) if self.heartbeat else None,
                "host": self.heartbeat.host if self.heartbeat else None,
                "pid": self.heartbeat.pid if self.heartbeat else None,
            },
            "robots": [
                {
                    "robot": r.robot,
                    "job": r.job,
                    "next_run": iso(r.next_run),
                    "last_run": run(r.last_run, r.last_kind),
                    "items": r.items,
                    "failing": len(r.failing),
                    "failing_more_than_one_run": [
                        {"erp_id": f.erp_id, "runs": f.nights} for f in r.long_failing
                    ],
                    "marked_for_manual": r.marked,
                }
                for r in self.robots
            ],
            "alerts": {
                "configured": self.alerts_configured,
                "last": alert(self.last_alert),
                "unsent": len(self.unsent_alerts),
            },
        }


def alerts_configured(settings: Settings) -> bool:
    n = settings.notify
    return bool(n.webhook_url) or bool(n.smtp_host)


def robot_status(ledger: LedgerPort, manifest: RobotManifest, entry: Entry | None) -> RobotStatus:
    robot = manifest.name
    runs = ledger.list_runs(robot, limit=1)
    last = runs[0] if runs else None
    marked = sum(
        1
        for h in ledger.handovers(robot)
        if (item := ledger.item(robot, h.erp_id)) is not None and item.state is State.PENDING
    )
    counts = ledger.item_counts(robot)
    job = (
        entry.state.value
        if entry
        else (JobState.SCHEDULED.value if manifest.schedule.enabled else JobState.DISABLED.value)
    )
    return RobotStatus(
        robot=robot,
        title=manifest.title,
        job=job,
        next_run=entry.next_run if entry else None,
        last_run=last,
        last_kind=classify(last) if last is not None and last.ended_at is not None else None,
        items={state.value: counts[state] for state in State if counts.get(state)},
        failing=failing_items(ledger, robot),
        marked=marked,
    )


def gather(
    settings: Settings,
    manifests: Mapping[str, RobotManifest],
    ledger: LedgerPort,
    entries: Sequence[Entry],
    now: dt.datetime,
    *,
    host: str | None = None,
    local_pid: int | None = None,
) -> Status:
    """Everything ``robot status`` shows, and its verdict. ``host`` and ``local_pid``: this
    machine's name and the pid holding the scheduler's lock here (None: none); a heartbeat
    from this host without a scheduler holding the lock is a scheduler that has stopped."""
    by_robot = {e.robot: e for e in entries}
    robots = [robot_status(ledger, m, by_robot.get(n)) for n, m in sorted(manifests.items())]
    beat = ledger.heartbeat(heartbeat_name(settings))
    alive = beat is not None and now - beat.at <= HEARTBEAT_STALE
    if alive and beat is not None and host is not None and beat.host == host:
        alive = local_pid is not None
    recent = ledger.alerts(limit=1)
    unsent = [a for a in ledger.alerts(unsent_only=True, limit=100) if a.tries > 0]
    problems: list[str] = []
    notices: list[str] = []
    scheduled = [r for r in robots if r.job in (JobState.SCHEDULED, JobState.NEW)]
    down = not alive and bool(scheduled)
    if down:
        seen = f"last heartbeat {beat.at.isoformat()}" if beat else "no heartbeat ever"
        problems.append(f"the scheduler is not running ({seen})")
    for r in robots:
        if r.last_kind is Kind.RECOVERED and r.last_run is not None:
            notices.append(
                f"{r.robot}: the last run {r.last_run.run_id} finished after its browser failed "
                f"({r.last_run.note})"
            )
        elif r.last_kind is not None and r.last_kind is not Kind.OK and r.last_run is not None:
            problems.append(
                f"{r.robot}: the last run {r.last_run.run_id} did not end well "
                f"({r.last_kind.value}, exit code {r.last_run.exit_code})"
            )
        if r.long_failing:
            n = len(r.long_failing)
            problems.append(
                f"{r.robot}: {n} invoice{'s' if n != 1 else ''} failed in more than one run "
                f"(robot queue --robot {r.robot} --failing)"
            )
    if unsent:
        n = len(unsent)
        problems.append(
            f"{n} alert{'s' if n != 1 else ''} could not be delivered "
            f"(last error: {unsent[0].last_error})"
        )
    health = Health.DOWN if down else (Health.DEGRADED if problems else Health.HEALTHY)
    return Status(
        now=now,
        heartbeat=beat,
        scheduler_alive=alive,
        robots=robots,
        alerts_configured=alerts_configured(settings),
        last_alert=recent[0] if recent else None,
        unsent_alerts=unsent,
        problems=problems,
        notices=notices,
        health=health,
    )
