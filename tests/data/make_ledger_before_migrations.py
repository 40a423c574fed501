"""Makes tests/data/ledger-before-migrations.sqlite: a ledger as paybot wrote it before schema
migrations (commit 93a22db, ``Ledger.create_schema`` = ``create_all``), with rows in every table.
tests/integration/test_migrations.py upgrades a copy of it. Run it against THAT code, not today's:

    git archive 93a22db src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src python tests/data/make_ledger_before_migrations.py OUT.sqlite
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

from paybot.audit.anchor import Checkpoint, CheckpointStore
from paybot.domain.models import Category, ErpStatus, RegisterEntry
from paybot.ledger import Ledger
from paybot.run_folder import Counts

NOW = dt.datetime(2026, 11, 20, 8, 15, tzinfo=dt.UTC)
ROBOT = "small_invoices"
RUN = "20261120-081500-3f9a"


def main(out: Path) -> None:
    url = f"sqlite:///{out}"
    ledger = Ledger(url, clock=lambda: NOW)
    ledger.create_schema()
    ledger.start_run(RUN, ROBOT, "manual", "robot-1", 4242)
    entries = [
        (
            RegisterEntry(
                erp_id=n,
                category=Category.OTHER,
                status=ErpStatus.NEW,
                supplier_cvr="20433213",
                invoice_number=f"F-{n}",
                issue_date=dt.date(2026, 11, 19),
                payable_amount=Decimal("1250.00"),
            ),
            [f"20433213:F-{n}"],
        )
        for n in (1, 2, 3, 4)
    ]
    ledger.record_inbox_page(
        ROBOT, "oevrige", entries, [(n, f"20433213:F-{n}") for n in (1, 2, 3, 4)], RUN
    )
    paid = ledger.claim_next(ROBOT, "w1", RUN, 300)
    assert paid is not None
    ledger.record_decision(RUN, ROBOT, paid.erp_id, {"kind": "pay"}, dry_run=False)
    ledger.record_pay_intent(
        paid,
        "w1",
        amount=Decimal("1250.00"),
        account_string="6.45.51-000-2.2",
        payment_date=dt.date(2026, 11, 23),
        rule_version="1 abcdef012345",
    )
    ledger.record_paid(ledger.item(ROBOT, paid.erp_id), "w1", "B-1001")
    intent = ledger.claim_next(ROBOT, "w1", RUN, 300)
    assert intent is not None
    ledger.record_pay_intent(
        intent,
        "w1",
        amount=Decimal("1250.00"),
        account_string="6.45.51-000-2.2",
        payment_date=dt.date(2026, 11, 23),
        rule_version="1 abcdef012345",
    )
    manual = ledger.claim_next(ROBOT, "w1", RUN, 300)
    assert manual is not None
    ledger.record_manual_intent(manual, "w1", reason="UKENDT_LEVERANDOER", rule_version="1 abc")
    ledger.record_manual_done(ledger.item(ROBOT, manual.erp_id), "w1")
    ledger.request_handover(ROBOT, 4, reason="ANDET", note="ring til leverandøren", by="ops")
    ledger.finish_run(RUN, 0, Counts(paid=1, manual=1), "a note")
    ledger.beat("scheduler", "robot-1", 4243)
    ledger.add_alert(
        robot=ROBOT,
        run_id=RUN,
        channel="email",
        kind="run_failed",
        subject="Kørsel fejlede",
        text="tekst",
        html="<p>tekst</p>",
    )
    ledger.close()
    store = CheckpointStore(url)
    store.create_schema()
    store.record(
        "robot-1:/var/lib/paybot/data/audit/audit.jsonl",
        Checkpoint(
            seq=10,
            hash="a" * 64,
            first_hash="f" * 64,
            key_id="k1",
            signature="s" * 86,
            ts=NOW.isoformat(),
            why="run_end",
            checkpoint_seq=11,
            checkpoint_hash="b" * 64,
            offset=4096,
        ),
    )
    store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
