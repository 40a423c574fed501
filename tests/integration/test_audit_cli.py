"""``robot audit verify`` and ``robot audit show`` through the real command dispatcher."""

from __future__ import annotations

import datetime as dt
import json
import random
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
    assert "4 records before line 5 are intact" in out


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
    events = [line.split()[4] for line in lines[1:]]
    assert events == [
        "page_opened",
        "field_read",
        "field_read",
        "decision",
        "state_changed",
        "voucher_read",
    ]
    assert lines[1].startswith("2026-11-20 08:15:05  20261120-081500-3f9a  w1")
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
