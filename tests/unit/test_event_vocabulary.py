"""The shared words, two ways (issue 11): every audit event, reason code and finance-system
status the code uses is one of the defined members, written as the member (never as a string
literal), and every defined member is used somewhere in src/paybot.

Read from the source with ``ast``, so a new ``log.event("something")`` fails here with its
file and line.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from paybot.audit.events import Event
from paybot.domain.models import ErpStatus
from paybot.domain.reasons import Reason

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "paybot"
VOCABULARIES: dict[str, tuple[type[Event] | type[Reason] | type[ErpStatus], Path]] = {
    "Event": (Event, SRC / "audit" / "events.py"),
    "Reason": (Reason, SRC / "domain" / "reasons.py"),
    "ErpStatus": (ErpStatus, SRC / "domain" / "models.py"),
}
TEXTS = SRC / "domain" / "values.py"
"""Where the finance system's own words (``Ny``, ``Betalt``) are mapped to :class:`ErpStatus`."""


@functools.cache
def _parsed(path: Path) -> ast.AST:
    return ast.parse(path.read_text("utf-8"), str(path))


def trees(root: Path = SRC) -> Iterator[tuple[Path, ast.AST]]:
    for path in sorted(root.rglob("*.py")):
        yield path, _parsed(path)


def members_used(name: str, root: Path = SRC) -> set[str]:
    """``X`` of every ``<name>.X`` outside the module that defines the vocabulary."""
    _, home = VOCABULARIES[name]
    return {
        node.attr
        for path, tree in trees(root)
        if path != home
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == name
    }


def literal_writes(root: Path = SRC) -> list[str]:
    """Calls ``….event("…")`` / ``….job_event(robot, "…")`` that pass a string literal."""
    found = []
    for path, tree in trees(root):
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if not node.func.attr.endswith("event"):
                continue
            strings = [
                a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            if strings:
                found.append(f"{path.relative_to(root)}:{node.lineno} writes {strings[0].value!r}")
    return found


def literals_of(
    values: set[str], root: Path = SRC, skip: frozenset[Path] = frozenset()
) -> list[str]:
    """String literals (not docstrings) that spell a member's value out."""
    found = []
    for path, tree in trees(root):
        if path in skip:
            continue
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.lower() in values
                and id(node) not in docstrings
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno} spells {node.value!r}")
    return found


@pytest.mark.parametrize("name", sorted(VOCABULARIES))
def test_every_member_used_is_defined(name: str) -> None:
    enum, _ = VOCABULARIES[name]
    used = members_used(name)
    assert used, f"the scan no longer finds {name}.X"
    assert used - set(enum.__members__) == set()


@pytest.mark.parametrize("name", ["Event", "Reason"])
def test_every_defined_member_is_used_somewhere(name: str) -> None:
    enum, _ = VOCABULARIES[name]
    assert set(enum.__members__) - members_used(name) == set()


def test_events_are_written_as_the_enum_never_as_a_string() -> None:
    assert literal_writes() == []


def test_reason_codes_are_never_spelt_out() -> None:
    codes = {r.value.lower() for r in Reason}
    assert literals_of(codes, skip=frozenset({VOCABULARIES["Reason"][1]})) == []


def test_event_names_are_never_spelt_out_in_a_write_or_a_comparison() -> None:
    """``"checkpoint"`` and ``"login"`` are ordinary words elsewhere; the event names that
    are not (``state_changed``, ``scheduler_run_started``…) must come from :class:`Event`."""
    distinctive = {e.value for e in Event if "_" in e.value}
    assert literals_of(distinctive, skip=frozenset({VOCABULARIES["Event"][1]})) == []


def compared_literals(values: set[str], root: Path = SRC) -> list[str]:
    """String literals in a comparison (``==``, ``!=``, ``in``) that spell a value out, even an
    ordinary word such as ``"decision"``: a record's event is compared with the member."""
    found = []
    for path, tree in trees(root):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            for side in list(sides):
                if isinstance(side, ast.Tuple | ast.List | ast.Set):
                    sides.extend(side.elts)
            for side in sides:
                if (
                    isinstance(side, ast.Constant)
                    and isinstance(side.value, str)
                    and side.value in values
                ):
                    found.append(f"{path.relative_to(root)}:{node.lineno} compares {side.value!r}")
    return found


def test_no_event_name_is_spelt_out_in_a_comparison() -> None:
    assert compared_literals({e.value for e in Event}) == []


def test_the_comparison_scan_can_fail(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "if record.get('event') == 'decision':\n    pass\nok = kind in ('login', 'x')\n",
        encoding="utf-8",
    )
    assert compared_literals({"decision", "login"}, tmp_path) == [
        "bad.py:1 compares 'decision'",
        "bad.py:3 compares 'login'",
    ]


def test_the_new_status_is_never_spelt_out() -> None:
    skip = frozenset({VOCABULARIES["ErpStatus"][1], TEXTS})
    assert literals_of({ErpStatus.NEW.value}, skip=skip) == []


def test_every_reason_has_a_text_and_every_text_a_reason() -> None:
    data = yaml.safe_load((ROOT / "config" / "reasons.yaml").read_text("utf-8"))
    texts = set(data["reasons"])
    defined = {r.value for r in Reason}
    assert (sorted(defined - texts), sorted(texts - defined)) == ([], [])


def test_the_scans_can_fail(tmp_path: Path) -> None:
    """A string write, a spelt-out code and an unknown member are all seen (a test that
    cannot fail is a defect)."""
    (tmp_path / "bad.py").write_text(
        "log.event('item_left', x=1)\n"
        "history.job_event(robot, 'scheduler_run_started')\n"
        "reason = 'MANUAL_DUPLICATE'\n"
        "log.event(Event.NO_SUCH_EVENT)\n",
        encoding="utf-8",
    )
    assert len(literal_writes(tmp_path)) == 2
    assert literals_of({"manual_duplicate"}, tmp_path) == ["bad.py:3 spells 'MANUAL_DUPLICATE'"]
    assert members_used("Event", tmp_path) == {"NO_SUCH_EVENT"}
