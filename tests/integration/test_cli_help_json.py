"""Every ``--help`` of the ``robot`` command says what its command does, and the commands a
script reads (``list``, ``runs``, ``schedule``) give JSON with ``--json``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockerp.cli import build_parser as erp_parser
from paybot.cli import build_parser, main
from trytonerp.cli import build_parser as tryton_parser

ROOT = Path(__file__).resolve().parents[2]
HANDED_ON = {"rf", "erp", "tryton"}  # Robot Framework's own help; the plugins', walked below


def commands(parser: argparse.ArgumentParser, path: list[str]) -> Iterator[tuple[list[str], str]]:
    """``(command path, its description)`` of ``parser`` and every subcommand below it."""
    yield path, parser.description or ""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if not path and name in HANDED_ON:
                    continue
                yield from commands(sub, [*path, name])


def all_commands() -> list[tuple[list[str], str]]:
    ours = list(commands(build_parser()[0], []))
    plugins = list(commands(erp_parser(), ["erp"])) + list(commands(tryton_parser(), ["tryton"]))
    return ours + plugins


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in all_commands()}
    assert {"run", "list", "audit verify", "report morning", "erp seed", "queue handover"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize("path", [p for p, _ in all_commands()], ids=" ".join)
def test_every_help_describes_its_command(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    description = dict((" ".join(p), d) for p, d in all_commands())[" ".join(path)]
    assert len(description.split()) >= 6, f"'robot {' '.join(path)} --help' describes nothing"
    # it opens with what the command does, not with its exit codes or the order of a list
    assert not description.startswith(("Exit codes", "Newest first")), description
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert " ".join(description.split()[:6]) in shown


def robot(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paybot", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_list_json_names_every_robot() -> None:
    listed = robot("list", "--json")
    assert listed.returncode == 0, listed.stderr
    robots = {r["robot"]: r for r in json.loads(listed.stdout)}
    manifests = {p.stem for p in (ROOT / "robots").glob("*.yaml")}
    assert set(robots) == manifests
    assert robots["pay-small-invoices"]["category"] == "oevrige"


def test_runs_and_schedule_json(tmp_path: Path) -> None:
    env_home = {"PAYBOT_DATA_DIR": str(tmp_path / "data"), "PAYBOT_OUTPUT_DIR": str(tmp_path)}
    env = os.environ | env_home
    runs = subprocess.run(
        [sys.executable, "-m", "paybot", "runs", "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert runs.returncode == 0 and json.loads(runs.stdout) == [], runs.stderr
    schedule = subprocess.run(
        [sys.executable, "-m", "paybot", "schedule", "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert schedule.returncode == 1  # no scheduler is running, as without --json
    data = json.loads(schedule.stdout)
    assert data["scheduler"]["running"] is False
    assert {r["robot"] for r in data["robots"]} == {
        p.stem for p in (ROOT / "robots").glob("*.yaml")
    }
    assert all(r["next_run"] is None or r["next_run"][-6] in "+-" for r in data["robots"])


def test_report_commands_write_the_pages_and_refuse_a_path(tmp_path: Path) -> None:
    env = os.environ | {
        "PAYBOT_DATA_DIR": str(tmp_path / "data"),
        "PAYBOT_OUTPUT_DIR": str(tmp_path),
    }

    def report(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "paybot", "report", *args],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
        )  # fmt: skip

    morning = report("morning", "--date", "2026-11-30")
    assert morning.returncode == 0, morning.stderr
    page = Path(morning.stdout.strip())
    assert page == tmp_path / "reports" / "morning-2026-11-30.html"
    assert "Ingen robot har kørt i nat." in page.read_text("utf-8")
    assert report("morning", "--date", "30-11-2026").returncode == 2
    assert report("run", "../../etc").returncode == 2
    missing = report("run", "20261130T003000Z-ab12")
    assert missing.returncode == 2, missing.stderr  # no such run: a usage error
    assert "no run 20261130T003000Z-ab12" in missing.stderr and "Traceback" not in missing.stderr
    folder = tmp_path / "runs" / "20261130T003000Z-ab12"
    folder.mkdir(parents=True)
    unreadable = report("run", folder.name)  # the run is there, its report.json is not
    assert unreadable.returncode == 1 and "cannot be read" in unreadable.stderr
    (folder / "report.json").write_text(
        json.dumps({"robot": "pay-small-invoices", "run_id": folder.name, "items": []}), "utf-8"
    )
    done = report("run", folder.name)
    assert done.returncode == 0 and Path(done.stdout.strip()) == folder / "report.html"
    assert "Kørselsrapport: pay-small-invoices" in (folder / "report.html").read_text("utf-8")
