"""A project for the console's tests: fake robots (tests/integration/test_scheduler_fakes.py),
a real SQLite ledger with work items and runs, a run folder with report.json and a screenshot,
an audit trail with an invoice's records, and one user of each role.

Values that try to break the pages on purpose: a supplier name and a report note holding
``<script>``, a file beside the run folder that must never be served.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from argon2 import PasswordHasher

from paybot.audit import AuditTrail
from paybot.config import load_settings
from paybot.console.users import Role, UserStore
from paybot.ledger import Ledger, RunRecord, utc_now
from paybot.run_folder import Counts, run_dir
from support.robots import audit_key_env

ROOT = Path(__file__).resolve().parents[2]
ROBOT = "fake-small"
OTHER = "fake-other"
PASSWORDS = {
    "vera": "viewer-password-1",
    "otto": "operator-password-1",
    "aud": "auditor-password-1",
}
ROLES = {"vera": Role.VIEWER, "otto": Role.OPERATOR, "aud": Role.AUDITOR}
SCRIPT = "<script>alert('x')</script>"
RUN_ID = "20261130T003000Z-ab12"
SECRET_FILE_TEXT = "must never be served"
MORNING = "morning-2026-11-30.html"


def fast_hasher() -> PasswordHasher:
    """Argon2id with small costs: the tests log in often; the console uses the defaults."""
    return PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


def _manifest(name: str, title: str) -> str:
    return f"""\
name: {name}
title: {title}
task: {{module: tasks/fakes.py, name: quick}}
category: oevrige
rules: config/rules/small_invoices.yaml
kind: small_invoices
schedule:
  cron: "30 1 * * 1-5"
  timezone: Europe/Copenhagen
  bank_days_only: false
  misfire_grace_minutes: 5
  timeout_minutes: 1
  enabled: true
workers: 1
"""


@dataclass
class ConsoleWorld:
    home: Path
    env: dict[str, str]

    def settings(self):  # type: ignore[no-untyped-def]
        return load_settings(self.home, self.env)

    def audit(self, event: str | None = None) -> list[dict[str, object]]:
        path = self.settings().audit.file
        records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
        return [r for r in records if event is None or r["event"] == event]

    def ledger(self) -> Ledger:
        return Ledger(self.settings().ledger.url)


def make_world(root: Path, *, heartbeat: bool = False, script_key: bool = True) -> ConsoleWorld:
    """The world; ``heartbeat``: a scheduler on another host has just written its heartbeat
    (alive for three minutes); ``script_key``: a work item whose business key holds
    ``<script>`` (left out for the README's screenshots)."""
    home = root / "home"
    shutil.copytree(ROOT / "config", home / "config")
    (home / "robots").mkdir()
    (home / "tasks").mkdir()
    (home / "robots" / f"{ROBOT}.yaml").write_text(_manifest(ROBOT, "Småfakturaer"), "utf-8")
    (home / "robots" / f"{OTHER}.yaml").write_text(_manifest(OTHER, "Andre fakturaer"), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
    env |= {
        "PAYBOT_HOME": str(home),
        "PAYBOT_ERP_PASSWORD": "not-used",
        "PAYBOT_MUNICIPALITY_NAME": "Testrup Kommune",
        **audit_key_env(root),
    }
    world = ConsoleWorld(home, env)
    settings = world.settings()
    ledger = Ledger(settings.ledger.url)
    try:
        ledger.create_schema()
        third = f"20433213:{SCRIPT}" if script_key else "20433213:F-8"
        ledger.ensure_work_many(ROBOT, [(5, "20433213:F-5"), (6, "20433213:F-6"), (8, third)], "r0")
        item = ledger.claim_next(ROBOT, "w1", "r1", 60)
        assert item is not None and item.erp_id == 5
        ledger.record_failure(item, "w1", "HTTP 500 fra økonomisystemet")
        busy = ledger.claim_next(ROBOT, "w1", "r1", 600)
        assert busy is not None and busy.erp_id == 6
        ledger.record_pay_intent(
            busy, "w1", amount=Decimal("10.00"), account_string="x",
            payment_date=dt.date(2026, 12, 1), rule_version="1",
        )  # fmt: skip
        started = utc_now() - dt.timedelta(hours=6)
        ledger.record_run(
            RunRecord(
                run_id=RUN_ID, robot=ROBOT, trigger="scheduler", host="testhost", pid=1,
                started_at=started,
            )
        )  # fmt: skip
        ledger.finish_run(RUN_ID, 1, Counts(paid=2, manual=1, failed=1), None)
        if heartbeat:
            ledger.beat("scheduler", "robot-server", 4242)
    finally:
        ledger.close()
    folder = run_dir(settings.output_dir, RUN_ID)
    (folder / "screenshots").mkdir(parents=True)
    (folder / "screenshots" / "lobenr-7-attempt-1.png").write_bytes(_png())
    (folder.parent / "secret.txt").write_text(SECRET_FILE_TEXT, "utf-8")
    (folder.parent / "secret.png").write_bytes(_png())
    report = {
        "robot": ROBOT, "run_id": RUN_ID, "rule_version": "2026.1", "exit_code": 1,
        "counts": {"paid": 2, "manual": 2, "failed": 1},
        "items": [
            {"erp_id": 1, "business_key": "20433213:F-1", "result": "paid", "amount": "100.50",
             "voucher": "B-1"},
            {"erp_id": 2, "business_key": "20433213:F-2", "result": "paid", "amount": "20.00",
             "voucher": "B-2"},
            {"erp_id": 3, "business_key": "20433213:F-3", "result": "manual",
             "reason": "MANUAL_SUPPLIER", "amount": "7.25", "currency": "DKK",
             "note": f"Note {SCRIPT}"},
            {"erp_id": 4, "business_key": "20433213:F-4", "result": "manual",
             "reason": "MANUAL_FORMAT", "amount": "2296.25", "currency": "EUR"},
            {"erp_id": 7, "business_key": "20433213:F-7", "result": "failed",
             "error": "timeout", "screenshot": "lobenr-7-attempt-1.png"},
        ],
        "message": "",
    }  # fmt: skip
    (folder / "report.json").write_text(json.dumps(report), "utf-8")
    (folder / "report.html").write_text(
        '<!DOCTYPE html><html lang="da"><head><style>h1{color:#123}</style></head><body>'
        "<h1>Kørselsrapport</h1>"
        '<a href="screenshots/lobenr-7-attempt-1.png">skærmbillede</a></body></html>',
        "utf-8",
    )
    reports = settings.output_dir / "reports"
    reports.mkdir()
    (reports / MORNING).write_text(
        f'<!DOCTYPE html><html lang="da"><body><h1>Morgenrapport</h1>'
        f'<a href="../runs/{RUN_ID}/report.html">{RUN_ID}</a></body></html>',
        "utf-8",
    )
    (reports / "notes.html").write_text(SECRET_FILE_TEXT, "utf-8")
    with AuditTrail(settings.audit.file, forward_to_robocorp=False) as trail:
        log = trail.logger(robot=ROBOT, run_id=RUN_ID, erp_id=5, business_key="20433213:F-5")
        log.event("field_read", fields={"supplier_name": f"Leverandør {SCRIPT}", "amount": "10"})
        log.event("decision", kind="manual", reason="MANUAL_SUPPLIER", rule="x", checks=[])
    store = UserStore(settings.data_dir, hasher=fast_hasher())
    for name, password in PASSWORDS.items():
        store.add(name, ROLES[name], password)
    return world


def _png() -> bytes:
    """A 1×1 PNG."""
    import base64

    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
