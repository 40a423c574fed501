"""The run report and run ids, without a browser."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from paybot.audit import mask_text
from paybot.run.report import Report, markdown, write_report
from paybot.run.worker import ItemOutcome, Result
from paybot.run_folder import Counts, Outcome, new_run_id


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)))
def test_a_run_id_never_looks_like_a_cpr_number(moment: dt.datetime) -> None:
    run_id = new_run_id(moment.replace(tzinfo=dt.UTC))
    assert mask_text(run_id) == run_id


def report() -> Report:
    return Report(
        robot="pay-small-invoices",
        title="Betaling af småfakturaer",
        run_id="20261127T013000Z-ab12",
        dry_run=False,
        rule_version="2026.1+abc",
        trigger="scheduler",
        reason_texts={"MANUAL_AMOUNT": "Beløbet er over robottens beløbsgrænse."},
        counts=Counts(paid=1, manual=1, failed=1),
        items=[
            ItemOutcome(
                17,
                "20433213:F-1",
                Result.PAID,
                amount="1019.48",
                account_string="6.45.51-000-2.2",
                voucher="B-2026-000001",
            ),
            ItemOutcome(18, "20433213:F-2", Result.MANUAL, reason="MANUAL_AMOUNT"),
            ItemOutcome(
                19,
                "20433213:F-3",
                Result.FAILED,
                error="timeout on citizen 070761-4285",
                screenshot="lobenr-19.png",
            ),
        ],
    )


def test_the_report_reads_like_a_clerk_expects_and_holds_no_personal_data(tmp_path: Path) -> None:
    write_report(tmp_path, report())
    text = (tmp_path / "report.md").read_text("utf-8")
    assert "| 17 | 20433213:F-1 | 1.019,48 | 6.45.51-000-2.2 | B-2026-000001 |" in text
    assert "MANUAL_AMOUNT | Beløbet er over robottens beløbsgrænse." in text
    assert "lobenr-19.png" in text and "070761-****" in text
    assert "4285" not in text
    data = json.loads((tmp_path / "report.json").read_text("utf-8"))
    assert data["exit_meaning"] and "4285" not in json.dumps(data)


def test_a_dry_run_report_says_so() -> None:
    r = report()
    r.dry_run = True
    assert "dry run: nothing approved or handed over" in markdown(r)


def test_the_outcome_file_round_trips(tmp_path: Path) -> None:
    Outcome(1, Counts(paid=2, failed=1), "stopped").write(tmp_path)
    back = Outcome.read(tmp_path)
    assert back is not None and back.exit_code == 1 and back.counts.paid == 2
    assert Outcome.read(tmp_path / "missing") is None


def test_a_manual_invoice_shows_what_the_caseworker_must_look_at() -> None:
    r = report()
    r.items[1].note = "Beløbet 4.000,00 kr. er over robottens grænse på 3.000,00 kr."
    assert "| MANUAL_AMOUNT | Beløbet 4.000,00 kr. er over robottens grænse på 3.000,00 kr. |" in (
        markdown(r)
    )


def test_the_report_shows_when_it_finished_in_danish_time() -> None:
    r = report()
    r.finished_at = "2026-11-27T23:41:08+00:00"
    assert "- Finished: 2026-11-28 00:41:08 (dansk tid)" in markdown(r)
    r.finished_at = "2026-07-01T10:00:00+00:00"
    assert "- Finished: 2026-07-01 12:00:00 (dansk tid)" in markdown(r)
