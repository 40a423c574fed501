"""What ``robot run`` says when its robot's process wrote no outcome: a Ctrl-C or SIGTERM that
``robot run`` forwarded is named as the stop request it was, not as an unexplained signal, and
the summary points to a file that exists."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from paybot.commands.run import _ending, _how_it_ended, _summary
from paybot.exit_codes import EXIT_FAILED, EXIT_MEANINGS, EXIT_OK, EXIT_PREFLIGHT
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


@pytest.mark.parametrize("code", [EXIT_OK, EXIT_FAILED])
def test_a_stop_request_with_nothing_failed_says_so_not_application_errors(code: int) -> None:
    """Ctrl-C ends a run with no outcome (exit 1) or between two invoices (exit 0): the exit
    line names the stop request and what is left, never "failed with application errors"."""
    text = _ending(Outcome(code, Counts(paid=2)), signal.SIGINT, 3)
    assert text == "stopped on request (SIGINT); 3 invoice(s) left for the next run; nothing failed"
    assert "application errors" not in text
    assert "the rest is left" in _ending(Outcome(code, Counts()), signal.SIGTERM, None)


def test_a_stopped_run_in_which_invoices_failed_keeps_the_failure_meaning() -> None:
    assert (
        _ending(Outcome(EXIT_FAILED, Counts(failed=1)), signal.SIGINT, 3)
        == (EXIT_MEANINGS[EXIT_FAILED])
    )
    assert _ending(Outcome(EXIT_FAILED, Counts()), None, None) == EXIT_MEANINGS[EXIT_FAILED]
    assert (
        _ending(Outcome(EXIT_PREFLIGHT, Counts()), signal.SIGINT, 0)
        == (EXIT_MEANINGS[EXIT_PREFLIGHT])
    )


def test_the_summary_of_a_stopped_run_says_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = Outcome(EXIT_FAILED, Counts(), "the run ended without an outcome")
    ending = _ending(outcome, signal.SIGINT, 4)
    _summary("pay-small-invoices", tmp_path, outcome, False, "r1", ending=ending)
    out = capsys.readouterr().out
    assert "failed 0, skipped 0; exit 1 (stopped on request (SIGINT); 4 invoice(s)" in out
    assert "Stopped on request (SIGINT); 4 invoice(s) left for the next run; nothing failed" in out
    assert "application errors" not in out
