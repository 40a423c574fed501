"""Login and logout."""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, request

from mockerp.auth import LoginOutcome, check_login, end_session, start_session
from mockerp.web.guard import LOGIN_COOKIE, SESSION_COOKIE
from mockerp.web.pages import is_local_path, render, see_other, session
from mockerp.web.state import conn, state

bp = Blueprint("auth", __name__)

MSG_WRONG = "Forkert brugernavn eller adgangskode."
MSG_LOCKED = "Kontoen er spærret efter for mange forkerte forsøg. Kontakt administrator."
MSG_EXPIRED = "Din session er udløbet. Log ind igen."
MSG_LOGGED_OUT = "Du er logget ud."


def _safe_next(value: str) -> str:
    return value if value and is_local_path(value) else "/indbakke"


def _login_page(*, status: int = 200, **context: object) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        "login.html",
        status=status,
        login_csrf=token,
        next_path=_safe_next(request.values.get("next", "")),
        **context,
    )
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Lax", path="/login")
    return response


@bp.get("/")
def root() -> Response:
    return see_other("/indbakke")


@bp.get("/login")
def login() -> Response:
    besked = None
    if request.args.get("next"):
        besked = MSG_EXPIRED
    elif request.args.get("logget_ud"):
        besked = MSG_LOGGED_OUT
    return _login_page(besked=besked)


@bp.post("/login")
def login_post() -> Response:
    st = state()
    username = request.form.get("brugernavn", "").strip()
    password = request.form.get("adgangskode", "")
    if not username or not password:
        return _login_page(status=401, fejlbesked=MSG_WRONG, brugernavn=username)
    result = check_login(conn(), username, password, st.now())
    if result.outcome is LoginOutcome.LOCKED:
        return _login_page(status=401, fejlbesked=MSG_LOCKED, brugernavn=username)
    if result.outcome is LoginOutcome.WRONG or result.user_id is None:
        return _login_page(status=401, fejlbesked=MSG_WRONG, brugernavn=username)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(conn(), old)  # a new session id at every login (no session fixation)
    token, _csrf = start_session(conn(), result.user_id, st.now())
    response = see_other(_safe_next(request.form.get("next", "")))
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax", path="/")
    return response


@bp.post("/logout")
def logout() -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and session() is not None:
        end_session(conn(), token)
    response = see_other("/login?logget_ud=1")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
