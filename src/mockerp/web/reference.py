"""Reference data: Rekvisitioner, Tolkebestillinger (both exportable) and Kontoplan."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Sequence

from flask import Blueprint, Response

from mockerp.exports import Cell, Column
from mockerp.formatting import (
    UnreadableValue,
    decimal_from_db,
    local_datetime,
    parse_date,
    show_date,
    show_local_timestamp,
    show_number,
    yes_no,
)
from mockerp.web.downloads import download
from mockerp.web.labels import BOOKING_MODES, INTERPRETER_CATEGORIES, REQUISITION_STATUSES, label
from mockerp.web.pages import BadQuery, Pager, int_arg, query_string, render, text_arg
from mockerp.web.state import conn

bp = Blueprint("reference", __name__)

REQUISITION_COLUMNS = (
    Column("Rekvisitionsnr."),
    Column("CPR-nr."),
    Column("Blanket"),
    Column("Dato", "date"),
    Column("Tolk godkendt"),
    Column("Status"),
    Column("Annulleret"),
)
BOOKING_COLUMNS = (
    Column("Reference"),
    Column("Sprog"),
    Column("Dato", "date"),
    Column("Start"),
    Column("Slut"),
    Column("Kategori"),
    Column("Afstand km", "number"),
    Column("Form"),
    Column("Aflyst", "datetime"),
)


def _page_of(
    db: sqlite3.Connection, table: str, clause: str, params: Sequence[object], order: str
) -> tuple[Pager, list[sqlite3.Row]]:
    side = int_arg("side") or 1
    total = db.execute(f"SELECT COUNT(*) FROM {table}{clause}", params).fetchone()[0]  # noqa: S608
    pager = Pager(side=side, total=total)
    rows = db.execute(
        f"SELECT * FROM {table}{clause} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608
        [*params, pager.per_page, pager.offset],
    ).fetchall()
    return pager, rows


def _where(conditions: list[tuple[str, object]]) -> tuple[str, list[object]]:
    used = [(sql, value) for sql, value in conditions if value not in (None, "")]
    clause = f" WHERE {' AND '.join(sql for sql, _ in used)}" if used else ""
    return clause, [value for _, value in used]


# --- requisitions --------------------------------------------------------------------------


def normalise_cpr(text: str) -> str:
    """``0707611234`` or ``070761-1234`` → ``070761-1234``; anything else as typed."""
    digits = text.replace("-", "").replace(" ", "")
    return f"{digits[:6]}-{digits[6:]}" if re.fullmatch(r"\d{10}", digits) else text


def normalise_form(text: str) -> str:
    """``læ135`` or ``LÆ  135`` → ``LÆ 135``."""
    m = re.fullmatch(r"\s*([A-Za-zÆØÅæøå]+)\s*(\d+)\s*", text)
    return f"{m.group(1).upper()} {m.group(2)}" if m else text.strip()


def _requisition_filters() -> tuple[str, list[object], dict[str, object]]:
    cpr = text_arg("cpr")
    blanket = text_arg("blanket")
    clause, params = _where(
        [
            ("cpr = ?", normalise_cpr(cpr) if cpr else ""),
            ("form = ?", normalise_form(blanket) if blanket else ""),
        ]
    )
    return clause, params, {"cpr": cpr, "blanket": blanket}


@bp.get("/rekvisitioner")
def requisitions() -> Response:
    clause, params, filters = _requisition_filters()
    pager, rows = _page_of(conn(), "requisitions", clause, params, "id")
    shown = [
        {
            "rekvisitionsnr": r["number"],
            "cpr": r["cpr"],
            "blanket": r["form"],
            "dato": show_date(r["requested_on"]),
            "tolk-godkendt": yes_no(r["interpreter_approved"]),
            "status": label(REQUISITION_STATUSES, r["status"]),
            "annulleret": yes_no(r["cancelled"]),
        }
        for r in rows
    ]
    return render(
        "rekvisitioner.html",
        rekvisitioner=shown,
        pager=pager,
        filtre=filters,
        naeste=pager.link(pager.side + 1, filters) if pager.has_next else None,
        forrige=pager.link(pager.side - 1, filters) if pager.has_prev else None,
        eksport_query=query_string(filters),
    )


@bp.get("/rekvisitioner/eksport.<fmt>")
def requisitions_export(fmt: str) -> Response:
    clause, params, _ = _requisition_filters()
    rows = (
        conn()
        .execute(
            f"SELECT * FROM requisitions{clause} ORDER BY id",  # noqa: S608
            params,
        )
        .fetchall()
    )
    cells: list[tuple[Cell, ...]] = [
        (
            r["number"],
            r["cpr"],
            r["form"],
            dt.date.fromisoformat(r["requested_on"]),
            yes_no(r["interpreter_approved"]),
            label(REQUISITION_STATUSES, r["status"]),
            yes_no(r["cancelled"]),
        )
        for r in rows
    ]
    return download(fmt, "rekvisitioner", "Rekvisitioner", REQUISITION_COLUMNS, cells)


# --- interpreter bookings ------------------------------------------------------------------


def _booking_date(text: str) -> str:
    if not text:
        return ""
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return parse_date(text).isoformat()
    except UnreadableValue:
        raise BadQuery(f"dato={text!r} er ikke en dato (DD-MM-ÅÅÅÅ).") from None


def _booking_filters() -> tuple[str, list[object], dict[str, object]]:
    reference = text_arg("reference")
    dato = text_arg("dato")
    clause, params = _where([("reference = ?", reference), ("date = ?", _booking_date(dato))])
    return clause, params, {"reference": reference, "dato": dato}


def _cancelled_at(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is None else local_datetime(value).replace(tzinfo=None)


@bp.get("/tolkebestillinger")
def bookings() -> Response:
    clause, params, filters = _booking_filters()
    pager, rows = _page_of(conn(), "bookings", clause, params, "date, planned_start, reference")
    shown = [
        {
            "reference": r["reference"],
            "sprog": r["language"],
            "dato": show_date(r["date"]),
            "start": r["planned_start"],
            "slut": r["planned_end"],
            "kategori": label(INTERPRETER_CATEGORIES, r["category"]),
            "afstand-km": show_number(r["distance_km"]),
            "form": label(BOOKING_MODES, r["mode"]),
            "aflyst": show_local_timestamp(r["cancelled_at"]),
        }
        for r in rows
    ]
    return render(
        "tolkebestillinger.html",
        tolkebestillinger=shown,
        pager=pager,
        filtre=filters,
        naeste=pager.link(pager.side + 1, filters) if pager.has_next else None,
        forrige=pager.link(pager.side - 1, filters) if pager.has_prev else None,
        eksport_query=query_string(filters),
    )


@bp.get("/tolkebestillinger/eksport.<fmt>")
def bookings_export(fmt: str) -> Response:
    clause, params, _ = _booking_filters()
    rows = (
        conn()
        .execute(
            f"SELECT * FROM bookings{clause} ORDER BY date, planned_start, reference",  # noqa: S608
            params,
        )
        .fetchall()
    )
    cells: list[tuple[Cell, ...]] = [
        (
            r["reference"],
            r["language"],
            dt.date.fromisoformat(r["date"]),
            r["planned_start"],
            r["planned_end"],
            label(INTERPRETER_CATEGORIES, r["category"]),
            decimal_from_db(r["distance_km"]),
            label(BOOKING_MODES, r["mode"]),
            _cancelled_at(r["cancelled_at"]),
        )
        for r in rows
    ]
    return download(fmt, "tolkebestillinger", "Tolkebestillinger", BOOKING_COLUMNS, cells)


# --- chart of accounts ---------------------------------------------------------------------


@bp.get("/kontoplan")
def chart() -> Response:
    rows = (
        conn()
        .execute("SELECT account_string, name, active FROM accounts ORDER BY account_string")
        .fetchall()
    )
    shown = [
        {"kontostreng": r["account_string"], "navn": r["name"], "aktiv": yes_no(r["active"])}
        for r in rows
    ]
    return render("kontoplan.html", konti=shown)
