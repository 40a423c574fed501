"""Small parts of the runner: the export folder, the Danish date."""

from __future__ import annotations

import stat
from pathlib import Path

from paybot.run.runner import export_folder, sweep_leftovers


def test_a_killed_runs_exports_are_removed_but_other_robots_are_left_alone(tmp_path: Path) -> None:
    left = export_folder(tmp_path, "pay-medical-certificates", "run-1")
    (left / "rekvisitioner.xlsx").write_bytes(b"CPR numbers")
    other = export_folder(tmp_path, "pay-interpreter-invoices", "run-9")

    notes = sweep_leftovers(tmp_path, "pay-medical-certificates")  # at the next run's start
    fresh = export_folder(tmp_path, "pay-medical-certificates", "run-2")

    assert not left.exists()
    assert any("deleted 1 export file(s) with personal data" in n for n in notes)
    assert other.exists(), "another robot may be running: its folder stays"
    assert fresh.is_dir() and stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_the_robots_today_is_the_danish_date() -> None:
    """A nightly run at 00:30 in Copenhagen is still the day before in UTC; the payment date
    must be computed from the Danish date, as the finance system checks it."""
    import datetime as dt

    from paybot.run.runner import today_in_denmark

    late_utc = dt.datetime(2026, 11, 27, 23, 30, tzinfo=dt.UTC)  # 00:30 on 28/11 in Copenhagen
    assert today_in_denmark(late_utc) == dt.date(2026, 11, 28)
    summer = dt.datetime(2026, 6, 30, 22, 30, tzinfo=dt.UTC)  # 00:30 on 1/7, summer time
    assert today_in_denmark(summer) == dt.date(2026, 7, 1)
