"""The run report: ``report.json`` for machines, ``report.md`` for the people who read it.

No personal data: invoices are named by Løbenr and CVR:invoice number; errors are masked.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from paybot.audit import mask_data
from paybot.domain.calendar import DANISH_TIME
from paybot.domain.money import format_dkk
from paybot.exit_codes import EXIT_MEANINGS
from paybot.private import private_dir, write_private_text
from paybot.run.worker import ItemOutcome, Result
from paybot.run_folder import Counts

DRY_RUN_NOTE = ", dry run: nothing approved or handed over"


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

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("reason_texts")
        data["exit_meaning"] = EXIT_MEANINGS.get(self.exit_code, "")
        masked = mask_data(data)
        assert isinstance(masked, dict)
        return masked


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
                    format_dkk(Decimal(i.amount)) if i.amount else "",
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


def write_report(folder: Path, report: Report) -> Path:
    private_dir(folder)
    report.finished_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    write_private_text(
        folder / "report.json",
        json.dumps(report.as_json(), indent=2, ensure_ascii=False, default=str),
    )
    target = folder / "report.md"
    write_private_text(target, markdown(report))
    return target
