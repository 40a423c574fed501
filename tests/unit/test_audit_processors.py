"""Each link of the audit trail's processor chain alone, with fakes for the file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Mapping
from typing import Any

import pytest
from structlog.contextvars import bound_contextvars

from paybot.audit.chain import GENESIS, AuditTrailError, canonical_json, record_hash
from paybot.audit.events import EVENTS, Event, durable_by_default
from paybot.audit.forward import ForwardToRobocorp, robocorp_active, summary
from paybot.audit.processors import AddTimestamp, AppendLine, BindIds, ChainHash
from support.clock import FakeClock
from support.db import generated_cpr

CPR = generated_cpr(random.Random(7))


# --- BindIds ---------------------------------------------------------------------------------


def test_bind_ids_adds_the_ids_the_event_lacks() -> None:
    bind = BindIds(run_id="r1", robot="small")
    assert bind(None, "info", {"event": "login"}) == {
        "event": "login",
        "run_id": "r1",
        "robot": "small",
    }


def test_the_events_own_ids_win() -> None:
    bind = BindIds(run_id="r1", robot="small")
    assert bind(None, "info", {"event": "x", "robot": "other"})["robot"] == "other"


def test_ids_bound_in_contextvars_are_taken_but_nothing_else_from_there() -> None:
    bind = BindIds(run_id="r1")
    with bound_contextvars(worker="w2", erp_id="17", unrelated="from another library"):
        out = bind(None, "info", {"event": "x"})
    assert out == {"event": "x", "run_id": "r1", "worker": "w2", "erp_id": 17}


def test_none_ids_are_left_out_and_erp_id_digits_become_an_int() -> None:
    out = BindIds(robot=None)(None, "info", {"event": "x", "erp_id": " 42 ", "worker": None})
    assert out == {"event": "x", "erp_id": 42}


def test_unknown_id_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="invoice_id"):
        BindIds(invoice_id="x")


# --- AddTimestamp ----------------------------------------------------------------------------


def test_timestamp_comes_from_the_clock_in_utc() -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    clock = FakeClock(dt.datetime(2026, 11, 20, 9, 15, 0, 123, tzinfo=cet))
    stamp = AddTimestamp(clock)
    assert stamp(None, "info", {})["ts"] == "2026-11-20T08:15:00.000123+00:00"
    clock.advance(dt.timedelta(seconds=1))
    assert stamp(None, "info", {})["ts"] == "2026-11-20T08:15:01.000123+00:00"


def test_a_clock_without_time_zone_is_refused_naming_the_event() -> None:
    stamp = AddTimestamp(lambda: dt.datetime(2026, 11, 20, 8, 0))
    with pytest.raises(AuditTrailError, match="decision"):
        stamp(None, "info", {"event": "decision"})


# --- ChainHash -------------------------------------------------------------------------------


class FakeTail:
    def __init__(self, seq: int, digest: str) -> None:
        self.seq = seq
        self.digest = digest

    def last(self) -> tuple[int, str]:
        return self.seq, self.digest


def test_chain_hash_continues_the_tail() -> None:
    out = ChainHash(FakeTail(41, "a" * 64))(None, "info", {"event": "login", "ts": "t"})
    assert out["seq"] == 42
    assert out["prev"] == "a" * 64
    body = {"event": "login", "ts": "t", "seq": 42, "prev": "a" * 64}
    expected = hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()
    assert out["hash"] == expected == record_hash(out)


def test_the_first_record_chains_to_genesis() -> None:
    out = ChainHash(FakeTail(0, GENESIS))(None, "info", {"event": "run_started"})
    assert (out["seq"], out["prev"]) == (1, GENESIS)


def test_every_field_is_in_the_hash() -> None:
    base = {"event": "decision", "amount": "1250.00", "ts": "t", "nested": {"a": ["b"]}}
    chained = ChainHash(FakeTail(1, "b" * 64))
    first = chained(None, "info", dict(base))["hash"]
    for key, value in [("amount", "1250.01"), ("ts", "u"), ("nested", {"a": ["c"]})]:
        changed = chained(None, "info", {**base, key: value})["hash"]
        assert changed != first, key


def test_a_hash_given_by_the_caller_is_replaced() -> None:
    out = ChainHash(FakeTail(0, GENESIS))(None, "info", {"event": "x", "hash": "forged"})
    assert out["hash"] == record_hash(out) != "forged"


def test_canonical_json_is_sorted_compact_and_keeps_danish_letters() -> None:
    assert canonical_json({"b": 1, "a": "Lægeerklæring"}) == '{"a":"Lægeerklæring","b":1}'


# --- AppendLine ------------------------------------------------------------------------------


class FakeSink:
    def __init__(self) -> None:
        self.lines: list[tuple[dict[str, Any], bool]] = []

    def append(self, record: Mapping[str, Any], *, durable: bool) -> None:
        self.lines.append((dict(record), durable))


def test_append_hands_the_record_to_the_sink_with_its_durability() -> None:
    sink = FakeSink()
    append = AppendLine(sink)
    plain = {"event": "login", "seq": 1}
    durable = {"event": "voucher_read", "seq": 2, "durable": True}
    assert append(None, "info", dict(plain)) == plain
    append(None, "info", dict(durable))
    assert sink.lines == [(plain, False), (durable, True)]


# --- durability by event ---------------------------------------------------------------------


def test_payment_intent_voucher_and_run_end_are_durable_by_default() -> None:
    assert durable_by_default("voucher_read", {})
    assert durable_by_default("state_changed", {"from": "PENDING", "to": "PAY_INTENT"})
    assert durable_by_default("state_changed", {"from": "PAY_INTENT", "to": "PAID"})
    assert durable_by_default("run_finished", {})
    assert not durable_by_default("state_changed", {"from": "PAY_INTENT", "to": "PENDING"})
    assert not durable_by_default("field_read", {})


def test_the_vocabulary_holds_the_documented_events() -> None:
    assert {"decision", "value_typed", "state_changed", "scheduler_run_killed"} <= EVENTS
    assert Event.DECISION == "decision"


# --- ForwardToRobocorp -----------------------------------------------------------------------


def test_forwarder_does_nothing_outside_robocorp() -> None:
    sent: list[str] = []
    forward = ForwardToRobocorp(is_active=lambda: False, emit=lambda m, level: sent.append(m))
    event = {"event": "login", "user": "robot"}
    assert forward(None, "info", dict(event)) == event
    assert sent == []


def test_robocorp_is_not_active_in_a_plain_test() -> None:
    assert robocorp_active() is False


def test_forwarder_sends_one_masked_line_even_when_given_unmasked_data() -> None:
    sent: list[str] = []
    forward = ForwardToRobocorp(is_active=lambda: True, emit=lambda m, level: sent.append(m))
    event = {
        "event": "field_read",
        "erp_id": 17,
        "field": "cpr",
        "value": CPR,
        "note": f"line one\nline two {CPR}",
        "kontonr": "0012345678",
        "hash": "h" * 64,
    }
    forward(None, "info", dict(event))
    assert len(sent) == 1
    line = sent[0]
    assert "\n" not in line
    assert line.startswith("audit field_read erp_id=17")
    assert CPR not in line and CPR.replace("-", "") not in line
    assert "0012345678" not in line and "********78" in line
    assert f"{CPR[:6]}-****" in line
    assert "h" * 64 not in line


def test_errors_go_to_robocorp_as_errors_and_refusals_as_warnings() -> None:
    sent: list[tuple[str, str]] = []
    forward = ForwardToRobocorp(
        is_active=lambda: True, emit=lambda m, level: sent.append((m, level))
    )
    for event in ("app_error", "business_error", "decision", "item_left"):
        forward(None, "info", {"event": event})
    assert [level for _, level in sent] == ["ERROR", "WARN", "INFO", "ERROR"]


def test_summary_shortens_long_values() -> None:
    assert len(summary({"event": "x", "text": "a" * 1000})) < 200
