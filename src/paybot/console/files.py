"""A run's own files: its HTML report, robocorp's log and the screenshots of failures.

Only files inside the run's folder (``<output_dir>/runs/<run-id>/``) are served, and only of
the kinds in :data:`SERVED`:

- the run id must look like one (:data:`RUN_ID`) and be in the run history;
- the path is joined with :func:`werkzeug.security.safe_join` (``..``, absolute paths and
  backslashes are refused) and then resolved: a symlink pointing out of the folder is refused
  too;
- anything else answers 404, never saying why.

HTML files get the report's Content-Security-Policy (no script; see
:mod:`paybot.console.security`), so a report can show, not run.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Response, abort, send_file
from werkzeug.security import safe_join

from paybot.console.auth import Permission, requires
from paybot.console.reads import MORNING_DIR, morning_reports, run
from paybot.console.security import REPORT_CSP_FLAG
from paybot.console.state import state
from paybot.run_folder import run_dir

bp = Blueprint("files", __name__)

RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")
SERVED = {
    ".html": "text/html",  # werkzeug adds "; charset=utf-8" to text/*
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".css": "text/css",
    ".json": "application/json",
}


def inside(folder: Path, name: str) -> Path | None:
    """``folder/name`` when it is a file of a served kind inside ``folder`` (symlinks
    resolved), else ``None``."""
    joined = safe_join(str(folder), name)
    if joined is None:
        return None
    path = Path(joined)
    try:
        real = path.resolve(strict=True)
        root = folder.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root) or not real.is_file():
        return None
    if real.suffix.lower() not in SERVED:
        return None
    return real


def _send(path: Path) -> Response:
    response = send_file(path, mimetype=SERVED[path.suffix.lower()], max_age=0)
    if path.suffix.lower() in (".html", ".svg"):
        setattr(response, REPORT_CSP_FLAG, True)
    return response


@bp.route("/runs/<run_id>/<path:name>")
@requires(Permission.READ)
def morning_link(run_id: str, name: str) -> Response:
    """Where the morning report's links (``../runs/<run-id>/report.html``) lead."""
    return run_file(run_id, name)


@bp.route("/koersler/<run_id>/filer/<path:name>")
@requires(Permission.READ)
def run_file(run_id: str, name: str) -> Response:
    st = state()
    if not RUN_ID.match(run_id) or run(st, run_id) is None:
        abort(404)
    path = inside(run_dir(st.settings.output_dir, run_id), name)
    if path is None:
        abort(404)
    return _send(path)


@bp.route("/reports/<name>")
@requires(Permission.READ)
def morning(name: str) -> Response:
    """A morning report, by its file name (``morning-2026-11-30.html``) only."""
    st = state()
    if name not in morning_reports(st):
        abort(404)
    path = inside(st.settings.output_dir / MORNING_DIR, name)
    if path is None:
        abort(404)
    return _send(path)
