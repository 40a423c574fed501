"""The run report: ``report.json`` for machines and the console, ``report.html`` for the
finance team (Danish, rendered from ``report.json`` alone by :mod:`paybot.report.html`), and
``report.md`` for a terminal and the alert mails. After every run the night's morning report
for all robots is written again (:mod:`paybot.report.morning`), so it is always current.

No personal data: invoices are named by Løbenr and CVR:invoice number; errors and notes are
masked (:func:`paybot.audit.mask_data`), and the HTML masks every text once more.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from paybot.audit import mask_data
from paybot.domain.calendar import DANISH_TIME
from paybot.domain.money import format_dkk
from paybot.exit_codes import EXIT_MEANINGS
from paybot.private import private_dir, write_private_text
from paybot.report.html import render_run
from paybot.report.morning import write_morning_for
from paybot.report.night import RunHistory
from paybot.report.view import MoneySum
from paybot.run.worker import ItemOutcome, Result
from paybot.run_folder import Counts

log = logging.getLogger(__name__)
DRY_RUN_NOTE = ", dry run: nothing approved or handed over"
REPORT_SCHEMA = 3
"""``report.json``'s ``schema``: 2 added municipality, start time, amounts, seconds per
invoice, reason texts and totals (what ``report.html`` shows); 3 added each item's
``currency`` and ``credit_note`` and the totals' ``other_currencies`` and
``unknown_currency``."""
HTML_FILE = "report.html"


@dataclass
class Report:
    robot: str
    title: str
    run_id: str
    dry_run: bool
    rule_version: str
    trigger: str
    reason_texts: dict[str, str] = field(default_factory=dict)
    exit_code: int = 0
    counts: Counts = field(default_factory=Counts)
    items: list[ItemOutcome] = field(default_factory=list)
    left_for_next_run: int = 0
    message: str = ""
    finished_at: str = ""
    warnings: list[str] = field(default_factory=list)
    """Preflight's warnings (a tariff table about to end); the run goes on."""
    browser_restarts: int = 0
    """Dead or hung browsers replaced during the run (see ``runner.max_browser_restarts``)."""
    swept: list[str] = field(default_factory=list)
    """What an earlier, killed run left and this run cleaned up at start-up (no personal
    data): browser processes, export files with personal data."""
    municipality: str = ""
    """Settings ``municipality.name``, shown at the top of the report."""
    started_at: str = ""
    """UTC, ISO 8601 (``finished_at`` too); the HTML shows Copenhagen time."""
    paybot_version: str = ""
    config_checksum: str = ""

    def totals(self) -> dict[str, dict[str, Any]]:
        """Per result (``paid``, ``manual``, …): ``{"count": n, "amount": "1234.50",
        "other_currencies": {"EUR": "2296.25"}, "unknown_currency": 0}``. ``amount`` is
        kroner as a plain decimal string: the DKK items only, a credit note counted negative
        (what it reduces the owed amount by); other currencies are summed per code (ISO
        4217) beside it; an amount whose currency is unknown is only counted. A handed-over
        invoice whose amount could not be read adds nothing."""
        out: dict[str, dict[str, Any]] = {}
        for result in Result:
            items = [i for i in self.items if i.result == result]
            total = MoneySum()
            for i in items:
                amount = Decimal(i.amount) if i.amount else None
                paid = i.result in (Result.PAID, Result.WOULD_PAY)  # the rules pay only DKK
                currency = i.currency or ("DKK" if paid else None)
                total.add(-abs(amount) if amount and i.credit_note else amount, currency)
            out[result.value] = {
                "count": len(items),
                "amount": str(total.dkk or Decimal("0.00")),
                "other_currencies": {code: str(a) for code, a in sorted(total.other.items())},
                "unknown_currency": total.unknown,
            }
        return out

    def as_json(self) -> dict[str, Any]:
        """The whole report as JSON data, masked; what ``report.html`` is rendered from."""
        data = asdict(self)
        used = {i.reason for i in self.items if i.reason}
        data["reason_texts"] = {
            code: text for code, text in sorted(self.reason_texts.items()) if code in used
        }
        data["exit_meaning"] = EXIT_MEANINGS.get(self.exit_code, "")
        data["schema"] = REPORT_SCHEMA
        data["totals"] = self.totals()
        masked = mask_data(data)
        assert isinstance(masked, dict)
        return masked


def _code(currency: str | None) -> str:
    """`` EUR`` after an amount not in DKK (the rules pay only DKK: none for a paid one)."""
    return f" {currency}" if currency and currency != "DKK" else ""


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return out


