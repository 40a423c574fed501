"""What the interpreter contract allows to be billed for one job (docs/rules.md, "Expected
lines"): time units, minimums, the double rate by each unit's start, transport per started half
hour at half rate, mileage, and the late-cancellation fee.

Pure arithmetic over the invoice's interpreter data, the booking and the contract.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from paybot.domain.calendar import (
    DoubleRateWindow,
    add_real_minutes,
    elapsed_minutes,
    is_double_rate_moment,
)
from paybot.domain.models import Booking, InterpreterInfo, InvoiceLine
from paybot.domain.money import round_ore, within
from paybot.domain.rules.interpreter_config import InterpreterContractConfig, TimeUnit
from paybot.errors import PaybotError

ITEM_NORMAL = "TOLK"
ITEM_DOUBLE = "TOLK-DOBBELT"
ITEM_TRANSPORT = "TRANSPORT"
ITEM_MILEAGE = "KOERSEL"
ITEM_CANCELLATION = "AFLYSNING"
REMOTE_MODES = frozenset({"video", "telefon"})
ON_SITE = "fremmoede"
_HOUR = Decimal(60)


class ContractGap(PaybotError):
    """The contract has no figure for this job (no rate for the category on the date)."""

    def __init__(self, note: str, compared: dict[str, str]) -> None:
        self.note = note
        self.compared = compared
        super().__init__(note)


@dataclass(frozen=True)
class ExpectedLine:
    item_id: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Mismatch:
    """A kind of line (item id) whose billed quantity or amount differs from the expected."""

    item_id: str
    billed_quantity: Decimal
    billed_amount: Decimal
    expected_quantity: Decimal
    expected_amount: Decimal


def duration_minutes(start: dt.time, end: dt.time, day: dt.date | None = None) -> int:
    """Minutes from ``start`` to ``end``; an end before the start is on the next day. With
    ``day``, the minutes that really pass in Europe/Copenhagen
    (:func:`~paybot.domain.calendar.elapsed_minutes`: 01:30-03:30 is 60 minutes on the last
    Sunday of March and 180 on the last Sunday of October); without, the clock difference."""
    if day is not None:
        return elapsed_minutes(day, start, end)
    minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return minutes if minutes >= 0 else minutes + 24 * 60


def billable_minutes(duration: int, unit: int, minimum: int) -> int:
    """The duration rounded up to whole units, but at least the minimum (also in whole
    units)."""
    units = max(-(-duration // unit), -(-minimum // unit))
    return units * unit


def time_unit(config: InterpreterContractConfig, mode: str, language: str) -> TimeUnit:
    """Remote jobs by the remote unit; sign language by its unit; otherwise the on-site unit."""
    if mode in REMOTE_MODES:
        return config.units.remote
    if config.units.sign_language.covers(language):
        return config.units.sign_language
    return config.units.on_site


def split_units(
    start: dt.datetime, count: int, unit_minutes: int, window: DoubleRateWindow
) -> tuple[int, int]:
    """(normal, double) units when ``count`` units are laid out one after another in real
    time from ``start`` (a wall-clock time in Europe/Copenhagen when it has no time zone); a
    unit is double when the wall-clock moment it starts is in the double-rate window."""
    double = sum(
        1
        for i in range(count)
        if is_double_rate_moment(add_real_minutes(start, i * unit_minutes), window)
    )
    return count - double, double


def _line(item_id: str, quantity: Decimal, unit_price: Decimal) -> ExpectedLine:
    return ExpectedLine(item_id, quantity, unit_price, round_ore(quantity * unit_price))


def expected_lines(
    info: InterpreterInfo, booking: Booking, config: InterpreterContractConfig
) -> tuple[ExpectedLine, ...]:
    """The lines the contract allows for this job, without lines of quantity 0.

    Raises :class:`ContractGap` when the contract has no rate for the category on the date
    (or no mileage rate when mileage is billable)."""
    rate = config.hourly_rate(booking.category, info.date)
    if rate is None:
        raise ContractGap(
            f"Kontrakten har ingen timepris for kategorien {booking.category} den "
            f"{info.date:%d-%m-%Y}.",
            {"category": booking.category, "date": info.date.isoformat()},
        )
    if info.cancelled:
        return (_line(ITEM_CANCELLATION, config.cancellation_fee_hours, rate),)

    unit = time_unit(config, booking.mode, booking.language)
    billable = billable_minutes(
        duration_minutes(info.start, info.end, info.date), unit.unit_minutes, unit.minimum_minutes
    )
    count = billable // unit.unit_minutes
    normal, double = split_units(
        dt.datetime.combine(info.date, info.start),
        count,
        unit.unit_minutes,
        config.double_rate.window(),
    )
    per_unit = Decimal(unit.unit_minutes) / _HOUR
    lines = [
        _line(ITEM_NORMAL, normal * per_unit, rate),
        _line(ITEM_DOUBLE, double * per_unit, round_ore(config.double_rate.factor * rate)),
    ]
    on_site = booking.mode == ON_SITE
    transport = config.transport
    if on_site and booking.distance_km > transport.min_distance_km:
        started = -(-info.transport_minutes // transport.unit_minutes)
        price = round_ore(rate * transport.rate_factor * Decimal(transport.unit_minutes) / _HOUR)
        lines.append(_line(ITEM_TRANSPORT, Decimal(started), price))
    if on_site and booking.distance_km > config.mileage.min_distance_km and info.km > 0:
        km_rate = config.mileage_rate(info.date)
        if km_rate is None:
            raise ContractGap(
                f"Kontrakten har ingen kilometertakst den {info.date:%d-%m-%Y}.",
                {"date": info.date.isoformat()},
            )
        lines.append(_line(ITEM_MILEAGE, min(info.km, 2 * booking.distance_km), km_rate))
    return tuple(line for line in lines if line.quantity != 0)


def _kind(line: InvoiceLine) -> str:
    return (line.item_id or "").strip().upper()


def compare_lines(
    billed: Iterable[InvoiceLine], expected: Iterable[ExpectedLine]
) -> Mismatch | None:
    """The first kind of line (item id) that differs in quantity or amount (± 0.01); a
    billed kind that is not expected, or an expected kind not billed, is a mismatch. Billed
    lines of quantity 0 and amount 0 are ignored."""
    got: dict[str, tuple[Decimal, Decimal]] = {}
    for line in billed:
        if line.quantity == 0 and line.amount == 0:
            continue
        q, a = got.get(_kind(line), (Decimal(0), Decimal(0)))
        got[_kind(line)] = (q + line.quantity, a + line.amount)
    want = {line.item_id: (line.quantity, line.amount) for line in expected}
    zero = (Decimal(0), Decimal(0))
    for kind in [*want, *(k for k in got if k not in want)]:
        bq, ba = got.get(kind, zero)
        eq, ea = want.get(kind, zero)
        if not (within(bq, eq) and within(ba, ea)):
            return Mismatch(kind, bq, ba, eq, ea)
    return None
