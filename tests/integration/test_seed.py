"""The seed: a fresh, deterministic database with ground truth, loaded through the importer."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from mockerp.db import connect
from mockerp.oioubl import import_paths
from mockerp.seed import SeedResult, seed
from mockerp.seed_certificates import PROBLEMS as CERT_PROBLEMS
from mockerp.seed_interpreter import PROBLEMS as INTERP_PROBLEMS
from mockerp.seed_numbers import cpr_birth_date
from mockerp.seed_small import PROBLEMS as SMALL_PROBLEMS
from mockerp.users import load_or_create_users_file

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CPR_SHAPE = re.compile(r"\b\d{6}-\d{4}\b")

# reasons each robot can give in the demo world (docs/rules.md); the interpreter robot's
# account string is one configured value that is in the chart, so it cannot fail per invoice
REASONS = {
    "oevrige": {r for _, r, _ in SMALL_PROBLEMS},
    "laegeerklaering": {r for _, r, _ in CERT_PROBLEMS},
    "tolk": {r for _, r, _ in INTERP_PROBLEMS},
}


@dataclass
class Seeded:
    result: SeedResult
    truth: dict[str, Any]
    conn: sqlite3.Connection

    @property
    def new(self) -> list[dict[str, Any]]:
        return [d for d in self.truth["documents"] if d["status"] == "ny"]


def _seed(path: Path, invoices: int, seed_value: int) -> Seeded:
    result = seed(path / "demo.db", invoices=invoices, seed=seed_value)
    truth = json.loads(result.truth_path.read_text(encoding="utf-8"))
    conn = sqlite3.connect(result.db_path)
    conn.row_factory = sqlite3.Row
    return Seeded(result, truth, conn)


@pytest.fixture(scope="module", params=[60, 200], ids=["n60", "n200"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    invoices = int(request.param)
    s = _seed(tmp_path_factory.mktemp(f"seed{invoices}"), invoices, seed_value=invoices + 1)
    try:
        yield s
    finally:
        s.conn.close()


def test_the_new_invoices_are_all_imported_as_new(seeded: Seeded) -> None:
    n = seeded.truth["invoices"]
    count = seeded.conn.execute("SELECT COUNT(*) FROM invoices WHERE status = 'ny'").fetchone()[0]
    assert count == n == len(seeded.new) == seeded.result.invoices
    total = seeded.conn.execute("SELECT COUNT(*) FROM invoices").fetchone()[0]
    assert total == len(seeded.truth["documents"]) == len(list(seeded.result.xml_dir.glob("*.xml")))
    rows = {r["id"]: r for r in seeded.conn.execute("SELECT * FROM invoices")}
    for entry in seeded.truth["documents"]:
        row = rows[entry["loebenr"]]
        assert (row["document_uuid"], row["status"], row["category"]) == (
            entry["document_id"],
            entry["status"],
            entry["category"],
        )
        assert (row["supplier_cvr"], row["invoice_number"]) == (
            entry["supplier_cvr"],
            entry["invoice_number"],
        )


def test_the_mix_is_half_small_a_quarter_each_and_mostly_clean(seeded: Seeded) -> None:
    n = seeded.truth["invoices"]
    by_category: dict[str, list[dict[str, Any]]] = {}
    for entry in seeded.new:
        by_category.setdefault(entry["category"], []).append(entry)
    assert len(by_category["oevrige"]) == n // 2
    assert len(by_category["laegeerklaering"]) == len(by_category["tolk"]) == n // 4
    pay = sum(1 for e in seeded.new if e["expected"]["decision"] == "pay")
    # at n=60 every problem case must fit (21 of the 30 small invoices), so fewer clean cases
    assert pay >= n * 0.2
    if n >= 200:
        assert 0.6 <= pay / n <= 0.75


def test_every_reason_of_each_robot_occurs(seeded: Seeded) -> None:
    for category, reasons in REASONS.items():
        seen = {
            e["expected"]["reason"]
            for e in seeded.new
            if e["category"] == category and e["expected"]["decision"] == "manual"
        }
        assert seen == reasons, category


def test_both_duplicate_kinds_per_robot_with_the_earlier_document_lower(seeded: Seeded) -> None:
    cases = {e["case"] for e in seeded.new}
    for case in (
        "small/duplicate-number",
        "small/duplicate-amount-date",
        "cert/duplicate-number",
        "cert/duplicate-cpr-form",
        "interp/duplicate-number",
        "interp/duplicate-booking",
    ):
        assert case in cases
    rows = list(seeded.conn.execute("SELECT * FROM invoices ORDER BY id"))
    keys = {
        "oevrige": lambda r: [
            (r["supplier_cvr"], r["invoice_number"]),
            (r["supplier_cvr"], r["payable_amount"], r["issue_date"]),
        ],
        "laegeerklaering": lambda r: [
            (r["supplier_cvr"], r["invoice_number"]),
            (r["supplier_cvr"], r["cert_cpr"], r["cert_form"]),
        ],
        "tolk": lambda r: [(r["supplier_cvr"], r["invoice_number"]), (r["interp_booking_ref"],)],
    }
    seen: set[tuple[str, object]] = set()
    duplicates = set()
    for row in rows:
        mine = [(row["category"], k) for k in keys[row["category"]](row)]
        if any(k in seen for k in mine):
            duplicates.add(row["id"])
        seen.update(mine)
    truth_duplicates = {
        e["loebenr"]
        for e in seeded.new
        if e["expected"] and e["expected"].get("reason") == "MANUAL_DUPLICATE"
    }
    # every document with an earlier twin is a duplicate case (and no clean case has one);
    # cases that fail before the duplicate check (e.g. an unknown supplier) are ignored
    new_duplicates = {i for i in duplicates if rows[i - 1]["status"] == "ny"}
    assert truth_duplicates <= new_duplicates
    pays = {e["loebenr"] for e in seeded.new if e["expected"]["decision"] == "pay"}
    assert not (pays & new_duplicates)


def test_pay_cases_pay_the_imported_amount_to_an_active_account(seeded: Seeded) -> None:
    active = {
        r[0] for r in seeded.conn.execute("SELECT account_string FROM accounts WHERE active = 1")
    }
    payable = {
        r["id"]: r["payable_amount"]
        for r in seeded.conn.execute("SELECT id, payable_amount FROM invoices")
    }
    pays = [e for e in seeded.new if e["expected"]["decision"] == "pay"]
    assert pays
    for entry in pays:
        expected = entry["expected"]
        assert Decimal(expected["amount"]) == Decimal(payable[entry["loebenr"]])
        assert re.fullmatch(r"\d+\.\d\d", expected["amount"])
        assert expected["account_string"] in active


def test_the_history_is_paid_by_the_clerk_or_sent_to_manual_handling(seeded: Seeded) -> None:
    conn = seeded.conn
    history = [d for d in seeded.truth["documents"] if d["status"] != "ny"]
    assert history and all(d["expected"] is None for d in history)
    assert max(d["loebenr"] for d in history) < min(d["loebenr"] for d in seeded.new)
    clerk = conn.execute("SELECT id FROM users WHERE username = 'sagsbehandler'").fetchone()[0]
    payments = list(conn.execute("SELECT * FROM payments ORDER BY id"))
    paid = {d["loebenr"] for d in history if d["status"] == "betalt"}
    assert {p["invoice_id"] for p in payments} == paid
    for payment in payments:
        assert re.fullmatch(r"B-\d{4}-\d{6}", payment["voucher"])
        assert payment["approved_by"] == clerk
        invoice = conn.execute(
            "SELECT payable_amount, status FROM invoices WHERE id = ?", (payment["invoice_id"],)
        ).fetchone()
        assert (invoice["payable_amount"], invoice["status"]) == (payment["amount"], "betalt")
        assert len(payment["posting_text"]) <= 50
    manual = list(conn.execute("SELECT * FROM invoices WHERE status = 'manuel'"))
    assert {r["id"] for r in manual} == {d["loebenr"] for d in history if d["status"] == "manuel"}
    assert all(r["manual_reason"].startswith("MANUAL_") and r["manual_by"] == clerk for r in manual)


def test_no_cpr_number_in_the_truth_or_the_summary(seeded: Seeded) -> None:
    text = seeded.result.truth_path.read_text(encoding="utf-8")
    cprs = {r[0] for r in seeded.conn.execute("SELECT cpr FROM requisitions")} | {
        r[0] for r in seeded.conn.execute("SELECT cert_cpr FROM invoices") if r[0]
    }
    assert cprs
    assert not CPR_SHAPE.search(text)
    assert not any(cpr in text for cpr in cprs)
    summary = "\n".join(seeded.result.summary_lines())
    assert not CPR_SHAPE.search(summary)
    users = load_or_create_users_file(seeded.result.users_path)
    assert not any(u.password in summary for u in users.values())


def test_cpr_numbers_in_the_xml_are_real_dates(seeded: Seeded) -> None:
    found = 0
    for path in seeded.result.xml_dir.glob("*.xml"):
        root = etree.parse(str(path)).getroot()
        for prop in root.iter(f"{{{CAC}}}AdditionalItemProperty"):
            if prop.findtext(f"{{{CBC}}}Name") == "CPR":
                value = prop.findtext(f"{{{CBC}}}Value") or ""
                assert re.fullmatch(r"\d{6}-\d{4}", value), path.name
                cpr_birth_date(value)
                found += 1
    assert found > 0


def test_the_users_file_is_private_and_beside_the_database(seeded: Seeded) -> None:
    path = seeded.result.users_path
    assert path == seeded.result.db_path.with_name("mockerp-users.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    roles = dict(seeded.conn.execute("SELECT username, role FROM users").fetchall())
    assert roles == {"robot": "robot", "admin": "admin", "sagsbehandler": "clerk"}


def test_importing_the_seeds_folder_again_finds_everything_already_there(seeded: Seeded) -> None:
    conn = connect(seeded.result.db_path)
    try:
        report = import_paths(conn, [seeded.result.xml_dir])
    finally:
        conn.close()
    assert report.ok and not report.imported
    assert len(report.duplicates) == len(seeded.truth["documents"])


def test_the_same_arguments_give_the_same_bytes(tmp_path: Path) -> None:
    first = seed(tmp_path / "a" / "x.db", invoices=90, seed=42)
    second = seed(tmp_path / "b" / "x.db", invoices=90, seed=42)
    other = seed(tmp_path / "c" / "x.db", invoices=90, seed=43)
    names = sorted(p.name for p in first.xml_dir.glob("*.xml"))
    assert names == sorted(p.name for p in second.xml_dir.glob("*.xml"))
    for name in names:
        assert (first.xml_dir / name).read_bytes() == (second.xml_dir / name).read_bytes(), name
    assert first.truth_path.read_bytes() == second.truth_path.read_bytes()
    assert first.truth_path.read_bytes() != other.truth_path.read_bytes()


def test_seeding_again_starts_from_a_fresh_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    seed(db, invoices=30, seed=1)
    conn = connect(db)
    conn.execute("INSERT INTO accounts (account_string, name) VALUES ('9.99.99-999-9.9', 'x')")
    conn.close()
    (tmp_path / "demo-oioubl" / "keep-me.txt").write_text("mine", encoding="utf-8")
    result = seed(db, invoices=12, seed=2)
    conn = connect(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM invoices WHERE status = 'ny'").fetchone()[0] == 12
        assert not conn.execute(
            "SELECT 1 FROM accounts WHERE account_string = '9.99.99-999-9.9'"
        ).fetchone()
    finally:
        conn.close()
    files = list(result.xml_dir.glob("*.xml"))
    truth = json.loads(result.truth_path.read_text(encoding="utf-8"))
    assert len(files) == len(truth["documents"])  # the earlier seed's files are gone
    assert (tmp_path / "demo-oioubl" / "keep-me.txt").exists()


@pytest.mark.slow
def test_a_thousand_invoices_seed(tmp_path: Path) -> None:
    # How fast is the benchmarks' business (collect_scale.py prints the seeding time); a timed
    # assertion here would fail on a loaded machine and prove nothing.
    result = seed(tmp_path / "big.db", invoices=1000, seed=7)
    assert result.invoices == 1000
