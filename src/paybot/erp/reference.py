"""Reference data as a clerk would fetch it: export files (XLSX).

Requisitions (certificates) and interpreter bookings come as spreadsheets, from the finance
system's "Eksportér" links or from a case system's exports; any adapter reads them here with
rpaframework's ``RPA.Excel.Files`` and the domain's row parsers
(:func:`paybot.domain.parsing.parse_requisition`, :func:`~paybot.domain.parsing.parse_booking`).
The files hold CPR numbers: the caller keeps them in a private temporary folder and deletes
them as soon as they are read.
"""

from __future__ import annotations

from pathlib import Path

from RPA.Excel.Files import Files


def read_xlsx_rows(path: Path) -> list[dict[str, object]]:
    """The first sheet of a workbook as rows keyed by the header row (RPA.Excel.Files)."""
    excel = Files()
    excel.open_workbook(str(path), data_only=True)
    try:
        table = excel.read_worksheet_as_table(header=True)
    finally:
        excel.close_workbook()
    return [dict(row) for row in table.iter_dicts(with_index=False)]
