"""Never two runs of one robot at once: the per-robot lock across processes, after its holder
is killed with SIGKILL, and the scheduler skipping (and recording) a robot whose lock is held.
Also: one scheduler per data folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_scheduler_fakes import FakeHome, make_home, wait_for

from paybot import locks
from paybot.cli import main

ROBOT = "pay-small-invoices"
HOLD = """
import sys
from pathlib import Path
from paybot import locks
from paybot.cli import main
lock = locks.acquire(Path(sys.argv[1]), sys.argv[2], "holder-run")
print("held", flush=True)
sys.stdin.read()  # until the test closes stdin, or the process is killed
"""
TRY = """
import sys
from pathlib import Path
from paybot import locks
from paybot.cli import main
try:
    locks.acquire(Path(sys.argv[1]), sys.argv[2], "second-run")
except locks.RobotBusy as exc:
    print(exc)
    sys.exit(4)
print("acquired")
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), ROBOT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def second_process(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", TRY, str(tmp_path), ROBOT],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_lock_holds_across_processes_and_names_its_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    assert locks.is_locked(tmp_path, ROBOT)
    other = second_process(tmp_path)
    assert other.returncode == 4
    assert f"{ROBOT} is already running" in other.stdout
    assert f"pid {holder.pid}" in other.stdout and "run_id holder-run" in other.stdout
    with pytest.raises(locks.RobotBusy, match=f"pid {holder.pid}"):
        locks.acquire(tmp_path, ROBOT, "this-run")
    assert not locks.is_locked(tmp_path, "pay-medical-certificates")  # per robot


def test_a_lock_whose_holder_was_killed_is_free_at_once(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    lock_file = locks.lock_path(tmp_path, ROBOT)
    assert json.loads(lock_file.read_text())["pid"] == str(holder.pid)  # the file stays...
    assert not locks.is_locked(tmp_path, ROBOT)  # ...but locks nothing
    assert second_process(tmp_path).stdout.strip() == "acquired"
    lock = locks.acquire(tmp_path, ROBOT, "next-run")
    try:
        assert json.loads(lock_file.read_text())["pid"] == str(os.getpid())
    finally:
        lock.release()


@pytest.fixture
def home(tmp_path: Path) -> FakeHome:
    return make_home(tmp_path, {"fake-quick": "quick"})


def test_the_scheduler_skips_a_robot_whose_lock_is_held_and_records_it(home: FakeHome) -> None:
    data_dir = home.settings().data_dir
    lock = locks.acquire(data_dir, "fake-quick", "a-manual-run")
    service = home.service(run_now=("fake-quick",))
    try:
        service.start()
        [row] = wait_for(home.runs, "the skipped run in the history")
    finally:
        service.stop()
        lock.release()
    assert row.trigger == "scheduler" and row.exit_code is None
    assert row.note == "skipped: already running (the robot's lock is held)"
    assert home.marker("fake-quick.ran") is None  # the robot did not run
    [event] = home.audit("scheduler_run_missed")
    assert event["robot"] == "fake-quick" and event["why"].startswith("skipped: already running")


def test_one_scheduler_per_data_folder(home: FakeHome) -> None:
    first = home.service()
    first.start()
    try:
        second = home.robot("scheduler", timeout=30)
    finally:
        first.stop()
    assert second.returncode == 4, second.stdout + second.stderr
    assert "another scheduler holds this data folder" in second.stderr
    assert f"pid {os.getpid()}" in second.stderr


def test_robot_schedule_tells_whether_the_scheduler_runs(
    home: FakeHome, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home.use_env(monkeypatch)
    service = home.service()
    service.start()
    try:
        assert main(["schedule"]) == 0
        assert capsys.readouterr().out.startswith(f"scheduler: running (pid {os.getpid()})")
    finally:
        service.stop()
    assert main(["schedule"]) == 1  # says so, and a script can tell
    assert capsys.readouterr().out.startswith("scheduler: NOT RUNNING")
