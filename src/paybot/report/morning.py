"""Writing the morning report: ``<output_dir>/reports/morning-YYYY-MM-DD.html`` (owner-only),
one page for all robots of the night before the morning of that Copenhagen date (see
:mod:`paybot.report.night`). Written again after every run, so it is always current;
``robot report morning [--date]`` writes it on demand.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path

from paybot.private import private_dir, write_private_text
from paybot.report.html import render_morning
from paybot.report.night import RunHistory, build_night, night_of
from paybot.report.view import moment_of

REPORTS_DIR = "reports"


def morning_path(output_dir: Path, day: dt.date) -> Path:
    """``<output_dir>/reports/morning-2026-11-30.html``."""
    return output_dir / REPORTS_DIR / f"morning-{day:%Y-%m-%d}.html"


HISTORY_ROWS = 500
"""How many of the newest rows of the runs table a caller passes as ``history``: far more
than one night holds (an older morning may miss runs beyond them)."""


def morning_html(
    output_dir: Path,
    day: dt.date,
    *,
    municipality: str = "",
    history: Iterable[RunHistory] = (),
) -> str:
    """The morning report of ``day`` as a page (for the console), from the run folders and
    the ledger's run ``history`` (rows of its runs table, for runs that wrote no report)."""
    night = build_night(output_dir, day, municipality=municipality, history=history)
    return render_morning(night)


def write_morning(
    output_dir: Path,
    day: dt.date,
    *,
    municipality: str = "",
    history: Iterable[RunHistory] = (),
) -> Path:
    """Write (replace) the morning report of ``day``; returns its path. Safe to repeat, also
    while someone reads it: the page is written beside it and moved into place, so a reader
    sees the old page or the new one, never half of one. Two runs finishing in the same
    second: the later write wins and may miss the other run's report (it was being written);
    the next run, or ``robot report morning``, writes the whole night again."""
    target = morning_path(output_dir, day)
    private_dir(target.parent)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    page = morning_html(output_dir, day, municipality=municipality, history=history)
    write_private_text(partial, page)
    partial.replace(target)
    return target


def write_morning_for(
    output_dir: Path,
    started_at: str,
    *,
    municipality: str = "",
    history: Iterable[RunHistory] = (),
) -> Path:
    """Write the morning report of the night a run that started at ``started_at`` (ISO 8601,
    UTC) belongs to; a start that cannot be read means now."""
    moment = moment_of(started_at) or dt.datetime.now(dt.UTC)
    day = night_of(moment)
    return write_morning(output_dir, day, municipality=municipality, history=history)
