"""The seed's own small calculator for docs/rules.md: tariffs, interpreter lines, VAT.

Independent of the robots' implementation (mockerp never imports paybot), so the ground
truth is a second opinion, not a copy. Amounts are ``Decimal``, rounded half up to øre.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Container, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from mockerp.bankdays import is_closing_day
from mockerp.seed_world import CertificateRules, InterpreterContract, Rate, Tariff

CENT = Decimal("0.01")
Mode = Literal["fremmoede", "video", "telefon"]


class NoRate(Exception):
    """The contract has no rate for the category (or mileage) on the job's date."""


def round_ore(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def vat_of(amount: Decimal, percent: Decimal) -> Decimal:
    return round_ore(amount * percent / Decimal(100))


def danish_holidays(years: Iterable[int]) -> frozenset[dt.date]:
    """Danish public holidays (the ``holidays`` package, country DK), as the robots use."""
    return frozenset(holidays.country_holidays("DK", years=list(years)).keys())


def is_bank_day(day: dt.date, public_holidays: Container[dt.date]) -> bool:
    """A weekday that is not in ``public_holidays`` and not a bank closing day
    (:func:`mockerp.bankdays.is_closing_day`)."""
    return day.weekday() < 5 and day not in public_holidays and not is_closing_day(day)


def bank_day_on_or_before(day: dt.date, public_holidays: Container[dt.date]) -> dt.date:
    while not is_bank_day(day, public_holidays):
        day -= dt.timedelta(days=1)
    return day


# --- certificates --------------------------------------------------------------------------


def tariff_for(rules: CertificateRules, form: str, on: dt.date) -> Tariff | None:
    for tariff in rules.tariffs:
        if tariff.form == form and tariff.period.covers(on):
            return tariff
    return None


def certificate_fee(tariff: Tariff, *, interpreter: bool, variant: str | None) -> Decimal:
    """The fee a robot should accept: the variant's fee, else the interpreter fee when the
    interpreter both took part and was approved (the caller passes that), else the base fee."""
    if tariff.fee is None:
        raise ValueError(f"{tariff.form} has no fixed fee")
    if variant is not None:
        return (tariff.variants or {})[variant]
    if interpreter and tariff.with_interpreter is not None:
        return tariff.with_interpreter
    return tariff.fee


# --- interpreter jobs ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """What an interpreter invoice bills, and the booking facts the rules need."""

    date: dt.date
    start: dt.time
    end: dt.time
    category: str
    language: str
    mode: Mode = "fremmoede"
    distance_km: Decimal = Decimal(0)
    transport_minutes: int = 0
    km: Decimal = Decimal(0)
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class CalcLine:
    item_id: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


def _rate(rates: Iterable[Rate], day: dt.date, what: str) -> Decimal:
    for rate in rates:
        if rate.period.covers(day):
            return rate.amount
    raise NoRate(f"no {what} rate on {day.isoformat()}")


def hourly_rate(contract: InterpreterContract, category: str, day: dt.date) -> Decimal:
    return _rate(contract.rates.get(category, ()), day, f"hourly {category}")


def mileage_rate(contract: InterpreterContract, day: dt.date) -> Decimal:
    return _rate(contract.mileage_rates, day, "mileage")


def is_double(
    contract: InterpreterContract, moment: dt.datetime, public_holidays: Container[dt.date]
) -> bool:
    clock = moment.time().replace(tzinfo=None)
    return (
        clock >= contract.evening_from
        or clock < contract.morning_until
        or moment.weekday() >= 5
        or moment.date() in public_holidays
    )


DANISH_TIME = ZoneInfo("Europe/Copenhagen")


def _utc(day: dt.date, clock: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, clock, tzinfo=DANISH_TIME).astimezone(dt.UTC)


def duration_minutes(start: dt.time, end: dt.time, day: dt.date | None = None) -> int:
    """Minutes from ``start`` to ``end`` (an end before the start is the next day); with
    ``day``, the minutes that really pass in Europe/Copenhagen across a change of summer time."""
    if day is None:
        minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
        return minutes + 24 * 60 if minutes < 0 else minutes
    end_day = day if end >= start else day + dt.timedelta(days=1)
    return int((_utc(end_day, end) - _utc(day, start)).total_seconds() // 60)


def unit_starts(day: dt.date, start: dt.time, unit: int, count: int) -> list[dt.datetime]:
    """The wall-clock starts (Danish time) of ``count`` units laid out in real time."""
    begin = _utc(day, start)
    return [(begin + dt.timedelta(minutes=k * unit)).astimezone(DANISH_TIME) for k in range(count)]


def time_units(contract: InterpreterContract, job: Job) -> tuple[int, int]:
    """(unit length in minutes, number of units) for the billed time."""
    minutes = duration_minutes(job.start, job.end, job.date)
    signs = {lang.casefold() for lang in contract.sign_languages}
    if job.mode in ("video", "telefon"):
        unit, minimum = contract.remote_minutes, contract.remote_minutes
    elif job.language.casefold() in signs:
        unit, minimum = contract.sign_language_minutes, contract.sign_language_minimum_minutes
    else:
        unit, minimum = contract.standard_minutes, contract.standard_minutes
    billable = max(minimum, math.ceil(minutes / unit) * unit)
    return unit, billable // unit


def expected_lines(
    contract: InterpreterContract, job: Job, public_holidays: Container[dt.date]
) -> tuple[CalcLine, ...]:
    """The lines the contract allows for the job (docs/rules.md, "Expected lines")."""
    rate = hourly_rate(contract, job.category, job.date)
    if job.cancelled:
        hours = Decimal(contract.cancellation_fee_hours)
        return (CalcLine("AFLYSNING", hours, rate, round_ore(hours * rate)),)
    unit, count = time_units(contract, job)
    double_units = sum(
        1
        for moment in unit_starts(job.date, job.start, unit, count)
        if is_double(contract, moment, public_holidays)
    )
    normal_units = count - double_units
    lines: list[CalcLine] = []
    if normal_units:
        qty = Decimal(normal_units * unit) / Decimal(60)
        lines.append(CalcLine("TOLK", qty, rate, round_ore(qty * rate)))
    if double_units:
        qty = Decimal(double_units * unit) / Decimal(60)
        price = round_ore(rate * contract.double_factor)
        lines.append(CalcLine("TOLK-DOBBELT", qty, price, round_ore(qty * price)))
    on_site = job.mode == "fremmoede"
    if on_site and job.distance_km > contract.transport_min_distance_km and job.transport_minutes:
        qty = Decimal(math.ceil(job.transport_minutes / contract.transport_unit_minutes))
        price = round_ore(
            rate * contract.transport_rate_factor * contract.transport_unit_minutes / Decimal(60)
        )
        lines.append(CalcLine("TRANSPORT", qty, price, round_ore(qty * price)))
    if on_site and job.distance_km > contract.mileage_min_distance_km and job.km:
        qty = min(job.km, 2 * job.distance_km)
        price = mileage_rate(contract, job.date)
        lines.append(CalcLine("KOERSEL", qty, price, round_ore(qty * price)))
    return tuple(lines)


@dataclass(frozen=True, slots=True)
class Totals:
    line_extension: Decimal
    line_vat: tuple[Decimal, ...]
    vat: Decimal
    payable: Decimal


def vat_per_rate(items: Iterable[tuple[Decimal, Decimal]]) -> dict[Decimal, Decimal]:
    """EN 16931 VAT (BR-CO-17): per rate, the rate of the sum of the amounts ``(percent,
    amount)``, rounded once (not the sum of each line's rounded VAT)."""
    taxable: dict[Decimal, Decimal] = {}
    for percent, amount in items:
        taxable[percent] = taxable.get(percent, Decimal(0)) + amount
    return {percent: vat_of(amount, percent) for percent, amount in sorted(taxable.items())}


def totals(amounts: Iterable[Decimal], vat_percent: Decimal) -> Totals:
    """Line sum, each line's VAT, the VAT total (sum of the lines' VAT) and the payable."""
    amounts = tuple(amounts)
    line_vat = tuple(vat_of(a, vat_percent) for a in amounts)
    line_extension = sum(amounts, Decimal(0))
    vat = sum(line_vat, Decimal(0))
    return Totals(line_extension, line_vat, vat, line_extension + vat)
