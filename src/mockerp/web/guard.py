"""What happens before every request reaches its screen, in this order:

1. faults: latency and slow pages, then (a roll of the dice) HTTP 500, before any work is done;
2. the session: missing or expired sends the browser to ``/login?next=PATH``;
3. CSRF: a POST without the session's token is refused (400);
4. a system message may replace a GET page (a fault).

Admin pages and static files are never faulted: the admin must be able to turn faults off.
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote

from flask import Flask, Response, g, request

from mockerp.auth import SessionState, same_token, use_session
from mockerp.web.pages import current_path, error_page, render, see_other
from mockerp.web.state import conn, state

SESSION_COOKIE = "mockerp_session"
LOGIN_COOKIE = "mockerp_login"  # double-submit CSRF token of the login form

PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.login_post", "static"})
# GET pages a system message never replaces: downloads and the message's own endpoint.
NO_SYSTEM_MESSAGE = frozenset(
    {
        "payments.export",
        "reference.requisitions_export",
        "reference.bookings_export",
        "system.system_message",
    }
)
_INVOICE_ACTION = re.compile(r"^(/faktura/\d+)/(godkend|manuel)$")

MSG_CSRF = (
    "Formularen kunne ikke modtages, fordi sikkerhedsnøglen mangler eller er forkert."
    " Gå tilbage, genindlæs siden og prøv igen."
)
MSG_SERVER_ERROR = "Systemet kunne ikke behandle forespørgslen. Prøv igen om lidt."

SYSTEM_MESSAGES = (
    "Økonomisystemet opdateres i aften mellem kl. 22:00 og 23:00. Gem dit arbejde inden.",
    "Husk: Betalingsfristen for kvartalets fakturaer er den sidste bankdag i måneden.",
    "Driftsinformation: Bankforbindelsen er genoprettet. Alle betalinger er sendt.",
    "Ny version af Økonomisystemet er installeret. Kontakt servicedesk ved problemer.",
)


def _faultable() -> bool:
    return not request.path.startswith(("/static/", "/admin"))


def _return_path() -> str:
    """Where to go after logging in again."""
    if request.method == "GET":
        return current_path()
    m = _INVOICE_ACTION.match(request.path)
    return m.group(1) if m else "/indbakke"


def login_redirect() -> Response:
    return see_other(f"/login?next={quote(_return_path(), safe='/')}")


def before_request() -> Response | None:
    st = state()
    faultable = _faultable()
    if faultable:
        delay = st.faults.delay_seconds()
        if delay > 0:
            time.sleep(delay)  # the injected latency itself
        if st.faults.server_error():
            return error_page(500, MSG_SERVER_ERROR)
    if request.endpoint in PUBLIC_ENDPOINTS:
        if request.method == "POST" and not same_token(
            request.form.get("csrf_token"), request.cookies.get(LOGIN_COOKIE)
        ):
            return error_page(400, MSG_CSRF)
        return None
    settings = st.faults.settings
    found = use_session(
        conn(),
        request.cookies.get(SESSION_COOKIE),
        st.now(),
        idle=st.idle,
        max_requests=settings.session_expiry_requests if faultable else 0,
    )
    if isinstance(found, SessionState):
        return login_redirect()
    g.session = found
    if request.method == "POST" and not same_token(
        request.form.get("csrf_token"), found.csrf_token
    ):
        return error_page(400, MSG_CSRF)
    if (
        request.method == "GET"
        and faultable
        and request.endpoint is not None
        and request.endpoint not in NO_SYSTEM_MESSAGE
    ):
        here = current_path()
        cleared = st.notes.take(found.token_hash, "cleared")
        if cleared != here and st.faults.system_message():
            return render(
                "systembesked.html",
                tekst=st.faults.pick(SYSTEM_MESSAGES),
                next_path=here,
                besked=None,  # a waiting message belongs to the page asked for
            )
    return None


def after_request(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
        renamed = state().renamed_ids
        if renamed and not response.direct_passthrough:
            html = response.get_data(as_text=True)
            for element_id in renamed:
                html = html.replace(f'id="{element_id}"', f'id="{element_id}-v2"')
            response.set_data(html)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        )
    return response


def install(app: Flask) -> None:
    app.before_request(before_request)
    app.after_request(after_request)
