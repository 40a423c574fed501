"""``robot report morning [--date D]`` and ``robot report run RUN_ID``: write the HTML reports
again from the runs' ``report.json`` (every run writes both itself; these are for a morning
whose report should be looked at again, or a run folder from an older paybot)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from paybot.commands.output import say
from paybot.commands.status import open_ledger
from paybot.config import find_home, load_settings, make_folders
from paybot.domain.calendar import DANISH_TIME
from paybot.errors import PaybotError, UsageError
from paybot.exit_codes import EXIT_OK, EXIT_USAGE
from paybot.private import write_private_text
from paybot.report.html import render_run
from paybot.report.morning import HISTORY_ROWS, write_morning
from paybot.report.view import safe_name
from paybot.run_folder import run_dir

RUN_HTML = "report.html"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "report",
        help="write the morning report of all robots, or a run's HTML report, again",
        description="The reports for the finance team (Danish HTML, personal data masked). "
        "Every run writes its own report.html and the night's morning report itself; these "
        "write them again from the runs' report.json and print where.",
    )
    p.set_defaults(handler=lambda ns: _usage(p))
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    m = actions.add_parser(
        "morning",
        help="the morning report of all robots of a night",
        description="Write <output_dir>/reports/morning-DATE.html: every robot's runs that "
        "started from 12:00 the day before DATE to 12:00 on DATE (Copenhagen time), with "
        "totals, what waits for a caseworker and what failed; dry runs marked and left out "
        "of the totals; runs in the ledger's run history that wrote no report (killed, or "
        "still running) are listed. Prints the file's path.",
    )
    m.add_argument(
        "--date",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the morning (Copenhagen date; default: today)",
    )
    m.set_defaults(handler=cmd_morning)
    r = actions.add_parser(
        "run",
        help="one run's report.html, from its report.json",
        description="Write <output_dir>/runs/RUN_ID/report.html again from the run's "
        "report.json and print its path. Exit codes: 0 written; 1 the run's report.json "
        "cannot be read; 2 no such run (see 'robot runs') or a configuration error.",
    )
    r.add_argument("run_id", metavar="RUN_ID", help="as 'robot runs' shows it")
    r.set_defaults(handler=cmd_run_report)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def cmd_morning(ns: argparse.Namespace) -> int:
    settings = load_settings(find_home())
    make_folders(settings, ("output_dir",))  # exit 2 naming the setting
    day = ns.date or dt.datetime.now(DANISH_TIME).date()
    ledger = open_ledger(settings)  # the run history: runs that wrote no report.json
    try:
        history = ledger.list_runs(limit=HISTORY_ROWS)
    finally:
        ledger.close()
    name = settings.municipality.name
    say(str(write_morning(settings.output_dir, day, municipality=name, history=history)))
    return EXIT_OK


def cmd_run_report(ns: argparse.Namespace) -> int:
    """Raises ``UsageError`` (exit 2) for a run id that is not one or a run that has no
    folder under ``<output_dir>/runs``, ``PaybotError`` (exit 1) when the run's
    ``report.json`` cannot be read."""
    settings = load_settings(find_home())
    run_id = safe_name(ns.run_id)
    if run_id is None:
        raise UsageError(f"'{ns.run_id}' is not a run id")
    folder = run_dir(settings.output_dir, run_id)
    if not folder.is_dir():
        raise UsageError(f"no run {run_id} in {folder.parent} (see 'robot runs')")
    file = folder / "report.json"
    try:
        data = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise PaybotError(f"{file}: cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise PaybotError(f"{file}: not a run report")
    data.setdefault("municipality", settings.municipality.name)
    say(str(write_private_text(file.parent / RUN_HTML, render_run(data))))
    return EXIT_OK
