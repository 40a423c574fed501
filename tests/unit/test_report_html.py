"""The HTML reports without a browser: the night's window, the morning totals, masking,
escaping and links that stay in the run folder."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from paybot.domain.calendar import DANISH_TIME
from paybot.report.html import render_morning, render_run
from paybot.report.morning import morning_path, write_morning
from paybot.report.night import build_night, night_of, night_window
from paybot.report.view import run_view
from paybot.run.report import Report, write_report
from paybot.run.worker import ItemOutcome, Result


def test_a_run_belongs_to_the_morning_after_the_night_it_started_in() -> None:
    at = lambda h, m=0, day=30: dt.datetime(2026, 11, day, h, m, tzinfo=DANISH_TIME)  # noqa: E731
    assert night_of(at(1, 30)) == dt.date(2026, 11, 30)
    assert night_of(at(11, 59)) == dt.date(2026, 11, 30)
    assert night_of(at(12, 0)) == dt.date(2026, 12, 1)
    assert night_of(at(23, 0, day=29)) == dt.date(2026, 11, 30)
    start, end = night_window(dt.date(2026, 3, 29))  # summer time starts that night
    assert end - start == dt.timedelta(hours=23)


def data(
    run_id: str,
    started: str,
    items: list[ItemOutcome],
    *,
    robot: str = "pay-small-invoices",
    dry_run: bool = False,
) -> dict[str, Any]:
    report = Report(
        robot=robot,
        title=robot,
        run_id=run_id,
        dry_run=dry_run,
        rule_version="2026.1+abc",
        trigger="scheduler",
        reason_texts={"MANUAL_AMOUNT": "Beløbet er over robottens beløbsgrænse."},
        items=items,
        municipality="Demo Kommune",
        started_at=started,
        finished_at=started,
    )
    return report.as_json()


def paid(erp_id: int, amount: str) -> ItemOutcome:
    return ItemOutcome(erp_id, f"20433213:F-{erp_id}", Result.PAID, amount=amount)


def write(output: Path, d: dict[str, Any]) -> None:
    folder = output / "runs" / d["run_id"]
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(d), "utf-8")


def test_the_morning_totals_are_the_sum_of_the_nights_real_runs(tmp_path: Path) -> None:
    amounts = {
        ("pay-small-invoices", "20261129T233000Z-aaaa"): ["1019.48", "0.01", "2999.99"],
        ("pay-small-invoices", "20261130T053000Z-bbbb"): ["10.00"],
        ("pay-medical-certificates", "20261130T003000Z-cccc"): ["179.00", "1250.00"],
    }
    for (robot, run_id), values in amounts.items():
        stamp = dt.datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        items = [paid(n, v) for n, v in enumerate(values, start=1)]
        write(tmp_path, data(run_id, stamp.isoformat(), items, robot=robot))
    # Not that night: the day before at noon (Copenhagen), and a dry run.
    write(tmp_path, data("20261129T100000Z-dddd", "2026-11-29T10:00:00+00:00", [paid(9, "5")]))
    dry = data(
        "20261130T010000Z-eeee",
        "2026-11-30T01:00:00+00:00",
        [ItemOutcome(7, "1:2", Result.WOULD_PAY, amount="99.00")],
        dry_run=True,
    )
    write(tmp_path, dry)
    (tmp_path / "runs" / "20261130T020000Z-ffff").mkdir()
    (tmp_path / "runs" / "20261130T020000Z-ffff" / "report.json").write_text("{", "utf-8")

    night = build_night(tmp_path, dt.date(2026, 11, 30))
    expected = sum((Decimal(v) for values in amounts.values() for v in values), Decimal(0))
    assert night.paid_amount == expected == Decimal("5458.48")
    assert night.paid == 6 and len(night.runs) == 3 and len(night.dry_runs) == 1
    assert night.unreadable == ["20261130T020000Z-ffff"]
    assert {r.robot: r.runs for r in night.robots} == {
        "pay-medical-certificates": 1,
        "pay-small-invoices": 2,
    }
    page = render_morning(night)
    assert "5.458,48 kr." in page and "Demo Kommune" in page
    target = write_morning(tmp_path, dt.date(2026, 11, 30))
    assert target == morning_path(tmp_path, dt.date(2026, 11, 30))
    assert target.stat().st_mode & 0o077 == 0


def test_script_in_a_note_is_text_and_a_cpr_number_is_masked() -> None:
    item = ItemOutcome(
        30,
        "1:<b>x</b>",
        Result.MANUAL,
        reason="MANUAL_AMOUNT",
        amount="12.00",
        note="<script>alert(1)</script> borger 0707611234",
    )
    page = render_run(data("20261130T003000Z-ab12", "2026-11-30T00:30:00+00:00", [item]))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>x</b>" not in page
    assert "0707611234" not in page and "070761-****" in page


@pytest.mark.parametrize("name", ["../../../etc/passwd", "/etc/passwd", "a/b.png", ".."])
def test_a_screenshot_link_never_leaves_the_run_folder(name: str) -> None:
    item = ItemOutcome(1, "1:2", Result.FAILED, error="x", screenshot=name)
    view = run_view(data("20261130T003000Z-ab12", "2026-11-30T00:30:00+00:00", [item]))
    assert view.failed[0].screenshot is None
    ok = ItemOutcome(1, "1:2", Result.FAILED, error="x", screenshot="lobenr-1-attempt-3.png")
    view = run_view(data("20261130T003000Z-ab12", "2026-11-30T00:30:00+00:00", [ok]))
    assert view.failed[0].screenshot == "screenshots/lobenr-1-attempt-3.png"


def test_an_old_report_json_without_the_new_keys_still_renders() -> None:
    old = {"robot": "pay-small-invoices", "run_id": "x", "exit_code": 0, "items": []}
    assert "Kørselsrapport: pay-small-invoices" in render_run(old)


def test_a_dry_run_is_marked_and_its_amounts_are_would_pay(tmp_path: Path) -> None:
    item = ItemOutcome(7, "1:2", Result.WOULD_PAY, amount="99.00")
    page = render_run(data("r", "2026-11-30T01:00:00+00:00", [item], dry_run=True))
    assert "PRØVEKØRSEL" in page and "Ville være betalt (prøvekørsel)" in page


def test_write_report_writes_html_next_to_json_and_the_morning_report(tmp_path: Path) -> None:
    report = Report(
        robot="pay-small-invoices",
        title="Betaling af småfakturaer",
        run_id="20261130T003000Z-ab12",
        dry_run=False,
        rule_version="2026.1",
        trigger="manual",
        items=[paid(1, "100.50")],
        municipality="Demo Kommune",
        started_at="2026-11-30T00:30:00+00:00",
    )
    folder = tmp_path / "runs" / report.run_id
    write_report(folder, report, tmp_path)
    saved = json.loads((folder / "report.json").read_text("utf-8"))
    assert saved["municipality"] == "Demo Kommune" and saved["schema"] == 3
    assert saved["totals"]["paid"] == {
        "count": 1,
        "amount": "100.50",
        "other_currencies": {},
        "unknown_currency": 0,
    }
    assert "100,50 kr." in (folder / "report.html").read_text("utf-8")
    morning = morning_path(tmp_path, dt.date(2026, 11, 30)).read_text("utf-8")
    assert "100,50 kr." in morning and "../runs/20261130T003000Z-ab12/report.html" in morning


def test_a_morning_report_that_cannot_be_written_does_not_fail_the_run(tmp_path: Path) -> None:
    report = Report(
        robot="pay-small-invoices",
        title="t",
        run_id="20261130T003000Z-ab12",
        dry_run=False,
        rule_version="2026.1",
        trigger="manual",
        items=[paid(1, "100.50")],
        started_at="2026-11-30T00:30:00+00:00",
    )
    (tmp_path / "reports").write_text("a file where the folder should be", "utf-8")
    folder = tmp_path / "runs" / report.run_id
    write_report(folder, report, tmp_path)
    assert json.loads((folder / "report.json").read_text("utf-8"))["totals"]["paid"]["count"] == 1
    assert (folder / "report.html").is_file()
