"""Betalinger: every payment made, newest voucher last; exports as XLSX and CSV."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence

from flask import Blueprint, Response

from mockerp.exports import Cell, Column
from mockerp.formatting import (
    decimal_from_db,
    local_datetime,
    show_amount,
    show_date,
    show_timestamp,
)
from mockerp.web.downloads import download
from mockerp.web.pages import Pager, int_arg, query_string, render, text_arg
from mockerp.web.state import conn

bp = Blueprint("payments", __name__)

COLUMNS = (
    Column("Bilagsnummer"),
    Column("Løbenr.", "number"),
    Column("Fakturanr."),
    Column("CVR-nr."),
    Column("Leverandør"),
    Column("Beløb", "amount"),
    Column("Betalingsdato", "date"),
    Column("Kontostreng"),
    Column("Posteringstekst"),
    Column("Godkendt af"),
    Column("Tidspunkt", "datetime"),
)

_SELECT = (
    "SELECT p.voucher, p.invoice_id, p.amount, p.payment_date, p.account_string,"
    " p.posting_text, p.approved_at, i.invoice_number, i.supplier_cvr, i.supplier_name,"
    " u.username FROM payments p JOIN invoices i ON i.id = p.invoice_id"
    " JOIN users u ON u.id = p.approved_by"
)


def _filters() -> tuple[str, list[object], dict[str, object]]:
    loebenr = int_arg("loebenr")
    cvr = text_arg("cvr")
    fakturanr = text_arg("fakturanr")
    where: list[str] = []
    params: list[object] = []
    if loebenr is not None:
        where.append("p.invoice_id = ?")
        params.append(loebenr)
    if cvr:
        where.append("i.supplier_cvr = ?")
        params.append(cvr)
    if fakturanr:
        where.append("i.invoice_number = ?")
        params.append(fakturanr)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return clause, params, {"loebenr": loebenr, "cvr": cvr, "fakturanr": fakturanr}


def _query(
    db: sqlite3.Connection, clause: str, params: Sequence[object], tail: str = ""
) -> list[sqlite3.Row]:
    sql = f"{_SELECT}{clause} ORDER BY p.id{tail}"
    return db.execute(sql, params).fetchall()


@bp.get("/betalinger")
def payments() -> Response:
    clause, params, filters = _filters()
    side = int_arg("side") or 1
    db = conn()
    total = db.execute(
        "SELECT COUNT(*) FROM payments p JOIN invoices i ON i.id = p.invoice_id" + clause,  # noqa: S608
        params,
    ).fetchone()[0]
    pager = Pager(side=side, total=total)
    rows = _query(db, clause, [*params, pager.per_page, pager.offset], " LIMIT ? OFFSET ?")
    shown = [
        {
            "bilagsnummer": r["voucher"],
            "loebenr": str(r["invoice_id"]),
            "fakturanr": r["invoice_number"],
            "cvr": r["supplier_cvr"] or "",
            "leverandoer": r["supplier_name"],
            "beloeb": show_amount(r["amount"]),
            "betalingsdato": show_date(r["payment_date"]),
            "kontostreng": r["account_string"],
            "godkendt-af": r["username"],
            "tidspunkt": show_timestamp(r["approved_at"]),
        }
        for r in rows
    ]
    return render(
        "betalinger.html",
        betalinger=shown,
        pager=pager,
        filtre=filters,
        naeste=pager.link(side + 1, filters) if pager.has_next else None,
        forrige=pager.link(side - 1, filters) if pager.has_prev else None,
        eksport_query=query_string(filters),
    )


def _export_row(r: sqlite3.Row) -> tuple[Cell, ...]:
    return (
        r["voucher"],
        decimal_from_db(str(r["invoice_id"])),
        r["invoice_number"],
        r["supplier_cvr"],
        r["supplier_name"],
        decimal_from_db(r["amount"]),
        dt.date.fromisoformat(r["payment_date"]),
        r["account_string"],
        r["posting_text"],
        r["username"],
        local_datetime(dt.datetime.fromisoformat(r["approved_at"])).replace(tzinfo=None),
    )


@bp.get("/betalinger/eksport.<fmt>")
def export(fmt: str) -> Response:
    clause, params, _ = _filters()
    rows = [_export_row(r) for r in _query(conn(), clause, params)]
    return download(fmt, "betalinger", "Betalinger", COLUMNS, rows)
