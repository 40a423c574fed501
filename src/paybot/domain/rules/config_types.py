"""Validated building blocks of the rules files (``config/rules/*.yaml``).

Pydantic types that refuse a bad CVR, GLN, account string or amount, and periods with
``valid_from``/``valid_to``. Checks across several entries (overlapping periods, the same
supplier twice) raise :class:`ConfigIssue` with the dotted key of the offending entry; the
config loader adds the file name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from paybot.domain.checks import cvr_valid, gln_valid
from paybot.domain.values import normalise_form
from paybot.errors import PaybotError

ACCOUNT_STRING_RE = re.compile(r"^\d\.\d{2}\.\d{2}-\d{3}-\d\.\d$")
"""Account strings look like ``5.46.60-014-4.0`` (function, grouping, kind)."""


class ConfigIssue(PaybotError):
    """A problem that spans entries of a rules file. ``key`` is the dotted path of the entry
    (``tariffs[3].valid_from``); the loader turns it into a ``ConfigError`` naming the file."""

    def __init__(self, key: str, value: object, problem: str) -> None:
        self.key = key
        self.value = value
        self.problem = problem
        super().__init__(f"{key} = {value!r}: {problem}")


class ConfigModel(BaseModel):
    """Frozen, and unknown keys are errors (a misspelt key must not be silently ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _cvr(value: str) -> str:
    if not cvr_valid(value):
        raise ValueError("not a valid CVR number (8 digits, modulus 11)")
    return value


def _gln(value: str) -> str:
    if not gln_valid(value):
        raise ValueError("not a valid GLN/EAN number (13 digits, GS1 check digit)")
    return value


def _account_string(value: str) -> str:
    if not ACCOUNT_STRING_RE.match(value):
        raise ValueError("not an account string like 5.46.60-014-4.0")
    return value


def _form(value: object) -> object:
    if isinstance(value, str):
        try:
            return normalise_form(value)
        except ValueError:
            raise ValueError("not a form like 'LÆ 135'") from None
    return value


def _version(value: object) -> object:
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


def _ydernummer(value: str) -> str:
    if not re.fullmatch(r"\d{6}", value):
        raise ValueError('not a ydernummer (6 digits, in quotes, e.g. "057584")')
    return value


Cvr = Annotated[str, AfterValidator(_cvr)]
Gln = Annotated[str, AfterValidator(_gln)]
AccountString = Annotated[str, AfterValidator(_account_string)]
Ydernummer = Annotated[str, AfterValidator(_ydernummer)]
FormName = Annotated[str, BeforeValidator(_form)]
Amount = Annotated[Decimal, Field(ge=0, decimal_places=2, allow_inf_nan=False)]
"""Kroner and øre: at least 0, at most two decimals."""
Rate = Annotated[Decimal, Field(ge=0, decimal_places=4, allow_inf_nan=False)]
Percent = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)]
Factor = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Version = Annotated[str, BeforeValidator(_version), Field(min_length=1)]
Text = Annotated[str, Field(min_length=1)]


_BANK_ACCOUNT_RE = re.compile(r"^(\d{4})[- ]?(\d{1,10})$")


def _bank_account(value: str) -> str:
    m = _BANK_ACCOUNT_RE.match(value.strip())
    if m is None:
        raise ValueError(
            'not a bank account like "9570-0012345678" (reg.nr. 4 digits, account 1-10)'
        )
    return f"{m[1]}-{m[2].zfill(10)}"


def _fik_creditor(value: str) -> str:
    if not re.fullmatch(r"8\d{7}", value.strip()):
        raise ValueError("not a FIK creditor number (8 digits starting with 8, in quotes)")
    return value.strip()


def _giro_account(value: str) -> str:
    if not re.fullmatch(r"\d{1,10}", value.strip()):
        raise ValueError("not a giro account (1-10 digits, in quotes)")
    return value.strip().zfill(10)


BankAccount = Annotated[str, AfterValidator(_bank_account)]
"""``9570-0012345678``: reg.nr. and account number, the account zero-padded to 10 digits."""
FikCreditor = Annotated[str, AfterValidator(_fik_creditor)]
GiroAccount = Annotated[str, AfterValidator(_giro_account)]
MaxLines = Annotated[int, Field(ge=1, le=100_000)]
"""The most invoice lines a robot reads before it hands the invoice to a person."""
DEFAULT_MAX_LINES = 200


def bank_account_key(reg: str, account: str) -> str:
    """The comparable form of an invoice's bank account (as :data:`BankAccount`)."""
    return f"{reg.strip()}-{account.strip().zfill(10)}"


class KnownPayee(ConfigModel):
    """Where a supplier is paid, as agreed with it (not as its invoice says): a bank account,
    FIK creditor number or giro account on an invoice must be one of these. NemKonto (code 97)
    carries no account and is always accepted."""

    bank_accounts: list[BankAccount] = Field(default_factory=list)
    fik_creditors: list[FikCreditor] = Field(default_factory=list)
    giro_accounts: list[GiroAccount] = Field(default_factory=list)


class Period(ConfigModel):
    """Valid from ``valid_from`` to ``valid_to``, both inclusive; no ``valid_to`` = open.
    ``source`` names where the figure comes from, with its year."""

    valid_from: dt.date
    valid_to: dt.date | None = None
    source: Text | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, other: Period) -> bool:
        starts_before_other_ends = other.valid_to is None or self.valid_from <= other.valid_to
        ends_after_other_starts = self.valid_to is None or other.valid_from <= self.valid_to
        return starts_before_other_ends and ends_after_other_starts


def tables_ending(
    periods: Iterable[tuple[str, Period]], today: dt.date, within_days: int = 30
) -> list[tuple[str, dt.date]]:
    """Tables (periods grouped by name, e.g. ``"takst LÆ 135"``) whose last period ends from
    ``today`` to ``within_days`` days after it, with that end date; sorted by date. A table
    with an open period, or that ended before ``today``, is not listed."""
    open_tables: set[str] = set()
    last: dict[str, dt.date] = {}
    for name, period in periods:
        if period.valid_to is None:
            open_tables.add(name)
        elif name not in last or period.valid_to > last[name]:
            last[name] = period.valid_to
    horizon = today + dt.timedelta(days=within_days)
    ending = [
        (name, end)
        for name, end in last.items()
        if name not in open_tables and today <= end <= horizon
    ]
    return sorted(ending, key=lambda item: (item[1], item[0]))


def check_no_overlaps(
    list_key: str, entries: Sequence[Period], group: Iterable[str], what: str
) -> None:
    """Refuse two periods of the same group (form, category) that share a day."""
    groups = list(group)
    for j, later in enumerate(entries):
        for i in range(j):
            earlier = entries[i]
            if groups[i] == groups[j] and later.overlaps(earlier):
                raise ConfigIssue(
                    f"{list_key}[{j}].valid_from",
                    later.valid_from.isoformat(),
                    f"the period overlaps {list_key}[{i}] ({earlier.valid_from.isoformat()} to "
                    f"{earlier.valid_to.isoformat() if earlier.valid_to else 'open'})"
                    + (f" for {what} {groups[j]}" if groups[j] else ""),
                )


def check_unique(list_key: str, field: str, values: Sequence[object]) -> None:
    """Refuse the same value twice in a list (the same supplier listed twice)."""
    seen: dict[object, int] = {}
    for j, value in enumerate(values):
        if value in seen:
            key = f"{list_key}[{j}]" + (f".{field}" if field else "")
            raise ConfigIssue(key, value, f"already listed as {list_key}[{seen[value]}]")
        seen[value] = j
