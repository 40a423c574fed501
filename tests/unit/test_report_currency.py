"""Money in the reports: only DKK is counted as kroner, a credit note counts negative, other
currencies are shown (and summed) with their code and an unknown currency is never added."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from paybot.domain.models import RawInvoice
from paybot.report.html import render_morning, render_run
from paybot.report.night import build_night
from paybot.report.view import run_view
from paybot.run.report import Report
from paybot.run.worker import ItemOutcome, Result, document_on_page

EUR = ["2296.25", "796.00", "2452.50"]  # the three EUR invoices the reviewer found


def manual(
    erp_id: int, amount: str, currency: str | None, *, credit_note: bool = False
) -> ItemOutcome:
    return ItemOutcome(
        erp_id,
        f"20433213:F-{erp_id}",
        Result.MANUAL,
        reason="MANUAL_FORMAT" if currency != "DKK" else "MANUAL_CREDIT_NOTE",
        amount=amount,
        currency=currency,
        credit_note=credit_note,
    )


def night_report() -> dict[str, Any]:
    items = [manual(n, a, "EUR") for n, a in enumerate(EUR, start=1)]
    items += [
        manual(4, "500.00", "DKK"),
        manual(5, "200.00", "DKK", credit_note=True),
        manual(6, "12.00", None),  # unparsable, currency unreadable
        ItemOutcome(7, "20433213:F-7", Result.PAID, amount="1019.48", currency="DKK"),
    ]
    report = Report(
        robot="pay-small-invoices",
        title="Småfakturaer",
        run_id="20261130T013000Z-aaaa",
        dry_run=False,
        rule_version="2026.1",
        trigger="scheduler",
        items=items,
        started_at="2026-11-30T01:30:00+00:00",
        finished_at="2026-11-30T01:40:00+00:00",
    )
    return report.as_json()


def test_report_json_carries_currency_and_counts_only_dkk_as_kroner() -> None:
    data = night_report()
    first = data["items"][0]
    assert first["currency"] == "EUR" and first["credit_note"] is False
    assert data["items"][4]["credit_note"] is True
    totals = data["totals"]["manual"]
    assert totals["count"] == 6
    assert Decimal(totals["amount"]) == Decimal("500.00") - Decimal("200.00")
    assert totals["other_currencies"] == {"EUR": str(sum(map(Decimal, EUR)))}
    assert totals["unknown_currency"] == 1
    assert totals["amount"] == "300.00"


def test_the_view_shows_other_currencies_with_their_code_and_credit_notes_negative() -> None:
    view = run_view(night_report())
    rows = {r.erp_id: r for r in view.handed_over}
    assert rows[1].amount_text == "2.296,25 EUR"
    assert rows[5].amount == Decimal("-200.00") and rows[5].amount_text == "-200,00 kr."
    assert rows[6].currency is None and "ukendt valuta" in rows[6].amount_text
    count, kroner = view.total("manual")
    assert (count, kroner) == (6, Decimal("300.00"))
    page = render_run(night_report())
    assert "2.296,25 EUR" in page and "2.296,25 kr." not in page
    assert "300,00 kr. + 5.544,75 EUR + 1 beløb i ukendt valuta" in page
    assert 'id="beloeb-note"' in page


def test_the_morning_report_adds_no_euro_to_the_kroner(tmp_path: Path) -> None:
    data = night_report()
    folder = tmp_path / "runs" / data["run_id"]
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(data), "utf-8")
    night = build_night(tmp_path, dt.date(2026, 11, 30))
    assert night.handed_over_amount == Decimal("300.00")
    assert night.paid_amount == Decimal("1019.48")
    (line,) = night.robots
    assert line.handed_over_amount == Decimal("300.00")
    assert line.handed_over_money.other == {"EUR": Decimal("5544.75")}
    page = render_morning(night)
    assert "5.544,75 EUR" in page and "796,00 EUR" in page
    assert "8.844,75 kr." not in page and "5.844,75 kr." not in page  # the old, wrong sums


def test_a_schema_2_report_without_currency_still_counts_paid_as_kroner() -> None:
    old = {
        "schema": 2,
        "items": [
            {"erp_id": 1, "result": "paid", "amount": "100.00"},
            {"erp_id": 2, "result": "manual", "amount": "2296.25"},
        ],
    }
    view = run_view(old)
    assert view.total("paid") == (1, Decimal("100.00"))
    assert view.total("manual") == (1, Decimal("0.00"))  # unknown currency: not kroner
    assert "ukendt valuta" in view.handed_over[0].amount_text


def test_the_currency_and_document_type_are_read_from_the_page_when_parsing_fails() -> None:
    raw = RawInvoice(fields={"valuta": " eur ", "dokumenttype": "Kreditnota"})
    assert document_on_page(raw) == ("EUR", True)
    assert document_on_page(RawInvoice(fields={"dokumenttype": "???"})) == (None, False)
