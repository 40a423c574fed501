"""The scheduler and ``robot run`` as journald sees them: JSON lines on stdout with the run id
(``PAYBOT_LOG_FORMAT=json``), console.log lines with a time, and an exit 3 that ends with a
sentence instead of a traceback."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import yaml
from test_scheduler_fakes import make_home, manifest_data, wait_for

FAILING_TASK = '''\
"""A robot whose preflight fails, as the real ones end then (see paybot.run.task)."""

import os
from pathlib import Path

from robocorp.tasks import task

from paybot.exit_codes import EXIT_PREFLIGHT
from paybot.run.task import RunNotClean
from paybot.run_folder import ENV_RUN_DIR, Counts, Outcome


@task
def preflight_fails() -> None:
    message = "preflight failed: the finance system did not answer at http://127.0.0.1:9"
    Outcome(EXIT_PREFLIGHT, Counts(), message).write(Path(os.environ[ENV_RUN_DIR]))
    raise RunNotClean(f"fake-fails: exit code 3: {message}")
'''


def test_scheduler_and_runs_write_json_lines(tmp_path: Path) -> None:
    home = make_home(tmp_path, {"fake-quick": "quick"})
    env = home.env | {"PAYBOT_LOG_FORMAT": "json"}
    out = tmp_path / "scheduler.out"
    with out.open("wb") as stdout:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "paybot", "scheduler", "--run-now", "fake-quick"],
            env=env,
            cwd=home.home,
            stdout=stdout,
            stderr=subprocess.PIPE,
        )
    try:
        wait_for(lambda: [r for r in home.runs("fake-quick") if r.exit_code is not None], "run")
        wait_for(lambda: "ended, exit code" in out.read_text("utf-8"), "the end to be logged")
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=60) == 0
        errors = scheduler.stderr.read().decode() if scheduler.stderr else ""
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait()
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]  # all JSON
    assert errors == "" and len(lines) >= 4
    assert all({"timestamp", "level", "event"} <= set(line) for line in lines)
    [ended] = [line for line in lines if "ended, exit code" in line["event"]]
    [row] = home.runs("fake-quick")
    assert (ended["run_id"], ended["robot"], ended["exit_code"]) == (row.run_id, "fake-quick", 0)
    assert any("SIGTERM received" in line["event"] for line in lines)

    home.env = env
    run = home.robot("run", "fake-quick", timeout=120)
    shown = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.returncode == 0 and shown
    assert {line["run_id"] for line in shown} == {home.runs("fake-quick")[0].run_id}


def test_an_exit_3_ends_with_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    (home.home / "tasks" / "fails.py").write_text(FAILING_TASK, "utf-8")
    data = manifest_data("fake-fails", "preflight_fails")
    data["task"]["module"] = "tasks/fails.py"
    (home.robots / "fake-fails.yaml").write_text(yaml.safe_dump(data), "utf-8")
    run = home.robot("run", "fake-fails", timeout=120)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    last = run.stdout.splitlines()[-1]
    assert last.startswith("fake-fails: Preflight failed: nothing was touched; the report is ")
    assert last.endswith("console.log.")  # the fake task writes no report
    assert "did not answer at http://127.0.0.1:9" in run.stdout
    [folder] = (home.home / "output" / "runs").iterdir()
    console = (folder / "console.log").read_text("utf-8").splitlines()
    assert console and all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ", c) for c in console)
    assert not any("Traceback" in c for c in console)
