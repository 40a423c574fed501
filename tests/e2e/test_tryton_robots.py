"""The three robots, unchanged, against a real finance system: Tryton 8.0 served with sao,
seeded from the mock's seed world (issue 12). Real trytond, real SQLite, real Chromium.

One trytond for the module (copies of the seeded database: one per test that needs a fresh
state); the robots are the same ``robot run`` as against the mock, with ``erp.kind: tryton``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.robots import ROOT
from support.tryton import (
    TrytonServer,
    require_tryton,
    running_tryton,
    tryton_env,
    tryton_home,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROBOT = "pay-small-invoices"
CATEGORY = "oevrige"
INVOICES = 12  # six small invoices (a credit note and a bad currency among them), three
# certificates, three interpreter invoices
SEED = 7
RUN_TIMEOUT_SECONDS = 600


@pytest.fixture(scope="module")
def tryton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrytonServer]:
    require_tryton()
    categories = [CATEGORY, "laegeerklaering", "tolk"]
    home = tryton_home(tmp_path_factory.mktemp("tryton"), INVOICES, SEED, categories)
    with running_tryton(home, ["paybot", "crash", "others"]) as server:
        yield server


def robot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paybot", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )


def compare(server: TrytonServer, database: str, categories: set[str] | None = None) -> list[str]:
    from trytonerp.truth import compare as compare_truth

    wanted = categories or {CATEGORY}
    conn = sqlite3.connect(f"file:{server.db_file(database)}?mode=ro", uri=True, timeout=30)
    try:
        report = compare_truth(conn, server.home.truth, wanted)
    finally:
        conn.close()
    for category in wanted:  # the seed gave every robot real work
        assert report.checked[category] >= 3, report.lines()
    return report.mismatches


def ledger_states(data_dir: Path) -> dict[int, str]:
    path = data_dir / "ledger.sqlite"
    if not path.exists():
        return {}
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            return dict(conn.execute("SELECT erp_id, state FROM work_items").fetchall())
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return {}  # the run is still creating its schema


def wait_for(condition: Callable[[], bool], what: str, deadline: float = 300.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_pays_the_ground_truth_in_tryton_then_changes_nothing(
    tryton: TrytonServer, tmp_path: Path
) -> None:
    env = tryton_env(tmp_path, tryton, "paybot")
    first = robot(env, "run", ROBOT)
    assert first.returncode == 0, first.stdout + first.stderr
    assert compare(tryton, "paybot") == []
    paid = {k for k, (state, _) in tryton.invoices("paybot").items() if state == "paid"}
    moves = tryton.payment_lines("paybot")

    second = robot(env, "run", ROBOT)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "paid 0, manual 0" in second.stdout
    assert {k for k, (state, _) in tryton.invoices("paybot").items() if state == "paid"} == paid
    assert tryton.payment_lines("paybot") == moves
    verify = robot(env, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_kill_between_the_pay_click_and_the_voucher_pays_exactly_once(
    tryton: TrytonServer, tmp_path: Path
) -> None:
    """SIGKILL the whole run (robot, robocorp, Chromium) after Tryton has paid an invoice and
    before the robot has recorded the voucher; the next run reads Tryton's own payment
    records and records the voucher: one payment, never two."""
    env = tryton_env(tmp_path, tryton, "crash")
    proc = subprocess.Popen(
        [sys.executable, "-m", "paybot", "run", ROBOT],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    data = tmp_path / "data"

    def paid_in_tryton_but_not_recorded() -> bool:
        intents = {k for k, v in ledger_states(data).items() if v == "PAY_INTENT"}
        invoices = tryton.invoices("crash")
        return any(invoices.get(k, ("", None))[0] == "paid" for k in intents)

    try:
        # Tryton has paid it (the wizard's OK went through) and the robot has not yet read
        # and recorded the voucher: the worst moment to die.
        wait_for(paid_in_tryton_but_not_recorded, "a payment Tryton made but the ledger lacks")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    invoices = tryton.invoices("crash")
    crashed = [
        k for k, v in ledger_states(data).items() if v == "PAY_INTENT" and invoices[k][0] == "paid"
    ]
    assert crashed

    from paybot import locks

    wait_for(lambda: not locks.is_locked(data, ROBOT), "the lock to be freed", 10)
    rerun = robot(env, "run", ROBOT)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert compare(tryton, "crash") == []
    assert all(n == 1 for n in tryton.payment_lines("crash").values())
    with sqlite3.connect(data / "ledger.sqlite") as ledger:
        for erp_id in crashed:
            state, voucher = ledger.execute(
                "SELECT state, voucher FROM work_items WHERE erp_id = ?", (erp_id,)
            ).fetchone()
            assert state == "PAID" and voucher
    trail = (data / "audit" / "audit.jsonl").read_text("utf-8")
    assert '"found":"betalt"' in trail  # looked up in Tryton's payment records, not paid again


def test_the_certificate_and_interpreter_robots_match_the_ground_truth_in_tryton(
    tryton: TrytonServer, tmp_path: Path
) -> None:
    """Reference data Tryton does not keep (requisitions, bookings) comes from the case
    system's export files (``tryton.exports_dir``)."""
    env = tryton_env(tmp_path, tryton, "others")
    for name in ("pay-medical-certificates", "pay-interpreter-invoices"):
        done = robot(env, "run", name)
        assert done.returncode == 0, done.stdout + done.stderr
    assert compare(tryton, "others", {"laegeerklaering", "tolk"}) == []
