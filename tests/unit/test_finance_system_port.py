"""The finance-system port's own parts: choosing the adapter by ``erp.kind`` (the registry and
the setting), the contract written on every operation, and the mock adapter's reading of a
Betalinger row into the typed payment record reconciliation uses."""

from __future__ import annotations

import datetime as dt
import inspect
import shutil
from decimal import Decimal
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from paybot.config import load_settings
from paybot.erp import registry
from paybot.erp.mockerp.adapter import connect
from paybot.erp.mockerp.session import MockErpSession, payment_record
from paybot.erp.port import FinanceSystem
from paybot.errors import ConfigError
from support.domain_builders import ROOT
from support.finance_system import FakeFinanceSystem


def test_mockerp_is_the_default_kind_and_its_factory_is_found_by_name() -> None:
    assert load_settings(ROOT, env={}).erp.kind == registry.DEFAULT_KIND == "mockerp"
    assert registry.factory_for("mockerp") is connect


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"'sap'.*known: mockerp"):
        registry.factory_for("sap")


def test_a_package_adds_a_kind_through_an_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another package's adapter plugs in by name without touching paybot."""
    plugin = EntryPoint("other", "paybot.erp.mockerp.adapter:connect", registry.ENTRY_POINT_GROUP)
    shadow = EntryPoint("mockerp", "elsewhere:connect", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [plugin, shadow])
    assert registry.kinds()["other"] == "paybot.erp.mockerp.adapter:connect"
    assert registry.factory_for("other") is connect
    assert registry.kinds()["mockerp"] == registry.BUILT_IN["mockerp"], "built-in wins"


def test_a_wrong_kind_in_the_settings_stops_naming_file_key_and_value(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "robots", tmp_path / "robots")
    path = tmp_path / "config" / "paybot.yaml"
    text = path.read_text("utf-8")
    assert 'kind: "mockerp"' in text
    path.write_text(text.replace('kind: "mockerp"', 'kind: "opus"', 1), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, env={})
    assert caught.value.file == str(path)
    assert (caught.value.key, caught.value.value) == ("erp.kind", "opus")
    assert "mockerp" in caught.value.problem
    with pytest.raises(ConfigError, match=r"erp\.kind"):
        load_settings(ROOT, env={"PAYBOT_ERP_KIND": "opus"})


OPERATIONS = [
    name
    for name, member in inspect.getmembers(FinanceSystem)
    if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
]


def test_the_port_has_the_operations_a_run_needs() -> None:
    assert set(OPERATIONS) >= {
        "username",
        "login",
        "check_inbox_screen",
        "check_invoice_screen",
        "active_accounts",
        "reference_data",
        "inbox_page",
        "read_invoice",
        "approve",
        "hand_over",
        "payment_for",
        "screenshot",
        "restart_browser",
        "close",
    }


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_operation_states_returns_raises_and_whether_a_repeat_is_safe(name: str) -> None:
    doc = inspect.getdoc(getattr(FinanceSystem, name)) or ""
    assert "Returns:" in doc and "Raises:" in doc and "Repeat:" in doc, name
    if name == "approve":
        assert "Repeat: NOT safe" in doc


def test_a_betalinger_row_becomes_a_typed_payment_record() -> None:
    row = {
        "bilagsnummer": "B-2026-000016",
        "loebenr": "17",
        "beloeb": "1.019,48",
        "betalingsdato": "30-11-2026",
        "kontostreng": "6.45.51-000-2.2",
        "godkendt-af": "robot",
    }
    paid = payment_record(17, row)
    assert (paid.erp_id, paid.voucher, paid.approved_by) == (17, "B-2026-000016", "robot")
    assert paid.amount == Decimal("1019.48") and isinstance(paid.amount, Decimal)
    assert paid.payment_date == dt.date(2026, 11, 30)
    assert paid.account_string == "6.45.51-000-2.2"
    unreadable = payment_record(17, row | {"beloeb": "?", "betalingsdato": "", "kontostreng": ""})
    assert (unreadable.amount, unreadable.payment_date, unreadable.account_string) == (
        None,
        None,
        None,
    )
    assert unreadable.voucher == "B-2026-000016", "what reconciliation needs is still there"


def parameters(func: object) -> list[tuple[str, object]]:
    return [(p.name, p.kind) for p in inspect.signature(func).parameters.values()]  # type: ignore[arg-type]


IMPLEMENTATIONS = [MockErpSession, FakeFinanceSystem]
"""Every implementation of the port in this repository (an adapter adds itself here)."""


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=lambda c: c.__qualname__)
def test_every_implementation_has_every_operation_with_the_ports_parameters(impl: type) -> None:
    """What mypy checks where it runs (src/ and tests/support), checked at run time too: the
    same names, the same keyword-only parameters."""
    for name in OPERATIONS:
        ours, theirs = getattr(FinanceSystem, name), getattr(impl, name, None)
        if isinstance(ours, property):
            continue  # a property, or an attribute set in __init__, both do
        assert theirs is not None, f"{impl.__qualname__} lacks {name}"
        assert parameters(theirs) == parameters(ours), f"{impl.__qualname__}.{name}"
