"""The ground truth: what the robots should decide about every seeded document.

JSON sorted by Løbenr; amounts as plain decimal strings; no personal data (no CPR numbers,
no citizen names, no bank accounts): only ids, CVR numbers, invoice numbers and decisions.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mockerp.seed_store import Stored


def truth_document(
    stored: Sequence[Stored], *, seed: int, invoices: int, base_date: dt.date
) -> dict[str, Any]:
    documents = []
    for item in sorted(stored, key=lambda s: s.loebenr):
        draft = item.draft
        if draft.history is None:
            status, case = "ny", draft.case
            expected: dict[str, str] | None = draft.expected.as_json()
        else:
            status = draft.history
            case = "history/paid" if draft.history == "betalt" else "history/manual"
            expected = None
        documents.append(
            {
                "loebenr": item.loebenr,
                "document_id": draft.doc.uuid,
                "category": draft.category,
                "supplier_cvr": draft.supplier_cvr,
                "invoice_number": draft.doc.number,
                "status": status,
                "case": case,
                "expected": expected,
            }
        )
    return {
        "seed": seed,
        "invoices": invoices,
        "base_date": base_date.isoformat(),
        "documents": documents,
    }


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
