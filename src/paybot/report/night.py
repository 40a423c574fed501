"""One night of all robots: which runs belong to it and what they add up to.

The night before the morning of day D (Copenhagen time) is from D-1 12:00 to D 12:00: a run
started at 01:30 or at 08:15 on D belongs to the morning report of D, one started at 14:00 to
that of D+1. Runs are found in ``<output_dir>/runs/*/report.json`` (each run's own report, so
the totals are the runs' own figures, never a copy). Dry runs are listed, marked, and left
out of every total: they paid nothing.

A run that wrote no report (killed by the OOM killer or SIGKILL, stopped before it began)
would be invisible there, so the caller also passes the night's rows of the ledger's runs
table (:class:`RunHistory`, plain data: this layer never opens the ledger); each of them
without a ``report.json`` is listed as "stoppet uden rapport", or "i gang" while it has no
end time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from paybot.audit.masking import mask_text
from paybot.domain.calendar import DANISH_TIME
from paybot.report.view import (
    EXIT_DA,
    ZERO,
    MoneySum,
    Row,
    RunView,
    danish_date,
    danish_window,
    kr,
    moment_of,
    run_view,
    safe_name,
)

NOON = dt.time(12, 0)
RUN_ID_STAMP = "%Y%m%dT%H%M%SZ"
"""How a run id starts (:func:`paybot.run_folder.new_run_id`): its UTC start."""


def night_of(moment: dt.datetime) -> dt.date:
    """The morning (a Copenhagen date) whose report a run started at ``moment`` (aware)
    belongs to."""
    return (moment.astimezone(DANISH_TIME) + dt.timedelta(hours=12)).date()


def night_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``(D-1 12:00, D 12:00)`` Copenhagen time, for the morning of ``day``, as aware UTC
    moments (so comparisons and differences are real time, also across a DST change)."""
    end = dt.datetime.combine(day, NOON, tzinfo=DANISH_TIME)
    start = dt.datetime.combine(day - dt.timedelta(days=1), NOON, tzinfo=DANISH_TIME)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


class RunHistory(Protocol):
    """One row of the ledger's runs table (``paybot.ledger.RunRecord`` is one; ``robot
    runs`` shows them). Times are aware (UTC); a naive one is taken as UTC."""

    @property
    def run_id(self) -> str:
        """The run's id (``20261127T014500Z-3f9a``). Raises: nothing. Repeat: safe."""
        ...

    @property
    def robot(self) -> str:
        """The robot's name. Raises: nothing. Repeat: safe."""
        ...

    @property
    def started_at(self) -> dt.datetime:
        """When the run started (UTC). Raises: nothing. Repeat: safe."""
        ...

    @property
    def ended_at(self) -> dt.datetime | None:
        """When it ended (UTC); ``None`` while running or dead.
        Raises: nothing. Repeat: safe."""
        ...

    @property
    def exit_code(self) -> int | None:
        """Its exit code (README); ``None`` while running or dead.
        Raises: nothing. Repeat: safe."""
        ...

    @property
    def note(self) -> str | None:
        """The ledger's note on the run (masked when shown), or ``None``.
        Raises: nothing. Repeat: safe."""
        ...


RUNNING_DA = "i gang"
STOPPED_DA = "stoppet uden rapport"


@dataclass
class StoppedRun:
    """A run of the night that left no ``report.json``: still running, or stopped (killed,
    crashed) before it wrote one."""

    robot: str
    run_id: str
    window: str
    state: str
    """``i gang`` (no end time) or ``stoppet uden rapport``."""
    exit_code: int | None
    exit_da: str
    """What the exit code means, or "ingen slutkode (processen døde)" when there is none."""
    note: str


@dataclass
class RobotLine:
    """One robot's line of the morning report: all its (real) runs of the night together."""

    robot: str
    title: str
    runs: int = 0
    paid: int = 0
    paid_money: MoneySum = field(default_factory=MoneySum)
    handed_over: int = 0
    handed_over_money: MoneySum = field(default_factory=MoneySum)
    """Per currency; only the DKK part (credit notes negative) is a kr figure."""
    failed: int = 0
    left: int = 0
    """Left by the robot's last run of the night."""
    share: float = 0.0
    """Its paid amount as a share (0–1) of the largest robot's, for the chart."""

    @property
    def paid_amount(self) -> Decimal:
        """Kroner paid (DKK only)."""
        return self.paid_money.dkk or ZERO

    @property
    def handed_over_amount(self) -> Decimal:
        """Kroner handed over (DKK only, credit notes negative)."""
        return self.handed_over_money.dkk or ZERO

    @property
    def paid_kr(self) -> str:
        return self.paid_money.text or kr(ZERO)

    @property
    def handed_over_kr(self) -> str:
        return self.handed_over_money.text or kr(ZERO)


@dataclass
class NightRow:
    """An invoice in the morning report's lists, with the run it came from."""

    robot: str
    run_id: str
    row: Row


