"""``robot audit verify`` and ``robot audit show`` through the real command dispatcher, on trails
written through :class:`paybot.audit.AuditTrail` as a run writes them."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from paybot.audit import AuditTrail, canonical_json
from paybot.cli import main
from support.clock import FakeClock
from support.db import generated_cpr

CPR = generated_cpr(random.Random(2026))
ACCOUNT = "0012345678"


def write_trail(path: Path) -> None:
    clock = FakeClock(dt.datetime(2026, 11, 20, 8, 15, tzinfo=dt.UTC))
    with AuditTrail(path, clock=clock, robot="medical_certificates") as trail:
        run = trail.logger(run_id="20261120-081500-3f9a")
        run.event("run_started", trigger="schedule")
        for erp_id, number in ((17, "F-00017"), (18, "F-00018")):
            item = run.bind(worker="w1", erp_id=erp_id, business_key=f"20433213:{number}")
            clock.advance(dt.timedelta(seconds=5))
            item.event("page_opened", page="faktura")
            item.event("field_read", field="cpr", value=CPR)
            item.event("field_read", field="kontonr", value=ACCOUNT)
            item.event(
                "decision",
                kind="pay",
                rule="certificates.pay",
                rule_version="2026 0123456789ab",
                amount=Decimal("796.00"),
                compared={"cpr": CPR, "form": "LÆ 135"},
            )
            item.event("state_changed", **{"from": "PENDING", "to": "PAY_INTENT"})
            item.event("voucher_read", voucher=f"B-2026-0000{erp_id}")
        run.event("run_finished", exit_code=0, paid=2)


def assert_no_personal_data(text: str) -> None:
    assert CPR not in text and CPR.replace("-", "") not in text
    assert ACCOUNT not in text


def test_verify_an_intact_trail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    write_trail(path)
    assert main(["audit", "verify", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "14 records, chain intact" in out


def test_verify_a_broken_trail_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write_trail(path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert '"event":"decision"' in lines[4]
    lines[4] = lines[4].replace("796.00", "797.00")
    path.write_text("".join(lines), encoding="utf-8")
    assert main(["audit", "verify", "--file", str(path)]) == 1
    out = capsys.readouterr().out
    assert "line 5" in out and "wrong hash" in out
    assert "4 records before line 5 are chained intact" in out


def test_verify_a_missing_file_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.jsonl"
    assert main(["audit", "verify", "--file", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_the_default_file_follows_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAYBOT_AUDIT_FILE", raising=False)
    monkeypatch.setenv("PAYBOT_DATA_DIR", str(tmp_path / "data"))
    write_trail(tmp_path / "data" / "audit" / "audit.jsonl")
    assert main(["audit", "verify"]) == 0
    assert str(tmp_path / "data" / "audit" / "audit.jsonl") in capsys.readouterr().out


def test_paybot_audit_file_wins_over_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAYBOT_AUDIT_FILE", str(tmp_path / "elsewhere.jsonl"))
    write_trail(tmp_path / "elsewhere.jsonl")
    assert main(["audit", "verify"]) == 0
    assert "elsewhere.jsonl" in capsys.readouterr().out


@pytest.mark.parametrize("invoice", ["17", "20433213:F-00017", "F-00017"])
def test_show_one_invoice_start_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], invoice: str
) -> None:
    path = tmp_path / "audit.jsonl"
    write_trail(path)
    assert main(["audit", "show", invoice, "--file", str(path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "Løbenr 17" in lines[0] and "20433213:F-00017" in lines[0]
    events = [line.split()[5] for line in lines[1:]]
    assert events == [
        "page_opened",
        "field_read",
        "field_read",
        "decision",
        "state_changed",
        "voucher_read",
    ]
    # seq, then Copenhagen time with its offset (the trail keeps UTC: 08:15:05Z)
    assert lines[1].split()[:5] == [
        "2",
        "2026-11-20",
        "09:15:05+01:00",
        "20261120-081500-3f9a",
        "w1",
    ]
    assert "6 records from 2026-11-20 09:15:05+01:00 to 2026-11-20 09:15:05+01:00" in lines[0]
    assert "amount=796.00" in out and "B-2026-000017" in out and "to=PAY_INTENT" in out
    assert "F-00018" not in out and "B-2026-000018" not in out
    assert f"{CPR[:6]}-****" in out
    assert_no_personal_data(out)


def test_show_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    write_trail(path)
    assert main(["audit", "show", "18", "--file", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["seq"] for r in records] == [8, 9, 10, 11, 12, 13]
    assert all(r["erp_id"] == 18 for r in records)
    assert_no_personal_data(out)


def test_show_masks_even_a_record_written_unmasked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    raw = {"event": "field_read", "erp_id": 99, "field": "cpr", "value": CPR, "seq": 1}
    path.write_text(canonical_json(raw) + "\n", encoding="utf-8")
    assert main(["audit", "show", "99", "--file", str(path)]) == 0
    assert main(["audit", "show", "99", "--file", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert f"{CPR[:6]}-****" in out
    assert_no_personal_data(out)


def test_show_an_unknown_invoice_exits_1_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write_trail(path)
    assert main(["audit", "show", "F-99999", "--file", str(path)]) == 1
    captured = capsys.readouterr()
    assert "F-99999" in captured.err and captured.out == ""


def test_audit_without_an_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit"]) == 2
    out = capsys.readouterr().out
    assert "verify" in out and "show" in out


# --- a trail as the robots write it --------------------------------------------------------

SMALL = "pay-small-invoices"
CERTS = "pay-medical-certificates"
KEY_17 = "21615595:F-2026-9442"
KEY_18 = "12345678:F-2026-9442"  # the same invoice number from another supplier
KEY_CERT = "86483505:LE-2026-7466"
RUN_1 = "20261130-201500-aaaa"
RUN_2 = "20261130-233000-bbbb"  # 00:30 on 1 December in Copenhagen


def _invoice(log: object, key: str, *, paid: bool, clock: FakeClock) -> None:
    """What a worker writes for one invoice: bound ``erp_id`` and ``invoice`` (the business
    key); the state changes carry ``business_key`` as ``Transition.audit_fields`` gives it."""
    from paybot.audit import AuditLogger

    assert isinstance(log, AuditLogger)
    clock.advance(dt.timedelta(seconds=3))
    log.event("page_opened", screen="faktura", path="/faktura")
    log.event("field_read", fields={"cpr": CPR, "kontonr": ACCOUNT, "fakturanr": key})
    log.event("decision", decision="pay", rule="small.pay", rule_version="2026.1+abc")
    log.event("state_changed", business_key=key, **{"from": "PENDING", "to": "PAY_INTENT"})
    if not paid:
        log.event("app_error", error="timeout", attempt=1)
        log.event("item_left", attempts=1, state="PAY_INTENT", error="timeout")
        return
    log.event("button_clicked", button="godkend-betal")
    log.event("voucher_read", voucher="B-2026-000042")
    log.event("state_changed", business_key=key, **{"from": "PAY_INTENT", "to": "PAID"})


def write_runs(path: Path) -> None:
    """Two runs of the small-invoice robot (Løbenr 17 is left in the first, paid in the
    second) and one of the certificate robot whose Løbenr 17 is another invoice."""
    clock = FakeClock(dt.datetime(2026, 11, 30, 20, 15, tzinfo=dt.UTC))
    with AuditTrail(path, clock=clock) as trail:
        run = trail.logger(run_id=RUN_1, robot=SMALL)
        run.event("run_started", trigger="schedule")
        run.bind(worker="w1").event("login", user="robot")
        run.event("collected", from_loebenr=12, rows=7, new=7)
        w1 = run.bind(worker="w1")
        _invoice(w1.bind(erp_id=17, invoice=KEY_17), KEY_17, paid=False, clock=clock)
        _invoice(w1.bind(erp_id=18, invoice=KEY_18), KEY_18, paid=True, clock=clock)
        run.event("run_finished", exit_code=1, paid=1)

        certs = trail.logger(run_id="20261130-210000-cccc", robot=CERTS)
        certs.event("collected", from_loebenr=1, rows=20, new=20)
        _invoice(certs.bind(worker="w1", erp_id=17, invoice=KEY_CERT), KEY_CERT, paid=True,
                 clock=clock)  # fmt: skip

        clock.now = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)
        run = trail.logger(run_id=RUN_2, robot=SMALL)
        run.event("run_started", trigger="schedule")
        run.event("collected", from_loebenr=19, rows=2, new=2)
        w2 = run.bind(worker="w2")
        w2.bind(erp_id=17, invoice=KEY_17).event("reconciled", found="ny")
        _invoice(w2.bind(erp_id=17, invoice=KEY_17), KEY_17, paid=True, clock=clock)
        run.event("run_finished", exit_code=0, paid=1)


def raw_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def shown_seqs(out: str) -> list[int]:
    return [int(line.split()[0]) for line in out.splitlines()[1:]]


def test_show_prints_the_whole_trail_from_collection_to_voucher(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write_runs(path)
    records = raw_records(path)
    mine = [r["seq"] for r in records if r.get("robot") == SMALL and r.get("erp_id") == 17]
    collection = next(r for r in records if r["event"] == "collected")
    assert len(mine) == 14 and sum(1 for r in records if r.get("business_key") == KEY_17) == 3

    assert main(["audit", "show", KEY_17, "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert shown_seqs(out) == [collection["seq"], *mine]
    header = out.splitlines()[0]
    assert f"Invoice {KEY_17} (Løbenr 17, robot {SMALL}): 15 records" in header
    assert "from 2026-11-30 21:15:00+01:00 to 2026-12-01 00:30:03+01:00" in header
    assert f"runs {RUN_1}, {RUN_2}" in header
    lines = out.splitlines()
    assert " collected " in lines[1] and " voucher_read " in lines[-2]
    assert "to=PAID" in lines[-1]
    assert KEY_CERT not in out and KEY_18 not in out
    assert_no_personal_data(out)


def test_the_same_trail_by_loebenr_and_by_invoice_number_once_unambiguous(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write_runs(path)
    assert main(["audit", "show", KEY_17, "--file", str(path)]) == 0
    by_key = capsys.readouterr().out
    assert main(["audit", "show", "17", "--robot", SMALL, "--file", str(path)]) == 0
    by_loebenr = capsys.readouterr().out
    assert shown_seqs(by_loebenr) == shown_seqs(by_key)
    assert main(["audit", "show", "LE-2026-7466", "--file", str(path)]) == 0
    cert = capsys.readouterr().out
    assert f"Invoice {KEY_CERT} (Løbenr 17, robot {CERTS}): 8 records" in cert


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("17", [(SMALL, KEY_17), (CERTS, KEY_CERT)]),  # Løbenr 17 of two robots
        ("F-2026-9442", [(SMALL, KEY_17), (SMALL, KEY_18)]),  # two suppliers' F-2026-9442
    ],
)
def test_an_ambiguous_name_lists_the_candidates_and_exits_1(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    expected: list[tuple[str, str]],
) -> None:
    path = tmp_path / "audit.jsonl"
    write_runs(path)
    assert main(["audit", "show", name, "--file", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.splitlines()
    assert f"names {len(expected)} invoices" in err[0]
    listed = err[1:]
    assert len(listed) == len(expected)
    for line, (robot, key) in zip(listed, expected, strict=True):
        assert f"robot {robot}" in line and key in line and "Løbenr 1" in line


def test_a_loebenr_beats_an_invoice_number_that_only_ends_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path, robot=SMALL) as trail:
        log = trail.logger(run_id=RUN_1, worker="w1")
        log.bind(erp_id=41, invoice="11111111:41").event("page_opened", screen="faktura")
        log.bind(erp_id=7, invoice="22222222:F-7").event("page_opened", screen="faktura")
        log.bind(erp_id=41, invoice="11111111:41").event("decision", decision="pay")
    assert main(["audit", "show", "41", "--file", str(path)]) == 0
    captured = capsys.readouterr()
    assert shown_seqs(captured.out) == [1, 3]
    assert captured.err == ""  # the same invoice, by Løbenr and by number: one candidate

    with AuditTrail(path, robot=SMALL) as trail:
        trail.logger(run_id=RUN_2, worker="w1", erp_id=99, invoice="33333333:7").event(
            "page_opened"
        )
    assert main(["audit", "show", "7", "--file", str(path)]) == 0
    captured = capsys.readouterr()
    assert "Invoice 22222222:F-7 (Løbenr 7" in captured.out
    assert (
        "also names, less exactly: robot pay-small-invoices  Løbenr 99  33333333:7" in captured.err
    )


def test_show_filters_by_run_and_by_copenhagen_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    write_runs(path)
    records = raw_records(path)
    run_2 = [r["seq"] for r in records if r.get("run_id") == RUN_2 and r.get("erp_id") == 17]
    assert main(["audit", "show", KEY_17, "--run", RUN_2, "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert shown_seqs(out) == run_2
    assert f"{len(run_2)} records (run {RUN_2})" in out.splitlines()[0]

    # 23:30 UTC on 30 November is 1 December in Copenhagen
    assert main(["audit", "show", KEY_17, "--since", "2026-12-01", "--file", str(path)]) == 0
    assert shown_seqs(capsys.readouterr().out) == run_2
    assert main(["audit", "show", KEY_17, "--until", "2026-11-30", "--file", str(path)]) == 0
    before = shown_seqs(capsys.readouterr().out)
    assert before and not set(before) & set(run_2)
    assert main(["audit", "show", KEY_17, "--since", "2026-12-02", "--file", str(path)]) == 1
    assert "since 2026-12-02 00:00:00+01:00" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--since", "--until"])
def test_show_refuses_a_bad_date_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    path = tmp_path / "audit.jsonl"
    write_runs(path)
    assert main(["audit", "show", KEY_17, option, "2026-11-31", "--file", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and f"{option}: '2026-11-31' is not a date" in captured.err


def test_a_closed_pipe_ends_show_quietly(tmp_path: Path) -> None:
    """More than a pipe's buffer (64 KiB) of output, and the reader closes after one line: the
    next write fails with EPIPE, which must end the command without a traceback."""
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path, robot=SMALL) as trail:
        log = trail.logger(run_id=RUN_1, worker="w1", erp_id=19, invoice=KEY_17)
        for n in range(1500):
            log.event("field_read", field="linje", value=f"linje {n} " + "x" * 80)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paybot", "audit", "show", "19", "--file", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    assert first.startswith(b"Invoice 21615595:F-2026-9442")
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert err == b""


def test_show_sums_up_a_decisions_checks_and_json_keeps_them(tmp_path: Path) -> None:
    from paybot.audit.show import checks_summary, format_record

    checks = [
        {"rule": "small_invoices.format", "reason": "MANUAL_FORMAT", "passed": True},
        {"rule": "small_invoices.amount", "reason": "MANUAL_AMOUNT", "passed": False},
    ]
    assert (
        checks_summary(checks) == "2 made, 1 passed, failed: MANUAL_AMOUNT (small_invoices.amount)"
    )
    line = format_record(
        {"seq": 3, "event": "decision", "checks": checks, "ts": "2026-11-30T06:15:00+00:00"}
    )
    assert "checks=2 made, 1 passed, failed: MANUAL_AMOUNT" in line
