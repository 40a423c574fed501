"""``robot scheduler``, ``robot schedule`` and ``robot runs``: nightly runs and their history.

- ``robot scheduler [--run-now ROBOT]``: the scheduler process (for systemd; see
  docs/operations.md). Exit 0 after SIGTERM/SIGINT, 2 on a configuration error (nothing is
  scheduled), 4 when another scheduler runs on the same data folder.
- ``robot schedule``: every robot with its state and next run (local time). Exit 0 while a
  scheduler runs on this data folder, 1 when none does (then nothing runs at those times),
  2 on a configuration error.
  ``robot schedule pause ROBOT`` / ``robot schedule resume ROBOT``: kept in the job store,
  across restarts. Exit 0, or 2 naming the robot or manifest.
- ``robot runs [--robot R] [--limit N]``: the run history, newest first; times in Copenhagen
  time with their offset (``2026-11-30 07:15:00+01:00``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url

from paybot.audit import AuditTrail, mask_text
from paybot.config import (
    ROBOTS_DIR,
    RobotManifest,
    Settings,
    find_home,
    load_manifests,
    load_settings,
)
from paybot.domain.calendar import DANISH_TIME, danish_timestamp
from paybot.errors import ConfigError
from paybot.exit_codes import EXIT_BUSY, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from paybot.ledger import Ledger, RunRecord, utc_now
from paybot.logs import configure_logging
from paybot.run_folder import run_dir
from paybot.scheduler.dispatch import Limits
from paybot.scheduler.jobs import JobBook, check_schedules, make_scheduler, store_path
from paybot.scheduler.service import (
    SchedulerBusy,
    SchedulerService,
    ServiceOptions,
    StopRequest,
    running_scheduler,
)

ZONE = DANISH_TIME
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


def _complain(command: str, text: str) -> None:
    sys.stderr.write(f"robot {command}: {text}\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "scheduler",
        help="run the robots on their schedules (a foreground process for systemd)",
        description="Start the robots on the schedules in robots/*.yaml until SIGTERM. Exit "
        "codes: 0 stopped; 2 configuration error (nothing scheduled); 4 another scheduler "
        "runs on this data folder.",
    )
    p.add_argument(
        "--run-now",
        action="append",
        default=[],
        metavar="ROBOT",
        help="also start ROBOT once right away, exactly as a scheduled run (repeatable)",
    )
    p.set_defaults(handler=cmd_scheduler)

    p = subparsers.add_parser(
        "schedule",
        help="list the robots' next runs; pause or resume one",
        description="Without an action: every robot with its state (scheduled, paused, "
        "disabled) and next run in local time. Exit codes: 0 a scheduler is running; 1 no "
        "scheduler is running (nothing will start at those times); 2 configuration error.",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="the list as one JSON object (scheduler, robots with their next run); same exit codes",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    for name, text in (
        ("pause", "stop scheduling ROBOT until resumed (kept across restarts)"),
        ("resume", "schedule ROBOT again from now on"),
    ):
        a = actions.add_parser(name, help=text, description=text)
        a.add_argument("robot", metavar="ROBOT")
    p.set_defaults(handler=cmd_schedule)

    p = subparsers.add_parser(
        "runs",
        help="the run history: manual and scheduled runs, missed and skipped ones",
        description="Newest first. Times in Copenhagen time; exit code empty = the run never "
        "started a process (missed, skipped) or was abandoned.",
    )
    p.add_argument("--robot", metavar="ROBOT", help="only this robot's runs")
    p.add_argument("--limit", type=_positive, default=20, metavar="N", help="at most N (20)")
    p.add_argument(
        "--json",
        action="store_true",
        help="a JSON list, one object per run (times in Copenhagen time with their offset)",
    )
    p.set_defaults(handler=cmd_runs)


# --- shared --------------------------------------------------------------------------------


def _load(command: str) -> tuple[Path, Settings, dict[str, RobotManifest]] | None:
    try:
        home = find_home()
        settings = load_settings(home)
        manifests = load_manifests(home / ROBOTS_DIR)
        check_schedules(home, manifests)
    except ConfigError as exc:
        _complain(command, f"configuration error: {exc}")
        return None
    return home, settings, manifests


def _local(moment: dt.datetime | None, zone: ZoneInfo = ZONE) -> str:
    return moment.astimezone(zone).strftime(TIME_FORMAT) if moment else ""


def _table(rows: Sequence[Sequence[str]]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        yield "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()


# --- robot scheduler -----------------------------------------------------------------------


@contextlib.contextmanager
def _stop_on_signals(stop: StopRequest) -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.request(f"{signal.Signals(signum).name} received")

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def cmd_scheduler(ns: argparse.Namespace) -> int:
    loaded = _load("scheduler")
    if loaded is None:
        return EXIT_USAGE
    home, settings, manifests = loaded
    unknown = [r for r in ns.run_now if r not in manifests]
    if unknown:
        known = ", ".join(sorted(manifests)) or "none"
        _complain(
            "scheduler",
            f"--run-now {unknown[0]}: no such robot in {home / ROBOTS_DIR}; known: {known}",
        )
        return EXIT_USAGE
    configure_logging()  # JSON lines under systemd (PAYBOT_LOG_FORMAT), see paybot.logs
    options = ServiceOptions(
        run_now=tuple(ns.run_now),
        limits=Limits(stop_deadline_seconds=settings.scheduler.stop_deadline_seconds),
    )
    service = SchedulerService(home, settings, manifests, options)
    stop = StopRequest()
    with _stop_on_signals(stop):
        try:
            return service.serve(stop)
        except SchedulerBusy as exc:
            _complain("scheduler", str(exc))
            return EXIT_BUSY
        except ConfigError as exc:
            _complain("scheduler", f"configuration error: {exc}")
            return EXIT_USAGE


# --- robot schedule ------------------------------------------------------------------------


def _with_book(command: str, work: Callable[[JobBook, Path, Settings], int]) -> int:
    loaded = _load(command)
    if loaded is None:
        return EXIT_USAGE
    home, settings, manifests = loaded
    scheduler = make_scheduler(settings)
    scheduler.start(paused=True)
    try:
        return work(JobBook(scheduler, home, manifests), home, settings)
    except ConfigError as exc:
        _complain(command, str(exc))
        return EXIT_USAGE
    finally:
        scheduler.shutdown(wait=False)


def _audit(settings: Settings, robot: str, event: str) -> None:
    with AuditTrail(settings.audit.file, forward_to_robocorp=False) as trail:
        who = os.environ.get("SUDO_USER") or os.environ.get("USER") or str(os.getuid())
        trail.logger(robot=robot).event(event, job=robot, by=who)


def _list_json(book: JobBook, settings: Settings) -> int:
    pid = running_scheduler(settings.data_dir)
    robots = []
    for e in book.entries(utc_now()):
        zone = ZoneInfo(book.manifests[e.robot].schedule.timezone)
        robots.append(
            {
                "robot": e.robot,
                "state": e.state.value,
                "next_run": e.next_run.astimezone(zone).isoformat() if e.next_run else None,
                "schedule": e.schedule,
                "timeout_minutes": e.timeout_minutes,
                "grace_minutes": e.grace_minutes,
            }
        )
    scheduler = {"running": pid is not None, "pid": pid, "job_store": str(store_path(settings))}
    _say(json.dumps({"scheduler": scheduler, "robots": robots}, ensure_ascii=False, indent=2))
    return EXIT_OK if pid else EXIT_FAILED


def _list(book: JobBook, home: Path, settings: Settings) -> int:
    pid = running_scheduler(settings.data_dir)
    state = (
        f"running (pid {pid})"
        if pid
        else "NOT RUNNING: nothing below starts until 'robot scheduler' runs "
        "(systemctl start paybot-scheduler)"
    )
    _say(f"scheduler: {state}; job store {store_path(settings)}")
    rows = [("ROBOT", "STATE", "NEXT RUN", "SCHEDULE", "TIMEOUT", "GRACE")]
    for e in book.entries(utc_now()):
        zone = ZoneInfo(book.manifests[e.robot].schedule.timezone)
        when = _local(e.next_run, zone) + (
            f" {e.next_run.astimezone(zone):%Z}" if e.next_run else ""
        )
        rows.append(
            (
                e.robot,
                e.state.value,
                when or "-",
                e.schedule,
                f"{e.timeout_minutes} min",
                f"{e.grace_minutes} min",
            )
        )
    for line in _table(rows):
        _say(line)
    return EXIT_OK if pid else EXIT_FAILED


def cmd_schedule(ns: argparse.Namespace) -> int:
    action: str | None = ns.action
    if action is None:
        if getattr(ns, "json", False):
            return _with_book("schedule", lambda book, home, settings: _list_json(book, settings))
        return _with_book("schedule", _list)

    def change(book: JobBook, home: Path, settings: Settings) -> int:
        robot: str = ns.robot
        if action == "pause":
            done = book.pause(robot)
            _say(f"{robot}: paused" if done else f"{robot}: already paused")
        else:
            done = book.resume(robot)
            entry = next(e for e in book.entries(utc_now()) if e.robot == robot)
            _say(
                (f"{robot}: resumed" if done else f"{robot}: not paused")
                + f"; next run {_local(entry.next_run) or '-'}"
            )
        if done:
            _audit(settings, robot, f"scheduler_job_{action}d")
        return EXIT_OK

    return _with_book(f"schedule {action}", change)


# --- robot runs ----------------------------------------------------------------------------


def _run_row(r: RunRecord) -> tuple[str, ...]:
    """Times in Copenhagen time with their offset (``2026-11-30 07:15:00+01:00``), as in
    ``robot audit show`` and ``robot audit export``."""
    ended = "running" if r.ended_at is None else danish_timestamp(r.ended_at)
    return (
        r.run_id,
        r.robot,
        r.trigger,
        danish_timestamp(r.started_at),
        ended,
        "" if r.exit_code is None else str(r.exit_code),
        str(r.paid),
        str(r.manual),
        str(r.failed),
        mask_text(r.note or ""),
    )


def _run_json(r: RunRecord, output_dir: Path) -> dict[str, object]:
    """One run for ``robot runs --json``: the history's fields, times in Copenhagen time with
    their offset, the note masked, and the run's HTML report when there is one."""
    report = run_dir(output_dir, r.run_id) / "report.html"
    return {
        "run_id": r.run_id,
        "robot": r.robot,
        "trigger": r.trigger,
        "host": r.host,
        "started_at": r.started_at.astimezone(ZONE).isoformat(timespec="seconds"),
        "ended_at": (
            r.ended_at.astimezone(ZONE).isoformat(timespec="seconds") if r.ended_at else None
        ),
        "exit_code": r.exit_code,
        "paid": r.paid,
        "manual": r.manual,
        "failed": r.failed,
        "skipped": r.skipped,
        "note": mask_text(r.note) if r.note else None,
        "report": str(report) if report.is_file() else None,
    }


def cmd_runs(ns: argparse.Namespace) -> int:
    try:
        settings = load_settings(find_home())
    except ConfigError as exc:
        _complain("runs", f"configuration error: {exc}")
        return EXIT_USAGE
    url = make_url(settings.ledger.url)
    as_json = getattr(ns, "json", False)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        _say("[]" if as_json else f"no runs recorded yet (no ledger at {url.database})")
        return EXIT_OK
    ledger = Ledger(settings.ledger.url)
    try:
        ledger.create_schema()
        runs = ledger.list_runs(ns.robot, limit=ns.limit)
    finally:
        ledger.close()
    if as_json:
        rows = [_run_json(r, settings.output_dir) for r in runs]
        _say(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not runs:
        _say("no runs recorded yet" + (f" for {ns.robot}" if ns.robot else ""))
        return EXIT_OK
    header = ("RUN ID", "ROBOT", "TRIGGER", "STARTED", "ENDED", "EXIT", "PAID", "MANUAL",
              "FAILED", "NOTE")  # fmt: skip
    for line in _table([header, *(_run_row(r) for r in runs)]):
        _say(line)
    return EXIT_OK
