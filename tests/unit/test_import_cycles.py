"""No import cycles among paybot's modules (issue 11): a module imported at module level may
not, directly or through others, import the module back. Imports inside functions (a lazy
import that breaks a cycle on purpose) and under ``if TYPE_CHECKING:`` do not count; a
package's ``__init__`` counts as the module ``paybot.x``.

Read from the source with ``ast``; a cycle fails here with the modules on it in order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at import time: the module's, and inside ``if``/``try`` blocks, but not
    under ``if TYPE_CHECKING:`` and not in functions or classes' methods."""
    for node in body:
        if isinstance(node, ast.If):
            test = node.test
            if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
            ):
                yield from _top_level(node.orelse)
                continue
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _top_level(block)
            for handler in node.handlers:
                yield from _top_level(handler.body)
        elif isinstance(node, ast.ClassDef):
            yield from _top_level(node.body)
        else:
            yield node


def graph(src: Path = SRC, package: str = "paybot") -> dict[str, set[str]]:
    """module → the modules of ``package`` it imports at module level."""
    paths = {module_name(p, src): p for p in (src / package).rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        found: set[str] = set()
        for node in _top_level(ast.parse(path.read_text("utf-8"), str(path)).body):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in paths else base)
        edges[name] = {m for m in found if m in paths and m != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def test_paybot_has_no_import_cycles() -> None:
    edges = graph()
    assert len(edges) > 100, "the scan no longer finds paybot's modules"
    assert cycles(edges) == []


def test_the_cycle_check_can_fail(tmp_path: Path) -> None:
    pkg = tmp_path / "demo"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "a.py").write_text("from demo.sub import b\n", encoding="utf-8")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n", encoding="utf-8")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import demo.c\n"
        "from demo import a\n",
        encoding="utf-8",
    )
    (pkg / "c.py").write_text("import demo.sub.b\n\ndef late():\n    import demo.a\n", "utf-8")
    assert cycles(graph(tmp_path, "demo")) == [["demo.a", "demo.sub.b"]]


def imports_anywhere(package: str, src: Path = SRC) -> set[str]:
    """Every module ``package``'s files import, inside functions too (a lazy import hides a
    cycle, it does not break it)."""
    found: set[str] = set()
    for path in (src / package.replace(".", "/")).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return found


def test_the_audit_trail_and_the_ledger_do_not_import_each_other_both_ways() -> None:
    """The ledger masks what it stores with the audit's masking (a lazy import); the audit's
    checkpoints open the same database through ``paybot.database``, not through the ledger."""
    audit_uses = {m for m in imports_anywhere("paybot.audit") if m.startswith("paybot.ledger")}
    assert audit_uses == set()