@dataclass
class Night:
    """The morning report of ``day`` as the template shows it."""

    day: dt.date
    day_da: str
    window: str
    municipality: str
    runs: list[RunView] = field(default_factory=list)
    """Real runs, oldest first."""
    dry_runs: list[RunView] = field(default_factory=list)
    robots: list[RobotLine] = field(default_factory=list)
    handed_over: list[NightRow] = field(default_factory=list)
    failed: list[NightRow] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    """Run folders whose report.json could not be read (named, never guessed at)."""
    without_report: list[StoppedRun] = field(default_factory=list)
    """Runs of the night in the ledger's run history with no report.json, oldest first."""

    @property
    def paid(self) -> int:
        return sum(r.paid for r in self.robots)

    @property
    def paid_amount(self) -> Decimal:
        return sum((r.paid_amount for r in self.robots), ZERO)

    @property
    def handed_over_money(self) -> MoneySum:
        total = MoneySum()
        for n in self.handed_over:
            total.add(n.row.amount, n.row.currency)
        return total

    @property
    def handed_over_amount(self) -> Decimal:
        """Kroner handed over: the DKK amounts only, credit notes negative."""
        return self.handed_over_money.dkk or ZERO

    @property
    def left(self) -> int:
        return sum(r.left for r in self.robots)

    @property
    def paid_kr(self) -> str:
        total = MoneySum()
        for r in self.robots:
            total += r.paid_money
        return total.text or kr(ZERO)

    @property
    def handed_over_kr(self) -> str:
        return self.handed_over_money.text or kr(ZERO)


def _stamp(name: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(name[: len("20261130T013000Z")], RUN_ID_STAMP).replace(
            tzinfo=dt.UTC
        )
    except ValueError:
        return None


def reports_of_night(
    output_dir: Path, day: dt.date
) -> Iterator[tuple[Path, dict[str, Any] | None]]:
    """``(run folder, report.json data or None when unreadable)`` of every run that started
    in the night before ``day``'s morning. Folders whose name (a run id's UTC stamp) is more
    than a day from the window are not opened."""
    start, end = night_window(day)
    runs = output_dir / "runs"
    if not runs.is_dir():
        return
    for folder in sorted(runs.iterdir()):
        stamp = _stamp(folder.name)
        margin = dt.timedelta(days=1)
        if stamp is not None and not start - margin <= stamp <= end + margin:
            continue
        file = folder / "report.json"
        if not file.is_file():
            continue
        try:
            data = json.loads(file.read_text("utf-8"))
        except (OSError, ValueError):
            if stamp is not None and start <= stamp < end:
                yield folder, None
            continue
        if not isinstance(data, dict):
            yield folder, None
            continue
        began = moment_of(data.get("started_at") or data.get("finished_at"))
        if began is not None and start <= began < end:
            yield folder, data


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def runs_without_report(
    output_dir: Path, day: dt.date, history: Iterable[RunHistory]
) -> list[StoppedRun]:
    """The rows of ``history`` that started in the night before ``day``'s morning and have no
    ``<output_dir>/runs/<run-id>/report.json``, oldest first. Reads nothing but whether that
    file exists."""
    start, end = night_window(day)
    found: list[tuple[dt.datetime, StoppedRun]] = []
    for row in history:
        began, ended = _utc(row.started_at), _utc(row.ended_at)
        if began is None or not start <= began < end:
            continue
        name = safe_name(row.run_id)
        if name is not None and (output_dir / "runs" / name / "report.json").is_file():
            continue
        code = row.exit_code
        if code is not None:
            meaning = EXIT_DA.get(code, "")
        else:
            meaning = "" if ended is None else "ingen slutkode (processen døde)"
        local_end = ended.astimezone(DANISH_TIME) if ended else None
        stopped = StoppedRun(
            robot=mask_text(row.robot),
            run_id=mask_text(row.run_id),
            window=danish_window(began.astimezone(DANISH_TIME), local_end),
            state=RUNNING_DA if ended is None else STOPPED_DA,
            exit_code=code,
            exit_da=meaning,
            note=mask_text(row.note or ""),
        )
        found.append((began, stopped))
    return [s for _, s in sorted(found, key=lambda pair: (pair[0], pair[1].run_id))]


def build_night(
    output_dir: Path,
    day: dt.date,
    *,
    municipality: str = "",
    runs_prefix: str = "../runs/",
    history: Iterable[RunHistory] = (),
) -> Night:
    """The morning report of ``day`` from the run folders under ``output_dir``. Links to a run
    are ``<runs_prefix><run-id>/…`` (the default fits a page in ``<output_dir>/reports/``). A
    run folder whose report cannot be read is named in ``unreadable``; a run of ``history``
    (the ledger's runs table; only the night's rows are used) without a report.json is in
    ``without_report``. Never raises for a bad report."""
    start, end = night_window(day)
    window = danish_window(start.astimezone(DANISH_TIME), end.astimezone(DANISH_TIME))
    night = Night(day, danish_date(day), window, municipality)
    lines: dict[str, RobotLine] = {}
    for folder, data in reports_of_night(output_dir, day):
        if data is None:
            night.unreadable.append(folder.name)
            continue
        run_id = safe_name(data.get("run_id")) or safe_name(folder.name) or ""
        view = run_view(data, link_prefix=f"{runs_prefix}{run_id}/")
        if view.dry_run:
            night.dry_runs.append(view)
            continue
        night.runs.append(view)
        night.municipality = night.municipality or view.municipality
        line = lines.setdefault(view.robot, RobotLine(view.robot, view.title))
        line.runs += 1
        line.paid += view.total("paid")[0]
        line.paid_money += view.money("paid")
        line.handed_over += view.total("manual")[0]
        line.handed_over_money += view.money("manual")
        line.failed += len(view.failed)
        line.left = view.left
        night.handed_over += [NightRow(view.robot, view.run_id, r) for r in view.handed_over]
        night.failed += [NightRow(view.robot, view.run_id, r) for r in view.failed]
    night.robots = sorted(lines.values(), key=lambda line: line.robot)
    richest = max((r.paid_amount for r in night.robots), default=ZERO)
    for r in night.robots:
        r.share = float(r.paid_amount / richest) if richest else 0.0
    night.without_report = runs_without_report(output_dir, day, history)
    return night
