"""Reading single values as the finance system shows them, and its display texts.

Each ``read_*`` function takes what a page object or an export gave (text, or for export cells
also ``date``/``datetime``/``time``/numbers) and returns the typed value, or raises
``ValueError`` with a short Danish description of what is wrong (the caller adds the field).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from paybot.domain.models import Category, DocType, ErpStatus
from paybot.domain.money import round_ore

# --- display texts → values -----------------------------------------------------------------

CATEGORY_TEXTS: dict[str, Category] = {
    "lægeerklæring": Category.CERTIFICATE,
    "tolk": Category.INTERPRETER,
    "øvrige": Category.OTHER,
    **{c.value: c for c in Category},
}
DOC_TYPE_TEXTS: dict[str, DocType] = {
    "faktura": DocType.INVOICE,
    "kreditnota": DocType.CREDIT_NOTE,
}
STATUS_TEXTS: dict[str, ErpStatus] = {
    "ny": ErpStatus.NEW,
    "betalt": ErpStatus.PAID,
    "manuel behandling": ErpStatus.MANUAL,
    "manuel": ErpStatus.MANUAL,
}


def erp_status(text: str) -> ErpStatus | None:
    """The status an invoice shows in the finance system (``Ny``, ``Betalt``, ``Manuel
    behandling``; any case, spaces around ignored) as the shared word; ``None`` for a text the
    vocabulary does not hold. Pure; safe to repeat."""
    return STATUS_TEXTS.get(text.strip().lower())


INTERPRETER_CATEGORY_TEXTS: dict[str, str] = {
    "translatør": "translatoer",
    "statsprøvet tolk": "statsproevet",
    "øvrig tolk": "oevrig",
    "translatoer": "translatoer",
    "statsproevet": "statsproevet",
    "oevrig": "oevrig",
}
INTERPRETER_CATEGORY_NAMES: dict[str, str] = {
    "translatoer": "translatør",
    "statsproevet": "statsprøvet tolk",
    "oevrig": "øvrig tolk",
}
BOOKING_MODE_TEXTS: dict[str, str] = {
    "fremmøde": "fremmoede",
    "fremmoede": "fremmoede",
    "video": "video",
    "telefon": "telefon",
}
REQUISITION_STATUS_TEXTS: dict[str, bool] = {"åben": True, "lukket": False}
YES_NO_TEXTS: dict[str, bool] = {"ja": True, "nej": False}

T = TypeVar("T")
Cell = object
"""A value as a page object or an export gave it: text, or a date/time/number from xlsx."""


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def read_choice(value: Cell, choices: Mapping[str, T], what: str) -> T:
    text = read_text(value)
    found = choices.get(_key(text))
    if found is None:
        raise ValueError(f"'{text}' er ikke {what}")
    return found


def read_text(value: Cell) -> str:
    """The value as stripped text (``None`` → ``""``); numbers without a float detour."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Ja" if value else "Nej"
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    return " ".join(str(value).split())


# --- numbers --------------------------------------------------------------------------------

_DANISH_NUMBER = re.compile(r"^[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")
_PLAIN_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?$")


def read_decimal(value: Cell) -> Decimal:
    """A Danish number (``1.019,48``, ``-12,50``, ``0,00``, ``25``); from an export also an int
    or a ``Decimal`` (a float cell goes through its shortest text, never binary arithmetic)."""
    if isinstance(value, bool):
        raise ValueError(f"'{value}' er ikke et tal")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"'{value}' er ikke et tal")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = read_text(value).replace("\u2212", "-").replace(" ", "").replace("\u00a0", "")
    if text.endswith("%"):
        text = text[:-1]
    if not _DANISH_NUMBER.match(text):
        raise ValueError(f"'{text}' er ikke et tal (dansk format, fx 1.019,48)")
    try:
        return Decimal(text.replace(".", "").replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - the pattern rules this out
        raise ValueError(f"'{text}' er ikke et tal") from exc


def read_amount(value: Cell) -> Decimal:
    """An amount in kroner, rounded half up to øre."""
    return round_ore(read_decimal(value))


def read_export_decimal(value: Cell) -> Decimal:
    """A number from a screen or an export: Danish notation, or a plain ``12.5`` as exports
    written by spreadsheet programs sometimes hold (only when it cannot be Danish thousands)."""
    text = read_text(value) if isinstance(value, str) else ""
    if text and _PLAIN_NUMBER.match(text) and not _DANISH_NUMBER.match(text):
        return Decimal(text)
    return read_decimal(value)


def read_int(value: Cell) -> int:
    number = read_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"'{read_text(value)}' er ikke et helt tal")
    return int(number)


# --- dates and times ------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})(:\d{2})?$")


def read_date(value: Cell, *, allow_iso: bool = False) -> dt.date:
    """``DD-MM-YYYY`` (the screens); with ``allow_iso`` also ``YYYY-MM-DD``; from an export
    also a ``date`` or ``datetime`` (its date)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = read_text(value)
    m = _DATE.match(text)
    try:
        if m:
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
        m = _ISO_DATE.match(text) if allow_iso else None
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise ValueError(f"'{text}' er ikke en gyldig dato") from exc
    raise ValueError(f"'{text}' er ikke en dato (DD-MM-ÅÅÅÅ)")


def read_time(value: Cell) -> dt.time:
    """``HH:MM``; from an export also a ``time`` or a ``datetime`` (its time)."""
    if isinstance(value, dt.datetime):
        return value.time().replace(second=0, microsecond=0, tzinfo=None)
    if isinstance(value, dt.time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    text = read_text(value)
    m = _TIME.match(text)
    if m is None:
        raise ValueError(f"'{text}' er ikke et klokkeslæt (TT:MM)")
    hour, minute = int(m[1]), int(m[2])
    if hour > 23 or minute > 59:
        raise ValueError(f"'{text}' er ikke et gyldigt klokkeslæt")
    return dt.time(hour, minute)


def read_datetime(value: Cell) -> dt.datetime:
    """``DD-MM-YYYY HH:MM`` (also ``YYYY-MM-DD HH:MM`` or ``...THH:MM``), or a ``datetime``."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None, second=0, microsecond=0)
    text = read_text(value).replace("T", " ")
    parts = text.split(" ")
    if len(parts) != 2:
        raise ValueError(f"'{text}' er ikke et tidspunkt (DD-MM-ÅÅÅÅ TT:MM)")
    return dt.datetime.combine(read_date(parts[0], allow_iso=True), read_time(parts[1]))


def read_yes_no(value: Cell, *, empty: bool | None = None) -> bool:
    """``Ja``/``Nej`` (any case; an export may hold ``True``/``False``). An empty value gives
    ``empty`` when that is set, else it is an error."""
    if isinstance(value, bool):
        return value
    text = read_text(value)
    if not text and empty is not None:
        return empty
    found = YES_NO_TEXTS.get(_key(text))
    if found is None:
        raise ValueError(f"'{text}' er hverken Ja eller Nej")
    return found


# --- certificate forms ----------------------------------------------------------------------

_FORM = re.compile(r"^(?:LÆ|LAE|LE|L)?\s*-?\s*(\d{3})$", re.IGNORECASE)


def normalise_form(value: Cell) -> str:
    """``LÆ 135`` from ``LÆ 135``, ``LÆ135``, ``læ 135``, ``LAE-135`` or ``135``."""
    text = read_text(value)
    m = _FORM.match(text)
    if m is None:
        raise ValueError(f"'{text}' er ikke en blanket (fx LÆ 135)")
    return f"LÆ {m[1]}"
