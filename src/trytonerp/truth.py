"""Compare Tryton's database with the seed's ground truth (the mock's compare, Tryton's data).

Per new invoice: ``pay`` expects the invoice Paid, its total the expected amount and its lines
posted to the expected account string (the Tryton account whose code it is, or the one
``accounts`` maps it to); ``manual`` expects a draft with the note ``Manuel behandling:
<REASON>``. Reads the SQLite file directly, read-only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from mockerp.truth_check import TruthReport

MANUAL_MARK = "Manuel behandling:"


def _reason(comment: str | None) -> str | None:
    text = (comment or "").strip()
    if not text.startswith(MANUAL_MARK):
        return None
    rest = text[len(MANUAL_MARK) :].split()
    return rest[0] if rest else None


def _amount(value: object) -> str | None:
    """trytond's SQLite backend stores a Numeric as the decimal's text in a BLOB."""
    if value is None or value == "":
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    return f"{Decimal(text):.2f}"


def compare(
    conn: sqlite3.Connection,
    truth: dict[str, Any],
    categories: set[str] | None = None,
    accounts: Mapping[str, str] | None = None,
) -> TruthReport:
    rows = conn.execute(
        "SELECT i.id, i.state, i.comment, i.total_amount_cache FROM account_invoice i"
    ).fetchall()
    actual = {r[0]: (r[1], r[2], r[3]) for r in rows}
    line_accounts: dict[int, set[str]] = {}
    for invoice_id, code in conn.execute(
        "SELECT l.invoice, a.code FROM account_invoice_line l"
        " JOIN account_account a ON a.id = l.account WHERE l.invoice IS NOT NULL"
    ):
        line_accounts.setdefault(invoice_id, set()).add(code)
    reverse = {code: s for s, code in (accounts or {}).items()}
    report = TruthReport()
    for doc in truth["documents"]:
        category = doc["category"]
        if doc["status"] != "ny" or (categories and category not in categories):
            continue
        report.checked[category] += 1
        state, comment, total = actual.get(doc["loebenr"], ("missing", None, None))
        reason = _reason(comment)
        codes = {reverse.get(c, c) for c in line_accounts.get(doc["loebenr"], set())}
        account = codes.pop() if len(codes) == 1 else ",".join(sorted(codes))
        amount = _amount(total)
        expected = doc["expected"]
        if expected["decision"] == "pay":
            ok = (state, amount, account) == (
                "paid",
                expected["amount"],
                expected["account_string"],
            )
        else:
            ok = state == "draft" and reason == expected["reason"]
        if ok:
            report.matched[category] += 1
            continue
        if state == "draft" and reason is None:
            report.still_new[category] += 1
        report.mismatches.append(
            f"løbenr {doc['loebenr']} ({doc['case']}): expected {expected}, found state {state}"
            f", reason {reason}, amount {amount}, account {account}"
        )
    return report


def compare_files(
    db_file: Path,
    truth_path: Path,
    categories: set[str] | None = None,
    accounts: Mapping[str, str] | None = None,
) -> TruthReport:
    truth = json.loads(truth_path.read_text("utf-8"))
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        return compare(conn, truth, categories, accounts)
    finally:
        conn.close()