def markdown(report: Report) -> str:
    c = report.counts
    lines = [
        f"# {report.title} — run {report.run_id}",
        "",
        f"- Robot: `{report.robot}` ({report.trigger}{DRY_RUN_NOTE if report.dry_run else ''})",
        f"- Finished: {danish_time(report.finished_at)}",
        f"- Exit code: {report.exit_code} — {EXIT_MEANINGS.get(report.exit_code, '')}",
        f"- Rules: {report.rule_version}",
        f"- Paid {c.paid} · manual handling {c.manual} · failed {c.failed} · skipped {c.skipped}"
        + (
            f" · would pay {c.would_pay} · would hand over {c.would_hand_over}"
            if report.dry_run
            else ""
        ),
        f"- Left for the next run: {report.left_for_next_run}",
    ]
    if report.browser_restarts:
        lines.append(f"- Browser restarts: {report.browser_restarts}")
    if report.message:
        lines.append(f"- Note: {mask_data(report.message)}")
    for warning in report.warnings:
        lines.append(f"- Warning: {warning}")
    lines += [f"- Cleaned up at start: {note}" for note in report.swept]
    by = {r: [i for i in report.items if i.result == r] for r in Result}
    paid = by[Result.PAID] + by[Result.WOULD_PAY]
    if paid:
        lines += ["", "## Paid" if not report.dry_run else "## Would pay", ""]
        lines += _table(
            ["Løbenr.", "CVR:fakturanr.", "Beløb", "Kontostreng", "Bilag"],
            [
                [
                    str(i.erp_id),
                    i.business_key,
                    format_dkk(Decimal(i.amount)) + _code(i.currency) if i.amount else "",
                    i.account_string or "",
                    i.voucher or "",
                ]
                for i in paid
            ],
        )
    manual = by[Result.MANUAL] + by[Result.WOULD_HAND_OVER]
    if manual:
        lines += ["", "## Manual handling" if not report.dry_run else "## Would hand over", ""]
        lines += _table(
            ["Løbenr.", "CVR:fakturanr.", "Årsagskode", "Hvad en sagsbehandler skal se på"],
            [
                [
                    str(i.erp_id),
                    i.business_key,
                    i.reason or "",
                    str(mask_data(i.note))
                    if i.note
                    else report.reason_texts.get(i.reason or "", ""),
                ]
                for i in manual
            ],
        )
    trouble = by[Result.FAILED] + by[Result.LOST] + by[Result.SKIPPED]
    if trouble:
        lines += ["", "## Failed or skipped", ""]
        lines += _table(
            ["Løbenr.", "CVR:fakturanr.", "Udfald", "Fejl / status", "Skærmbillede"],
            [
                [
                    str(i.erp_id),
                    i.business_key,
                    i.result.value,
                    str(mask_data(i.error or i.reason or "")),
                    i.screenshot or "",
                ]
                for i in trouble
            ],
        )
    lines += [
        "",
        "Trail of one invoice: `robot audit show <Løbenr.>`; whole trail: `robot audit verify`.",
        "",
    ]
    return "\n".join(lines)


def danish_time(iso: str) -> str:
    """``2026-11-27T23:41:08+00:00`` → ``2026-11-28 00:41:08 (dansk tid)``: the clerk reads the
    report in Danish time; report.json keeps UTC."""
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        return iso
    local = moment.astimezone(DANISH_TIME)
    return f"{local:%Y-%m-%d %H:%M:%S} (dansk tid)"


def write_report(
    folder: Path,
    report: Report,
    output_dir: Path | None = None,
    history: Callable[[], Iterable[RunHistory]] | None = None,
) -> Path:
    """``report.json``, ``report.md`` and ``report.html`` in the run ``folder`` (owner-only);
    with ``output_dir``, also the morning report of the night the run started in
    (``<output_dir>/reports/morning-YYYY-MM-DD.html``), listing the runs of ``history()``
    (the ledger's runs table) that wrote no report. Returns ``report.md``'s path. Safe to
    repeat (the files are replaced). ``OSError`` when the run folder cannot be written; a
    failure to write the HTML pages is logged, never raised."""
    private_dir(folder)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report.finished_at = report.finished_at or now  # the runner leaves it to this moment
    report.started_at = report.started_at or report.finished_at
    data = report.as_json()
    write_private_text(
        folder / "report.json", json.dumps(data, indent=2, ensure_ascii=False, default=str)
    )
    target = folder / "report.md"
    write_private_text(target, markdown(report))
    # The pages are for people; a page that cannot be written never fails the run (its
    # report.json is written): `robot report run|morning` writes them again.
    try:
        write_private_text(folder / HTML_FILE, render_run(data))
        if output_dir is not None:
            rows = history() if history is not None else ()
            write_morning_for(
                output_dir, report.started_at, municipality=report.municipality, history=rows
            )
    except Exception:
        log.exception("%s: could not write the HTML report or the morning report", report.run_id)
    return target
