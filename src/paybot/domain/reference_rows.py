"""Reference data rows: requisitions, interpreter bookings and inbox rows.

A row is a mapping from a column to its cell. Both namings are accepted: the screens'
``data-felt`` names (``rekvisitionsnr``, ``tolk-godkendt``, ``afstand-km``) and the export
columns (``Rekvisitionsnr.``, ``Tolk godkendt``, ``Afstand km``). Cells may be text or, from an
xlsx export, ``date``/``datetime``/``time``/numbers. A row that cannot be read raises
:class:`ReferenceDataError` naming the row and the column (never a CPR number).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Literal, TypeVar, cast

from paybot.domain.checks import cpr_shape_valid, normalise_cpr
from paybot.domain.models import Booking, RegisterEntry, Requisition
from paybot.domain.values import (
    BOOKING_MODE_TEXTS,
    CATEGORY_TEXTS,
    INTERPRETER_CATEGORY_TEXTS,
    REQUISITION_STATUS_TEXTS,
    STATUS_TEXTS,
    Cell,
    normalise_form,
    read_amount,
    read_choice,
    read_date,
    read_datetime,
    read_export_decimal,
    read_int,
    read_text,
    read_time,
    read_yes_no,
)
from paybot.errors import PaybotError

T = TypeVar("T")

_PERSONAL_COLUMNS = frozenset({"cpr"})

# export column (normalised) → data-felt name
_ALIASES: dict[str, str] = {
    "cpr-nr": "cpr",
    "cvr-nr": "cvr",
    "fakturadato": "udstedt",
    "forfaldsdato": "forfald",
    "tolk-godkendt": "tolk-godkendt",
    "afstand": "afstand-km",
}


class ReferenceDataError(PaybotError):
    """A row of reference data (requisitions, bookings, the inbox) cannot be read.

    Not about one invoice: the run should stop rather than decide on data it cannot read."""

    def __init__(self, source: str, row: str, column: str, value: object, problem: str) -> None:
        self.source = source
        self.row = row
        self.column = column
        self.value = None if column in _PERSONAL_COLUMNS else value
        self.problem = problem
        shown = "(værdi skjult)" if self.value is None else repr(read_text(value))
        super().__init__(f"{source} {row}: {column} = {shown}: {problem}")


def column_key(name: str) -> str:
    """``Tolk godkendt`` → ``tolk-godkendt``; ``Løbenr.`` → ``loebenr``; ``CPR-nr.`` → ``cpr``."""
    key = "-".join(name.replace("\ufeff", "").strip().rstrip(".").casefold().split())
    key = key.replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    return _ALIASES.get(key, key)


class _Row:
    def __init__(self, source: str, row: Mapping[str, Cell], id_column: str) -> None:
        self.source = source
        self.cells = {column_key(str(k)): v for k, v in row.items()}
        self.row_id = read_text(self.cells.get(id_column)) or "(uden id)"
        if id_column in _PERSONAL_COLUMNS:  # pragma: no cover - no such source today
            self.row_id = "(skjult)"

    def fail(self, column: str, value: Cell, problem: str) -> ReferenceDataError:
        return ReferenceDataError(self.source, self.row_id, column, value, problem)

    def raw(self, column: str) -> Cell:
        return self.cells.get(column)

    def present(self, column: str) -> bool:
        value = self.cells.get(column)
        return value is not None and read_text(value) != ""

    def required(self, column: str, read: Callable[[Cell], T]) -> T:
        value = self.cells.get(column)
        if value is None or read_text(value) == "":
            raise self.fail(column, value, "mangler")
        try:
            return read(value)
        except ValueError as exc:
            problem = "har ikke den rigtige form" if column in _PERSONAL_COLUMNS else str(exc)
            raise self.fail(column, value, problem) from None

    def optional(self, column: str, read: Callable[[Cell], T]) -> T | None:
        return self.required(column, read) if self.present(column) else None

    def text(self, column: str) -> str:
        return self.required(column, read_text)


def _cpr_cell(value: Cell) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        # a spreadsheet turned 0107901234 into the number 107901234
        value = f"{int(value):010d}"
    cpr = normalise_cpr(read_text(value))
    if cpr is None or not cpr_shape_valid(cpr):
        raise ValueError("har ikke formen DDMMÅÅ-XXXX med en gyldig dato")
    return cpr


def _date_cell(value: Cell) -> dt.date:
    return read_date(value, allow_iso=True)


def parse_requisition(row: Mapping[str, Cell]) -> Requisition:
    """A requisition from ``/rekvisitioner`` or its export."""
    r = _Row("rekvisition", row, "rekvisitionsnr")
    return Requisition(
        number=r.text("rekvisitionsnr"),
        cpr=r.required("cpr", _cpr_cell),
        form=r.required("blanket", normalise_form),
        requested_on=r.required("dato", _date_cell),
        interpreter_approved=r.optional("tolk-godkendt", read_yes_no) or False,
        open=r.required(
            "status", lambda v: read_choice(v, REQUISITION_STATUS_TEXTS, "Åben eller Lukket")
        ),
        cancelled=r.optional("annulleret", read_yes_no) or False,
    )


def _mode(value: Cell) -> Literal["fremmoede", "video", "telefon"]:
    mode = read_choice(value, BOOKING_MODE_TEXTS, "Fremmøde, Video eller Telefon")
    return cast(Literal["fremmoede", "video", "telefon"], mode)


def _distance(value: Cell) -> Decimal:
    km = read_export_decimal(value)
    if km < 0:
        raise ValueError("afstanden er negativ")
    return km


def parse_booking(row: Mapping[str, Cell]) -> Booking:
    """An interpreter booking from ``/tolkebestillinger`` or its export."""
    r = _Row("tolkebestilling", row, "reference")
    return Booking(
        reference=r.text("reference"),
        language=r.text("sprog"),
        date=r.required("dato", _date_cell),
        planned_start=r.required("start", read_time),
        planned_end=r.required("slut", read_time),
        category=r.required(
            "kategori", lambda v: read_choice(v, INTERPRETER_CATEGORY_TEXTS, "en tolkekategori")
        ),
        distance_km=r.optional("afstand-km", _distance) or Decimal(0),
        mode=r.required("form", _mode),
        cancelled_at=r.optional("aflyst", read_datetime),
    )


def _lenient(read: Callable[[Cell], T], value: Cell) -> T | None:
    try:
        return read(value)
    except ValueError:
        return None


def parse_register_row(row: Mapping[str, Cell]) -> RegisterEntry:
    """An inbox row (``/indbakke``). Løbenr, category and status must be readable; an
    unreadable date or amount becomes ``None`` (the invoice itself is checked when opened)."""
    r = _Row("indbakke-række løbenr.", row, "loebenr")
    erp_id = r.required("loebenr", read_int)
    if erp_id <= 0:
        raise r.fail("loebenr", r.raw("loebenr"), "er ikke et løbenummer")
    issue = r.raw("udstedt")
    amount = r.raw("beloeb")
    return RegisterEntry(
        erp_id=erp_id,
        category=r.required("kategori", lambda v: read_choice(v, CATEGORY_TEXTS, "en kategori")),
        status=r.required("status", lambda v: read_choice(v, STATUS_TEXTS, "en status")),
        supplier_cvr=read_text(r.raw("cvr")).replace(" ", ""),
        invoice_number=read_text(r.raw("fakturanr")),
        issue_date=_lenient(_date_cell, issue) if r.present("udstedt") else None,
        payable_amount=_lenient(read_amount, amount) if r.present("beloeb") else None,
    )
