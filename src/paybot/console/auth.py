"""Logging in and out, the session's timeout, and who may see and do what.

The session is Flask's signed cookie (``HttpOnly``, ``SameSite=Strict``) holding the user's
name, the password generation it was opened with, and when it was opened and last used. It ends:

- after :attr:`ConsoleState.idle` without a request (15 minutes by default), and in any case
  :attr:`ConsoleState.lifetime` after logging in (8 hours);
- when the user is removed or their password changes (``robot console user ...``);
- on logging out (every session of the user, so a copied cookie ends too).

The role is read from the user store on every request, so a changed role counts at once.
Role rules (:data:`PERMISSIONS`): every role reads the overview, runs, queue and schedule; an
operator also releases and hands over work items and pauses and resumes robots; an auditor also
reads an invoice's audit trail and exports the trail.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from paybot.console.state import danish, render, state
from paybot.console.users import Role, User

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)
log = logging.getLogger("paybot.console")

PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})


class Permission(StrEnum):
    READ = "read"
    ACT = "act"
    AUDIT = "audit"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.ACT}),
    Role.AUDITOR: frozenset({Permission.READ, Permission.AUDIT}),
}


def may(permission: Permission) -> bool:
    """Whether the logged-in user has ``permission`` (False when nobody is logged in)."""
    user: User | None = g.get("user")
    return user is not None and permission in PERMISSIONS[user.role]


def requires(permission: Permission) -> Callable[[F], F]:
    """A view only for roles with ``permission``; others get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not may(permission):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no scheme, no host, no ``//``): never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("pages.overview")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("pages.overview")
    return target


def _login_redirect(expired: bool) -> WerkzeugResponse:
    path = request.full_path.rstrip("?") if request.method == "GET" else None
    args: dict[str, Any] = {"next": path} if path and path != "/" else {}
    if expired:
        args["udloebet"] = "1"
    return redirect(url_for("auth.login", **args), code=303)


def check_session() -> WerkzeugResponse | None:
    """Before every request: a page other than the login page needs a live session."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    st = state()
    name = session.get("user")
    if not isinstance(name, str):
        return _login_redirect(expired=False)
    now = st.clock()
    try:
        opened = dt.datetime.fromisoformat(str(session["opened"]))
        seen = dt.datetime.fromisoformat(str(session["seen"]))
    except (KeyError, ValueError):
        session.clear()
        return _login_redirect(expired=True)
    user = st.users.get(name)
    if (
        user is None
        or session.get("generation") != user.generation
        or now - seen > st.idle
        or now - opened > st.lifetime
    ):
        session.clear()
        return _login_redirect(expired=True)
    session["seen"] = now.isoformat()
    g.user = user
    return None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    st = state()
    message = ""
    if request.args.get("udloebet"):
        message = "Din session er udløbet. Log ind igen."
    name = ""
    status = 200
    if request.method == "POST":
        name = request.form.get("brugernavn", "").strip()[:64]
        password = request.form.get("adgangskode", "")
        result = st.users.login(name, password)
        if result.user is not None:
            session.clear()
            now = st.clock().isoformat()
            session.update(user=result.user.name, generation=result.user.generation,
                           opened=now, seen=now)  # fmt: skip
            session.permanent = False
            log.info("console login: %s (%s) from %s", result.user.name, result.user.role.value,
                     request.remote_addr)  # fmt: skip
            return redirect(_safe_next(request.args.get("next")), code=303)
        status = 401
        log.warning(
            "console login refused: %r from %s%s", name, request.remote_addr,
            f", locked out until {result.locked_until.isoformat()}" if result.locked_until else "",
        )  # fmt: skip
        if result.locked_until is not None:
            status = 429
            message = (
                "For mange forkerte forsøg. Brugeren er spærret til "
                f"{danish(result.locked_until)}. Kontakt en administrator, hvis det haster."
            )
        else:
            message = "Forkert brugernavn eller adgangskode."
    return render("login.html", title="Log ind", message=message, name=name), status


@bp.route("/logout", methods=["POST"])
def logout() -> WerkzeugResponse:
    # The cookie holds the session: clearing it here would leave a copy of it valid until it
    # timed out. A new generation ends every session of the user, copies included.
    name = session.get("user")
    if isinstance(name, str):
        state().users.end_sessions(name)
    session.clear()
    return redirect(url_for("auth.login"), code=303)
