"""The layers of docs/architecture.md, kept true: which part of paybot may import which.

Read from the source with ``ast`` (imports inside functions count too), so a new import that
crosses a layer fails here with the module and line that does it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"

# part → the parts of paybot it must never import (docs/architecture.md, "Layers").
FORBIDDEN: dict[str, frozenset[str]] = {
    "domain": frozenset(
        {"erp", "run", "ledger", "scheduler", "commands", "audit", "config", "config_load", "cli"}
    ),
    "erp": frozenset({"run", "ledger", "scheduler", "commands", "cli"}),
    "ledger": frozenset({"run", "erp", "scheduler", "commands", "cli"}),
    "audit": frozenset({"run", "erp", "scheduler", "commands", "cli"}),
    "report": frozenset({"erp", "run", "ledger", "scheduler", "commands", "cli"}),
    "run": frozenset({"scheduler", "commands", "cli"}),
    "scheduler": frozenset({"erp", "commands", "cli"}),
}


def part_of(module: str) -> str:
    """``paybot.domain.rules.keys`` → ``domain``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else ""


def imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "paybot":
                found += [(node.lineno, f"paybot.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return found


def modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(part: str) -> None:
    crossings = []
    for path in modules(f"paybot/{part}"):
        for line, name in imports(path):
            if name.startswith("paybot.") and part_of(name) in FORBIDDEN[part]:
                crossings.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert crossings == []


def test_paybot_and_the_mock_finance_system_never_import_each_other() -> None:
    crossings = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for package, other in (("paybot", "mockerp"), ("mockerp", "paybot"))
        for path in modules(package)
        for line, name in imports(path)
        if name == other or name.startswith(other + ".")
    ]
    assert crossings == []


def test_the_layer_check_can_fail() -> None:
    """The scan sees an import that crosses (a test that cannot fail is a defect)."""
    probe = ast.parse("from paybot.erp.session import ErpSession\nimport paybot.run.worker\n")
    names = [n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in probe.body]
    assert [part_of(str(n)) for n in names] == ["erp", "run"]
    assert all(part_of(str(n)) in FORBIDDEN["domain"] for n in names)


def test_every_module_docs_architecture_md_names_exists() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    named = set(re.findall(r"`((?:paybot|mockerp)(?:\.[a-z_0-9]+)+)`", text))
    assert len(named) >= 15
    missing = []
    for name in sorted(named):
        base = SRC.joinpath(*name.split("."))
        if not (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()):
            missing.append(name)
    assert missing == [], f"docs/architecture.md names modules that do not exist: {missing}"
