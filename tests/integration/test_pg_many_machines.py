"""Several robot machines on one PostgreSQL, at the ledger's level (no browser): claims never
overlap across "machines" (separate processes and connections), the robot's lock is an
advisory lock per robot and machine that dies with its holder, each planned scheduled run is
claimed once, a machine's start-up frees only its own dead runs' leases, and a ledger whose
server restarts in the middle goes on (docs/scaling.md)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from paybot import locks
from paybot.config import load_settings
from paybot.config_models import Settings
from paybot.errors import LedgerError
from paybot.ledger import Ledger, State
from support.postgres import PostgresCluster

ROOT = Path(__file__).resolve().parents[2]
ROBOT = "pay-small-invoices"


def psycopg_url(url: str) -> str:
    """The fixture's ``postgresql://`` URL with the psycopg 3 driver named."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def pg(postgres_url: str) -> str:
    return psycopg_url(postgres_url)


def settings_for(url: str, machine: str, tmp_path: Path) -> Settings:
    env = {
        "PAYBOT_LEDGER_URL": url,
        "PAYBOT_MACHINE": machine,
        "PAYBOT_DATA_DIR": str(tmp_path / machine / "data"),
    }
    return load_settings(ROOT, env)


CLAIMER = textwrap.dedent(
    """
    import sys
    from paybot.ledger import Ledger
    url, machine, run_id = sys.argv[1:4]
    ledger = Ledger(url, retry_seconds=30)
    got = []
    while (item := ledger.claim_next("pay-small-invoices", f"{run_id}/w1", run_id, 600)):
        got.append(item.erp_id)
        ledger.release(item, f"{run_id}/w1", done_this_run=True)
    print(" ".join(map(str, got)))
    """
)


def test_two_machines_claiming_at_once_never_get_the_same_item(pg: str) -> None:
    ledger = Ledger(pg)
    ledger.create_schema()
    ledger.ensure_work_many(ROBOT, [(n, f"20433213:F-{n}") for n in range(1, 121)], "collect")
    # Each claimer gives its item back "done in this run" (as a dry run does): the other
    # machines' runs must not take it again either, or two dry runs would pass items back and
    # forth for ever.
    for machine in ("m1", "m2", "m3"):
        ledger.start_run(f"run-{machine}", ROBOT, "manual", machine, 1)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, pg, machine, f"run-{machine}"],
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
        )
        for machine in ("m1", "m2", "m3")
    ]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    claimed = Counter(int(x) for out in outputs for x in out)
    assert sorted(claimed) == list(range(1, 121)), "an item was never claimed"
    assert max(claimed.values()) == 1, "an item was claimed twice"
    assert all(len(out) > 0 for out in outputs), [len(o) for o in outputs]
    ledger.close()


def test_the_robot_lock_is_per_machine_and_dies_with_its_holder(pg: str, tmp_path: Path) -> None:
    m1, m2 = settings_for(pg, "m1", tmp_path), settings_for(pg, "m2", tmp_path)
    first = locks.acquire_for(m1, ROBOT, "run-1")
    try:
        assert isinstance(first, locks.DatabaseLock)
        with pytest.raises(locks.RobotBusy, match="run-1"):
            locks.acquire_for(m1, ROBOT, "run-2")
        assert locks.is_running(m1, ROBOT)
        assert not locks.is_running(m2, ROBOT)
        other = locks.acquire_for(m2, ROBOT, "run-3")  # another machine: same queue, own lock
        other.release()
    finally:
        first.release()
    assert not locks.is_running(m1, ROBOT)

    # A holder killed with SIGKILL: its session ends, the server drops the lock.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, threading\n"
            "from paybot import locks\n"
            "from paybot.config import load_settings\n"
            "from pathlib import Path\n"
            f"s = load_settings(Path({str(ROOT)!r}), {{'PAYBOT_LEDGER_URL': sys.argv[1], "
            "'PAYBOT_MACHINE': 'm1'})\n"
            f"locks.acquire_for(s, {ROBOT!r}, 'killed-run')\n"
            "print('held', flush=True)\n"
            "threading.Event().wait()\n",
            pg,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(locks.RobotBusy, match="killed-run"):
        locks.acquire_for(m1, ROBOT, "run-4")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    deadline = threading.Event()
    for _ in range(100):  # the server notices the closed connection at once; allow a moment
        if not locks.is_running(m1, ROBOT):
            break
        deadline.wait(0.05)
    again = locks.acquire_for(m1, ROBOT, "run-5")
    again.release()


