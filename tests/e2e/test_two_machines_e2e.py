"""Two robot "machines" on one PostgreSQL against one mock finance system, end to end: real
``robot run`` processes with real headless Chromium, each machine with its own data folder,
output folder, audit trail and machine name (``PAYBOT_MACHINE``), sharing only the ledger.

- both at once: every decision as the ground truth says, nothing paid twice, both did work;
- one machine killed (SIGKILL, the whole process tree) in the middle: its leases expire and the
  other machine finishes its invoices, reconciling any open intent;
- the database restarted in the middle of a run: the run waits for it and goes on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from paybot.erp.processes import end_processes, marker_prefix
from paybot.ledger import Ledger
from support.postgres import PostgresCluster
from support.robots import RobotWorld, Template, robot_world, seed_template

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROBOT = "pay-small-invoices"
CATEGORY = "oevrige"
DEADLINE = 240.0
CATCH_AN_INTENT = """
    SELECT erp_id FROM work_items WHERE state = 'PAY_INTENT'
    AND (SELECT count(*) FROM work_items WHERE state = 'PAID') >= 2
    FOR UPDATE
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return seed_template(tmp_path_factory.mktemp("seed-30"), invoices=30, seed=11)


@pytest.fixture
def pg(postgres_url: str) -> str:
    """A fresh database with the schema (as ``robot db upgrade`` leaves it)."""
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    ledger = Ledger(url)
    ledger.create_schema()
    ledger.close()
    return url


def machine_env(world: RobotWorld, name: str, url: str, **more: str) -> dict[str, str]:
    """The environment of one robot machine: its own folders and name, the shared ledger."""
    home = world.root / name
    return {
        "PAYBOT_MACHINE": name,
        "PAYBOT_DATA_DIR": str(home / "data"),
        "PAYBOT_OUTPUT_DIR": str(home / "output"),
        "PAYBOT_LEDGER_URL": url,
        **more,
    }


def start(world: RobotWorld, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "paybot", "run", ROBOT, *args],
        env=world.env | env,
        cwd=world.root,
        start_new_session=True,  # its own process group: the test can kill the whole tree
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=DEADLINE)
    return proc.returncode, out


def query(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    except Exception:  # the schema is not there yet, or the server is restarting
        return []
    finally:
        engine.dispose()


def wait_for(condition: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    end = time.monotonic() + deadline
    while not (value := condition()):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling a database other processes write
    return value


def states(url: str) -> dict[int, str]:
    return dict(query(url, "SELECT erp_id, state FROM work_items"))  # type: ignore[arg-type]


def assert_ground_truth(world: RobotWorld) -> None:
    assert world.compare_with_truth(CATEGORY) == []
    assert all(n == 1 for n in world.payments_per_invoice().values()), "paid twice"


@pytest.fixture
def killed_trees() -> Iterator[list[tuple[Path, subprocess.Popen[str]]]]:
    """Every run started is ended at the test's end, with its browsers."""
    started: list[tuple[Path, subprocess.Popen[str]]] = []
    yield started
    for data_dir, proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        end_processes(marker_prefix(data_dir, ROBOT))


def test_two_machines_share_one_queue_and_pay_each_invoice_once(
    template: Template, tmp_path: Path, pg: str, killed_trees: list[Any]
) -> None:
    with robot_world(tmp_path, template, latency_ms=30) as world:
        envs = [machine_env(world, name, pg) for name in ("robot-1", "robot-2")]
        procs = [start(world, env) for env in envs]
        killed_trees.extend(
            (Path(e["PAYBOT_DATA_DIR"]), p) for e, p in zip(envs, procs, strict=True)
        )
        for code, out in map(finish, procs):
            assert code == 0, out
        assert_ground_truth(world)
        runs = query(pg, "SELECT host, paid + manual + skipped FROM runs ORDER BY host")
        assert [host for host, _ in runs] == ["robot-1", "robot-2"]
        assert all(done > 0 for _, done in runs), f"a machine did no work: {runs}"
        expected = len(world.expected(CATEGORY))
        assert sum(done for _, done in runs) == expected
        # Each machine's own trail, its checkpoints in the shared ledger under its own name.
        for env in envs:
            verified = world.robot("audit", "verify", env=env)
            assert verified.returncode == 0, verified.stdout + verified.stderr
        trails = query(pg, "SELECT DISTINCT split_part(trail, ':', 1) FROM audit_checkpoints")
        assert sorted(t for (t,) in trails) == ["robot-1", "robot-2"]


def test_a_killed_machines_invoices_are_finished_by_the_other(
    template: Template, tmp_path: Path, pg: str, killed_trees: list[Any]
) -> None:
    with robot_world(tmp_path, template, latency_ms=60) as world:
        first = machine_env(world, "robot-1", pg, PAYBOT_RUNNER_LEASE_SECONDS="3")
        proc = start(world, first)
        killed_trees.append((Path(first["PAYBOT_DATA_DIR"]), proc))
        # Catch machine 1 between its payment intent and recording the voucher: lock the
        # intent's row, so that its record_paid waits, and kill the machine then.
        engine = create_engine(pg)
        with engine.connect() as conn:
            end = time.monotonic() + DEADLINE
            while True:
                try:
                    with conn.begin():
                        held = [e for (e,) in conn.execute(text(CATCH_AN_INTENT))]
                        if held:
                            os.killpg(proc.pid, signal.SIGKILL)  # robot, robocorp, Chromium
                            proc.wait()
                            break
                except (OperationalError, ProgrammingError):  # no tables yet
                    pass
                assert time.monotonic() < end, "machine 1 never held a payment intent"
                time.sleep(0.05)  # polling a database another process writes
        engine.dispose()
        end_processes(marker_prefix(Path(first["PAYBOT_DATA_DIR"]), ROBOT))
        assert set(held) <= {e for e, s in states(pg).items() if s == "PAY_INTENT"}
        # Machine 1's leases expire (3 s) however long it stays away; machine 2 takes over.
        wait_for(
            lambda: not query(pg, "SELECT 1 FROM work_items WHERE lease_expires > now()"),
            "machine 1's leases to expire",
            30,
        )
        second = machine_env(world, "robot-2", pg)
        code, out = finish(start(world, second))
        assert code == 0, out
        assert_ground_truth(world)
        taken_over = query(
            pg,
            "SELECT w.erp_id FROM work_items w JOIN runs r ON r.run_id = w.run_id "
            f"WHERE r.host = 'robot-2' AND w.erp_id IN ({', '.join(map(str, held))})",
        )
        assert sorted(e for (e,) in taken_over) == sorted(held)
        assert "reconciled" in (
            Path(second["PAYBOT_DATA_DIR"]) / "audit" / "audit.jsonl"
        ).read_text("utf-8")


def test_a_database_restart_in_the_middle_of_a_run_is_waited_out(
    template: Template,
    tmp_path: Path,
    pg: str,
    postgres_cluster: PostgresCluster,
    killed_trees: list[Any],
) -> None:
    with robot_world(tmp_path, template, latency_ms=60) as world:
        env = machine_env(world, "robot-1", pg)
        proc = start(world, env)
        killed_trees.append((Path(env["PAYBOT_DATA_DIR"]), proc))
        wait_for(lambda: list(states(pg).values()).count("PAID") >= 2, "two invoices paid")
        postgres_cluster.restart("fast")  # every session ends, the server is away a moment
        code, out = finish(proc)
        assert code == 0, out
        assert_ground_truth(world)
        [(ended, exit_code)] = query(pg, "SELECT ended_at IS NOT NULL, exit_code FROM runs")
        assert (ended, exit_code) == (True, 0)
