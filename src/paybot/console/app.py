"""The console's Flask application (served by :mod:`paybot.console.server`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from flask import Flask, g, render_template
from werkzeug.exceptions import HTTPException

from paybot.config import ROBOTS_DIR, load_manifests, load_settings
from paybot.console import auth, files, forms, pages, security
from paybot.console.secret_key import session_key
from paybot.console.state import EXTENSION, ConsoleState, install_filters, utc_now
from paybot.console.users import UserStore

PACKAGE_DIR = Path(__file__).parent
IDLE_MINUTES = 15


def _error(
    code: int, title: str, message: str
) -> Callable[[object], tuple[str, int, list[tuple[str, str]]]]:
    def handler(error: object) -> tuple[str, int, list[tuple[str, str]]]:
        user = g.get("user")
        headers = []  # the exception's own, such as a 405's Allow
        if isinstance(error, HTTPException):
            headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        page = render_template("fejl.html", title=title, message=message, user=user)
        return page, code, headers

    return handler


def create_app(
    home: Path,
    *,
    idle_minutes: int = IDLE_MINUTES,
    clock: Callable[[], dt.datetime] = utc_now,
    users: UserStore | None = None,
) -> Flask:
    """The console over the project at ``home`` (settings, manifests, data folder as
    ``robot`` reads them). Raises :class:`~paybot.errors.ConfigError` naming file, key and
    value when the configuration cannot be read: nothing is served then."""
    if idle_minutes < 1:
        raise ValueError(f"idle_minutes = {idle_minutes}: at least 1")
    settings = load_settings(home)
    manifests = load_manifests(home / ROBOTS_DIR)
    st = ConsoleState(
        home=home,
        settings=settings,
        manifests=manifests,
        users=users or UserStore(settings.data_dir, clock=clock),
        idle=dt.timedelta(minutes=idle_minutes),
        clock=clock,
    )
    app = Flask(
        "paybot.console",
        root_path=str(PACKAGE_DIR),
        template_folder="templates",
        static_folder="static",
    )
    app.config.update(
        SECRET_KEY=session_key(settings.data_dir, settings.vault_file),
        SESSION_COOKIE_NAME="paybot_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
        SEND_FILE_MAX_AGE_DEFAULT=0,
    )
    app.jinja_env.autoescape = True
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    install_filters(app)
    app.extensions[EXTENSION] = st
    security.install(app)
    app.before_request(auth.check_session)
    app.context_processor(
        lambda: {
            "may_act": auth.may(auth.Permission.ACT),
            "may_audit": auth.may(auth.Permission.AUDIT),
        }
    )
    for blueprint in (auth.bp, pages.bp, forms.bp, files.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(403, _error(403, "Ingen adgang",
        "Din rolle giver ikke adgang til denne side eller handling."))  # fmt: skip
    app.register_error_handler(404, _error(404, "Findes ikke", "Siden findes ikke."))
    app.register_error_handler(400, _error(400, "Forkert forespørgsel",
        "Forespørgslen kunne ikke læses."))  # fmt: skip
    app.register_error_handler(405, _error(405, "Ikke tilladt",
        "Metoden er ikke tilladt for denne adresse."))  # fmt: skip
    app.register_error_handler(413, _error(413, "For stor",
        "For stor forespørgsel: formularen kan højst sende 64 KiB."))  # fmt: skip
    app.register_error_handler(500, _error(500, "Fejl",
        "Konsollen kunne ikke vise siden. Se konsollens log."))  # fmt: skip
    return app
