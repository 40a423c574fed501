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


# --- preflight: tariff tables about to end -------------------------------------------------


def test_tables_ending_within_30_days() -> None:
    import datetime as dt

    from paybot.domain.rules.config_types import Period, tables_ending

    d = dt.date
    periods = [
        ("takst LÆ 135", Period(valid_from=d(2025, 1, 1), valid_to=d(2025, 12, 31))),
        ("takst LÆ 135", Period(valid_from=d(2026, 1, 1), valid_to=d(2026, 12, 31))),
        ("takst LÆ 125", Period(valid_from=d(2026, 1, 1), valid_to=d(2026, 12, 1))),
        ("takst LÆ 145", Period(valid_from=d(2026, 1, 1), valid_to=None)),  # open: no end
        ("takst LÆ 145", Period(valid_from=d(2025, 1, 1), valid_to=d(2025, 12, 31))),
        ("timepris oevrig", Period(valid_from=d(2026, 1, 1), valid_to=d(2026, 11, 30))),
    ]
    today = d(2026, 12, 1)
    assert tables_ending(periods, today) == [
        ("takst LÆ 125", d(2026, 12, 1)),  # ends today: still warned
        ("takst LÆ 135", d(2026, 12, 31)),  # the last period decides, 30 days ahead
    ]
    assert tables_ending(periods, d(2026, 11, 30)) == [
        ("timepris oevrig", d(2026, 11, 30)),
        ("takst LÆ 125", d(2026, 12, 1)),
    ]
    assert tables_ending(periods, d(2026, 10, 31)) == [("timepris oevrig", d(2026, 11, 30))]


def test_preflight_warns_30_days_before_a_shipped_table_ends(tmp_path: Path) -> None:
    import datetime as dt

    from paybot.audit import AuditTrail
    from paybot.config import Credentials, load_robot_config
    from paybot.ledger import InMemoryLedger
    from paybot.run.report import markdown
    from paybot.run.runner import Runner, RunRequest
    from support.domain_builders import ROOT

    cfg = load_robot_config(ROOT, "pay-interpreter-invoices", env={})
    cfg = type(cfg)(**{**cfg.__dict__, "settings": cfg.settings.model_copy(
        update={"data_dir": tmp_path})})

    def runner(today: dt.date) -> Runner:
        req = RunRequest(
            cfg=cfg,
            credentials=Credentials(username="robot", password="x", source="test"),
            run_id="r1",
            run_dir=tmp_path,
            today=lambda: today,
        )
        return Runner(req, InMemoryLedger(), AuditTrail(tmp_path / "audit.jsonl"))

    # every table of the shipped example contract ends on 31 December 2027
    assert runner(dt.date(2027, 11, 30)).table_warnings() == []  # 31 days left
    warnings = runner(dt.date(2027, 12, 1)).table_warnings()
    assert warnings[0] == (
        "the table 'kilometertakst' in interpreter_contract.yaml ends 31-12-2027 (in 30 days): "
        "add the next period's figures (docs/rules.md)"
    )
    assert len(warnings) == 4
    assert any("'timepris øvrig tolk'" in w for w in warnings)
    assert runner(dt.date(2028, 1, 1)).table_warnings() == []  # ended: the check decides now
    report = runner(dt.date(2027, 12, 15)).report
    report.warnings = warnings
    assert "- Warning: the table 'kilometertakst'" in markdown(report)
