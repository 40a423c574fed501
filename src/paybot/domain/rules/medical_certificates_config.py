"""The schema of ``config/rules/medical_certificates.yaml``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Self

from pydantic import Field, model_validator

from paybot.domain.rules.config_types import (
    DEFAULT_MAX_LINES,
    AccountString,
    Amount,
    ConfigIssue,
    ConfigModel,
    Cvr,
    FormName,
    KnownPayee,
    MaxLines,
    Period,
    Text,
    Version,
    Ydernummer,
    check_no_overlaps,
    check_unique,
)
from paybot.domain.values import normalise_form

DEFAULT_ACCOUNT = "default"


class Practice(KnownPayee):
    """A doctor's practice the robot knows: CVR + ydernummer."""

    cvr: Cvr
    ydernummer: Ydernummer
    name: Text


class Tariff(Period):
    """The fee for one answer form in one period.

    ``fee`` is the base fee, ``with_interpreter`` the fee when an approved interpreter took
    part, ``variants`` named alternative fees (``uden sygesikring``, ``del 1+2``). ``by_time``
    forms (LÆ 155) are billed by time and never paid by the robot; a fee of 0 means the form is
    never paid (LÆ 105, LÆ 165).
    """

    form: FormName
    fee: Amount | None = None
    with_interpreter: Amount | None = None
    variants: dict[str, Amount] = Field(default_factory=dict)
    by_time: bool = False

    @model_validator(mode="after")
    def _fee_or_by_time(self) -> Self:
        if self.by_time and (self.fee is not None or self.with_interpreter or self.variants):
            raise ValueError("a by_time form has no fee, with_interpreter or variants")
        if not self.by_time and self.fee is None:
            raise ValueError("fee is missing (or set by_time: true for forms billed by time)")
        if not self.form.endswith("5"):
            raise ValueError(
                f"{self.form} is not an answer form (ending in 5); request forms are never paid"
            )
        return self

    def variant_fee(self, variant: str) -> Decimal | None:
        wanted = " ".join(variant.split()).casefold()
        for name, fee in self.variants.items():
            if " ".join(name.split()).casefold() == wanted:
                return fee
        return None


class MedicalCertificatesConfig(ConfigModel):
    version: Version
    source: Text
    max_amount: Amount = Decimal("2500.00")
    max_lines: MaxLines = DEFAULT_MAX_LINES
    practices: list[Practice]
    tariffs: list[Tariff]
    account_strings: dict[str, AccountString]
    """Account string per form (``LÆ 135``), and ``default`` for every other form."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_unique("practices", "ydernummer", [(p.cvr, p.ydernummer) for p in self.practices])
        check_no_overlaps("tariffs", self.tariffs, [t.form for t in self.tariffs], "form")
        for key in self.account_strings:
            if key != DEFAULT_ACCOUNT and not _is_form(key):
                raise ConfigIssue(
                    f"account_strings.{key}", key, "not a form like 'LÆ 135' or 'default'"
                )
        return self

    def tariff_on(self, form: str, day: dt.date) -> Tariff | None:
        for tariff in self.tariffs:
            if tariff.form == form and tariff.covers(day):
                return tariff
        return None

    def account_string(self, form: str) -> str | None:
        for key, account in self.account_strings.items():
            if key != DEFAULT_ACCOUNT and _is_form(key) and _norm_form(key) == form:
                return account
        return self.account_strings.get(DEFAULT_ACCOUNT)


def _norm_form(text: str) -> str:
    return normalise_form(text)


def _is_form(text: str) -> bool:
    try:
        normalise_form(text)
    except ValueError:
        return False
    return True
