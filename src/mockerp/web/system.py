"""The system message (a fault): clicking OK leads back to the page that was asked for."""

from __future__ import annotations

from flask import Blueprint, Response, request

from mockerp.web.pages import is_local_path, see_other, user_session
from mockerp.web.state import state

bp = Blueprint("system", __name__)


@bp.post("/systembesked")
def system_message() -> Response:
    target = request.form.get("next", "")
    if not is_local_path(target):
        target = "/indbakke"
    # The page asked for is shown once without a new message, so OK always gets there.
    state().notes.put(user_session().token_hash, "cleared", target)
    return see_other(target)
