"""Compare what happened in the finance system with the seed's ground truth.

For every new invoice the seed planned, the expected decision: paid with the expected amount
and account string, or sent to manual handling with the expected reason code. Used by
``robot erp compare``, the quick start and the tests.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TruthReport:
    checked: Counter[str] = field(default_factory=Counter)
    matched: Counter[str] = field(default_factory=Counter)
    still_new: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def lines(self) -> list[str]:
        out = []
        for category in sorted(self.checked):
            waiting = self.still_new[category]
            extra = f", {waiting} not handled yet" if waiting else ""
            done, total = self.matched[category], self.checked[category]
            out.append(f"{category}: {done} of {total} as expected{extra}")
        return out + [f"MISMATCH {m}" for m in self.mismatches]


def compare(
    conn: sqlite3.Connection, truth: dict[str, Any], categories: set[str] | None = None
) -> TruthReport:
    rows = conn.execute(
        "SELECT i.id, i.status, i.manual_reason, p.amount, p.account_string"
        " FROM invoices i LEFT JOIN payments p ON p.invoice_id = i.id"
    ).fetchall()
    actual = {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}
    report = TruthReport()
    for doc in truth["documents"]:
        category = doc["category"]
        if doc["status"] != "ny" or (categories and category not in categories):
            continue
        report.checked[category] += 1
        status, reason, amount, account = actual.get(doc["loebenr"], ("missing", None, None, None))
        expected = doc["expected"]
        if expected["decision"] == "pay":
            ok = (status, amount, account) == (
                "betalt",
                expected["amount"],
                expected["account_string"],
            )
        else:
            ok = (status, reason) == ("manuel", expected["reason"])
        if ok:
            report.matched[category] += 1
            continue
        if status == "ny":
            report.still_new[category] += 1
        report.mismatches.append(
            f"løbenr {doc['loebenr']} ({doc['case']}): expected {expected}, found status {status}"
            f", reason {reason}, amount {amount}, account string {account}"
        )
    return report


def compare_files(
    db_path: Path, truth_path: Path, categories: set[str] | None = None
) -> TruthReport:
    truth = json.loads(truth_path.read_text("utf-8"))
    conn = sqlite3.connect(db_path)
    try:
        return compare(conn, truth, categories)
    finally:
        conn.close()
