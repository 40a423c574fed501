"""Indbakke: the invoices received, 25 a page in Løbenr order, with filters.

Two ways to page: by page number (``side``, for a clerk clicking through; an ``OFFSET`` query
that costs more the further in the page is), and by Løbenr (``after=<løbenr>``: the page of
rows after that Løbenr, a keyset query that costs the same on every page; its "Næste" link
carries the last Løbenr shown). Robots page by Løbenr."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from mockerp.formatting import show_amount, show_date
from mockerp.web.labels import CATEGORIES, STATUSES, label
from mockerp.web.pages import Pager, choice_arg, int_arg, query_string, render
from mockerp.web.state import conn

bp = Blueprint("inbox", __name__)


@bp.get("/indbakke")
def inbox() -> Response:
    kategori = choice_arg("kategori", CATEGORIES)
    status = choice_arg("status", STATUSES)
    fra = int_arg("fra_loebenr", minimum=0)
    after = int_arg("after", minimum=0)
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
    columns = (
        "SELECT id, received_at, supplier_name, supplier_cvr, invoice_number, issue_date,"
        " due_date, payable_amount, category, status FROM invoices"
    )
    filters: dict[str, object] = {"kategori": kategori, "status": status, "fra_loebenr": fra}
    if after is not None:
        keyset = f"{clause} AND id > ?" if clause else "WHERE id > ?"
        rows = db.execute(
            f"{columns} {keyset} ORDER BY id LIMIT ?",  # fixed SQL, values bound
            [*params, after, pager.per_page + 1],
        ).fetchall()
        more = len(rows) > pager.per_page
        rows = rows[: pager.per_page]
        naeste = (
            f"{request.path}?{query_string({**filters, 'after': rows[-1]['id']})}"
            if more and rows
            else None
        )
        forrige = None
    else:
        rows = db.execute(
            f"{columns} {clause} ORDER BY id LIMIT ? OFFSET ?",  # fixed SQL, values bound
            [*params, pager.per_page, pager.offset],
        ).fetchall()
        naeste = pager.link(side + 1, filters) if pager.has_next else None
        forrige = pager.link(side - 1, filters) if pager.has_prev else None
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
    return render(
        "indbakke.html",
        fakturaer=invoices,
        pager=pager,
        efter=after,
        naeste=naeste,
        forrige=forrige,
        kategorier=CATEGORIES,
        statusser=STATUSES,
        valgt_kategori=kategori,
        valgt_status=status,
        fra_loebenr="" if fra is None else fra,
    )
