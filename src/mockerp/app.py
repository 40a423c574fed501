"""The mock finance system's web application (Flask), served by :mod:`mockerp.server`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from mockerp import db, web
from mockerp.faults import Faults, FaultSettings
from mockerp.web.state import EXTENSION, AppState

PACKAGE_DIR = Path(__file__).parent


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(
    db_path: Path,
    faults: FaultSettings | None = None,
    *,
    session_idle_minutes: int = 15,
    clock: Callable[[], dt.datetime] | None = None,
    organisation: str = "Demo Kommune",
    renamed_ids: tuple[str, ...] = (),
) -> Flask:
    """The web app over the database ``db_path`` (its schema is created when missing)."""
    if session_idle_minutes < 1:
        raise ValueError(f"session_idle_minutes = {session_idle_minutes}: must be at least 1")
    # Creates the schema once; requests then open plain connections. This first connection
    # stays open for the app's life: when the last connection to a WAL database closes, SQLite
    # checkpoints and deletes the WAL (~2.5 ms), which would otherwise happen every request.
    anchor = db.connect(db_path)
    app = Flask(
        "mockerp",
        root_path=str(PACKAGE_DIR),
        template_folder="templates",
        static_folder="static",
    )
    app.config.update(
        SEND_FILE_MAX_AGE_DEFAULT=3600,  # the style sheet: one fetch, not one per page
        MAX_CONTENT_LENGTH=1024 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
        MOCKERP_ORGANISATION=organisation,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.extensions[EXTENSION] = AppState(
        db_path=db_path,
        faults=Faults(faults),
        idle=dt.timedelta(minutes=session_idle_minutes),
        clock=clock or utc_now,
        anchor=anchor,
        renamed_ids=renamed_ids,
    )
    web.install(app)
    return app
