"""Danish display formats of the finance system, and reading what a clerk typed.

Amounts show as ``1.019,48`` (thousands ``.``, decimals ``,``), dates as ``27-11-2026``, times as
``08:00``. A typed amount may be Danish (``1.019,48``, ``1019,48``) or a plain decimal
(``1019.48``); anything ambiguous (``1.019``) or with more than two decimals is refused, so a
misread amount can never be paid.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")
ØRE = Decimal("0.01")

_DANISH = re.compile(r"^-?(\d{1,3}(\.\d{3})*|\d+),\d{1,2}$")
_THOUSANDS_ONLY = re.compile(r"^-?\d{1,3}(\.\d{3}){2,}$")
_PLAIN = re.compile(r"^-?\d+(\.\d{1,2})?$")
_DATE = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")


class UnreadableValue(ValueError):
    """A typed value that cannot be read; the message names the value."""


def _group(digits: str) -> str:
    out = []
    while len(digits) > 3:
        out.append(digits[-3:])
        digits = digits[:-3]
    out.append(digits)
    return ".".join(reversed(out))


def format_number(value: Decimal, *, decimals: int | None = None) -> str:
    """Danish number: ``Decimal('1019.5')`` → ``'1.019,5'``; with ``decimals`` fixed places."""
    if decimals is not None:
        value = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    elif value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    else:
        value = value.normalize()
    text = f"{abs(value):f}"
    whole, _, frac = text.partition(".")
    sign = "-" if value < 0 else ""
    return f"{sign}{_group(whole)}" + (f",{frac}" if frac else "")


def format_amount(value: Decimal) -> str:
    """An amount in kroner with øre: ``Decimal('1019.48')`` → ``'1.019,48'``."""
    return format_number(value, decimals=2)


def parse_amount(text: str) -> Decimal:
    """A typed amount: ``'1.019,48'``, ``'1019,48'`` or ``'1019.48'`` → ``Decimal('1019.48')``."""
    cleaned = text.strip().replace(" ", "")
    if cleaned.lower().endswith("kr."):
        cleaned = cleaned[:-3]
    elif cleaned.lower().endswith("kr"):
        cleaned = cleaned[:-2]
    if _DANISH.match(cleaned) or _THOUSANDS_ONLY.match(cleaned):
        number = cleaned.replace(".", "").replace(",", ".")
    elif _PLAIN.match(cleaned):
        number = cleaned
    else:
        raise UnreadableValue(
            f"amount {text!r} is not a number with at most two decimals"
            " (write 1.019,48, 1019,48 or 1019.48)"
        )
    try:
        return Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the patterns only pass numbers
        raise UnreadableValue(f"amount {text!r} is not a number") from exc


def decimal_from_db(text: str | None) -> Decimal | None:
    """A stored decimal (``'1019.48'``); None for NULL or empty."""
    if text is None or str(text).strip() == "":
        return None
    try:
        return Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise UnreadableValue(f"stored number {text!r} is not a decimal") from exc


def format_date(value: dt.date) -> str:
    return f"{value.day:02d}-{value.month:02d}-{value.year:04d}"


def parse_date(text: str) -> dt.date:
    """A typed date ``DD-MM-YYYY`` (day and month may have one digit)."""
    m = _DATE.match(text.strip())
    if not m:
        raise UnreadableValue(f"date {text!r} is not DD-MM-YYYY")
    try:
        return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError as exc:
        raise UnreadableValue(f"date {text!r} does not exist") from exc


def local_datetime(value: dt.datetime) -> dt.datetime:
    """A timestamp in Danish local time (naive timestamps are UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(LOCAL_TZ)


def _stored_datetime(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def show_date(text: str | None) -> str:
    """A stored date (``YYYY-MM-DD``) or timestamp, shown as ``DD-MM-YYYY``; '' for none."""
    if not text:
        return ""
    text = str(text).strip()
    if len(text) == 10:
        try:
            return format_date(dt.date.fromisoformat(text))
        except ValueError:
            return text
    stamp = _stored_datetime(text)
    return format_date(local_datetime(stamp).date()) if stamp else text


def show_timestamp(text: str | None) -> str:
    """A stored timestamp as ``DD-MM-YYYY HH:MM`` in Danish local time; '' for none."""
    if not text:
        return ""
    stamp = _stored_datetime(str(text))
    if stamp is None:
        return str(text)
    if len(str(text).strip()) == 10:
        return format_date(stamp.date())
    return local_datetime(stamp).strftime("%d-%m-%Y %H:%M")


def show_local_timestamp(text: str | None) -> str:
    """A stored *local* timestamp (no zone; a booking's cancellation) as ``DD-MM-YYYY HH:MM``."""
    if not text:
        return ""
    stamp = _stored_datetime(str(text))
    if stamp is None:
        return str(text)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(LOCAL_TZ)
    return stamp.strftime("%d-%m-%Y %H:%M")


def show_amount(text: str | None) -> str:
    value = decimal_from_db(text)
    return "" if value is None else format_amount(value)


def show_price(text: str | None) -> str:
    """A unit price: two decimals, more when the price has them (``0,125``)."""
    value = decimal_from_db(text)
    if value is None:
        return ""
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return format_number(value)
    return format_amount(value)


def show_number(text: str | None) -> str:
    value = decimal_from_db(text)
    return "" if value is None else format_number(value)


def show_percent(text: str | None) -> str:
    """``'25.00'`` → ``'25'``, ``'12.5'`` → ``'12,5'``."""
    return show_number(text)


def yes_no(value: object) -> str:
    """``1``/``0`` (or None) → ``Ja``/``Nej`` (or '')."""
    if value is None or value == "":
        return ""
    return "Ja" if bool(int(str(value))) else "Nej"
