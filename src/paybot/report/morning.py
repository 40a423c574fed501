"""Writing the morning report: ``<output_dir>/reports/morning-YYYY-MM-DD.html`` (owner-only),
one page for all robots of the night before the morning of that Copenhagen date (see
:mod:`paybot.report.night`). Written again after every run, so it is always current;
``robot report morning [--date]`` writes it on demand.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from paybot.private import private_dir, write_private_text
from paybot.report.html import render_morning
from paybot.report.night import build_night, night_of
from paybot.report.view import moment_of

REPORTS_DIR = "reports"


def morning_path(output_dir: Path, day: dt.date) -> Path:
    """``<output_dir>/reports/morning-2026-11-30.html``."""
    return output_dir / REPORTS_DIR / f"morning-{day:%Y-%m-%d}.html"


def morning_html(output_dir: Path, day: dt.date, *, municipality: str = "") -> str:
    """The morning report of ``day`` as a page (for the console), from the run folders."""
    return render_morning(build_night(output_dir, day, municipality=municipality))


def write_morning(output_dir: Path, day: dt.date, *, municipality: str = "") -> Path:
    """Write (replace) the morning report of ``day``; returns its path. Safe to repeat, also
    while someone reads it: the page is written beside it and moved into place, so a reader
    sees the old page or the new one, never half of one. Two runs finishing in the same
    second: the later write wins and may miss the other run's report (it was being written);
    the next run, or ``robot report morning``, writes the whole night again."""
    target = morning_path(output_dir, day)
    private_dir(target.parent)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    write_private_text(partial, morning_html(output_dir, day, municipality=municipality))
    partial.replace(target)
    return target


def write_morning_for(output_dir: Path, started_at: str, *, municipality: str = "") -> Path:
    """Write the morning report of the night a run that started at ``started_at`` (ISO 8601,
    UTC) belongs to; a start that cannot be read means now."""
    moment = moment_of(started_at) or dt.datetime.now(dt.UTC)
    return write_morning(output_dir, night_of(moment), municipality=municipality)
