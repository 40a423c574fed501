"""The case system's export files for a Tryton installation: Tryton keeps neither the
municipality's requisitions (certificates) nor its interpreter bookings, so the robots read
them from the files the case system exports, the same columns and formats as the mock's
"Eksportér" files (``rekvisitioner.xlsx``, ``tolkebestillinger.xlsx``). They hold CPR
numbers: the folder is the owner's only (0700, files 0600)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from mockerp.exports import Cell, to_xlsx
from mockerp.formatting import local_datetime, yes_no
from mockerp.seed_model import BookingRow, RequisitionRow
from mockerp.web.labels import BOOKING_MODES, INTERPRETER_CATEGORIES, REQUISITION_STATUSES, label
from mockerp.web.reference import BOOKING_COLUMNS, REQUISITION_COLUMNS

REQUISITIONS_FILE = "rekvisitioner.xlsx"
BOOKINGS_FILE = "tolkebestillinger.xlsx"


def _private_write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def write_exports(
    folder: Path, requisitions: Iterable[RequisitionRow], bookings: Iterable[BookingRow]
) -> None:
    """Both files in ``folder`` (made 0700); an earlier export is replaced."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    req_cells: list[tuple[Cell, ...]] = [
        (
            r.number,
            r.cpr,
            r.form,
            r.requested_on,
            yes_no(int(r.interpreter_approved)),
            label(REQUISITION_STATUSES, r.status),
            yes_no(int(r.cancelled)),
        )
        for r in sorted(requisitions, key=lambda r: r.number)
    ]
    _private_write(
        folder / REQUISITIONS_FILE, to_xlsx("Rekvisitioner", REQUISITION_COLUMNS, req_cells)
    )
    book_cells: list[tuple[Cell, ...]] = [
        (
            b.reference,
            b.language,
            b.date,
            f"{b.planned_start:%H:%M}",
            f"{b.planned_end:%H:%M}",
            label(INTERPRETER_CATEGORIES, b.category),
            Decimal(f"{b.distance_km:.1f}"),
            label(BOOKING_MODES, b.mode),
            local_datetime(b.cancelled_at).replace(tzinfo=None, microsecond=0)
            if b.cancelled_at
            else None,
        )
        for b in sorted(bookings, key=lambda b: (b.date, b.planned_start, b.reference))
    ]
    _private_write(
        folder / BOOKINGS_FILE, to_xlsx("Tolkebestillinger", BOOKING_COLUMNS, book_cells)
    )
