"""Export files of the list screens: XLSX (openpyxl) and CSV.

Rows hold typed values (``str``, ``Decimal``, ``date``, ``datetime``, ``None``). The CSV writes
them in Danish formats (UTF-8 with BOM, ``;``-separated, as Danish Excel expects); the XLSX
writes dates as dates and amounts as numbers, with Danish number formats, so a spreadsheet can
sum them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from mockerp.formatting import format_amount, format_date, format_number

Cell = str | Decimal | dt.date | dt.datetime | None
Kind = Literal["text", "date", "datetime", "amount", "number"]


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = "text"


_XLSX_FORMATS: dict[Kind, str] = {
    "date": "DD-MM-YYYY",
    "datetime": "DD-MM-YYYY HH:MM",
    "amount": "#,##0.00",
    "number": "General",
    "text": "@",
}


def _csv_text(value: Cell, kind: Kind) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%d-%m-%Y %H:%M")
    if isinstance(value, dt.date):
        return format_date(value)
    if isinstance(value, Decimal):
        return format_amount(value) if kind == "amount" else format_number(value)
    return value


def to_csv(columns: Sequence[Column], rows: Iterable[Sequence[Cell]]) -> bytes:
    """UTF-8 with BOM, ``;``-separated, CRLF line ends, a header row first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([c.title for c in columns])
    for row in rows:
        writer.writerow([_csv_text(v, c.kind) for v, c in zip(row, columns, strict=True)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(sheet_title: str, columns: Sequence[Column], rows: Iterable[Sequence[Cell]]) -> bytes:
    """One sheet: a bold header row, then one row per record.

    A normal (not write-only) workbook, because only it records the sheet's dimensions: readers
    in read-only mode then get every row at full width, trailing empty cells included.
    """
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title[:31]
    sheet.append([c.title for c in columns])
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    formats = [_XLSX_FORMATS[c.kind] for c in columns]
    for row in rows:
        sheet.append(list(row))
        for cell, number_format, value in zip(sheet[sheet.max_row], formats, row, strict=True):
            if value is not None:
                cell.number_format = number_format
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, len(column.title) + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
