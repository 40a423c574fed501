"""What an alert says, gathered from the run history and the ledger: never personal data.

Shapes only: Løbenr (the finance system's running number), counts, reason codes, times, the
run's note (masked when it was stored, masked again here) and file paths.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from paybot.audit import mask_text
from paybot.domain.calendar import DANISH_TIME
from paybot.exit_codes import (
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_MEANINGS,
    EXIT_OK,
    EXIT_PREFLIGHT,
    EXIT_USAGE,
)
from paybot.ledger import CLAIMABLE, Handover, LedgerPort, RunRecord
from paybot.run_folder import BROWSER_RESTARTED


class Kind(StrEnum):
    """What went wrong with a run, in the order an operator should care."""

    MISSED = "missed"
    """The run never started (the scheduler was off or too late)."""
    CONFIG = "config"
    PREFLIGHT = "preflight"
    """Nothing was touched: the finance system, the login or a screen failed the checks."""
    KILLED = "killed"
    """The scheduler ended the run (timeout, or it was stopping)."""
    CRASHED = "crashed"
    """The run's process died (a signal, an unexpected exit code, no exit code)."""
    STOPPED = "stopped"
    """The run stopped early (the circuit breaker, or a stop request)."""
    FAILED = "failed"
    """The run completed but left invoices failing (some perhaps handed to a person after
    ``runner.max_nights``)."""
    RECOVERED = "recovered"
    """The run finished well, but its browser died or hung and was replaced during it (see
    ``runner.max_browser_restarts``): nothing waits because of it, but the operator should
    know, since a browser that keeps failing points at the machine (memory, most often)."""
    OK = "ok"


@dataclass(frozen=True)
class Failing:
    erp_id: int
    nights: int
    """Runs in which the invoice failed (the ledger's ``attempts``)."""


@dataclass(frozen=True)
class RunFacts:
    robot: str
    title: str
    run_id: str
    kind: Kind
    exit_code: int | None
    meaning: str
    started: str
    """Danish local time, ``2026-11-30 01:30``."""
    ended: str
    paid: int
    manual: int
    failed: int
    skipped: int
    note: str
    failing: list[Failing] = field(default_factory=list)
    """Invoices still waiting after failing in at least one run."""
    handed_over: list[Handover] = field(default_factory=list)
    """Marked for a person by the robot during this run (``runner.max_nights``)."""
    max_nights: int = 3
    report: str = ""
    """The run's report (``report.html``, or ``report.md`` from an older paybot), when there
    is one."""
    log: str = ""
    """The scheduler's copy of the run's output."""

    @property
    def long_failing(self) -> list[Failing]:
        """Failing for more than one night."""
        return [f for f in self.failing if f.nights > 1]

    @property
    def needs_alert(self) -> bool:
        return self.kind is not Kind.OK


def local(moment: dt.datetime | None) -> str:
    return moment.astimezone(DANISH_TIME).strftime("%Y-%m-%d %H:%M") if moment else ""


def classify(row: RunRecord) -> Kind:
    """The kind of a finished (or missed) run from its row in the run history."""
    note = row.note or ""
    if row.exit_code is None:
        if note.startswith(("missed", "skipped: could not start")):
            return Kind.MISSED
        # skipped because the robot was already running: that run tells how it went
        return Kind.OK if note.startswith("skipped") else Kind.CRASHED
    if "killed:" in note or "ended by the scheduler" in note:
        return Kind.KILLED
    if row.exit_code == EXIT_USAGE:
        return Kind.CONFIG
    if row.exit_code == EXIT_PREFLIGHT:
        return Kind.PREFLIGHT
    if row.exit_code == EXIT_FAILED and "stopped" in note:
        return Kind.STOPPED
    if row.exit_code == EXIT_FAILED and row.failed > 0:
        return Kind.FAILED
    if row.exit_code == EXIT_FAILED:  # no invoice failed: the run itself did ("without an
        return Kind.CRASHED  # outcome": the task process died or raised)
    if row.exit_code == EXIT_OK and BROWSER_RESTARTED in note:
        return Kind.RECOVERED
    if row.exit_code in (EXIT_OK, EXIT_BUSY):
        return Kind.OK
    return Kind.CRASHED


def failing_items(ledger: LedgerPort, robot: str) -> list[Failing]:
    """The robot's invoices that wait for another run after failing, longest first."""
    found = [
        Failing(i.erp_id, i.attempts) for i in ledger.items(robot, CLAIMABLE) if i.attempts > 0
    ]
    return sorted(found, key=lambda f: (-f.nights, f.erp_id))


def run_facts(
    ledger: LedgerPort,
    row: RunRecord,
    *,
    title: str,
    max_nights: int,
    report: str = "",
    log: str = "",
) -> RunFacts:
    handed = [h for h in ledger.handovers(row.robot, since=row.started_at) if h.by == "robot"]
    failing = failing_items(ledger, row.robot)
    kind = classify(row)
    code = row.exit_code
    return RunFacts(
        robot=row.robot,
        title=title,
        run_id=row.run_id,
        kind=kind,
        exit_code=code,
        meaning=EXIT_MEANINGS.get(code, "") if code is not None else "",
        started=local(row.started_at),
        ended=local(row.ended_at),
        paid=row.paid,
        manual=row.manual,
        failed=row.failed,
        skipped=row.skipped,
        note=mask_text(row.note or ""),
        failing=failing,
        handed_over=handed,
        max_nights=max_nights,
        report=report,
        log=log,
    )
