"""Each run is a child process in a session of its own: a hung run is ended at its timeout
together with everything it started (a real headless Chromium and chromedriver included, and
processes that left its process group or lost their parent), a run that will not stop is ended
at the stop deadline, and nothing a run does stops the scheduler."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from test_scheduler_fakes import FakeHome, make_home, wait_for

from paybot.ledger import RunRecord
from paybot.scheduler.dispatch import Limits
from paybot.scheduler.proctree import Proc, descendants, is_alive, read_proc, snapshot

HANG_TIMEOUT_SECONDS = 10.0


def session_alive(sid: int) -> list[Proc]:
    return [p for p in snapshot().values() if p.sid == sid and not p.dead]


def finished_row(home: FakeHome, robot: str) -> RunRecord | None:
    rows = [r for r in home.runs(robot) if r.finished]
    return rows[0] if rows else None


@pytest.fixture
def home(tmp_path: Path) -> FakeHome:
    fake = make_home(
        tmp_path,
        {
            "fake-hang": "hang",
            "fake-quick": "quick",
            "fake-stubborn": "stubborn",
            "fake-garbage": "garbage",
        },
    )
    fake.env["FAKE_CHROMIUM"] = "1"
    return fake


def test_a_hung_run_is_ended_with_all_it_started_and_the_scheduler_carries_on(
    home: FakeHome,
) -> None:
    limits = Limits(
        kill_grace_seconds=1.0, poll_seconds=0.1, timeouts={"fake-hang": HANG_TIMEOUT_SECONDS}
    )
    service = home.service(run_now=("fake-hang",), limits=limits)
    service.start()
    run_procs: dict[int, Proc] = {}
    try:
        info = json.loads(wait_for(lambda: home.marker("hang.started"), "the hung run"))
        orphan = int(wait_for(lambda: home.marker("orphan.pid"), "the orphan"))
        wait_for(
            lambda: len(descendants([info["chromium"]], snapshot())) >= 3,
            "Chromium's own processes",
        )

        def orphaned() -> bool:
            procs = snapshot()
            return orphan in procs and procs[orphan].ppid not in descendants([info["pid"]], procs)

        wait_for(orphaned, "the orphan's parent to exit")
        procs = snapshot()
        run = [p for p in descendants([os.getpid()], procs).values() if p.pid != os.getpid()]
        run_procs.update({p.pid: p for p in run} | {orphan: procs[orphan]})
        assert {info["in_group"], info["escaper"], info["chromium"], info["chromedriver"]} <= set(
            run_procs
        )
        assert procs[info["escaper"]].sid != info["sid"]  # left the run's session
        assert procs[orphan].ppid != info["pid"] and procs[orphan].sid != info["sid"]

        row = wait_for(lambda: finished_row(home, "fake-hang"), "the hung run's end")
        assert not [p for p in run_procs.values() if is_alive(p)]
        assert session_alive(info["sid"]) == []

        service.run_now("fake-quick")  # the scheduler carries on
        quick = wait_for(lambda: finished_row(home, "fake-quick"), "the next run")
    finally:
        service.stop()
        for proc in run_procs.values():  # never leave a process behind, even when failing
            if is_alive(proc):
                os.kill(proc.pid, signal.SIGKILL)
    assert row.exit_code == 128 + signal.SIGKILL
    assert row.note == (f"killed: it ran longer than its timeout of {HANG_TIMEOUT_SECONDS:g} s")
    assert quick.exit_code == 0
    [killed] = home.audit("scheduler_run_killed")
    assert killed["robot"] == "fake-hang" and killed["survivors"] == []


def test_a_run_that_ignores_sigterm_is_ended_at_the_stop_deadline(home: FakeHome) -> None:
    limits = Limits(stop_deadline_seconds=1.5, kill_grace_seconds=1.0, poll_seconds=0.1)
    service = home.service(run_now=("fake-stubborn",), limits=limits)
    service.start()
    info = json.loads(wait_for(lambda: home.marker("stubborn.started"), "the stubborn run"))
    sid = os.getsid(info["pid"])
    began = time.monotonic()
    assert service.stop() is True
    took = time.monotonic() - began
    assert 1.5 <= took < 1.5 + 1.0 + 5.0
    [row] = home.runs("fake-stubborn")
    assert row.exit_code == 128 + signal.SIGKILL
    assert row.note == (
        "killed: the scheduler was stopping and the run did not end within 1.5 s of SIGTERM"
    )
    assert session_alive(sid) == []


def test_crashes_junk_and_a_killed_robot_run_do_not_stop_the_scheduler(home: FakeHome) -> None:
    limits = Limits(kill_grace_seconds=1.0, poll_seconds=0.1)
    service = home.service(run_now=("fake-garbage", "fake-stubborn"), limits=limits)
    service.start()
    try:
        garbage = wait_for(lambda: finished_row(home, "fake-garbage"), "the garbage run")
        info = json.loads(wait_for(lambda: home.marker("stubborn.started"), "the stubborn run"))
        task = read_proc(info["pid"])
        assert task is not None
        os.kill(info["robot_run"], signal.SIGKILL)  # robot run dies; its task is left behind
        stubborn = wait_for(lambda: finished_row(home, "fake-stubborn"), "the killed run")
        assert not is_alive(task)  # the scheduler ended the task robot run left behind
        service.run_now("fake-quick")
        quick = wait_for(lambda: finished_row(home, "fake-quick"), "the next run")
    finally:
        service.stop()
    assert garbage.exit_code == 1  # robot run: no outcome
    assert stubborn.exit_code == 128 + signal.SIGKILL
    assert stubborn.note == ("robot run exited with 137 without recording the end of the run")
    assert quick.exit_code == 0
    [left] = home.audit("scheduler_run_killed")
    assert left["why"] == "processes left behind after the run ended"
