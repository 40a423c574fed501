"""Docs that cannot drift: every command of `robot` and `robot erp`, and every exit code, is in
the README (settings and manifest keys are checked against docs/configuration.md in
test_config.py)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mockerp.cli import build_parser as erp_parser
from paybot.cli import build_parser
from paybot.exit_codes import EXIT_MEANINGS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text("utf-8")


def subcommands(parser: argparse.ArgumentParser) -> list[str]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices) if actions else []


def test_every_robot_command_is_in_the_readme() -> None:
    parser, _ = build_parser()
    missing = [c for c in subcommands(parser) if f"robot {c}" not in README]
    assert missing == []


def test_every_erp_command_is_in_the_readme() -> None:
    missing = [c for c in subcommands(erp_parser()) if f"robot erp {c}" not in README]
    assert missing == []


def test_every_exit_code_is_in_the_readme() -> None:
    table = README.split("### Exit codes", 1)[1].split("###", 1)[0]
    documented = {int(m) for m in re.findall(r"^\| (\d) \|", table, flags=re.M)}
    assert documented == set(EXIT_MEANINGS)


def test_the_quick_start_is_the_two_commands_ci_runs() -> None:
    quick = README.split("## Quick start", 1)[1].split("```", 2)[1]
    assert "./scripts/demo" in quick and "./scripts/test" in quick
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text("utf-8")
    assert "./.ci/run" in (ROOT / ".github" / "workflows" / "ci.yml").read_text("utf-8")


def test_the_readme_states_the_audit_guarantees_of_docs_audit_md_word_for_word() -> None:
    audit = (ROOT / "docs" / "audit.md").read_text("utf-8")
    start, end = "<!-- guarantees:start -->", "<!-- guarantees:end -->"
    claims = audit[audit.index(start) + len(start) : audit.index(end)].strip().splitlines()
    assert len(claims) >= 5 and all(c.startswith("- ") for c in claims)
    readme = (ROOT / "README.md").read_text("utf-8")
    missing = [c for c in claims if c not in readme]
    assert missing == [], f"README.md lacks these claims of docs/audit.md: {missing}"
    block = readme[readme.index(start) + len(start) : readme.index(end)].strip().splitlines()
    extra = [line for line in block if line not in claims]
    assert extra == [], f"README.md claims what docs/audit.md does not: {extra}"
