"""``robot audit export``: the trail as CSV and XLSX for an auditor, read back with the csv
module and openpyxl, on trails written through :class:`paybot.audit.AuditTrail`."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_audit_cli import (
    ACCOUNT,
    CPR,
    KEY_17,
    RUN_2,
    SMALL,
    assert_no_personal_data,
    raw_records,
    write_runs,
    write_trail,
)

from paybot.audit import AuditTrail, canonical_json
from paybot.audit.export import COLUMNS, SUMMARY_SHEET, verification_summary
from paybot.cli import main
from support.clock import FakeClock

HOSTILE = ('=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", "\tTAB")


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    write_runs(path)
    with AuditTrail(path, clock=FakeClock(dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC))) as t:
        log = t.logger(run_id=RUN_2, robot=SMALL, worker="w2", erp_id=17, invoice=KEY_17)
        log.event(
            "decision",
            decision="manual",
            reason=HOSTILE[0],
            rule="small.supplier",
            rule_version="2026.1+abc",
            note="Leverandøren på Ærø er ukendt; bemærk CPR " + CPR.replace("-", ""),
        )
        for value in HOSTILE[1:]:
            log.event("value_typed", field="bemaerkning", value=value)
    return path


def read_csv(path: Path, delimiter: str = ";") -> tuple[dict[str, str], list[str], list[list[str]]]:
    """``(summary, header, rows)``; the summary rows are the ones whose first cell is ``# …``."""
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    with path.open(encoding="utf-8-sig", newline="") as file:
        lines = list(csv.reader(file, delimiter=delimiter))
    summary = {row[0][2:]: row[1] for row in lines if row[0].startswith("# ")}
    start = next(i for i, row in enumerate(lines) if not row[0].startswith("#"))
    assert len(summary) == start
    return summary, lines[start], lines[start + 1 :]


@pytest.fixture
def umask_0() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_csv_one_masked_row_per_record_with_its_verification(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], umask_0: None
) -> None:
    out = tmp_path / "revision.csv"
    assert main(["audit", "export", "--file", str(trail), "--out", str(out)]) == 0
    assert mode(out) == 0o600  # owner-only even under umask 0
    text = out.read_text("utf-8-sig")
    assert_no_personal_data(text)
    summary, header, rows = read_csv(out)
    records = raw_records(trail)
    assert header == list(COLUMNS)
    assert [int(r[0]) for r in rows] == [r["seq"] for r in records]
    assert [r[13] for r in rows] == [r["hash"] for r in records]  # hashes as written
    first = dict(zip(header, rows[0], strict=True))
    assert first["time"] == "2026-11-30 21:15:00+01:00"  # 20:15 UTC
    assert first["event"] == "run_started" and json.loads(first["details"]) == {
        "trigger": "schedule"
    }
    paid = next(dict(zip(header, r, strict=True)) for r in rows if '"to":"PAID"' in r[12])
    assert paid["business_key"] and paid["loebenr"].isdigit()
    decision = dict(zip(header, rows[-len(HOSTILE)], strict=True))
    assert decision["event"] == "decision" and decision["decision"] == "manual"
    assert decision["time"] == "2026-12-01 09:00:00+01:00"
    assert (decision["rule"], decision["rule_version"]) == ("small.supplier", "2026.1+abc")
    assert decision["loebenr"] == "17" and decision["business_key"] == KEY_17
    note = json.loads(decision["details"])["note"]
    assert "Ærø" in note and f"{CPR[:6]}-****" in note
    assert summary["Verification"].startswith("intact: ")
    assert f"{len(records)} records, chain intact" in summary["Verification"]
    assert f"seq {len(records)}, hash {records[-1]['hash']}" in summary["Checkpoint"]
    assert summary["Records exported"] == f"{len(records)}, seq 1 to {len(records)}"
    out_text = capsys.readouterr().out
    assert f"{len(records)} records" in out_text and "chain intact" in out_text


def test_xlsx_has_the_rows_and_a_verification_sheet(
    trail: Path, tmp_path: Path, umask_0: None
) -> None:
    out = tmp_path / "revision.xlsx"
    assert main(["audit", "export", "--file", str(trail), "--out", str(out)]) == 0
    assert mode(out) == 0o600
    book = load_workbook(out)
    assert book.sheetnames == ["Revisionsspor", SUMMARY_SHEET]
    rows = list(book["Revisionsspor"].iter_rows(values_only=True))
    records = raw_records(trail)
    assert rows[0] == COLUMNS
    assert [r[0] for r in rows[1:]] == [r["seq"] for r in records]  # numbers, not text
    assert rows[1][1] == "2026-11-30 21:15:00+01:00"
    decision = rows[-len(HOSTILE)]
    assert decision[2] == "decision" and decision[6] == 17 and decision[7] == KEY_17
    assert "Ærø" in decision[12]
    everything = json.dumps([list(r) for r in rows], ensure_ascii=False, default=str)
    assert_no_personal_data(everything)
    summary = {r[0]: r[1] for r in book[SUMMARY_SHEET].iter_rows(values_only=True)}
    assert summary["Verification"].startswith("intact: ")
    assert records[-1]["hash"] in summary["Checkpoint"]