def test_each_planned_run_is_claimed_once_across_schedulers(pg: str) -> None:
    ledgers = [Ledger(pg) for _ in range(4)]
    ledgers[0].create_schema()
    planned = dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC)
    holders: list[str] = []
    start = threading.Barrier(4)

    def claim(n: int) -> None:
        start.wait()
        holders.append(ledgers[n].claim_scheduled_run(ROBOT, planned, f"m{n}", "started"))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(holders)) == 1, holders  # every scheduler sees the same winner
    later = planned + dt.timedelta(days=1)
    assert ledgers[1].claim_scheduled_run(ROBOT, later, "m1", "missed") == "m1"
    assert ledgers[2].claim_scheduled_run(ROBOT, later, "m2", "started") == "m1"
    for ledger in ledgers:
        ledger.close()


def test_start_up_frees_only_this_machines_dead_leases(pg: str) -> None:
    ledger = Ledger(pg)
    ledger.create_schema()
    ledger.ensure_work_many(ROBOT, [(1, "1:A"), (2, "2:B")], "collect")
    ledger.start_run("dead-on-m1", ROBOT, "manual", "m1", 1)
    ledger.start_run("alive-on-m2", ROBOT, "manual", "m2", 2)
    one = ledger.claim_next(ROBOT, "dead-on-m1/w1", "dead-on-m1", 600)
    two = ledger.claim_next(ROBOT, "alive-on-m2/w1", "alive-on-m2", 600)
    assert one is not None and two is not None
    assert ledger.release_leases_of_other_runs(ROBOT, "new-on-m1", host="m1") == [1]
    assert ledger.mark_abandoned_runs(ROBOT, "new-on-m1", host="m1") == ["dead-on-m1"]
    held = ledger.item(ROBOT, 2)
    assert held is not None and held.lease_owner == "alive-on-m2/w1"  # m2's run goes on
    ledger.close()


def test_a_server_restart_in_the_middle_is_waited_out(
    postgres_cluster: PostgresCluster, pg: str
) -> None:
    """The ledger's connections all break; the next operations wait for the server and go on,
    and a change whose commit was lost or kept is neither lost nor done twice."""
    ledger = Ledger(pg, retry_seconds=60)
    ledger.create_schema()
    ledger.ensure_work_many(ROBOT, [(n, f"1:{n}") for n in range(1, 4)], "collect")
    item = ledger.claim_next(ROBOT, "r/w1", "r", 600)
    assert item is not None
    restarted = threading.Thread(target=postgres_cluster.restart, kwargs={"mode": "fast"})
    restarted.start()
    # Ask while the server goes down and comes back: each call waits it out.
    item = ledger.renew(item, "r/w1", 600)
    moved = ledger.record_pay_intent(
        item,
        "r/w1",
        amount=Decimal("100.00"),
        account_string="6.45.51-000-2.2",
        payment_date=dt.date(2026, 12, 1),
        rule_version="1",
    )
    restarted.join()
    assert moved.new is State.PAY_INTENT
    paid = ledger.record_paid(moved.item, "r/w1", "B-1")
    assert paid.new is State.PAID
    assert ledger.item_counts(ROBOT) == {State.PAID: 1, State.PENDING: 2}
    ledger.close()


def test_a_second_attempt_recognises_a_commit_that_did_reach_the_server(pg: str) -> None:
    """The answer to a commit can be lost with the connection: the retried state change finds
    its own work done (same lease token) instead of failing, and a retried claim finds the
    item it leased."""
    ledger = Ledger(pg, retry_seconds=5)
    ledger.create_schema()
    ledger.ensure_work_many(ROBOT, [(1, "1:A"), (2, "2:B")], "collect")
    item = ledger.claim_next(ROBOT, "r/w1", "r", 600)
    assert item is not None
    done = ledger.record_manual_intent(item, "r/w1", reason="MANUAL_X", rule_version="1")
    # the same call again as a second attempt (the first one's answer "lost")
    ledger._attempt.n = 2
    try:
        again = ledger.record_manual_intent(item, "r/w1", reason="MANUAL_X", rule_version="1")
        claimed_again = ledger.claim_next(ROBOT, "r/w1", "r", 600)
    finally:
        ledger._attempt.n = 0
    assert (again.old, again.new) == (State.PENDING, State.MANUAL_INTENT)
    assert again.item.lease_token == done.item.lease_token
    assert claimed_again is not None and claimed_again.erp_id == 1  # not item 2
    # on a first attempt the same call is refused, as before
    with pytest.raises(LedgerError, match="refused"):
        ledger.record_manual_intent(item, "r/w1", reason="MANUAL_X", rule_version="1")
    ledger.close()
