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
        {
            "erp",
            "run",
            "ledger",
            "scheduler",
            "commands",
            "audit",
            "config",
            "config_load",
            "cli",
            "console",
        }
    ),
    "erp": frozenset({"run", "ledger", "scheduler", "commands", "cli", "console"}),
    "ledger": frozenset({"run", "erp", "scheduler", "commands", "cli", "console"}),
    "migrations": frozenset({"run", "erp", "scheduler", "commands", "cli", "console"}),
    "audit": frozenset({"run", "erp", "ledger", "scheduler", "commands", "cli", "console"}),
    "report": frozenset({"erp", "run", "ledger", "scheduler", "commands", "cli", "console"}),
    "run": frozenset({"scheduler", "commands", "cli", "console"}),
    "scheduler": frozenset({"erp", "commands", "cli", "console"}),
    # the web console is a top layer like the commands; it never drives a browser or runs a
    # robot itself
    "console": frozenset({"erp", "run", "cli"}),
}


# What the run loop may import of the finance-system layer: the port, the registry that picks
# the adapter, and the browser's processes (a run marks, tracks and ends every browser it
# opens). Never an adapter: its screens, locators and pages (docs/adding-a-finance-system.md).
RUN_MAY_IMPORT_OF_ERP = frozenset(
    {"paybot.erp.port", "paybot.erp.registry", "paybot.erp.browser", "paybot.erp.processes"}
)


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


def erp_modules_imported(tree: ast.AST) -> list[tuple[int, str]]:
    """Every ``paybot.erp...`` module an AST imports; ``from paybot.erp import x`` counts as
    ``paybot.erp.x``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in ("paybot", "paybot.erp") or (
                SRC.joinpath(*node.module.split(".")).is_dir()
                and node.module.startswith("paybot.erp")
            ):
                found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, name) for line, name in found if name.startswith("paybot.erp")]


def adapter_imports(tree: ast.AST) -> list[str]:
    """What of the finance-system layer beyond the port an AST imports."""
    return [
        f"{line}: {name}"
        for line, name in erp_modules_imported(tree)
        if name not in RUN_MAY_IMPORT_OF_ERP
    ]


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


def test_the_run_loop_knows_only_the_port_never_an_adapter() -> None:
    """No locator, screen or page of any finance system in paybot.run (nor the domain, which
    imports no erp at all): the run loop talks to paybot.erp.port.FinanceSystem."""
    crossings = [
        f"{path.relative_to(ROOT)}:{found}"
        for part in ("run", "domain")
        for path in modules(f"paybot/{part}")
        for found in adapter_imports(ast.parse(path.read_text("utf-8"), str(path)))
    ]
    assert crossings == []


@pytest.mark.parametrize(
    "source",
    [
        "from paybot.erp.mockerp import locators as loc",
        "from paybot.erp.mockerp.session import MockErpSession",
        "import paybot.erp.mockerp.screens",
        "from paybot.erp import reference",
        "from paybot import erp",
    ],
)
def test_the_adapter_check_can_fail(source: str) -> None:
    assert adapter_imports(ast.parse(source)) != []
    assert adapter_imports(ast.parse("from paybot.erp.port import FinanceSystem")) == []
    assert adapter_imports(ast.parse("from paybot.erp import port, registry")) == []
