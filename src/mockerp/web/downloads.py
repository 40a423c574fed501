"""Export files served as attachments with a file name."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Response

from mockerp.exports import Cell, Column, to_csv, to_xlsx
from mockerp.web.pages import error_page
from mockerp.web.state import state

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


def download(
    fmt: str,
    basename: str,
    sheet_title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
) -> Response:
    """``basename-YYYY-MM-DD.xlsx`` or ``.csv``; 404 for any other format."""
    if fmt == "xlsx":
        body, content_type = to_xlsx(sheet_title, columns, rows), XLSX_TYPE
    elif fmt == "csv":
        body, content_type = to_csv(columns, rows), CSV_TYPE
    else:
        return error_page(404, f"Eksportformatet {fmt!r} findes ikke (brug xlsx eller csv).")
    filename = f"{basename}-{state().today().isoformat()}.{fmt}"
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
