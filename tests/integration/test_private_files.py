"""Owner-only files and folders whatever the umask (issue 8 item 3): every helper, and the
ledger, the audit trail, the locks, reports and outcomes made under the usual umask 022."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from paybot import locks
from paybot.audit import AuditTrail
from paybot.config import load_settings
from paybot.errors import FolderError
from paybot.exit_codes import EXIT_USAGE
from paybot.ledger import Ledger
from paybot.private import (
    PRIVATE_UMASK,
    open_private,
    private_dir,
    private_file,
    restrict_umask,
    tighten_tree,
    write_private_text,
)
from paybot.run.report import Report, write_report
from paybot.run_folder import Counts, Outcome
from paybot.scheduler.child import ChildRun
from paybot.scheduler.jobs import make_scheduler, store_path
from paybot.scheduler.service import SchedulerLock
from support.domain_builders import ROOT


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    """The usual umask, under which files are created readable by everybody."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def open_to_others(root: Path) -> list[str]:
    """``path mode`` for everything below ``root`` (and ``root``) group or others can use."""
    found = [root, *root.rglob("*")]
    return [f"{p} {oct(mode(p))}" for p in found if mode(p) & 0o077]


def test_the_umask_under_test_really_opens_files(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    assert mode(tmp_path / "plain") == 0o644  # what the helpers must prevent


def test_restrict_umask_is_owner_only(tmp_path: Path) -> None:
    old = restrict_umask()
    try:
        (tmp_path / "f").write_text("x")
        (tmp_path / "d").mkdir()
    finally:
        os.umask(old)
    assert old == 0o022 and mode(tmp_path / "f") == 0o600 and mode(tmp_path / "d") == 0o700
    assert PRIVATE_UMASK == 0o077


def test_new_and_existing_folders_and_files_are_tightened(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "b" / "c")
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", made)] == [0o700] * 3
    existing = tmp_path / "old"
    existing.mkdir(mode=0o755)
    (existing / "report.md").write_text("x")
    assert mode(existing) == 0o755
    private_dir(existing)
    private_file(existing / "report.md")
    assert mode(existing) == 0o700 and mode(existing / "report.md") == 0o600
    write_private_text(tmp_path / "new" / "x.json", "{}")
    with open_private(tmp_path / "new" / "console.log", "w", encoding="utf-8") as out:
        out.write("line\n")
    assert open_to_others(tmp_path / "new") == []


def test_tighten_tree_closes_what_another_program_wrote(tmp_path: Path) -> None:
    root = tmp_path / "robocorp"
    (root / "deep").mkdir(parents=True)
    for name in ("log.html", "deep/output.robolog"):
        (root / name).write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    (root / "link").symlink_to(outside)  # not followed: outside stays as it is
    assert tighten_tree(root) == 4  # root, deep, two files
    assert open_to_others(root / "deep") == [] and mode(root) == 0o700
    assert mode(root / "log.html") == 0o600
    assert mode(outside) == 0o755
    assert tighten_tree(root) == 0  # safe to repeat


def test_the_ledger_and_its_side_files_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)  # made by hand, or by an older paybot
    ledger = Ledger(f"sqlite:///{data / 'ledger.sqlite'}")
    ledger.create_schema()
    ledger.record_keys("r", 1, ["cvr+nr:1:2"])
    files = sorted(p.name for p in data.iterdir())
    assert {"ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"} <= set(files)
    assert open_to_others(data) == []
    ledger.close()


def test_an_old_ledger_is_tightened_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger(f"sqlite:///{path}").close()
    path.chmod(0o644)
    ledger = Ledger(f"sqlite:///{path}")
    ledger.create_schema()
    assert mode(path) == 0o600
    ledger.close()


def test_trail_locks_report_and_outcome_are_owner_only(tmp_path: Path) -> None:
    data, run = tmp_path / "data", tmp_path / "output" / "runs" / "r1"
    with AuditTrail(data / "audit" / "audit.jsonl") as trail:
        trail.logger(run_id="r1", robot="x").event("run_started")
    with locks.robot_lock(data, "pay-x", "r1"):
        pass
    report = Report(
        robot="x", title="X", run_id="r1", dry_run=False, rule_version="1+ab", trigger="manual"
    )
    write_report(run, report)
    Outcome(0, Counts()).write(run)
    assert open_to_others(data) == []
    assert open_to_others(run) == []
    assert {p.name for p in run.iterdir()} >= {"report.md", "report.json", "outcome.json"}


def test_an_old_trail_is_tightened_when_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        trail.logger(run_id="r1", robot="x").event("run_started")
    path.chmod(0o640)  # what paybot made before
    with AuditTrail(path) as trail:
        trail.logger(run_id="r2", robot="x").event("run_started")
    assert mode(path) == 0o600


def test_the_schedulers_store_lock_and_run_logs_are_owner_only(tmp_path: Path) -> None:
    data, output = tmp_path / "data", tmp_path / "output"
    settings = load_settings(ROOT, {"PAYBOT_DATA_DIR": str(data), "PAYBOT_OUTPUT_DIR": str(output)})
    scheduler = make_scheduler(settings)
    scheduler.start(paused=True)
    scheduler.shutdown()
    lock = SchedulerLock.acquire(data)
    lock.release()
    child = ChildRun.start(
        [sys.executable, "-c", "print('run')"],
        cwd=tmp_path,
        env=dict(os.environ),
        log_path=output / "scheduler" / "pay-x-20261130-020000.log",
    )
    assert child.process.wait(timeout=60) == 0
    assert store_path(settings).exists() and (output / "scheduler").is_dir()
    assert open_to_others(data) == [] and open_to_others(output) == []


def test_a_sticky_folder_such_as_tmp_is_never_tightened(tmp_path: Path) -> None:
    """A ledger put directly in /tmp (PAYBOT_LEDGER_URL=sqlite:////tmp/x.db, as root) once
    closed /tmp to every other user: a sticky folder is shared by design and left alone."""
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    private_dir(sticky)
    private_file(sticky / "x.db")
    assert stat.S_IMODE(sticky.stat().st_mode) == 0o1777
    assert mode(sticky / "x.db") == 0o600


def test_a_folder_that_cannot_be_made_is_a_folder_error_naming_it() -> None:
    """``/proc`` refuses ``mkdir``, also for root: exit 2 naming the folder, and still an
    ``OSError`` for the code that handles a failed write."""
    with pytest.raises(FolderError) as caught:
        private_dir(Path("/proc/nope/deeper"))
    assert isinstance(caught.value, OSError) and caught.value.exit_code == EXIT_USAGE
    assert "cannot create the folder /proc/nope/deeper (at /proc/nope)" in str(caught.value)
