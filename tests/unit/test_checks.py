"""Check digits and shapes (DOMAIN.md, "Check digits"), with its worked examples."""

from __future__ import annotations

import datetime as dt

import pytest

from paybot.domain.checks import (
    bank_account_valid,
    cpr_birth_date,
    cpr_shape_valid,
    cvr_valid,
    fik_creditor_valid,
    fik_id_valid,
    giro_account_valid,
    gln_valid,
    luhn_check_digit,
    normalise_cpr,
)
from support.domain_builders import make_cpr


def test_cvr_worked_example_is_valid() -> None:
    # 2+14+18+20+20+18+14+4 = 110 = 10 x 11
    assert cvr_valid("12345674")


@pytest.mark.parametrize("cvr", ["12345675", "1234567", "123456740", "1234567a", "", " 2345674"])
def test_cvr_invalid(cvr: str) -> None:
    assert not cvr_valid(cvr)


def test_world_cvrs() -> None:
    assert cvr_valid("20433213")  # Kontorland A/S
    assert not cvr_valid("51928325")  # "Forkert CVR Consult ApS" fails modulus 11


def test_gln_worked_example() -> None:
    assert gln_valid("5798000880016")
    assert not gln_valid("5798000880017")
    assert not gln_valid("579800088001")


def test_fik_worked_example() -> None:
    assert luhn_check_digit("00000001234567") == 4
    assert fik_id_valid("71", "000000012345674")
    assert not fik_id_valid("71", "000000012345675")


def test_fik_lengths_by_card_type() -> None:
    assert not fik_id_valid("71", "0000000012345674")  # 16 digits is +75's length
    assert fik_id_valid("75", "0000000012345674")  # the same body, 16 digits
    assert not fik_id_valid("75", "000000012345674")


def test_fik_73_has_no_payment_id_and_other_types_are_invalid() -> None:
    assert fik_id_valid("73", None)
    assert fik_id_valid("73", "")
    assert not fik_id_valid("73", "000000012345674")
    assert not fik_id_valid("01", "000000012345674")


def test_fik_creditor() -> None:
    assert fik_creditor_valid("85432109")
    assert not fik_creditor_valid("75432109")
    assert not fik_creditor_valid("8543210")


def test_bank_account() -> None:
    assert bank_account_valid("9570", "0012345678")
    assert bank_account_valid("9570", "1")
    assert not bank_account_valid("957", "0012345678")
    assert not bank_account_valid("9570", "00123456789")
    assert not bank_account_valid("9570", "")
    assert giro_account_valid("1234567")
    assert not giro_account_valid("12345678901")


def test_cpr_shape_needs_a_real_date_but_no_modulus_11() -> None:
    cpr = make_cpr(dt.date(1985, 3, 14), 217)
    assert cpr_shape_valid(cpr)
    # the same date with every serial: none is rejected for its modulus 11 digit
    assert all(cpr_shape_valid(f"{cpr[:7]}{s:04d}"[:11]) for s in range(0, 4000, 7))
    assert not cpr_shape_valid("310285-1234")  # 31 February
    assert not cpr_shape_valid("1403851234")  # no hyphen
    assert not cpr_shape_valid("140385-123")


def test_cpr_century_decides_leap_days() -> None:
    # 29 February 2000 exists; 29 February 1900 does not
    assert cpr_birth_date("290200-4000") == dt.date(2000, 2, 29)
    assert cpr_birth_date("290200-0000") is None
    assert cpr_birth_date("010158-5000") == dt.date(1858, 1, 1)
    assert cpr_birth_date("010137-9000") == dt.date(1937, 1, 1)


def test_normalise_cpr() -> None:
    cpr = make_cpr(dt.date(1990, 6, 2), 338)
    assert normalise_cpr(cpr.replace("-", "")) == cpr
    assert normalise_cpr(f" {cpr} ") == cpr
    assert normalise_cpr("12-34") is None
