"""Logs for machines and people: JSON lines from ``logging`` (structlog's JSONRenderer), the
time on console.log lines, and robocorp's traceback left out for an expected end."""

from __future__ import annotations

import io
import json
import logging
import random
import re

import pytest

from paybot import logs
from paybot.commands.run import ConsoleCopy
from paybot.errors import ConfigError
from paybot.exit_codes import EXIT_USAGE
from support.db import generated_cpr


def test_log_records_become_json_lines_with_the_run_id() -> None:
    out = io.StringIO()
    handler = logs.configure_logging(logs.JSON, stream=out)
    try:
        cpr = generated_cpr(random.Random(3))
        log = logging.getLogger("paybot.scheduler")
        log.info("%s: run %s ended", "pay-x", "R1", extra={"robot": "pay-x", "run_id": "R1"})
        log.warning("note about %s", cpr)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    first = lines[0]
    assert first["event"] == "pay-x: run R1 ended" and first["level"] == "info"
    assert (first["run_id"], first["robot"], first["logger"]) == ("R1", "pay-x", "paybot.scheduler")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$", first["timestamp"])
    assert cpr not in lines[1]["event"] and lines[1]["level"] == "warning"
    assert "ValueError: boom" in lines[2]["exception"] and len(lines) == 3


def test_the_format_follows_the_environment() -> None:
    assert logs.log_format({}) == "text"
    assert logs.log_format({"JOURNAL_STREAM": "8:123"}) == "json"
    assert logs.log_format({"JOURNAL_STREAM": "8:123", "PAYBOT_LOG_FORMAT": "text"}) == "text"
    assert logs.log_format({"PAYBOT_LOG_FORMAT": "JSON"}) == "json"


ROBOCORP_END = """\
pay-x status: FAIL

pay-x: exit code 3: preflight failed: the finance system did not answer
======================== Full Traceback (running pay_x) =========================
Traceback (most recent call last):
  File "/x/_commands.py", line 453, in run
    result = task.run(**kwargs)
{last}

================================================================================
Log (html): /out/log.html
"""


@pytest.mark.parametrize(
    ("last", "kept"),
    [
        ("paybot.run.task.RunNotClean: pay-x: exit code 3: preflight failed", False),
        ("KeyError: 'surprise'", True),
    ],
)
def test_an_expected_end_has_no_traceback_a_crash_keeps_it(
    last: str, kept: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYBOT_LOG_FORMAT", "text")
    log = io.StringIO()
    copy = ConsoleCopy(log, {"run_id": "R1", "robot": "pay-x"})
    for line in ROBOCORP_END.format(last=last).splitlines(keepends=True):
        copy.feed(line)
    copy.close()
    shown = capsys.readouterr().out
    assert ("Traceback" in shown) is kept and (last in shown) is kept
    assert "preflight failed: the finance system did not answer" in shown
    assert shown.rstrip().endswith("Log (html): /out/log.html")
    stamped = log.getvalue().splitlines()
    assert all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d{4} ", s) for s in stamped)
    assert len(stamped) == len(shown.splitlines())


def test_console_lines_are_json_in_json_mode(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYBOT_LOG_FORMAT", "json")
    copy = ConsoleCopy(io.StringIO(), {"run_id": "R1", "robot": "pay-x"})
    copy.feed("w1 løbenr 17  20433213:F-1  paid 1019.48\n")
    copy.close()
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["event"] == "w1 løbenr 17  20433213:F-1  paid 1019.48"
    assert (line["run_id"], line["robot"], line["source"]) == ("R1", "pay-x", "console")


def test_an_unknown_log_format_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        logs.check_log_format({"PAYBOT_LOG_FORMAT": "xml"})
    assert caught.value.exit_code == EXIT_USAGE
    text = caught.value.sentence()
    assert "PAYBOT_LOG_FORMAT = 'xml'" in text and "json or text" in text
    for fine in ({}, {"PAYBOT_LOG_FORMAT": "JSON"}, {"PAYBOT_LOG_FORMAT": " text "}):
        logs.check_log_format(fine)  # no error
