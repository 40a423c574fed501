"""The schema of ``config/rules/interpreter_contract.yaml``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from paybot.domain.calendar import DoubleRateWindow
from paybot.domain.rules.config_types import (
    DEFAULT_MAX_LINES,
    AccountString,
    Amount,
    ConfigModel,
    Cvr,
    Factor,
    KnownPayee,
    MaxLines,
    Percent,
    Period,
    Rate,
    Text,
    Version,
    check_no_overlaps,
    check_unique,
)

InterpreterCategory = Literal["translatoer", "statsproevet", "oevrig"]
Minutes = Annotated[int, Field(ge=1, le=24 * 60)]
Kilometres = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class InterpreterSupplier(KnownPayee):
    cvr: Cvr
    name: Text


class HourlyRate(Period):
    """The rate per hour for one interpreter category in one period."""

    category: InterpreterCategory
    hourly_rate: Amount


class MileageRate(Period):
    """The state's high rate per kilometre in one period."""

    rate_per_km: Rate


class DoubleRate(ConfigModel):
    factor: Factor = Decimal(2)
    evening_from: dt.time = dt.time(17, 0)
    morning_until: dt.time = dt.time(8, 0)
    weekends: bool = True
    public_holidays: bool = True

    def window(self) -> DoubleRateWindow:
        return DoubleRateWindow(
            evening_from=self.evening_from,
            morning_until=self.morning_until,
            weekends=self.weekends,
            public_holidays=self.public_holidays,
        )


class TimeUnit(ConfigModel):
    """Billing per started ``unit_minutes``, at least ``minimum_minutes``."""

    unit_minutes: Minutes
    minimum_minutes: Annotated[int, Field(ge=0, le=24 * 60)]

    @model_validator(mode="after")
    def _whole_units(self) -> Self:
        if self.minimum_minutes % self.unit_minutes:
            raise ValueError(
                f"minimum_minutes {self.minimum_minutes} is not a whole number of "
                f"unit_minutes ({self.unit_minutes})"
            )
        return self


class SignLanguage(TimeUnit):
    languages: Annotated[list[Text], Field(min_length=1)]

    def covers(self, language: str) -> bool:
        wanted = " ".join(language.split()).casefold()
        return any(" ".join(lang.split()).casefold() == wanted for lang in self.languages)


class Units(ConfigModel):
    on_site: TimeUnit
    remote: TimeUnit
    sign_language: SignLanguage


class Transport(ConfigModel):
    min_distance_km: Kilometres = Decimal(10)
    unit_minutes: Minutes = 30
    rate_factor: Factor = Decimal("0.5")


class Mileage(ConfigModel):
    min_distance_km: Kilometres = Decimal(10)
    rates: list[MileageRate]


class InterpreterContractConfig(ConfigModel):
    version: Version
    source: Text
    max_amount: Amount = Decimal("5000.00")
    max_lines: MaxLines = DEFAULT_MAX_LINES
    vat_percent: Percent = Decimal(25)
    account_string: AccountString
    suppliers: list[InterpreterSupplier]
    rates: list[HourlyRate]
    double_rate: DoubleRate = Field(default_factory=DoubleRate)
    units: Units
    transport: Transport = Field(default_factory=Transport)
    mileage: Mileage
    late_arrival_minutes: Annotated[int, Field(ge=0)] = 15
    late_cancellation_hours: Annotated[int, Field(ge=0)] = 24
    cancellation_fee_hours: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_unique("suppliers", "cvr", [s.cvr for s in self.suppliers])
        check_no_overlaps("rates", self.rates, [r.category for r in self.rates], "category")
        check_no_overlaps(
            "mileage.rates", self.mileage.rates, ["" for _ in self.mileage.rates], "mileage"
        )
        return self

    def hourly_rate(self, category: str, day: dt.date) -> Decimal | None:
        for rate in self.rates:
            if rate.category == category and rate.covers(day):
                return rate.hourly_rate
        return None

    def mileage_rate(self, day: dt.date) -> Decimal | None:
        for rate in self.mileage.rates:
            if rate.covers(day):
                return rate.rate_per_km
        return None
