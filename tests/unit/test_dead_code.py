"""No names nothing uses (issue 11): vulture over paybot, with the robots' tasks, the tests
and the benchmarks as its users. What vulture cannot see being used (pydantic fields read by
name, validators, SQLAlchemy and structlog hooks, fields a page object fills) is listed in
:data:`USED_ELSEWHERE` with the reason; anything else it reports is dead and goes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

vulture = pytest.importorskip("vulture")

ROOT = Path(__file__).resolve().parents[2]
USERS = ["tests", "tasks", "benchmarks", "robots"]

IGNORE_NAMES = [
    # signatures fixed by others: structlog processors, signal handlers, context managers
    "method_name", "frame", "signum", "exc_type", "exc_value", "tb",
    # pydantic and SQLAlchemy read these by name
    "model_config", "impl", "cache_ok", "load_dialect_impl", "process_bind_param",
    "process_result_value",
]  # fmt: skip
IGNORE_DECORATORS = ["@field_validator", "@model_validator", "@event.listens_for", "@property"]

USED_ELSEWHERE: dict[str, str] = {
    "freeze_panes": "openpyxl reads the worksheet attribute when it saves",
    "font": "openpyxl reads the cell attribute when it saves",
    "isolation_level": "the sqlite3 driver reads it (paybot.database)",
    "binary_location": "Selenium reads the option (Debian's Chromium)",
    "CommandModule": "paybot.cli casts each command module to it (a string cast)",
    "enhed": "a RawLine cell, read by name by paybot.domain.parsing (cell('enhed'))",
    "moms": "a RawLine/RawVat cell, read by name by paybot.domain.parsing",
    "prisenhed": "a RawLine cell, read by name by paybot.domain.parsing",
    "rabat": "a RawLine cell, read by name by paybot.domain.parsing",
    "gebyr": "a RawLine cell, read by name by paybot.domain.parsing",
    "art": "a RawAllowanceCharge cell, read by name by paybot.domain.parsing",
    "grundlag": "a RawVat cell, read by name by paybot.domain.parsing",
    "unit_code": "InvoiceLine: EN 16931 BT-130, part of the parsed invoice",
    "supplier_gln": "Invoice: the supplier's GLN, part of the parsed invoice",
    "accounting_cost": "Invoice: EN 16931 BT-19, part of the parsed invoice",
    "updated_at": "WorkItem: a column both ledgers write on every change",
    "signalled": "KillResult field nothing reads yet; paybot.scheduler is being reworked",
    "scheduled_run": "APScheduler calls it by its text reference (paybot.scheduler.jobs)",
    "down_revision": "Alembic reads it from each revision file (paybot.migrations.versions)",
    "branch_labels": "Alembic reads it from each revision file (paybot.migrations.versions)",
    "depends_on": "Alembic reads it from each revision file (paybot.migrations.versions)",
    "downgrade": "Alembic calls it by name in each revision file (paybot.migrations.versions)",
    # what the report pages show: read by name by src/paybot/report/templates/*.html
    "day_da": "the morning report's heading (morning.html)",
    "result_da": "a row's result in Danish (tables.html)",
    "amount_text": "an amount with its currency (run.html, tables.html, charts.html)",
    "amount_texts": "a run's amounts by outcome with their currencies (console run.html)",
    "reason_text": "a reason code's Danish text (tables.html)",
    "count_share": "a bar's width in the decisions chart (charts.html)",
    "amount_share": "a bar's width in the decisions chart (charts.html)",
    "exit_da": "the run's outcome in Danish (run.html, morning.html)",
    "paybot_version": "Report field written to report.json (asdict), shown by run.html",
    # the web console: Flask calls its views by route, Jinja2 and Flask read these attributes
    "autoescape": "Jinja2 reads the environment attribute (paybot.console.app)",
    "trim_blocks": "Jinja2 reads the environment attribute (paybot.console.app)",
    "lstrip_blocks": "Jinja2 reads the environment attribute (paybot.console.app)",
    "permanent": "Flask reads session.permanent for the session's lifetime (console.auth)",
    "logout": "a Flask view, called by its route (console.auth)",
    "morning_link": "a Flask view, called by its route (console.files)",
    "export_trail": "a Flask view, called by its route (console.forms)",
    "hand_over_item": "a Flask view, called by its route (console.forms)",
    "change_schedule": "a Flask view, called by its route (console.forms)",
    "exports": "a Flask view, called by its route (console.pages)",
}


def unused_names() -> list[str]:
    v = vulture.Vulture(ignore_names=IGNORE_NAMES, ignore_decorators=IGNORE_DECORATORS)
    v.scavenge([str(ROOT / "src" / "paybot"), *(str(ROOT / u) for u in USERS)])
    src = ROOT / "src" / "paybot"
    return sorted(
        f"{Path(item.filename).relative_to(ROOT)}:{item.first_lineno} {item.typ} {item.name}"
        for item in v.get_unused_code(min_confidence=60)
        if Path(item.filename).is_relative_to(src) and item.name not in USED_ELSEWHERE
    )


def test_paybot_has_no_dead_code() -> None:
    assert unused_names() == []
