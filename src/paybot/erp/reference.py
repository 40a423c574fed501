"""Reference data as a clerk would fetch it: the finance system's export files.

Requisitions (certificates) and interpreter bookings are downloaded once per run as XLSX through
the screens' "Eksportér" links and read with rpaframework's ``RPA.Excel.Files``. The files hold
CPR numbers, so they live in a private temporary folder and are deleted as soon as they are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from RPA.Excel.Files import Files

from paybot.audit.events import Event
from paybot.domain.models import Booking, Requisition
from paybot.domain.parsing import parse_booking, parse_requisition
from paybot.erp import locators as loc
from paybot.erp.session import ErpSession


@dataclass(frozen=True)
class ReferenceData:
    """What the rules may look up; empty for robots that need none."""

    requisitions: tuple[Requisition, ...] = ()
    bookings: dict[str, Booking] = field(default_factory=dict)

    def requisitions_for(self, cpr: str | None) -> Sequence[Requisition]:
        if not cpr:
            return ()
        return tuple(r for r in self.requisitions if r.cpr == cpr)

    def booking(self, reference: str | None) -> Booking | None:
        return self.bookings.get(reference.strip()) if reference else None


def read_xlsx_rows(path: Path) -> list[dict[str, object]]:
    """The first sheet of a workbook as rows keyed by the header row (RPA.Excel.Files)."""
    excel = Files()
    excel.open_workbook(str(path), data_only=True)
    try:
        table = excel.read_worksheet_as_table(header=True)
    finally:
        excel.close_workbook()
    return [dict(row) for row in table.iter_dicts(with_index=False)]


def _export_rows(
    session: ErpSession, path: str, screen: str, folder: Path
) -> list[dict[str, object]]:
    file = session.download(path, screen, loc.EXPORT_XLSX, folder, ".xlsx")
    try:
        return read_xlsx_rows(file)
    finally:
        file.unlink(missing_ok=True)


def load_reference_data(
    session: ErpSession, folder: Path, *, requisitions: bool, bookings: bool
) -> ReferenceData:
    reqs: tuple[Requisition, ...] = ()
    books: dict[str, Booking] = {}
    if requisitions:
        rows = _export_rows(session, loc.REQUISITIONS, loc.SCREEN_REQUISITIONS, folder)
        reqs = tuple(parse_requisition(row) for row in rows)
        session.audit.event(Event.FIELD_READ, field="rekvisitioner", value=f"{len(reqs)} rækker")
    if bookings:
        rows = _export_rows(session, loc.BOOKINGS, loc.SCREEN_BOOKINGS, folder)
        books = {b.reference: b for b in (parse_booking(row) for row in rows)}
        session.audit.event(
            Event.FIELD_READ, field="tolkebestillinger", value=f"{len(books)} rækker"
        )
    return ReferenceData(requisitions=reqs, bookings=books)
