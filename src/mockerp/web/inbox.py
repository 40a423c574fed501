"""Indbakke: the invoices received, 25 a page in Løbenr order, with filters."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from mockerp.formatting import show_amount, show_date
from mockerp.web.labels import CATEGORIES, STATUSES, label
from mockerp.web.pages import Pager, choice_arg, int_arg, render
from mockerp.web.state import conn

bp = Blueprint("inbox", __name__)


@bp.get("/indbakke")
def inbox() -> Response:
    kategori = choice_arg("kategori", CATEGORIES)
    status = choice_arg("status", STATUSES)
    fra = int_arg("fra_loebenr", minimum=0)
    side = int_arg("side") or 1
    where: list[str] = []
    params: list[object] = []
    if kategori:
        where.append("category = ?")
        params.append(kategori)
    if status:
        where.append("status = ?")
        params.append(status)
    if fra is not None:
        where.append("id >= ?")
        params.append(fra)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    db = conn()
    total = db.execute(f"SELECT COUNT(*) FROM invoices {clause}", params).fetchone()[0]  # noqa: S608
    pager = Pager(side=side, total=total)
    rows = db.execute(
        "SELECT id, received_at, supplier_name, supplier_cvr, invoice_number, issue_date,"  # noqa: S608 - fixed SQL, values bound
        f" due_date, payable_amount, category, status FROM invoices {clause}"
        " ORDER BY id LIMIT ? OFFSET ?",
        [*params, pager.per_page, pager.offset],
    ).fetchall()
    invoices: list[dict[str, Any]] = [
        {
            "loebenr": r["id"],
            "modtaget": show_date(r["received_at"]),
            "leverandoer": r["supplier_name"],
            "cvr": r["supplier_cvr"] or "",
            "fakturanr": r["invoice_number"],
            "udstedt": show_date(r["issue_date"]),
            "forfald": show_date(r["due_date"]),
            "beloeb": show_amount(r["payable_amount"]),
            "kategori": label(CATEGORIES, r["category"]),
            "status": label(STATUSES, r["status"]),
            "status_kode": r["status"],
        }
        for r in rows
    ]
    filters: dict[str, object] = {"kategori": kategori, "status": status, "fra_loebenr": fra}
    return render(
        "indbakke.html",
        fakturaer=invoices,
        pager=pager,
        naeste=pager.link(side + 1, filters) if pager.has_next else None,
        forrige=pager.link(side - 1, filters) if pager.has_prev else None,
        kategorier=CATEGORIES,
        statusser=STATUSES,
        valgt_kategori=kategori,
        valgt_status=status,
        fra_loebenr="" if fra is None else fra,
    )
