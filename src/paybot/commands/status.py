"""``robot status``: is everything all right? One screen, or ``--json`` for a monitoring
system.

Exit codes (see :mod:`paybot.status`): 0 healthy, 1 degraded (something needs attention),
2 down (no scheduler is running while robots are scheduled) or the configuration cannot be
read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from sqlalchemy.engine import make_url

from paybot.audit import mask_text
from paybot.commands.output import say, table
from paybot.config import (
    ROBOTS_DIR,
    find_home,
    ledger_url,
    load_manifests,
    load_settings,
    make_folders,
)
from paybot.config_models import Settings
from paybot.domain.calendar import DANISH_TIME
from paybot.errors import PaybotError
from paybot.ledger import InMemoryLedger, Ledger, LedgerPort, State, utc_now
from paybot.scheduler.jobs import JobBook, check_schedules, make_scheduler
from paybot.scheduler.service import running_scheduler
from paybot.status import Health, Status, gather

TIME_FORMAT = "%Y-%m-%d %H:%M"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "status",
        help="is everything all right: scheduler, last runs, waiting invoices, alerts",
        description="One screen: whether the scheduler is alive (its heartbeat), each robot's "
        "last run, outcome and next run, the work items by state, invoices failing in more "
        "than one run, and the last alert. Exit codes: 0 healthy; 1 degraded (something "
        "needs attention); 2 down (no scheduler is running) or a configuration error.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable, for monitoring")
    p.set_defaults(handler=cmd_status)


def _local(moment: dt.datetime | None) -> str:
    return moment.astimezone(DANISH_TIME).strftime(TIME_FORMAT) if moment else "-"


def _ago(now: dt.datetime, moment: dt.datetime) -> str:
    seconds = int((now - moment).total_seconds())
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def open_ledger(settings: Settings) -> LedgerPort:
    """The ledger, or an empty one when its SQLite file does not exist yet (nothing ran)."""
    url = make_url(settings.ledger.url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return InMemoryLedger()
    ledger = Ledger(ledger_url(settings))
    ledger.ensure_schema()
    return ledger


def collect() -> Status:
    """Everything ``robot status`` shows (raises :class:`ConfigError`)."""
    home = find_home()
    settings = load_settings(home)
    manifests = load_manifests(home / ROBOTS_DIR)
    check_schedules(home, manifests)
    make_folders(settings, ("data_dir",))  # the job store lives there; exit 2 naming it
    now = utc_now()
    scheduler = make_scheduler(settings)
    scheduler.start(paused=True)
    try:
        entries = JobBook(scheduler, home, manifests).entries(now)
    finally:
        scheduler.shutdown(wait=False)
    ledger = open_ledger(settings)
    try:
        return gather(
            settings,
            manifests,
            ledger,
            entries,
            now,
            host=settings.machine_name,
            local_pid=running_scheduler(settings.data_dir),
        )
    finally:
        ledger.close()


def show(status: Status) -> None:
    now = status.now
    say(f"paybot: {status.health.name}  (checked {_local(now)} Danish time)")
    beat = status.heartbeat
    if status.scheduler_alive and beat is not None:
        say(f"scheduler: running on {beat.host} (pid {beat.pid}), heartbeat {_ago(now, beat.at)}")
    elif beat is not None:
        say(f"scheduler: NOT RUNNING (last heartbeat {_local(beat.at)}, {_ago(now, beat.at)})")
    else:
        say("scheduler: NOT RUNNING (no heartbeat ever: 'robot scheduler' has never run here)")
    say()
    rows = [("ROBOT", "JOB", "NEXT RUN", "LAST RUN", "OUTCOME", "EXIT", "PAID", "MANUAL",
             "FAILED", "WAITING", ">1 RUN")]  # fmt: skip
    for r in status.robots:
        last = r.last_run
        outcome = r.last_kind.value if r.last_kind else ("running" if last else "-")
        rows.append(
            (
                r.robot,
                r.job,
                _local(r.next_run),
                _local(last.started_at) if last else "-",
                outcome,
                "" if last is None or last.exit_code is None else str(last.exit_code),
                str(last.paid) if last else "",
                str(last.manual) if last else "",
                str(last.failed) if last else "",
                str(sum(n for s, n in r.items.items() if s == State.PENDING)),
                str(len(r.long_failing)),
            )
        )
    for line in table(rows):
        say(line)
    say()
    say("work items by state:")
    for r in status.robots:
        counts = ", ".join(f"{s} {n}" for s, n in r.items.items()) or "none"
        marked = f"; {r.marked} marked for manual handling" if r.marked else ""
        say(f"  {r.robot}: {counts}{marked}")
    long = [(r.robot, f) for r in status.robots for f in r.long_failing]
    if long:
        say("invoices failing in more than one run:")
        for robot, f in long:
            say(f"  {robot}: løbenr. {f.erp_id} ({f.nights} runs)")
    if not status.alerts_configured:
        say("alerts: not configured (notify.smtp_host or notify.webhook_url)")
    if status.last_alert is None:
        if status.alerts_configured:
            say("alerts: none sent yet")
    else:
        a = status.last_alert
        state = (
            f"sent {_local(a.sent_at)}"
            if a.sent_at
            else f"NOT SENT after {a.tries} tries: {a.last_error or 'not tried yet'}"
        )
        say(f"alerts: last {_local(a.created_at)} {a.channel} {a.robot} {a.kind}: {state}")
        if status.unsent_alerts:
            n = len(status.unsent_alerts)
            say(f"  {n} alert{'s' if n != 1 else ''} waiting to be delivered")
    if status.notices:
        say()
        say("worth knowing:")
        for notice in status.notices:
            say(f"  - {mask_text(notice)}")
    if status.problems:
        say()
        say("needs attention:")
        for problem in status.problems:
            say(f"  - {mask_text(problem)}")


def cmd_status(ns: argparse.Namespace) -> int:
    try:
        status = collect()
    except PaybotError as exc:
        if ns.json:  # a monitor reads a document even now; robot's main reports the error
            say(json.dumps({"status": "unknown", "exit_code": exc.exit_code, "problems": [
                exc.sentence()]}))  # fmt: skip
        raise
    if ns.json:
        say(json.dumps(status.as_json(), ensure_ascii=False, indent=2))
    else:
        show(status)
    return int(status.health)


__all__ = ["Health", "cmd_status", "register"]
