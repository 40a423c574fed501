"""Schedulers on two machines sharing one PostgreSQL (separate project and data folders,
separate job stores, machine names ``m1`` and ``m2``), with fake robots: each planned run is
started exactly once; when one machine is stopped the other runs the next one, also after
the database restarted in the middle of its life; the stopped machine, back up, neither runs
nor records as missed a planned run the other one started (docs/scaling.md)."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from test_scheduler_fakes import FakeHome, make_home, wait_for
from test_scheduler_misfire import plan_in_the_past

from paybot.ledger import Ledger, utc_now
from support.postgres import PostgresCluster

pytestmark = pytest.mark.slow

ROBOT = "fake-quick"
DEADLINE = 120.0


def query(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    except Exception:  # no tables yet, or the server is restarting
        return []
    finally:
        engine.dispose()


class Machine:
    def __init__(self, tmp_path: Path, name: str, url: str, cron: str) -> None:
        self.name = name
        self.home: FakeHome = make_home(tmp_path / name)
        self.home.env |= {"PAYBOT_LEDGER_URL": url, "PAYBOT_MACHINE": name}
        self.home.write_robot(ROBOT, "quick", cron=cron, misfire_grace_minutes=5)
        self.log = tmp_path / f"{name}-scheduler.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.since = 0  # where this life's lines start in the log (one log for every start)

    def start(self) -> None:
        self.since = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "paybot", "scheduler"],
                env=self.home.env,
                cwd=self.home.home,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=60) == 0, self.output()
        self.proc = None

    def output(self) -> str:
        """What the scheduler wrote since it was last started: a line of an earlier life
        ("taken by the scheduler on m2") must not pass for this one's, or the test would stop
        a scheduler that has not yet set up its signal handlers."""
        if not self.log.exists():
            return ""
        with open(self.log, "rb") as log:
            log.seek(self.since)
            return log.read().decode("utf-8", "replace")


def scheduled_runs(url: str) -> list[Any]:
    return query(
        url,
        "SELECT host, exit_code, ended_at IS NOT NULL, note FROM runs "
        f"WHERE robot = '{ROBOT}' ORDER BY started_at",
    )


def test_two_schedulers_start_each_planned_run_once(
    tmp_path: Path, postgres_url: str, postgres_cluster: PostgresCluster
) -> None:
    pg = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    ledger = Ledger(pg)
    ledger.create_schema()  # as `robot db upgrade` does, once for every machine
    ledger.close()
    first = (utc_now() - dt.timedelta(minutes=2)).replace(second=0, microsecond=0)
    cron = f"{first.minute} * * * *"
    m1, m2 = Machine(tmp_path, "m1", pg, cron), Machine(tmp_path, "m2", pg, cron)
    try:
        # 1. Both up, both find the planned run due (2 min late, within the grace of 5).
        for m in (m1, m2):
            plan_in_the_past(m.home, first)
            m.start()
        wait_for(
            lambda: [r for r in scheduled_runs(pg) if r[2]], "the planned run to end", DEADLINE
        )
        wait_for(
            lambda: "was taken by the scheduler on" in m1.output() + m2.output(),
            "the other scheduler to leave the run alone",
            DEADLINE,
        )
        [(winner, code, ended, _)] = scheduled_runs(pg)
        assert (code, ended) == (0, True)
        loser = m2 if winner == "m1" else m1
        assert f"taken by the scheduler on {winner}" in loser.output()
        m1.stop()
        m2.stop()

        # 2. Machine 1 stays down. Machine 2 runs the next planned run, although the database
        # restarts while it waits for it.
        second = utc_now().replace(microsecond=0) + dt.timedelta(seconds=30)
        plan_in_the_past(m2.home, second)
        m2.start()
        wait_for(
            lambda: query(pg, "SELECT 1 FROM heartbeats WHERE name = 'scheduler@m2'"),
            "machine 2's scheduler to be up",
            DEADLINE,
        )
        postgres_cluster.restart("fast")
        assert utc_now() < second, "the restart took longer than planned; nothing was tested"
        wait_for(
            lambda: len([r for r in scheduled_runs(pg) if r[2]]) == 2,
            "the second planned run to end",
            DEADLINE,
        )
        m2.stop()
        runs = scheduled_runs(pg)
        assert [(host, code, ended) for host, code, ended, _ in runs][1] == ("m2", 0, True)

        # 3. Machine 1 comes back with the second run still planned in its own job store: the
        # other machine started it, so it neither runs it nor records it as missed.
        plan_in_the_past(m1.home, second)
        m1.start()
        wait_for(
            lambda: "taken by the scheduler on m2" in m1.output(),
            "machine 1 to see that machine 2 started the run",
            DEADLINE,
        )
        m1.stop()
        assert len(scheduled_runs(pg)) == 2
        assert all(ended for _, _, ended, _ in scheduled_runs(pg)), "a run left marked running"
        claims = query(pg, "SELECT machine, outcome FROM scheduled_runs ORDER BY scheduled_at")
        assert [tuple(c) for c in claims] == [(winner, "started"), ("m2", "started")]
    finally:
        for m in (m1, m2):
            if m.proc is not None and m.proc.poll() is None:
                m.proc.kill()
                m.proc.wait()