def test_no_cell_becomes_a_formula(trail: Path, tmp_path: Path) -> None:
    csv_out, xlsx_out = tmp_path / "a.csv", tmp_path / "a.xlsx"
    assert main(["audit", "export", "--file", str(trail), "--out", str(csv_out)]) == 0
    assert main(["audit", "export", "--file", str(trail), "--out", str(xlsx_out)]) == 0
    _, header, rows = read_csv(csv_out)
    assert dict(zip(header, rows[-len(HOSTILE)], strict=True))["reason"] == "'" + HOSTILE[0]
    typed = [json.loads(r[12])["value"] for r in rows[1 - len(HOSTILE) :]]
    assert typed == list(HOSTILE[1:])  # inside the JSON cell, which starts with {
    sheet = load_workbook(xlsx_out)["Revisionsspor"]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    reasons = [c.value for c in cells if c.column == 10 and c.value]
    assert "'" + HOSTILE[0] in reasons
    for cell in cells:
        if isinstance(cell.value, str):
            assert not cell.value.startswith(("=", "+", "-", "@", "\t")), cell.coordinate


def test_hostile_values_in_every_column_get_the_prefix(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path, robot="=cmd|' /C calc'!A0") as t:
        t.logger(run_id="-1", worker="+w").event("@event", rule="=1+1", rule_version="-2")
    out = tmp_path / "x.csv"
    assert main(["audit", "export", "--file", str(path), "--out", str(out)]) == 0
    _, header, rows = read_csv(out)
    row = dict(zip(header, rows[0], strict=True))
    for column in ("event", "robot", "run_id", "worker", "rule", "rule_version"):
        assert row[column].startswith("'"), column


