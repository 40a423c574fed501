"""The demo municipality's world (``fixtures/world.yaml``) as typed, read-only values.

Suppliers, practices, the chart of accounts and the agreements the robots apply (limits,
tariffs, the interpreter contract). Every loading error names the file and the key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, cast

import yaml

WORLD_FILE = Path(__file__).with_name("fixtures") / "world.yaml"

PayKind = Literal["bank", "fik71", "fik73", "fik75", "nemkonto", "giro"]
PAY_KINDS: tuple[PayKind, ...] = ("bank", "fik71", "fik73", "fik75", "nemkonto", "giro")


class WorldError(Exception):
    """world.yaml is incomplete or wrong; names the file and key."""

    def __init__(self, path: Path, key: str, problem: str) -> None:
        super().__init__(f"{path}: {key}: {problem}")


@dataclass(frozen=True, slots=True)
class Payee:
    kind: PayKind
    bank_reg: str | None = None
    bank_account: str | None = None
    fik_creditor: str | None = None
    giro_account: str | None = None


@dataclass(frozen=True, slots=True)
class Supplier:
    cvr: str
    name: str
    payee: Payee
    account_string: str | None = None
    ydernummer: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    account_string: str
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class Period:
    valid_from: dt.date
    valid_to: dt.date | None

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class Tariff:
    form: str
    period: Period
    fee: Decimal | None
    with_interpreter: Decimal | None = None
    variants: Mapping[str, Decimal] | None = None
    by_time: bool = False


@dataclass(frozen=True, slots=True)
class Rate:
    period: Period
    amount: Decimal


@dataclass(frozen=True, slots=True)
class SmallRules:
    max_amount: Decimal
    vat_percent: Decimal
    max_payment_terms_days: int
    max_lines: int = 200


@dataclass(frozen=True, slots=True)
class CertificateRules:
    max_amount: Decimal
    account_strings: Mapping[str, str]
    tariffs: tuple[Tariff, ...]

    def account_string(self, form: str) -> str:
        return self.account_strings.get(form, self.account_strings["default"])


@dataclass(frozen=True, slots=True)
class InterpreterContract:
    account_string: str
    max_amount: Decimal
    vat_percent: Decimal
    rates: Mapping[str, tuple[Rate, ...]]
    double_factor: Decimal
    evening_from: dt.time
    morning_until: dt.time
    standard_minutes: int
    remote_minutes: int
    sign_language_minimum_minutes: int
    sign_language_minutes: int
    sign_languages: tuple[str, ...]
    transport_min_distance_km: Decimal
    transport_rate_factor: Decimal
    transport_unit_minutes: int
    mileage_min_distance_km: Decimal
    mileage_rates: tuple[Rate, ...]
    late_cancellation_hours: int
    cancellation_fee_hours: int
    late_arrival_minutes: int


@dataclass(frozen=True, slots=True)
class World:
    municipality_name: str
    buyer_gln: str
    other_glns: tuple[str, ...]
    accounts: tuple[Account, ...]
    small_suppliers: tuple[Supplier, ...]
    order_references: Mapping[str, str]
    unknown_suppliers: tuple[Supplier, ...]
    practices: tuple[Supplier, ...]
    unknown_practices: tuple[Supplier, ...]
    interpreter_suppliers: tuple[Supplier, ...]
    unknown_interpreter_suppliers: tuple[Supplier, ...]
    small: SmallRules
    certificates: CertificateRules
    interpreter: InterpreterContract

    def active_accounts(self) -> frozenset[str]:
        return frozenset(a.account_string for a in self.accounts if a.active)


class _Loader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> WorldError:
        return WorldError(self.path, key, problem)

    def get(self, data: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in data:
            raise self.fail(f"{where}.{key}" if where else key, "missing")
        return data[key]

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {value!r}")
        return cast(Mapping[str, Any], value)

    def items(self, value: Any, where: str) -> list[Mapping[str, Any]]:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {value!r}")
        return [self.mapping(v, f"{where}[{i}]") for i, v in enumerate(value)]

    def text(self, data: Mapping[str, Any], key: str, where: str) -> str:
        value = self.get(data, key, where)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where}.{key}", f"expected a text, got {value!r}")
        return value

    def money(self, value: Any, where: str) -> Decimal:
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise self.fail(where, f"not a decimal number: {value!r}") from exc

    def date(self, value: Any, where: str) -> dt.date | None:
        if value is None:
            return None
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise self.fail(where, f"not a date YYYY-MM-DD: {value!r}") from exc

    def period(self, data: Mapping[str, Any], where: str) -> Period:
        start = self.date(self.get(data, "valid_from", where), f"{where}.valid_from")
        if start is None:
            raise self.fail(f"{where}.valid_from", "missing")
        return Period(start, self.date(data.get("valid_to"), f"{where}.valid_to"))

    def supplier(self, data: Mapping[str, Any], where: str) -> Supplier:
        kind = self.text(data, "payment", where)
        if kind not in PAY_KINDS:
            raise self.fail(f"{where}.payment", f"{kind!r} is not one of {list(PAY_KINDS)}")
        payee = Payee(
            kind=kind,
            bank_reg=data.get("bank_reg"),
            bank_account=data.get("bank_account"),
            fik_creditor=data.get("fik_creditor"),
            giro_account=data.get("giro_account"),
        )
        return Supplier(
            cvr=self.text(data, "cvr", where),
            name=self.text(data, "name", where),
            payee=payee,
            account_string=data.get("account_string"),
            ydernummer=data.get("ydernummer"),
        )

    def suppliers(self, data: Mapping[str, Any], key: str) -> tuple[Supplier, ...]:
        return tuple(
            self.supplier(entry, f"{key}[{i}]")
            for i, entry in enumerate(self.items(self.get(data, key, ""), key))
        )

    def rates(self, value: Any, where: str, amount_key: str) -> tuple[Rate, ...]:
        return tuple(
            Rate(self.period(e, f"{where}[{i}]"), self.money(e.get(amount_key), f"{where}[{i}]"))
            for i, e in enumerate(self.items(value, where))
        )

    def time(self, value: Any, where: str) -> dt.time:
        try:
            return dt.time.fromisoformat(str(value))
        except ValueError as exc:
            raise self.fail(where, f"not a time HH:MM: {value!r}") from exc


def _tariffs(ld: _Loader, data: Mapping[str, Any]) -> tuple[Tariff, ...]:
    result = []
    for i, entry in enumerate(ld.items(ld.get(data, "tariffs", "medical_certificates"), "tariffs")):
        where = f"medical_certificates.tariffs[{i}]"
        fee = entry.get("fee")
        extra = entry.get("with_interpreter")
        variants = ld.mapping(entry.get("variants") or {}, f"{where}.variants")
        result.append(
            Tariff(
                form=ld.text(entry, "form", where),
                period=ld.period(entry, where),
                fee=None if fee is None else ld.money(fee, f"{where}.fee"),
                with_interpreter=None
                if extra is None
                else ld.money(extra, f"{where}.with_interpreter"),
                variants={k: ld.money(v, f"{where}.variants.{k}") for k, v in variants.items()},
                by_time=bool(entry.get("by_time", False)),
            )
        )
    return tuple(result)


def _contract(ld: _Loader, data: Mapping[str, Any]) -> InterpreterContract:
    w = "interpreter_contract"
    double = ld.mapping(ld.get(data, "double_rate", w), f"{w}.double_rate")
    units = ld.mapping(ld.get(data, "units", w), f"{w}.units")
    on_site = ld.mapping(ld.get(units, "on_site", f"{w}.units"), f"{w}.units.on_site")
    remote = ld.mapping(ld.get(units, "remote", f"{w}.units"), f"{w}.units.remote")
    sign = ld.mapping(ld.get(units, "sign_language", f"{w}.units"), f"{w}.units.sign_language")
    transport = ld.mapping(ld.get(data, "transport", w), f"{w}.transport")
    mileage = ld.mapping(ld.get(data, "mileage", w), f"{w}.mileage")
    rates: dict[str, list[Rate]] = {}
    for i, entry in enumerate(ld.items(ld.get(data, "rates", w), f"{w}.rates")):
        where = f"{w}.rates[{i}]"
        rates.setdefault(ld.text(entry, "category", where), []).append(
            Rate(ld.period(entry, where), ld.money(ld.get(entry, "hourly_rate", where), where))
        )
    return InterpreterContract(
        account_string=ld.text(data, "account_string", w),
        max_amount=ld.money(ld.get(data, "max_amount", w), f"{w}.max_amount"),
        vat_percent=ld.money(ld.get(data, "vat_percent", w), f"{w}.vat_percent"),
        rates={category: tuple(periods) for category, periods in rates.items()},
        double_factor=ld.money(ld.get(double, "factor", w), f"{w}.double_rate.factor"),
        evening_from=ld.time(ld.get(double, "evening_from", w), f"{w}.double_rate.evening_from"),
        morning_until=ld.time(ld.get(double, "morning_until", w), f"{w}.double_rate.morning_until"),
        standard_minutes=int(ld.get(on_site, "unit_minutes", f"{w}.units.on_site")),
        remote_minutes=int(ld.get(remote, "unit_minutes", f"{w}.units.remote")),
        sign_language_minimum_minutes=int(
            ld.get(sign, "minimum_minutes", f"{w}.units.sign_language")
        ),
        sign_language_minutes=int(ld.get(sign, "unit_minutes", f"{w}.units.sign_language")),
        sign_languages=tuple(str(x) for x in ld.get(sign, "languages", f"{w}.units.sign_language")),
        transport_min_distance_km=ld.money(
            ld.get(transport, "min_distance_km", f"{w}.transport"), f"{w}.transport"
        ),
        transport_rate_factor=ld.money(
            ld.get(transport, "rate_factor", f"{w}.transport"), f"{w}.transport"
        ),
        transport_unit_minutes=int(ld.get(transport, "unit_minutes", f"{w}.transport")),
        mileage_min_distance_km=ld.money(
            ld.get(mileage, "min_distance_km", f"{w}.mileage"), f"{w}.mileage"
        ),
        mileage_rates=ld.rates(ld.get(mileage, "rates", w), f"{w}.mileage.rates", "rate_per_km"),
        late_cancellation_hours=int(ld.get(data, "late_cancellation_hours", w)),
        cancellation_fee_hours=int(ld.get(data, "cancellation_fee_hours", w)),
        late_arrival_minutes=int(ld.get(data, "late_arrival_minutes", w)),
    )


def load_world(path: Path | None = None) -> World:
    """Read world.yaml (the packaged one by default)."""
    source = path or WORLD_FILE
    ld = _Loader(source)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WorldError(source, "(file)", f"cannot read: {exc}") from exc
    data = ld.mapping(raw, "(top level)")
    town = ld.mapping(ld.get(data, "municipality", ""), "municipality")
    small = ld.mapping(ld.get(data, "small_invoices", ""), "small_invoices")
    certs = ld.mapping(ld.get(data, "medical_certificates", ""), "medical_certificates")
    accounts = tuple(
        Account(
            account_string=ld.text(a, "account_string", f"chart_of_accounts[{i}]"),
            name=ld.text(a, "name", f"chart_of_accounts[{i}]"),
            active=bool(a.get("active", True)),
        )
        for i, a in enumerate(ld.items(ld.get(data, "chart_of_accounts", ""), "chart_of_accounts"))
    )
    account_strings = {
        str(k): str(v)
        for k, v in ld.mapping(
            ld.get(certs, "account_strings", "medical_certificates"),
            "medical_certificates.account_strings",
        ).items()
    }
    if "default" not in account_strings:
        raise ld.fail("medical_certificates.account_strings.default", "missing")
    return World(
        municipality_name=ld.text(town, "name", "municipality"),
        buyer_gln=ld.text(town, "buyer_gln", "municipality"),
        other_glns=tuple(str(g) for g in ld.get(town, "other_glns", "municipality")),
        accounts=accounts,
        small_suppliers=ld.suppliers(data, "small_suppliers"),
        order_references={
            str(k): str(v)
            for k, v in ld.mapping(ld.get(data, "order_references", ""), "order_references").items()
        },
        unknown_suppliers=ld.suppliers(data, "unknown_suppliers"),
        practices=ld.suppliers(data, "practices"),
        unknown_practices=ld.suppliers(data, "unknown_practices"),
        interpreter_suppliers=ld.suppliers(data, "interpreter_suppliers"),
        unknown_interpreter_suppliers=ld.suppliers(data, "unknown_interpreter_suppliers"),
        small=SmallRules(
            max_amount=ld.money(ld.get(small, "max_amount", "small_invoices"), "max_amount"),
            vat_percent=ld.money(ld.get(small, "vat_percent", "small_invoices"), "vat_percent"),
            max_payment_terms_days=int(ld.get(small, "max_payment_terms_days", "small_invoices")),
            max_lines=int(ld.get(small, "max_lines", "small_invoices")),
        ),
        certificates=CertificateRules(
            max_amount=ld.money(ld.get(certs, "max_amount", "medical_certificates"), "max_amount"),
            account_strings=account_strings,
            tariffs=_tariffs(ld, certs),
        ),
        interpreter=_contract(
            ld, ld.mapping(ld.get(data, "interpreter_contract", ""), "interpreter_contract")
        ),
    )
