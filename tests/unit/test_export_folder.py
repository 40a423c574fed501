"""The export folder: private, one per run, and what a killed run left is cleaned up."""

from __future__ import annotations

import stat
from pathlib import Path

from paybot.run.runner import export_folder


def test_a_killed_runs_exports_are_removed_but_other_robots_are_left_alone(tmp_path: Path) -> None:
    left = export_folder(tmp_path, "pay-medical-certificates", "run-1")
    (left / "rekvisitioner.xlsx").write_bytes(b"CPR numbers")
    other = export_folder(tmp_path, "pay-interpreter-invoices", "run-9")

    fresh = export_folder(tmp_path, "pay-medical-certificates", "run-2")

    assert not left.exists()
    assert other.exists(), "another robot may be running: its folder stays"
    assert fresh.is_dir() and stat.S_IMODE(fresh.stat().st_mode) == 0o700