def test_a_run_or_a_period_in_copenhagen_time(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = raw_records(trail)
    out = tmp_path / "run.csv"
    assert main(["audit", "export", "--file", str(trail), "--out", str(out), "--run", RUN_2]) == 0
    summary, _, rows = read_csv(out)
    assert [int(r[0]) for r in rows] == [r["seq"] for r in records if r.get("run_id") == RUN_2]
    assert summary["Selection"] == f"run {RUN_2}"
    # RUN_2 began 23:30 UTC on 30 November: 1 December in Copenhagen
    day = tmp_path / "day.xlsx"
    args = ["--since", "2026-12-01", "--until", "2026-12-01"]
    assert main(["audit", "export", "--file", str(trail), "--out", str(day), *args]) == 0
    rows_x = list(load_workbook(day)["Revisionsspor"].iter_rows(values_only=True))[1:]
    assert [r[0] for r in rows_x] == [r["seq"] for r in records if r["ts"] >= "2026-11-30T23"]
    assert all(str(r[1]).startswith("2026-12-01 ") for r in rows_x)
    capsys.readouterr()


def test_a_broken_trail_is_exported_and_says_so(
    trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = trail.read_text("utf-8").splitlines(keepends=True)
    lines[9] = lines[9].replace('"w1"', '"w9"')
    trail.write_text("".join(lines), "utf-8")
    out = tmp_path / "x.csv"
    assert main(["audit", "export", "--file", str(trail), "--out", str(out)]) == 1
    summary, _, rows = read_csv(out)
    assert summary["Verification"].startswith("BROKEN: ") and "line 10" in summary["Verification"]
    assert "seq 9, hash" in summary["Checkpoint"]
    assert len(rows) == len(lines)
    assert "BROKEN" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--file", "{tmp}/nowhere.jsonl", "--out", "{tmp}/x.csv"], "no audit trail at"),
        (["--out", "{tmp}/missing/x.csv"], "does not exist"),
        (["--out", "{tmp}/audit.jsonl/x.csv"], "does not exist"),
        (["--out", "{tmp}"], "is a folder"),
        (["--out", "{tmp}/audit.jsonl", "--format", "csv"], "is the audit trail itself"),
        (["--out", "{tmp}/x.txt"], "give --format csv or --format xlsx"),
        (["--out", "{tmp}/x.csv", "--since", "1. december"], "--since: '1. december' is not"),
        (["--out", "{tmp}/x.xlsx", "--until", "2026-02-30"], "--until: '2026-02-30' is not"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    trail: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    says: str,
) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    original = trail.read_bytes()
    argv = ["audit", "export", "--file", str(trail), *[a.format(tmp=tmp_path) for a in args]]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and says in captured.err, captured.err
    assert captured.err.startswith("robot audit export: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert trail.read_bytes() == original


def test_an_existing_file_is_replaced_whole_and_owner_only(trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    out.write_text("old content that is longer than nothing\n" * 1000, "utf-8")
    out.chmod(0o644)
    assert main(["audit", "export", "--file", str(trail), "--out", str(out), "--run", RUN_2]) == 0
    assert mode(out) == 0o600
    assert "old content" not in out.read_text("utf-8-sig")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_verification_summary_names_the_checkpoint(trail: Path) -> None:
    records = raw_records(trail)
    text, checkpoint = verification_summary(trail)
    assert text.startswith(f"intact: {trail}: {len(records)} records, chain intact, UNSIGNED")
    assert checkpoint.endswith(f"seq {len(records)}, hash {records[-1]['hash']}")
    assert "no signed checkpoint" in checkpoint
    empty = trail.with_name("empty.jsonl")
    empty.write_bytes(b"")
    assert verification_summary(empty)[1].startswith("none")


def test_the_export_of_a_signed_trail_names_its_signed_checkpoint(tmp_path: Path) -> None:
    from paybot.audit import AuditTrail
    from paybot.audit.signing import KeyRing, Signer, Verifier, new_key_pair

    private, public = new_key_pair()
    signer = Signer.from_text(private, "t")
    keys = KeyRing((Verifier.from_text(public, "t"),))
    path = tmp_path / "signed.jsonl"
    with AuditTrail(path, signer=signer, forward_to_robocorp=False) as signed:
        signed.checkpoint("run_start")
        signed.event("page_opened", page="faktura")
        last = signed.checkpoint("run_end")
    assert last is not None
    text, checkpoint = verification_summary(path, keys=keys, anchor=last)
    assert text.startswith("intact:") and "signed through seq" in text
    assert f"seq {last.seq}, hash {last.hash}" in checkpoint and "signature checked" in checkpoint
    other = KeyRing((Verifier.from_text(new_key_pair()[1], "other"),))
    assert verification_summary(path, keys=other)[0].startswith("BROKEN")


def test_the_exported_account_number_is_masked(trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.xlsx"
    assert main(["audit", "export", "--file", str(trail), "--out", str(out)]) == 0
    cells = [
        str(c)
        for row in load_workbook(out)["Revisionsspor"].iter_rows(values_only=True)
        for c in row
    ]
    assert not any(ACCOUNT in c for c in cells)
    assert any("********78" in c for c in cells)


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_the_export_masks_even_a_record_written_unmasked(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "audit.jsonl"
    raw = {
        "event": "field_read",
        "erp_id": 99,
        "seq": 1,
        "fields": {"cpr": CPR, "kontonr": ACCOUNT},
        "note": f"borger {CPR.replace('-', '')}",
    }
    path.write_text(canonical_json(raw) + "\n", encoding="utf-8")
    out = tmp_path / f"x.{suffix}"
    assert main(["audit", "export", "--file", str(path), "--out", str(out)]) == 1  # no chain
    if suffix == "csv":
        text = out.read_text("utf-8-sig")
    else:
        rows = load_workbook(out)["Revisionsspor"].iter_rows(values_only=True)
        text = json.dumps([list(r) for r in rows], ensure_ascii=False)
    assert f"{CPR[:6]}-****" in text and "********78" in text
    assert_no_personal_data(text)


@pytest.mark.parametrize(("name", "delimiter"), [("comma", ","), ("tab", "\t")])
def test_another_separator_on_request(
    trail: Path, tmp_path: Path, name: str, delimiter: str
) -> None:
    out = tmp_path / "x.csv"
    argv = ["audit", "export", "--file", str(trail), "--out", str(out), "--separator", name]
    assert main(argv) == 0
    summary, header, rows = read_csv(out, delimiter)
    assert header == list(COLUMNS) and len(rows) == len(raw_records(trail))
    assert summary["Verification"].startswith("intact: ")


def test_the_default_separator_is_a_semicolon_for_danish_excel(trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    assert main(["audit", "export", "--file", str(trail), "--out", str(out)]) == 0
    header_line = next(
        line for line in out.read_text("utf-8-sig").splitlines() if line.startswith("seq")
    )
    assert header_line == ";".join(COLUMNS)


def test_an_older_decision_record_shows_its_kind_as_the_decision(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_trail(path)  # decisions written with kind=, before decision= was used
    out = tmp_path / "x.csv"
    assert main(["audit", "export", "--file", str(path), "--out", str(out)]) == 0
    _, header, rows = read_csv(out)
    decisions = [dict(zip(header, r, strict=True)) for r in rows if r[2] == "decision"]
    assert [d["decision"] for d in decisions] == ["pay", "pay"]
    assert all("kind" not in json.loads(d["details"]) for d in decisions)
    assert all(json.loads(d["details"])["amount"] == "796.00" for d in decisions)
