"""Reading the YAML files of ``config/`` and ``robots/`` safely, and naming what is wrong.

- Numbers with decimals become ``Decimal`` (never float): ``fee: 1035.50`` is exact.
- ``17:00`` stays the text ``"17:00"`` (YAML 1.1 would read it as the number 1020), and
  ``045120`` stays ``"045120"`` (YAML 1.1 would read an octal number).
- A key written twice in one mapping is an error (the second would silently win).
- A date that does not exist (``2027-13-01``) stays text, so validation names its key.
- Syntax errors name the file and the line.

:func:`validation_error` turns a pydantic ``ValidationError`` into a
:class:`~paybot.errors.ConfigError` naming the file, the dotted key (``suppliers[2].cvr``) and
the value.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

from paybot.errors import ConfigError


class _Loader(yaml.SafeLoader):
    """SafeLoader with exact decimals, clock times kept as text and no duplicate keys."""


def _construct_int(loader: _Loader, node: Node) -> object:
    assert isinstance(node, ScalarNode)
    text = str(loader.construct_scalar(node))
    plain = text.replace("_", "").lstrip("+-")
    if ":" in text or (len(plain) > 1 and plain.startswith("0") and plain.isdigit()):
        return text  # 17:00 is a time, 057584 a ydernummer
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_float(loader: _Loader, node: Node) -> object:
    assert isinstance(node, ScalarNode)
    text = str(loader.construct_scalar(node))
    if ":" in text:
        return text
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:
        return text  # .inf / .nan: left as text, refused by validation


def _construct_timestamp(loader: _Loader, node: Node) -> object:
    assert isinstance(node, ScalarNode)
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return str(loader.construct_scalar(node))  # 2027-13-01: refused by validation


def _construct_mapping(loader: _Loader, node: Node) -> dict[Hashable, Any]:
    assert isinstance(node, MappingNode)
    seen: dict[Hashable, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable) and key in seen:
            raise ConstructorError(
                None,
                None,
                f"the key {key!r} appears twice (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        if isinstance(key, Hashable):
            seen[key] = key_node.start_mark.line
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=True))


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def parse_yaml(text: str, file: str) -> object:
    """The YAML document in ``text``; a syntax error names ``file`` and the line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        column = mark.column + 1 if mark is not None else 0
        lines = text.splitlines()
        shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ConfigError(
            file, f"line {line}, column {column}", shown, f"YAML syntax error: {problem}"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, "(file)", "", f"YAML error: {exc}") from None


def read_yaml_mapping(path: Path) -> tuple[dict[str, Any], bytes]:
    """The top-level mapping of a YAML file and the file's bytes (for its checksum)."""
    file = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(file, "(file)", str(path), "file not found") from None
    except OSError as exc:
        raise ConfigError(file, "(file)", str(path), f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(file, "(file)", f"byte {exc.start}", "not UTF-8 text") from None
    data = parse_yaml(text, file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)", type(data).__name__, "expected a mapping of keys")
    for key in data:
        if not isinstance(key, str):
            raise ConfigError(file, str(key), key, "keys must be text")
    return data, raw


def dotted(loc: tuple[int | str, ...]) -> str:
    """``('suppliers', 2, 'cvr')`` → ``suppliers[2].cvr``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_PROBLEMS = {
    "extra_forbidden": "unknown key (check the spelling; see the comments in the shipped file)",
    "missing": "required key is missing",
    "string_type": 'must be text (write it in quotes, e.g. "20433213")',
}


def _short(value: object) -> object:
    text = repr(value)
    if len(text) > 120:
        return text[:117] + "..."
    return value


def describe(error: Mapping[str, Any]) -> tuple[str, object, str]:
    """(key, value, problem) of one pydantic error."""
    loc = tuple(p for p in error.get("loc", ()) if isinstance(p, int | str))
    kind = str(error.get("type", ""))
    problem = _PROBLEMS.get(kind) or str(error.get("msg", "invalid"))
    problem = problem.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = None if kind == "missing" else _short(error.get("input"))
    return dotted(loc), value, problem


def validation_error(file: str, exc: ValidationError, prefix: str = "") -> ConfigError:
    """A ConfigError for the first problem; further problems are listed in its text."""
    described = [describe(e) for e in exc.errors(include_url=False)]
    key, value, problem = described[0]
    key = f"{prefix}.{key}" if prefix and key != "(top level)" else (prefix or key)
    if len(described) > 1:
        more = "; ".join(f"{k} = {v!r}: {p}" for k, v, p in described[1:6])
        extra = f" (and {len(described) - 1} more: {more})"
        problem += extra
    return ConfigError(file, key, value, problem)
