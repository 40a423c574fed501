"""A contract on every port (issue 11): every method of every ``typing.Protocol`` class in
paybot has a docstring that says what it returns (shape, units), with a ``Raises:`` part (what
it raises on purpose, or "nothing") and a ``Repeat:`` part (whether calling it again is safe)
(docs/architecture.md, "Contracts"; APScheduler 3's ``BaseJobStore`` is the model).

The ports are found, not listed: a new Protocol anywhere under ``paybot`` (the finance
system's port too) is checked the day it appears.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Protocol

import pytest

import paybot

MARKERS = ("Raises:", "Repeat:")
"""What a docstring must hold, checkably; the return is its summary or a ``Returns:`` part."""


def protocols() -> list[type]:
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(paybot.__path__, "paybot."):
        if info.name == "paybot.__main__":
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and getattr(cls, "_is_protocol", False):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]


def methods(cls: type) -> dict[str, object]:
    """The port's own public methods and properties (not those of ``Protocol``)."""
    found = {}
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            found[name] = member.fget
        elif isinstance(member, classmethod | staticmethod):
            found[name] = member.__func__
        elif inspect.isfunction(member):
            found[name] = member
    return found


def missing_contract(cls: type) -> list[str]:
    """``Port.method: no docstring`` / ``Port.method: lacks Raises:, Repeat:``."""
    problems = []
    for name, func in sorted(methods(cls).items()):
        doc = inspect.getdoc(func) or ""
        if not doc:
            problems.append(f"{cls.__name__}.{name}: no docstring")
            continue
        lacking = [m for m in MARKERS if not re.search(rf"(^|[\s.]){re.escape(m)}", doc)]
        if lacking:
            problems.append(f"{cls.__name__}.{name}: lacks {', '.join(lacking)}")
    return problems


PORTS = protocols()


def test_the_ports_are_found() -> None:
    names = {p.__qualname__ for p in PORTS}
    assert {"LedgerPort", "RobotRules", "Tail", "Sink", "AuditSink", "Secret"} <= names
    ledger = next(p for p in PORTS if p.__qualname__ == "LedgerPort")
    assert len(methods(ledger)) >= 27


@pytest.mark.parametrize("port", PORTS, ids=lambda p: f"{p.__module__}.{p.__qualname__}")
def test_every_port_method_has_a_contract(port: type) -> None:
    assert port.__doc__, f"{port.__qualname__}: no docstring on the port itself"
    assert missing_contract(port) == []


def test_the_check_can_fail() -> None:
    class Bare(Protocol):
        def fetch(self) -> int: ...

        def store(self, value: int) -> None:
            """Store it.

            Returns: nothing. Raise: a typo is not the marker.
            """
            ...

        @property
        def size(self) -> int:
            """Returns: bytes. Raises: nothing. Repeat: safe."""
            ...

    assert missing_contract(Bare) == [
        "Bare.fetch: no docstring",
        "Bare.store: lacks Raises:, Repeat:",
    ]
