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
import datetime as dt
import json
import signal
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url

from paybot.audit import AuditTrail, mask_text
from paybot.audit.events import Event
from paybot.commands.output import operator, say, table
from paybot.config import (
    ROBOTS_DIR,
    RobotManifest,
    Settings,
    find_home,
    ledger_url,
    load_manifests,
    load_settings,
    make_folders,
)
from paybot.domain.calendar import DANISH_TIME, danish_timestamp
from paybot.errors import UsageError
from paybot.exit_codes import EXIT_FAILED, EXIT_OK
from paybot.ledger import Ledger, RunRecord, utc_now
from paybot.logs import configure_logging
from paybot.run_folder import run_dir
from paybot.scheduler.dispatch import Limits
from paybot.scheduler.jobs import JobBook, check_schedules, make_scheduler, store_path
from paybot.scheduler.service import (
    SchedulerService,
    ServiceOptions,
    StopRequest,
    running_scheduler,
)
from paybot.signals import on_stop_signals

ZONE = DANISH_TIME
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


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
        description="The run history of every robot (or one): manual and scheduled runs, "
        "and the scheduled ones that were missed or skipped, with their counts and exit "
        "codes. Newest first. Times in Copenhagen time; exit code empty = the run never "
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


def _load() -> tuple[Path, Settings, dict[str, RobotManifest]]:
    """The project, its settings and its robots; raises :class:`ConfigError` (exit 2)."""
    home = find_home()
    settings = load_settings(home)
    manifests = load_manifests(home / ROBOTS_DIR)
    check_schedules(home, manifests)
    make_folders(settings)  # the job store and the robots' output; exit 2 naming the setting
    return home, settings, manifests


def _local(moment: dt.datetime | None, zone: ZoneInfo = ZONE) -> str:
    return moment.astimezone(zone).strftime(TIME_FORMAT) if moment else ""


# --- robot scheduler -----------------------------------------------------------------------


def cmd_scheduler(ns: argparse.Namespace) -> int:
    home, settings, manifests = _load()
    unknown = [r for r in ns.run_now if r not in manifests]
    if unknown:
        known = ", ".join(sorted(manifests)) or "none"
        raise UsageError(
            f"--run-now {unknown[0]}: no such robot in {home / ROBOTS_DIR}; known: {known}"
        )
    configure_logging()  # JSON lines under systemd (PAYBOT_LOG_FORMAT), see paybot.logs
    options = ServiceOptions(
        run_now=tuple(ns.run_now),
        limits=Limits(stop_deadline_seconds=settings.scheduler.stop_deadline_seconds),
    )
    service = SchedulerService(home, settings, manifests, options)
    stop = StopRequest()
    with on_stop_signals(lambda signum: stop.request(f"{signal.Signals(signum).name} received")):
        return service.serve(stop)  # SchedulerBusy (exit 4) is reported by robot's main


# --- robot schedule ------------------------------------------------------------------------


def _with_book(work: Callable[[JobBook, Path, Settings], int]) -> int:
    home, settings, manifests = _load()
    scheduler = make_scheduler(settings)
    scheduler.start(paused=True)
    try:
        return work(JobBook(scheduler, home, manifests), home, settings)
    finally:
        scheduler.shutdown(wait=False)


def _audit(settings: Settings, robot: str, event: Event, by: str) -> None:
    with AuditTrail(settings.audit.file, forward_to_robocorp=False) as trail:
        trail.logger(robot=robot).event(event, job=robot, by=by)


def change_job(book: JobBook, settings: Settings, robot: str, action: str, *, by: str) -> bool:
    """Pause (``action`` ``pause``) or resume (``resume``) ``robot``'s job in the job store
    and audit it (``scheduler_job_paused`` / ``scheduler_job_resumed``; ``by``: who asked).
    Returns False when nothing changed (already paused, not paused; then nothing is audited).
    Raises :class:`ConfigError` naming the robot or manifest, :class:`ValueError` for another
    action. Safe to repeat. ``robot schedule pause|resume`` and the console's schedule page
    both call this."""
    if action == "pause":
        done = book.pause(robot)
    elif action == "resume":
        done = book.resume(robot)
    else:
        raise ValueError(f"action {action!r}: pause or resume")
    if done:
        event = Event.SCHEDULER_JOB_PAUSED if action == "pause" else Event.SCHEDULER_JOB_RESUMED
        _audit(settings, robot, event, by)
    return done


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
    say(json.dumps({"scheduler": scheduler, "robots": robots}, ensure_ascii=False, indent=2))
    return EXIT_OK if pid else EXIT_FAILED


def _list(book: JobBook, home: Path, settings: Settings) -> int:
    pid = running_scheduler(settings.data_dir)
    state = (
        f"running (pid {pid})"
        if pid
        else "NOT RUNNING: nothing below starts until 'robot scheduler' runs "
        "(systemctl start paybot-scheduler)"
    )
    say(f"scheduler: {state}; job store {store_path(settings)}")
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
    for line in table(rows):
        say(line)
    return EXIT_OK if pid else EXIT_FAILED


def cmd_schedule(ns: argparse.Namespace) -> int:
    action: str | None = ns.action
    if action is None:
        if getattr(ns, "json", False):
            return _with_book(lambda book, home, settings: _list_json(book, settings))
        return _with_book(_list)

    def change(book: JobBook, home: Path, settings: Settings) -> int:
        robot: str = ns.robot
        done = change_job(book, settings, robot, action, by=operator())
        if action == "pause":
            say(f"{robot}: paused" if done else f"{robot}: already paused")
        else:
            entry = next(e for e in book.entries(utc_now()) if e.robot == robot)
            say(
                (f"{robot}: resumed" if done else f"{robot}: not paused")
                + f"; next run {_local(entry.next_run) or '-'}"
            )
        return EXIT_OK

    return _with_book(change)


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
    settings = load_settings(find_home())
    url = make_url(settings.ledger.url)
    as_json = getattr(ns, "json", False)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        say("[]" if as_json else f"no runs recorded yet (no ledger at {url.database})")
        return EXIT_OK
    ledger = Ledger(ledger_url(settings))
    try:
        ledger.ensure_schema()
        runs = ledger.list_runs(ns.robot, limit=ns.limit)
    finally:
        ledger.close()
    if as_json:
        rows = [_run_json(r, settings.output_dir) for r in runs]
        say(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not runs:
        say("no runs recorded yet" + (f" for {ns.robot}" if ns.robot else ""))
        return EXIT_OK
    header = ("RUN ID", "ROBOT", "TRIGGER", "STARTED", "ENDED", "EXIT", "PAID", "MANUAL",
              "FAILED", "NOTE")  # fmt: skip
    for line in table([header, *(_run_row(r) for r in runs)]):
        say(line)
    return EXIT_OK
