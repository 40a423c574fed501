"""Docs that cannot drift: every command of `robot` and `robot erp`, and every exit code, is in
the README; every setting documented in docs/configuration.md is a setting with that variable
and is read by some code (the other way, every setting and manifest key documented, is in
test_config.py)."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

from mockerp.cli import build_parser as erp_parser
from paybot.cli import build_parser
from paybot.config_load import settings_env_names
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


# --- docs/configuration.md, both ways (test_config.py checks settings → docs) ---------------

CONFIGURATION = (ROOT / "docs" / "configuration.md").read_text("utf-8")
NOT_READ_YET: dict[str, str] = {}
"""Documented settings that no code reads yet, with the work that will read them."""


def documented_settings() -> list[tuple[str, str]]:
    """``(key, variable)`` of every row of the ``config/paybot.yaml`` table."""
    section = CONFIGURATION.split("## `config/paybot.yaml`")[1].split("\n## ")[0]
    return re.findall(r"^\| `([a-z_.]+)` \| `(PAYBOT_[A-Z0-9_]+)` \|", section, re.M)


def attributes_read(skip: frozenset[str]) -> set[str]:
    """Every ``x.name`` attribute name used in paybot's code outside the ``skip`` files."""
    names: set[str] = set()
    for path in (ROOT / "src" / "paybot").rglob("*.py"):
        if path.name in skip:
            continue
        names |= {
            node.attr
            for node in ast.walk(ast.parse(path.read_text("utf-8")))
            if isinstance(node, ast.Attribute)
        }
    return names


def test_every_documented_setting_is_a_setting_with_that_variable() -> None:
    rows = documented_settings()
    assert len(rows) > 20, "the table of config/paybot.yaml is no longer found"
    known = {".".join(path): variable for variable, path in settings_env_names().items()}
    assert [(key, var) for key, var in rows if known.get(key) != var] == []
    assert len({key for key, _ in rows}) == len(rows), "a setting documented twice"


def test_every_setting_is_read_by_some_code() -> None:
    """A setting nobody reads is a promise the code does not keep: each part of its path is
    read as an attribute outside the modules that define and load the settings."""
    read = attributes_read(frozenset({"config_models.py", "config_load.py", "config_yaml.py"}))
    unread = sorted(
        ".".join(path)
        for path in settings_env_names().values()
        if not set(path) <= read and ".".join(path) not in NOT_READ_YET
    )
    assert unread == []
    for key in NOT_READ_YET:
        assert f"`{key}`" in CONFIGURATION, f"{key} must stay documented"
