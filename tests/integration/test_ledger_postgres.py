"""What only a real PostgreSQL ledger shows (the contract itself runs in
test_ledger_contract.py): money and times in PostgreSQL's own types, the audit checkpoints in
the shared database, and a pooled connection that survives a server restart between two uses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from paybot.audit.anchor import Checkpoint, CheckpointStore
from paybot.audit.chain import AuditTrailError
from paybot.ledger import Ledger, State
from support.postgres import PostgresCluster

ROBOT = "small_invoices"


def column_types(cluster: PostgresCluster, url: str, table: str) -> dict[str, str]:
    with psycopg.connect(cluster.conninfo(url.rsplit("/", 1)[1])) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
            (table,),
        ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def test_money_is_numeric_and_times_are_timestamptz(
    postgres_cluster: PostgresCluster, postgres_ledger_url: str
) -> None:
    types = column_types(postgres_cluster, postgres_ledger_url, "work_items")
    assert types["amount"] == "numeric"
    assert types["created_at"] == types["lease_expires"] == "timestamp with time zone"
    ledger = Ledger(postgres_ledger_url)
    try:
        item = ledger.ensure_work(ROBOT, 1, "20433213:F-1", "r1")
        claimed = ledger.claim_next(ROBOT, "w1", "r1", 300)
        assert claimed is not None and claimed.id == item.id
        ledger.record_pay_intent(
            claimed,
            "w1",
            amount=Decimal("1234567.89"),
            account_string="6.45.51-000-2.2",
            payment_date=dt.date(2026, 11, 23),
            rule_version="1 abc",
        )
        stored = ledger.item(ROBOT, 1)
        assert stored is not None and stored.state is State.PAY_INTENT
        assert stored.amount == Decimal("1234567.89")
        assert stored.created_at.tzinfo is not None
    finally:
        ledger.close()


def checkpoint(seq: int, checkpoint_hash: str) -> Checkpoint:
    return Checkpoint(
        seq=seq,
        hash="a" * 64,
        first_hash="f" * 64,
        key_id="k1",
        signature="s" * 86,
        ts="2026-11-20T01:30:00+00:00",
        why="run_end",
        checkpoint_seq=seq + 1,
        checkpoint_hash=checkpoint_hash,
        offset=4096,
    )


def test_audit_checkpoints_live_in_the_shared_database(postgres_ledger_url: str) -> None:
    store = CheckpointStore(postgres_ledger_url)
    try:
        store.create_schema()
        assert store.count() == 0
        store.record("robot-1:/data/audit.jsonl", checkpoint(10, "b" * 64))
        store.record("robot-1:/data/audit.jsonl", checkpoint(10, "b" * 64))  # again: one row
        assert store.count() == 1
        with pytest.raises(AuditTrailError, match="the trail was replaced"):
            store.record("robot-1:/data/audit.jsonl", checkpoint(10, "c" * 64))
        store.record("robot-2:/data/audit.jsonl", checkpoint(20, "d" * 64))  # another machine
        latest = store.latest_for("f" * 64)
        assert latest is not None and (latest.checkpoint_seq, latest.offset) == (21, 4096)
    finally:
        store.close()


def test_a_pooled_connection_survives_a_server_restart_between_uses(
    postgres_cluster: PostgresCluster, postgres_ledger_url: str
) -> None:
    ledger = Ledger(postgres_ledger_url)
    try:
        ledger.ensure_work(ROBOT, 7, "20433213:F-7", "r1")  # a connection now sits in the pool
        postgres_cluster.restart()  # which breaks it
        assert [i.erp_id for i in ledger.items(ROBOT)] == [7]  # tested before use, replaced
    finally:
        ledger.close()
