"""world.yaml is consistent: check digits, accounts, and the figures of DOMAIN.md/rules.md."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from mockerp.seed_numbers import cvr_valid, gln_valid
from mockerp.seed_world import WORLD_FILE, WorldError, load_world

WORLD = load_world()


def test_known_parties_carry_valid_check_digits() -> None:
    known = WORLD.small_suppliers + WORLD.practices + WORLD.interpreter_suppliers
    assert all(cvr_valid(s.cvr) for s in known)
    assert gln_valid(WORLD.buyer_gln) and all(gln_valid(g) for g in WORLD.other_glns)
    # the seed needs one unknown supplier with a valid CVR and one with an invalid CVR
    assert sorted(cvr_valid(s.cvr) for s in WORLD.unknown_suppliers) == [False, True]


def test_every_payment_means_has_a_small_supplier() -> None:
    kinds = {s.payee.kind for s in WORLD.small_suppliers if s.account_string}
    assert kinds == {"bank", "fik71", "fik73", "fik75", "nemkonto", "giro"}
    assert any(s.account_string is None for s in WORLD.small_suppliers)


def test_configured_account_strings_are_in_the_chart() -> None:
    chart = {a.account_string for a in WORLD.accounts}
    active = WORLD.active_accounts()
    for supplier in WORLD.small_suppliers:
        assert supplier.account_string is None or supplier.account_string in active
    assert set(WORLD.order_references.values()) <= active
    assert WORLD.interpreter.account_string in active
    assert set(WORLD.certificates.account_strings.values()) <= chart
    closed = set(WORLD.certificates.account_strings.values()) - active
    assert closed, "one certificate form posts to a closed account (MANUAL_ACCOUNT_STRING)"


def test_figures_from_domain_md() -> None:
    fees = {
        t.form: (t.fee, t.with_interpreter, dict(t.variants or {}))
        for t in WORLD.certificates.tariffs
    }
    d = Decimal
    assert fees["LÆ 125"] == (d("397.00"), None, {})
    assert fees["LÆ 135"] == (d("796.00"), d("1035.00"), {})
    assert fees["LÆ 145"] == (d("1544.00"), d("2007.00"), {})
    assert fees["LÆ 225"] == (d("152.00"), None, {"uden sygesikring": d("290.00")})
    assert fees["LÆ 255"] == (d("275.00"), None, {"del 1+2": d("993.00")})
    assert fees["LÆ 265"] == (d("1544.00"), d("2007.00"), {})
    assert fees["LÆ 285"] == (d("1140.00"), d("1290.00"), {})
    assert fees["LÆ 105"][0] == fees["LÆ 165"][0] == d("0.00")
    rates = {c: [r.amount for r in rs] for c, rs in WORLD.interpreter.rates.items()}
    assert rates == {  # NSK 2023/24, MVJ 2024, and the 2026-27 example repeating MVJ 2024
        "translatoer": [d("654.00"), d("654.00")],
        "statsproevet": [d("436.00"), d("436.00")],
        "oevrig": [d("370.72"), d("374.00"), d("374.00")],
    }
    nsk = WORLD.interpreter.rates["oevrig"][0].period
    assert (nsk.valid_from, nsk.valid_to) == (dt.date(2023, 7, 1), dt.date(2024, 6, 30))
    # Skattestyrelsen 2024, 2025, 2026; 2027 repeats 2026 as an example
    assert [r.amount for r in WORLD.interpreter.mileage_rates] == [
        d("3.79"),
        d("3.81"),
        d("3.94"),
        d("3.94"),
    ]
    assert all(t.period.valid_to is not None for t in WORLD.certificates.tariffs)
    assert WORLD.small.max_amount == d("3000.00")
    assert WORLD.small.max_payment_terms_days == 30


def test_a_broken_world_file_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    original = WORLD_FILE.read_text(encoding="utf-8")
    broken = "\n".join(line for line in original.splitlines() if "buyer_gln:" not in line)
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(WorldError, match=r"world\.yaml: municipality\.buyer_gln: missing"):
        load_world(path)
