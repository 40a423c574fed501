"""The run report and the morning report as a clerk sees them: written by the run's own code
(``write_report``) for two robots of one night, opened in real headless Chromium, and checked
on the screen (Danish headings, totals, a handed-over row, masked CPR, the SVG charts).

The screenshots it takes are kept in the test's folder (``run.png``, ``morning.png``); the
README's pictures are of a demo run (docs/img/run-report.png, docs/img/morning-report.png).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from paybot.erp.browser import Browser, BrowserOptions, open_browser
from paybot.report.morning import morning_path
from paybot.run.report import Report, write_report
from paybot.run.worker import ItemOutcome, Result
from paybot.run_folder import Counts
from support.db import generated_cpr

pytestmark = pytest.mark.e2e

REASONS = {
    "MANUAL_AMOUNT": "Beløbet er over robottens beløbsgrænse.",
    "MANUAL_SUPPLIER": "Leverandøren er ikke på listen over kendte leverandører.",
}


def small_run(cpr: str) -> Report:
    items = [
        ItemOutcome(
            17 + n,
            f"20433213:F-{n}",
            Result.PAID,
            amount=amount,
            account_string="6.45.51-000-2.2",
            voucher=f"B-2026-00001{n}",
            seconds=2.0 + n * 0.7,
        )
        for n, amount in enumerate(["1019.48", "2999.99", "120.00"])
    ]
    items += [
        ItemOutcome(
            30,
            "57525533:85936/26",
            Result.MANUAL,
            reason="MANUAL_AMOUNT",
            amount="4312.50",
            note=f"Beløbet 4.312,50 kr. er over grænsen på 3.000,00 kr. (borger {cpr})",
            seconds=3.1,
        ),
        ItemOutcome(
            31,
            "51928325:70745/26",
            Result.MANUAL,
            reason="MANUAL_SUPPLIER",
            amount="880.00",
            seconds=1.4,
        ),
        ItemOutcome(
            32,
            "20433213:F-9",
            Result.FAILED,
            error=f"timeout waiting for felt-cpr ({cpr})",
            screenshot="lobenr-32-attempt-3.png",
            seconds=9.5,
        ),
    ]
    return Report(
        robot="pay-small-invoices",
        title="Betaling af småfakturaer",
        run_id="20261130T003000Z-ab12",
        dry_run=False,
        rule_version="2026.1+51d65a1a1687",
        trigger="scheduler",
        reason_texts=REASONS,
        exit_code=1,
        counts=Counts(paid=3, manual=2, failed=1),
        items=items,
        left_for_next_run=1,
        municipality="Demo Kommune",
        started_at="2026-11-30T00:30:00+00:00",
        finished_at="2026-11-30T00:41:08+00:00",
        paybot_version="0.9.0",
        config_checksum="abcdef0123456789",
    )


def certificate_run() -> Report:
    return Report(
        robot="pay-medical-certificates",
        title="Betaling af lægeerklæringer",
        run_id="20261130T004500Z-cd34",
        dry_run=False,
        rule_version="2026.1+487c2cecb163",
        trigger="scheduler",
        reason_texts={},
        counts=Counts(paid=2),
        items=[
            ItemOutcome(40, "86483505:LE-1", Result.PAID, amount="179.00", seconds=2.2),
            ItemOutcome(41, "86483505:LE-2", Result.PAID, amount="1250.00", seconds=2.6),
        ],
        municipality="Demo Kommune",
        started_at="2026-11-30T00:45:00+00:00",
        finished_at="2026-11-30T00:47:30+00:00",
    )


def dry_run() -> Report:
    r = certificate_run()
    r.run_id, r.dry_run = "20261130T010000Z-ef56", True
    r.started_at, r.finished_at = "2026-11-30T01:00:00+00:00", "2026-11-30T01:02:10+00:00"
    for item in r.items:
        item.result = Result.WOULD_PAY
    return r


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    opened = open_browser("about:blank", BrowserOptions())
    try:
        yield opened
    finally:
        opened.close()


def show(browser: Browser, page: Path, shot: Path) -> str:
    """Open ``page``, save a screenshot of all of it to ``shot``; the text on the screen."""
    driver = browser.driver
    driver.set_window_size(1280, 1000)
    driver.get(page.as_uri())
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1280, min(max(height + 140, 600), 6000))
    driver.save_screenshot(str(shot))
    return str(driver.find_element("tag name", "body").text)


def test_a_clerk_reads_the_run_report_and_the_morning_report(
    browser: Browser, tmp_path: Path
) -> None:
    cpr = generated_cpr(random.Random(14))
    output = tmp_path / "output"
    small, certs, dry = small_run(cpr), certificate_run(), dry_run()
    for report in (small, certs, dry):
        write_report(output / "runs" / report.run_id, report, output)
    run_page = output / "runs" / small.run_id / "report.html"

    text = show(browser, run_page, tmp_path / "run.png")
    assert "DEMO KOMMUNE" in text.upper()
    assert "Kørselsrapport: Betaling af småfakturaer" in text
    assert "30-11-2026 kl. 01:30–01:41" in text  # 00:30 UTC is 01:30 in Copenhagen in winter
    for heading in ("Overblik", "Beslutninger og beløb", "Tid pr. faktura", "Pr. årsag"):
        assert heading in text
    assert "Sendt til manuel behandling (2)" in text and "Fejlede fakturaer (1)" in text
    assert "4.139,47 kr." in text  # 1.019,48 + 2.999,99 + 120,00
    row = browser.driver.find_element("css selector", "#manuel-tabel tr[data-loebenr='30']").text
    assert "4.312,50 kr." in row and "MANUAL_AMOUNT" in row
    assert "Beløbet er over robottens beløbsgrænse." in row
    masked = cpr[:6] + "-****"
    assert masked in text and cpr not in text and cpr.replace("-", "") not in text
    link = browser.driver.find_element("link text", "skærmbillede")
    assert (
        link.get_attribute("href")
        == (run_page.parent / "screenshots/lobenr-32-attempt-3.png").as_uri()
    )
    svgs = browser.driver.find_elements("css selector", "svg")
    assert len(svgs) == 2 and all(s.size["height"] > 50 for s in svgs)
    bars = browser.driver.find_elements("css selector", "#tid-diagram rect")
    assert len(bars) == 6  # one per invoice
    html = run_page.read_text("utf-8")
    assert "<script" not in html and "http" not in html.split("</style>")[1]

    morning = morning_path(output, dt.date(2026, 11, 30))
    text = show(browser, morning, tmp_path / "morning.png")
    assert "Morgenrapport mandag 30. november 2026" in text
    expected = sum(
        (Decimal(i.amount) for r in (small, certs) for i in r.items if i.result == Result.PAID),
        Decimal(0),
    )
    assert expected == Decimal("5568.47")
    total = browser.driver.find_element("id", "i-alt-raekke").text
    assert "5.568,47 kr." in total and " 5 " in f" {total} "
    assert "Venter på en sagsbehandler (2)" in text
    assert "PRØVEKØRSEL" in text  # the dry run is listed, marked, and not in the totals
    assert masked in text and cpr not in text
    assert browser.driver.find_element("id", "robotter-diagram").is_displayed()
