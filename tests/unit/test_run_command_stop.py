"""What ``robot run`` says when its robot's process wrote no outcome: a Ctrl-C or SIGTERM that
``robot run`` forwarded is named as the stop request it was, not as an unexplained signal, and
the summary points to a file that exists."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from paybot.commands.run import _how_it_ended, _summary
from paybot.exit_codes import EXIT_FAILED
from paybot.run_folder import Counts, Outcome


def test_a_forwarded_ctrl_c_is_named_as_a_stop_request() -> None:
    text = _how_it_ended(-signal.SIGTERM, signal.SIGINT)
    assert "stopped on request" in text and "SIGINT" in text and "Ctrl-C" in text
    assert "SIGTERM" in _how_it_ended(-signal.SIGTERM, signal.SIGTERM)


def test_a_signal_nobody_asked_for_is_still_reported_as_such() -> None:
    assert "signal 15" in _how_it_ended(-signal.SIGTERM)
    assert "OOM" in _how_it_ended(-signal.SIGKILL, signal.SIGINT)
    assert "before it wrote one" in _how_it_ended(1, signal.SIGINT)


def test_a_run_without_a_report_points_to_its_console_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run that ended without an outcome wrote no report.md: the summary names the file
    that is there (console.log), never one that does not exist."""
    folder = tmp_path / "20261130T093444Z-20ce"
    folder.mkdir()
    (folder / "console.log").write_text("…\n", encoding="utf-8")
    outcome = Outcome(EXIT_FAILED, Counts(), "the run ended without an outcome")
    _summary("pay-small-invoices", folder, outcome, False, folder.name)
    out = capsys.readouterr().out
    assert f"the report is {folder / 'console.log'}." in out
    assert "report.md" not in out
