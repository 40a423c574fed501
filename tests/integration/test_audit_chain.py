"""The audit trail on a real file: appending, verifying, tampering, concurrency, masking."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import multiprocessing
import random
import re
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paybot.audit import GENESIS, AuditTrail, AuditTrailError, records_for, verify
from paybot.audit.chain import ChainFile, record_hash
from paybot.domain.models import CertificateInfo
from support.clock import FakeClock
from support.db import generated_cpr

START = dt.datetime(2026, 11, 20, 8, 15, tzinfo=dt.UTC)


def write_sample(path: Path, n: int = 8) -> list[bytes]:
    clock = FakeClock(START)
    with AuditTrail(path, clock=clock, run_id="20261120-081500-3f9a", robot="small") as trail:
        log = trail.logger(worker="w1")
        for i in range(n):
            clock.advance(dt.timedelta(seconds=1))
            log.bind(erp_id=100 + i, business_key=f"20433213:F-{i:05d}").event(
                "decision",
                kind="pay",
                rule="small.pay",
                rule_version="1 abcdef012345",
                amount=Decimal("1250.00") + i,
                note="Lægeerklæring æøå",
            )
    return path.read_bytes().splitlines(keepends=True)


def line_of(lines: list[bytes], offset: int) -> int:
    """1-based number of the line holding byte ``offset``."""
    seen = 0
    for number, line in enumerate(lines, start=1):
        seen += len(line)
        if offset < seen:
            return number
    raise AssertionError(offset)


def flip(data: bytes, offset: int, new: int) -> bytes:
    return data[:offset] + bytes([new]) + data[offset + 1 :]


# --- appending and verifying ---------------------------------------------------------------


def test_records_are_chained_in_order(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    lines = write_sample(path)
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, 9))
    assert records[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(records):
        assert after["prev"] == before["hash"]
    assert all(r["hash"] == record_hash(r) for r in records)
    assert records[0]["ts"] == "2026-11-20T08:15:01.000000+00:00"
    assert records[0]["run_id"] == "20261120-081500-3f9a"
    assert records[3]["erp_id"] == 103 and records[3]["amount"] == "1253.00"
    result = verify(path)
    assert result.ok and result.records == 8 and result.first_bad_line is None
    assert result.last_hash == records[-1]["hash"]


def test_an_empty_trail_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    assert verify(path).ok and verify(path).records == 0


def test_a_missing_trail_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(AuditTrailError, match=re.escape("nope.jsonl")):
        verify(tmp_path / "nope.jsonl")


def test_two_trails_on_one_file_continue_each_others_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    first = AuditTrail(path, robot="a")
    second = AuditTrail(path, robot="b")
    for i in range(3):
        first.event("page_opened", page=f"p{i}")
        second.event("page_opened", page=f"q{i}")
    first.close()
    second.close()
    assert verify(path).ok and verify(path).records == 6


def test_durable_records_say_so(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        trail.event("voucher_read", voucher="B-2026-000123")
        trail.event("page_opened", page="faktura")
        trail.event("page_opened", page="kvittering", durable=True)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r.get("durable") for r in records] == [True, None, True]
    assert verify(path).ok


def test_durable_appends_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    import paybot.audit.chain as chain_module

    real_fsync = chain_module.os.fsync
    monkeypatch.setattr(chain_module.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    with AuditTrail(tmp_path / "audit.jsonl") as trail:
        trail.event("page_opened", page="faktura")
        assert synced == []
        trail.event("voucher_read", voucher="B-2026-000123")
        assert len(synced) == 1


# --- tampering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected_reason"),
    [
        ("first byte", "not valid JSON"),
        ("inside a value", "wrong hash"),
        ("inside a key", "not in canonical form"),
        ("inside the prev hash", "wrong prev hash"),
        ("inside the own hash", "wrong hash"),
        ("the line's newline", "not valid JSON"),
        ("inside a value on the last line", "wrong hash"),
        ("the last newline", "incomplete record"),
    ],
)
def test_changing_one_byte_names_its_line(tmp_path: Path, where: str, expected_reason: str) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write_sample(path)
    data = b"".join(lines)
    starts = [sum(len(x) for x in lines[:i]) for i in range(len(lines))]
    middle = 4  # 0-based index of line 5
    offsets = {
        "first byte": 0,
        "inside a value": starts[middle] + lines[middle].index(b"small.pay") + 2,
        "inside a key": starts[middle] + lines[middle].index(b'"rule"') + 2,
        "inside the prev hash": starts[middle] + lines[middle].index(b'"prev":"') + 20,
        "inside the own hash": starts[middle] + lines[middle].index(b'"hash":"') + 20,
        "the line's newline": starts[middle] + len(lines[middle]) - 1,
        "inside a value on the last line": starts[-1] + lines[-1].index(b"small.pay") + 2,
        "the last newline": len(data) - 1,
    }
    offset = offsets[where]
    replacement = ord("x") if data[offset] != ord("x") else ord("y")
    path.write_bytes(flip(data, offset, replacement))
    result = verify(path)
    assert not result.ok
    assert result.first_bad_line == line_of(lines, offset)
    assert result.reason is not None and expected_reason in result.reason
    assert result.records == line_of(lines, offset) - 1


def test_a_danish_letter_changed_inside_a_value_is_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write_sample(path)
    data = b"".join(lines)
    offset = data.index("æøå".encode()) + 1  # the second byte of "æ"
    path.write_bytes(flip(data, offset, data[offset] ^ 0x01))
    result = verify(path)
    assert not result.ok and result.first_bad_line == 1


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.floats(min_value=0, max_value=1, exclude_max=True), new=st.integers(0, 255))
def test_any_single_byte_change_is_found_at_its_line(
    tmp_path: Path, position: float, new: int
) -> None:
    path = tmp_path / "any.jsonl"
    if not path.exists():
        write_sample(path, n=5)
    original = path.read_bytes()
    lines = original.splitlines(keepends=True)
    offset = int(position * len(original))
    if original[offset] == new:
        new = (new + 1) % 256
    changed_path = tmp_path / "changed.jsonl"
    changed_path.write_bytes(flip(original, offset, new))
    result = verify(changed_path)
    assert not result.ok
    assert result.first_bad_line == line_of(lines, offset)


def test_a_deleted_line_is_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write_sample(path)
    path.write_bytes(b"".join(lines[:3] + lines[4:]))
    result = verify(path)
    assert not result.ok and result.first_bad_line == 4
    assert result.reason == "sequence gap: expected seq 4, found 5"


def test_a_deleted_first_line_is_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write_sample(path)
    path.write_bytes(b"".join(lines[1:]))
    assert verify(path).first_bad_line == 1


def test_swapped_lines_are_found(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write_sample(path)
    path.write_bytes(b"".join([*lines[:2], lines[3], lines[2], *lines[4:]]))
    assert verify(path).first_bad_line == 3


def test_a_record_rewritten_with_a_fresh_hash_breaks_the_next_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write_sample(path)
    record = json.loads(lines[2])
    record["amount"] = "1.00"
    record["hash"] = record_hash(record)
    forged = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    path.write_bytes(b"".join([*lines[:2], forged.encode() + b"\n", *lines[3:]]))
    result = verify(path)
    assert result.first_bad_line == 4 and result.reason is not None
    assert "wrong prev hash" in result.reason


# --- the file's tail -----------------------------------------------------------------------


def test_appending_to_a_torn_tail_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = write_sample(path, n=3)
    path.write_bytes(b"".join(lines)[:-10])
    with AuditTrail(path) as trail, pytest.raises(AuditTrailError, match=re.escape(str(path))):
        trail.event("login", user="robot")
    assert verify(path).first_bad_line == 3


def test_a_long_last_record_is_read_back_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        trail.event("app_error", error="x" * 200_000)
    with AuditTrail(path) as trail:
        trail.event("app_error", error="y")
    assert verify(path).ok and verify(path).records == 2


def test_a_rotated_file_starts_a_new_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        trail.event("login", user="robot")
        path.rename(tmp_path / "audit-2026.jsonl")
        trail.event("logout", user="robot")
    assert json.loads(path.read_text(encoding="utf-8"))["seq"] == 1
    assert verify(path).ok and verify(tmp_path / "audit-2026.jsonl").ok


def test_chain_file_refuses_work_without_its_lock(tmp_path: Path) -> None:
    chain = ChainFile(tmp_path / "audit.jsonl")
    with pytest.raises(AuditTrailError, match="lock"):
        chain.last()


# --- concurrency ---------------------------------------------------------------------------


def append_many(path: str, writer: str, count: int, start: Any) -> None:
    """Child process: append ``count`` events once both processes are ready."""
    start.wait(timeout=60)
    with AuditTrail(Path(path), robot=writer) as trail:
        log = trail.logger(worker=writer)
        for i in range(count):
            log.event("page_opened", page=f"{writer}-{i}", durable=(i % 50 == 0))


def test_two_processes_appending_keep_one_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(2)
    count = 300
    procs = [
        ctx.Process(target=append_many, args=(str(path), name, count, start))
        for name in ("p1", "p2")
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    result = verify(path)
    assert result.ok, result
    assert result.records == 2 * count
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for name in ("p1", "p2"):
        pages = [r["page"] for r in records if r["worker"] == name]
        assert pages == [f"{name}-{i}" for i in range(count)]
    writers = [r["worker"] for r in records]
    switches = sum(1 for a, b in itertools.pairwise(writers) if a != b)
    assert switches >= 1


def test_threads_of_one_process_keep_one_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    barrier = threading.Barrier(4)
    with AuditTrail(path, robot="small") as trail:

        def work(worker: str) -> None:
            log = trail.logger(worker=worker)
            barrier.wait()
            for i in range(100):
                log.event("field_read", field="fakturanr", value=f"{worker}-{i}")

        threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    result = verify(path)
    assert result.ok and result.records == 400


# --- personal data -------------------------------------------------------------------------


def test_no_cpr_number_or_bank_account_reaches_the_file(tmp_path: Path) -> None:
    rng = random.Random(1107)
    cprs = [generated_cpr(rng) for _ in range(6)]
    account = "0012345678"
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path, robot="medical_certificates") as trail:
        log = trail.logger(run_id="r1", worker="w1", erp_id=17)
        log.event("field_read", field="cpr", value=cprs[0])
        log.event("field_read", field="kontonr", value=account)
        log.event("value_typed", field="adgangskode", value="Hemmelig-42")
        log.event(
            "decision",
            kind="manual",
            reason="MANUAL_NO_REQUISITION",
            compared={"cpr": cprs[1], "form": "LÆ 135"},
            note=f"Ingen rekvisition for {cprs[2].replace('-', '')}",
        )
        log.event(
            "business_error",
            error=ValueError(f"requisition {cprs[3]} cancelled"),
            certificate=CertificateInfo(
                form="LÆ 135", cpr=cprs[4], certificate_date=dt.date(2026, 11, 2)
            ),
        )
        log.event("page_opened", url=f"/rekvisitioner?cpr={cprs[5]}", citizen_name="Jens Hansen")
        log.event("app_error", error="timeout", payment={"bank_account": account, "regnr": "9570"})
    text = path.read_text(encoding="utf-8")
    for cpr in cprs:
        assert cpr not in text and cpr.replace("-", "") not in text
        assert f"{cpr[:6]}-****" in text
    assert account not in text and "12345678" not in text
    assert "Hemmelig-42" not in text and "Jens Hansen" not in text
    assert verify(path).ok
    assert len(records_for(path, "17")) == 7


def test_the_robocorp_log_gets_only_masked_text(tmp_path: Path) -> None:
    from robocorp import log as robolog

    cpr = generated_cpr(random.Random(3))
    messages: list[str] = []
    with (
        robolog.add_in_memory_log_output(messages.append),
        AuditTrail(tmp_path / "audit.jsonl", robocorp_active=lambda: True) as trail,
    ):
        trail.event("field_read", erp_id=5, field="cpr", value=cpr)
        trail.event("field_read", erp_id=5, field="kontonr", value="0012345678")
        trail.event("business_error", erp_id=5, error=f"ingen rekvisition for {cpr}")
    logged = "".join(messages)
    assert "audit field_read erp_id=5" in logged
    assert "audit business_error" in logged
    assert cpr not in logged and cpr.replace("-", "") not in logged
    assert "0012345678" not in logged
    assert f"{cpr[:6]}-****" in logged


def test_nothing_goes_to_robocorp_outside_a_robocorp_run(tmp_path: Path) -> None:
    from robocorp import log as robolog

    messages: list[str] = []
    with (
        robolog.add_in_memory_log_output(messages.append),
        AuditTrail(tmp_path / "audit.jsonl") as trail,
    ):
        trail.event("login", user="robot")
    assert not any("audit login" in m for m in messages)
