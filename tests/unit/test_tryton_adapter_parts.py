"""The Tryton adapter's pure parts: Tryton's JSON values, the status and reason words, the
registry entry; no browser, no Tryton (those are in tests/e2e/test_tryton_robots.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from paybot.domain.models import ErpStatus
from paybot.erp.registry import factory_for
from paybot.erp.tryton.adapter import MANUAL_MARK, _manual_reason, _status
from paybot.erp.tryton.sao import RpcError, decode


def test_trytons_json_classes_become_python_values() -> None:
    answer = {
        "total": {"__class__": "Decimal", "decimal": "153.5"},
        "day": {"__class__": "date", "year": 2026, "month": 11, "day": 2},
        "data": {"__class__": "bytes", "base64": "PGEvPg=="},
        "rows": [{"__class__": "Decimal", "decimal": "0.10"}],
        "name": "Bank",
    }
    assert decode(answer) == {
        "total": Decimal("153.5"),
        "day": dt.date(2026, 11, 2),
        "data": b"<a/>",
        "rows": [Decimal("0.10")],
        "name": "Bank",
    }


@pytest.mark.parametrize(
    ("state", "comment", "status"),
    [
        ("draft", None, ErpStatus.NEW),
        ("validated", "", ErpStatus.NEW),
        ("posted", None, ErpStatus.NEW),  # a crash between Post and Pay: still to be paid
        ("paid", None, ErpStatus.PAID),
        ("draft", f"{MANUAL_MARK} MANUAL_AMOUNT\nBeløbet kræver godkendelse.", ErpStatus.MANUAL),
        ("cancelled", None, ErpStatus.MANUAL),
        ("draft", "Ring til leverandøren. Manuel behandling: senere", ErpStatus.NEW),
    ],
)
def test_status_from_trytons_state_and_the_note(
    state: str, comment: str | None, status: ErpStatus
) -> None:
    assert _status(state, comment) == status


def test_the_reason_code_is_the_first_word_after_the_mark() -> None:
    assert _manual_reason(f"{MANUAL_MARK} MANUAL_SUPPLIER\nUkendt leverandør") == "MANUAL_SUPPLIER"
    assert _manual_reason(MANUAL_MARK) == ""
    assert _manual_reason("en anden note") == ""
    assert _manual_reason(None) == ""


def test_a_user_error_is_told_apart() -> None:
    refused = RpcError("model.account.invoice.post", ["UserError", ["Ikke tilladt", ""]])
    crashed = RpcError("model.account.invoice.read", "Internal Server Error")
    assert refused.user_error and not crashed.user_error
    assert "Ikke tilladt" in str(refused)


def test_erp_kind_tryton_finds_the_adapter() -> None:
    from paybot.erp.tryton.adapter import connect

    assert factory_for("tryton") is connect
