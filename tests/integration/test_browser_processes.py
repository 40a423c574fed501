"""Ending paybot's browser processes (paybot.erp.processes) and sweeping what a killed run left
(paybot.run.runner.sweep_leftovers), with real processes: only marked ones are ended."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from paybot.erp.processes import (
    ENV_MARKER,
    browser_marker,
    end_processes,
    marked_processes,
    marker_prefix,
)
from paybot.run.runner import export_folder, sweep_leftovers

ROBOT = "pay-small-invoices"


def sleeper(marker: Path | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if marker is not None:
        env[ENV_MARKER] = str(marker)
    return subprocess.Popen(["sleep", "120"], env=env)


def gone(pid: int, deadline: float = 10.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)  # polling the kernel's process table
    return False


def test_only_processes_with_the_robots_marker_are_ended(tmp_path: Path) -> None:
    data = tmp_path / "data"
    mine = sleeper(browser_marker(data, ROBOT, "run-1", 1))
    other_robot = sleeper(browser_marker(data, "pay-small", "run-1", 1))
    other_data = sleeper(browser_marker(tmp_path / "elsewhere", ROBOT, "run-1", 1))
    users_own = sleeper(None)
    try:
        assert [p.pid for p in marked_processes(marker_prefix(data, ROBOT))] == [mine.pid]
        assert end_processes(marker_prefix(data, ROBOT, "run-2")) == 0, "another run's only"
        assert end_processes(marker_prefix(data, ROBOT)) == 1
        mine.wait(timeout=10)
        for proc in (other_robot, other_data, users_own):
            assert proc.poll() is None, "a process without this robot's marker was ended"
        assert end_processes(marker_prefix(data, ROBOT)) == 0  # safe to repeat
    finally:
        for proc in (mine, other_robot, other_data, users_own):
            proc.kill()
            proc.wait()


def test_a_child_started_to_die_with_its_parent_dies_when_the_parent_is_killed(
    tmp_path: Path,
) -> None:
    """PR_SET_PDEATHSIG: chromedriver's start, with `sleep` in its place."""
    script = (
        "import subprocess, sys, time\n"
        "from paybot.erp.processes import die_with_parent\n"
        "p = subprocess.Popen(['sleep', '120'], preexec_fn=die_with_parent(),"
        " start_new_session=True)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert psutil.Process(child).ppid() == parent.pid
        assert os.getsid(child) == child, "in a session of its own"
        parent.kill()
        parent.wait()
        assert gone(child), "the child outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_sweep_deletes_export_files_a_killed_run_left_and_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    left = export_folder(data, ROBOT, "run-killed")
    assert (left.stat().st_mode & 0o777) == 0o700
    (left / "rekvisitioner.xlsx").write_bytes(b"PK spreadsheet with CPR numbers")
    (left / "tolkebestillinger.xlsx.crdownload").write_bytes(b"half a download")
    other = export_folder(data, "pay-medical-certificates", "run-9")
    (other / "keep.xlsx").write_bytes(b"another robot's run")
    profile = browser_marker(data, ROBOT, "run-killed", 1)
    profile.mkdir(parents=True)

    notes = sweep_leftovers(data, ROBOT)

    assert not left.exists() and not profile.exists()
    assert (other / "keep.xlsx").exists(), "another robot's folder is not this run's to sweep"
    assert len(notes) == 1 and "deleted 2 export file(s) with personal data" in notes[0]
    assert sweep_leftovers(data, ROBOT) == []  # nothing left: nothing said
