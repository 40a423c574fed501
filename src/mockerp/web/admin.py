"""Administration (admins only): unlock users, fault settings, reset the business data."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from mockerp.auth import unlock
from mockerp.db import reset_business_data
from mockerp.faults import FIELDS, FaultSettingError, FaultSettings, parse_value
from mockerp.formatting import show_timestamp
from mockerp.web.pages import error_page, note, render, see_other, user_session
from mockerp.web.state import conn, state

bp = Blueprint("admin", __name__)

MSG_ADMIN_ONLY = "Siden er kun for administratorer."
MSG_RESET_CONFIRM = "Sæt kryds i bekræftelsen for at nulstille databasen."


def _forbidden() -> Response | None:
    if user_session().user.role != "admin":
        return error_page(403, MSG_ADMIN_ONLY)
    return None


def _page(*, status: int = 200, fejlbesked: str | None = None) -> Response:
    users = (
        conn()
        .execute(
            "SELECT username, full_name, role, failed_logins, locked_at FROM users"
            " ORDER BY username"
        )
        .fetchall()
    )
    settings = state().faults.settings
    counts = (
        conn()
        .execute(
            "SELECT (SELECT COUNT(*) FROM invoices) AS fakturaer,"
            " (SELECT COUNT(*) FROM payments) AS betalinger,"
            " (SELECT COUNT(*) FROM requisitions) AS rekvisitioner,"
            " (SELECT COUNT(*) FROM bookings) AS tolkebestillinger"
        )
        .fetchone()
    )
    return render(
        "admin.html",
        status=status,
        fejlbesked=fejlbesked,
        brugere=[
            {
                "brugernavn": u["username"],
                "navn": u["full_name"],
                "rolle": u["role"],
                "fejl": u["failed_logins"],
                "spaerret": show_timestamp(u["locked_at"]),
            }
            for u in users
        ],
        felter=[
            {"navn": f.name, "label": f.label, "vaerdi": getattr(settings, f.name)} for f in FIELDS
        ],
        antal=dict(counts),
    )


@bp.get("/admin")
def admin() -> Response:
    return _forbidden() or _page()


@bp.post("/admin/laas-op")
def unlock_user() -> Response:
    if refused := _forbidden():
        return refused
    username = request.form.get("brugernavn", "")
    if not unlock(conn(), username):
        return _page(status=404, fejlbesked=f"Brugeren {username!r} findes ikke.")
    note(f"Brugeren {username} er låst op.")
    return see_other("/admin")


@bp.post("/admin/fejl")
def faults() -> Response:
    if refused := _forbidden():
        return refused
    values: dict[str, Any] = {}
    try:
        for f in FIELDS:
            raw = request.form.get(f.name, "").strip()
            if raw == "":
                values[f.name] = None if f.name == "seed" else f.kind(0)
            else:
                values[f.name] = parse_value(f, raw, f.label)
        settings = state().faults.update(FaultSettings(**values))
    except FaultSettingError as exc:
        return _page(status=422, fejlbesked=f"Ugyldig fejlindstilling: {exc}")
    note(f"Fejlindstillingerne er gemt ({settings.describe()}).")
    return see_other("/admin")


@bp.post("/admin/nulstil")
def reset() -> Response:
    if refused := _forbidden():
        return refused
    if request.form.get("bekraeft") != "ja":
        return _page(status=422, fejlbesked=MSG_RESET_CONFIRM)
    reset_business_data(conn())
    note("Databasen er nulstillet: fakturaer, betalinger og referencedata er slettet.")
    return see_other("/admin")
