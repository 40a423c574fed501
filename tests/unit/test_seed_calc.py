"""The seed's own calculator against docs/rules.md and DOMAIN.md, rule by rule."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal

import pytest

from mockerp.seed_calc import (
    CalcLine,
    Job,
    NoRate,
    certificate_fee,
    danish_holidays,
    expected_lines,
    round_ore,
    tariff_for,
    totals,
    vat_of,
)
from mockerp.seed_numbers import (
    break_check_digit,
    cpr_birth_date,
    cvr_valid,
    fik_payment_id,
    generated_cpr,
    gln_valid,
    luhn_check_digit,
    luhn_valid,
)
from mockerp.seed_world import InterpreterContract, load_world

WORLD = load_world()
CONTRACT: InterpreterContract = WORLD.interpreter
HOLIDAYS = danish_holidays(range(2023, 2028))
TUESDAY = dt.date(2026, 10, 13)
D = Decimal


def _lines(**kwargs: object) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    job = Job(
        **{  # type: ignore[arg-type]
            "date": TUESDAY,
            "start": dt.time(9, 0),
            "end": dt.time(10, 0),
            "category": "oevrig",
            "language": "Arabisk",
            **kwargs,
        }
    )
    return {
        line.item_id: (line.quantity, line.unit_price, line.amount)
        for line in expected_lines(CONTRACT, job, HOLIDAYS)
    }


def test_the_worked_example_from_domain_md() -> None:
    lines = expected_lines(
        CONTRACT,
        Job(
            date=dt.date(2023, 10, 10),  # a Tuesday in the 2023/24 period (rate 370.72)
            start=dt.time(8, 0),
            end=dt.time(9, 40),
            category="oevrig",
            language="Arabisk",
            distance_km=D(25),
            transport_minutes=70,
        ),
        HOLIDAYS,
    )
    assert lines == (
        CalcLine("TOLK", D(2), D("370.72"), D("741.44")),
        CalcLine("TRANSPORT", D(3), D("92.68"), D("278.04")),
    )
    assert sum(line.amount for line in lines) == D("1019.48")


def test_rounding_is_half_up_to_ore() -> None:
    assert round_ore(D("0.005")) == D("0.01")
    assert round_ore(D("2.675")) == D("2.68")
    assert vat_of(D("174.34"), D(25)) == D("43.59")
    t = totals([D("748.00"), D("187.00"), D("174.34")], D(25))
    assert (t.line_extension, t.vat, t.payable) == (D("1109.34"), D("277.34"), D("1386.68"))


def test_per_started_hour_at_least_one() -> None:
    assert _lines(end=dt.time(10, 1))["TOLK"][0] == D(2)
    assert _lines(end=dt.time(9, 0))["TOLK"][0] == D(1)
    assert _lines(end=dt.time(9, 20))["TOLK"] == (D(1), D("374.00"), D("374.00"))


def test_remote_jobs_per_started_quarter_hour() -> None:
    assert _lines(mode="video", end=dt.time(9, 40))["TOLK"] == (D("0.75"), D("374.00"), D("280.50"))
    assert _lines(mode="telefon", end=dt.time(9, 5))["TOLK"][0] == D("0.25")


def test_sign_language_minimum_hour_then_half_hours() -> None:
    assert _lines(language="Tegnsprog", end=dt.time(9, 20))["TOLK"][0] == D(1)
    assert _lines(language="tegnsprog", end=dt.time(10, 10))["TOLK"][0] == D("1.5")


def test_double_rate_by_the_start_of_each_unit() -> None:
    across = _lines(start=dt.time(15, 30), end=dt.time(18, 10))
    assert across["TOLK"][0] == D(2) and across["TOLK-DOBBELT"] == (D(1), D("748.00"), D("748.00"))
    morning = _lines(start=dt.time(7, 0), end=dt.time(9, 0))
    assert morning["TOLK"][0] == D(1) and morning["TOLK-DOBBELT"][0] == D(1)
    assert set(_lines(start=dt.time(17, 0), end=dt.time(18, 30))) == {"TOLK-DOBBELT"}
    saturday = dt.date(2026, 10, 17)
    assert set(_lines(date=saturday)) == {"TOLK-DOBBELT"}
    pentecost_monday = dt.date(2026, 5, 25)
    assert set(_lines(date=pentecost_monday)) == {"TOLK-DOBBELT"}
    overnight = _lines(start=dt.time(23, 30), end=dt.time(0, 40))
    assert overnight == {"TOLK-DOBBELT": (D(2), D("748.00"), D("1496.00"))}


def test_transport_only_above_ten_km_per_started_half_hour_at_half_rate() -> None:
    assert "TRANSPORT" not in _lines(distance_km=D(10), transport_minutes=45)
    far = _lines(distance_km=D("10.1"), transport_minutes=61)
    assert far["TRANSPORT"] == (D(3), D("93.50"), D("280.50"))
    assert "TRANSPORT" not in _lines(mode="video", distance_km=D(30), transport_minutes=45)


def test_mileage_at_most_there_and_back() -> None:
    lines = _lines(distance_km=D(20), transport_minutes=30, km=D(55))
    assert lines["KOERSEL"] == (D(40), D("3.94"), D("157.60"))  # 2026: 3.94 kr/km
    assert "KOERSEL" not in _lines(distance_km=D(8), km=D(16))


def test_a_late_cancellation_is_one_hour_and_nothing_else() -> None:
    lines = _lines(cancelled=True, category="translatoer", distance_km=D(40), transport_minutes=60)
    assert lines == {"AFLYSNING": (D(1), D("654.00"), D("654.00"))}


def test_no_rate_for_the_category_and_date() -> None:
    with pytest.raises(NoRate):
        _lines(date=dt.date(2023, 10, 10), category="translatoer")


def test_tariffs_by_period_variant_and_interpreter() -> None:
    rules = WORLD.certificates
    assert tariff_for(rules, "LÆ 285", dt.date(2021, 3, 31)) is None
    lae285 = tariff_for(rules, "LÆ 285", dt.date(2026, 10, 1))
    assert lae285 is not None and lae285.fee == D("1140.00")
    assert certificate_fee(lae285, interpreter=True, variant=None) == D("1290.00")
    lae225 = tariff_for(rules, "LÆ 225", TUESDAY)
    assert lae225 is not None
    assert certificate_fee(lae225, interpreter=False, variant=None) == D("152.00")
    assert certificate_fee(lae225, interpreter=False, variant="uden sygesikring") == D("290.00")
    lae155 = tariff_for(rules, "LÆ 155", TUESDAY)
    assert lae155 is not None and lae155.by_time and lae155.fee is None


def test_check_digits_from_domain_md() -> None:
    assert cvr_valid("12345674") and not cvr_valid("12345675") and not cvr_valid("1234567")
    assert gln_valid("5798000880016") and not gln_valid("5798000880017")
    assert luhn_check_digit("00000001234567") == "4"
    assert luhn_valid("000000012345674")
    rng = random.Random(3)
    for card, length in (("71", 15), ("75", 16)):
        number = fik_payment_id(rng, card)
        assert len(number) == length and luhn_valid(number)
        assert not luhn_valid(break_check_digit(number))


def test_generated_cpr_numbers_have_real_dates() -> None:
    rng = random.Random(8)
    for _ in range(2000):
        cpr = generated_cpr(rng)
        assert re.fullmatch(r"\d{6}-\d{4}", cpr)
        born = cpr_birth_date(cpr)
        assert dt.date(1945, 1, 1) <= born <= dt.date(2005, 12, 31)
        assert f"{born:%d%m%y}" == cpr[:6]
    with pytest.raises(ValueError):
        cpr_birth_date("310299-1234")
