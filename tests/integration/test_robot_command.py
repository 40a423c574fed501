"""The `robot` on PATH after installing paybot is ours, and it hands what looks like Robot
Framework's arguments to Robot Framework (which rpaframework pulls in and which writes a `robot`
script too); a typo of one of our commands is answered with the nearest command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
ROBOT = BIN / "robot"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROBOT), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_the_installed_robot_script_is_ours() -> None:
    assert ROBOT.is_file(), f"no robot script beside {sys.executable}"
    mine = run("--paybot-version")
    assert mine.returncode == 0 and mine.stdout.startswith("paybot ")
    listed = run("list")
    assert listed.returncode == 0 and "pay-small-invoices" in listed.stdout


def test_version_is_paybots_and_rf_version_is_robot_frameworks() -> None:
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("paybot "), version.stderr
    assert version.stdout == run("--paybot-version").stdout
    framework = run("rf", "--version")
    assert "Robot Framework" in framework.stdout + framework.stderr


def test_a_typo_names_the_nearest_command_instead_of_going_to_robot_framework(
    tmp_path: Path,
) -> None:
    typo = run("lst", cwd=tmp_path)
    assert typo.returncode == 2
    assert "unknown command 'lst'; did you mean 'robot list'?" in typo.stderr
    assert "Parsing" not in typo.stdout + typo.stderr  # not handed to Robot Framework
    far = run("xyzzy", cwd=tmp_path)
    assert far.returncode == 2 and "unknown command 'xyzzy'" in far.stderr
    assert "did you mean" not in far.stderr


def test_robot_framework_arguments_still_go_to_robot_framework(tmp_path: Path) -> None:
    suite = tmp_path / "hello.robot"
    suite.write_text(
        "*** Test Cases ***\nGreeting\n    Should Be Equal    hej    hej\n", encoding="utf-8"
    )
    passed = run("--output", "NONE", "--report", "NONE", "--log", "NONE", str(suite))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 test, 1 passed, 0 failed" in passed.stdout
    explicit = run("rf", "--version")
    assert "Robot Framework" in explicit.stdout + explicit.stderr


def test_python_dash_m_paybot_is_the_same_command() -> None:
    module = subprocess.run(
        [sys.executable, "-m", "paybot", "--paybot-version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert module.returncode == 0 and module.stdout == run("--paybot-version").stdout


def test_a_command_outside_a_project_says_so_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}
    done = subprocess.run(
        [sys.executable, "-m", "paybot", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "no config/ folder here (set PAYBOT_HOME)" in done.stderr
    assert "Traceback" not in done.stderr
