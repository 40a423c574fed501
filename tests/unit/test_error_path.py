"""One error path (issue 11): every exception paybot defines derives from PaybotError and says
its exit code and whether a retry can help; the command line's main is the one place that turns
one into a sentence and an exit code, and no command catches paybot's errors to pick a code."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import paybot
from paybot import errors
from paybot.cli import command_name, main
from paybot.errors import PaybotError
from paybot.exit_codes import EXIT_MEANINGS

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "paybot"


def paybot_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(paybot.__path__, "paybot."):
        if info.name == "paybot.__main__":
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == info.name:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]


def test_every_exception_paybot_defines_is_under_the_root_class() -> None:
    classes = paybot_exceptions()
    assert len(classes) > 15, "the scan no longer finds paybot's exceptions"
    assert [c.__qualname__ for c in classes if not issubclass(c, PaybotError)] == []


def test_every_exception_carries_a_documented_exit_code_and_a_retry_flag() -> None:
    for cls in paybot_exceptions():
        assert issubclass(cls, PaybotError)
        assert cls.exit_code in EXIT_MEANINGS, cls
        assert isinstance(cls.retryable, bool), cls


@pytest.mark.parametrize(
    ("cls", "exit_code", "retryable"),
    [
        (errors.ConfigError, 2, False),
        (errors.UsageError, 2, False),
        (errors.PreflightError, 3, False),
        (errors.Busy, 4, False),
        (errors.LedgerError, 1, False),
        (errors.BusinessError, 1, False),
        (errors.ApplicationError, 1, True),
        (errors.BrowserFailed, 1, True),
        (errors.LoginRefused, 3, False),  # retrying will not help: nobody retries it
    ],
)
def test_what_each_kind_of_failure_means(
    cls: type[PaybotError], exit_code: int, retryable: bool
) -> None:
    assert (cls.exit_code, cls.retryable) == (exit_code, retryable)


def test_no_command_catches_an_error_to_choose_an_exit_code() -> None:
    """An ``except`` whose body returns an ``EXIT_*`` code is a second error path."""
    offenders = []
    for path in [SRC / "cli.py", *sorted((SRC / "commands").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if not isinstance(node, ast.ExceptHandler):
                continue
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Return)
                    and isinstance(inner.value, ast.Name)
                    and inner.value.id.startswith("EXIT_")
                    and inner.value.id != "EXIT_OK"  # `robot runs | head`: a reader went away
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert offenders == []


def test_an_expected_failure_is_one_sentence_and_its_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "audit.jsonl"
    assert main(["audit", "show", "17", "--file", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"robot audit show: no audit trail at {missing}\n"


def test_a_bad_date_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trail = tmp_path / "audit.jsonl"
    trail.write_text("", encoding="utf-8")
    code = main(["audit", "show", "17", "--file", str(trail), "--since", "yesterday"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("robot audit show: --since: ") and "Traceback" not in err


def test_the_command_is_named_with_its_action() -> None:
    class Ns:
        command = "schedule"
        action = "pause"

    assert command_name(Ns()) == "schedule pause"  # type: ignore[arg-type]
