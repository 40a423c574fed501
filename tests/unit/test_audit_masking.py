"""MaskPersonalData alone: CPR numbers, citizen names, bank accounts and secrets never pass."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from paybot.audit.masking import MaskPersonalData, mask_account, mask_cpr, mask_data, mask_text
from paybot.domain.models import CertificateInfo, PaymentMeans
from support.db import generated_cpr

RNG = random.Random(20261120)
CPR = generated_cpr(RNG)  # DDMMYY-SSSS, made up
CPR_DIGITS = CPR.replace("-", "")
MASKED = f"{CPR[:6]}-****"


def mask(event: dict[str, Any]) -> dict[str, Any]:
    out = MaskPersonalData()(None, "info", dict(event))
    assert isinstance(out, dict)
    return out


def test_cpr_key_keeps_the_birth_date_only() -> None:
    assert mask({"cpr": CPR})["cpr"] == MASKED
    assert mask({"cpr": CPR_DIGITS})["cpr"] == MASKED
    assert mask_cpr("070761-1234") == "070761-****"  # the form DOMAIN.md shows


def test_cpr_key_variants_and_depth() -> None:
    event = {
        "CPR": CPR,
        "invoice_cpr": CPR,
        "felt-cpr": CPR,
        "compared": {"cpr": CPR, "requisitions": [{"cpr": CPR_DIGITS}]},
    }
    out = mask(event)
    assert out["CPR"] == out["invoice_cpr"] == out["felt-cpr"] == MASKED
    assert out["compared"]["cpr"] == MASKED
    assert out["compared"]["requisitions"][0]["cpr"] == MASKED


def test_a_cpr_key_with_something_else_is_hidden_entirely() -> None:
    assert mask({"cpr": "unknown 12"})["cpr"] == "***"
    assert mask({"cpr": 1234})["cpr"] == "***"
    assert mask({"cpr": ""})["cpr"] == ""
    assert mask({"cpr": None})["cpr"] is None


def test_citizen_name_is_hidden() -> None:
    assert mask({"citizen_name": "Jens Hansen"})["citizen_name"] == "***"


def test_bank_accounts_keep_their_last_two_digits() -> None:
    out = mask({"bank_account": "0012345678", "kontonr": "12345", "regnr": "9570"})
    assert out == {"bank_account": "********78", "kontonr": "***45", "regnr": "**70"}
    assert mask_account("9570-0012345678") == "****-********78"


def test_secrets_are_replaced_whatever_their_type() -> None:
    out = mask(
        {
            "password": "hunter2",
            "csrf_token": "abc",
            "token": 42,
            "secret": ["x"],
            "adgangskode": "p",
        }
    )
    assert out == {
        "password": "[secret]",
        "csrf_token": "[secret]",
        "token": "[secret]",
        "secret": ["[secret]"],
        "adgangskode": "[secret]",
    }


def test_field_read_and_value_typed_are_masked_by_their_field() -> None:
    assert mask({"event": "field_read", "field": "cpr", "value": CPR})["value"] == MASKED
    assert (
        mask({"event": "field_read", "field": "felt-kontonr", "value": "0012345678"})["value"]
        == "********78"
    )
    assert mask({"event": "field_read", "field": "bank_account", "value": "1234"})["value"] == (
        "**34"
    )
    assert mask({"event": "value_typed", "field": "adgangskode", "value": "pw"})["value"] == (
        "[secret]"
    )
    assert mask({"event": "value_typed", "field": "password", "value": "pw"})["value"] == "[secret]"


def test_a_field_that_is_not_personal_is_kept() -> None:
    out = mask({"event": "field_read", "field": "fakturanr", "value": "F-00017"})
    assert out["value"] == "F-00017"


def test_field_value_pairs_deep_inside_a_decision() -> None:
    decision = {"compared": {"field": "cpr", "value": CPR}, "note": "mangler"}
    assert mask({"event": "decision", "decision": decision})["decision"]["compared"]["value"] == (
        MASKED
    )


def test_cpr_shaped_text_anywhere_is_masked() -> None:
    out = mask(
        {
            "error": f"no requisition for {CPR} (form LÆ 135)",
            "lines": ["x", f"cpr={CPR_DIGITS};"],
            "url": f"/rekvisitioner?cpr={CPR}",
        }
    )
    assert out["error"] == f"no requisition for {MASKED} (form LÆ 135)"
    assert out["lines"] == ["x", f"cpr={MASKED};"]
    assert out["url"] == f"/rekvisitioner?cpr={MASKED}"


def test_cpr_written_with_a_space_is_masked_too() -> None:
    """As an invoice's note may write it, and the robot reads it (MANUAL_PERSONAL_DATA)."""
    spaced = f"{CPR_DIGITS[:6]} {CPR_DIGITS[6:]}"
    assert mask_text(f"Vedr. borger {spaced}, bad") == f"Vedr. borger {MASKED}, bad"


def test_cpr_glued_to_letters_is_masked_too() -> None:
    assert mask_text(f"cpr{CPR_DIGITS}x") == f"cpr{MASKED}x"
    assert mask_text(f"id_{CPR}") == f"id_{MASKED}"


def test_numbers_that_are_not_cpr_numbers_are_kept() -> None:
    kept = {
        "cvr": "20433213",
        "gln": "5798000880016",
        "voucher": "B-2026-000123",
        "fik": "000000012345674",
        "not_a_date": "3213991234",  # day 32
        "month_34": "1234567890",
        "longer_run": f"9{CPR_DIGITS}",  # eleven digits: not a CPR number
        "business_key": "20433213:F-00017",
        "ts": "2026-11-20T08:15:00.000000+00:00",
    }
    assert mask(kept) == kept


def test_models_decimals_and_dates_become_plain_data_first() -> None:
    cert = CertificateInfo(form="LÆ 135", cpr=CPR, certificate_date=dt.date(2026, 11, 2))
    out = mask(
        {
            "certificate": cert,
            "payment": PaymentMeans(code="42", bank_reg="9570", bank_account="0012345678"),
            "amount": Decimal("1019.48"),
            "day": dt.date(2026, 11, 20),
        }
    )
    assert out["certificate"]["cpr"] == MASKED
    assert out["certificate"]["form"] == "LÆ 135"
    assert out["payment"]["bank_account"] == "********78"
    assert out["payment"]["bank_reg"] == "**70"
    assert out["amount"] == "1019.48"
    assert out["day"] == "2026-11-20"


def test_masking_twice_changes_nothing() -> None:
    event = {"cpr": CPR, "kontonr": "0012345678", "note": f"se {CPR}", "password": "x"}
    once = mask(event)
    assert mask(once) == once


def test_exceptions_are_kept_as_masked_text() -> None:
    out = mask_data({"error": ValueError(f"bad {CPR}")})
    assert out == {"error": f"ValueError: bad {MASKED}"}


@given(
    birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)),
    serial=st.integers(min_value=0, max_value=9999),
    dash=st.booleans(),
    before=st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=20),
    after=st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=20),
)
def test_any_generated_cpr_in_any_text_is_masked(
    birth: dt.date, serial: int, dash: bool, before: str, after: str
) -> None:
    cpr = f"{birth:%d%m%y}{'-' if dash else ''}{serial:04d}"
    masked = mask_text(before + cpr + after)
    assert cpr not in masked
    assert f"{birth:%d%m%y}-****" in masked
    assert not re.search(rf"{birth:%d%m%y}-?{serial:04d}", masked)
