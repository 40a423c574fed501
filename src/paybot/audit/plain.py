"""Turning event values into plain JSON data (dict, list, str, int, float, bool, None).

Done before masking, so that the masker sees every string: a pydantic model, a dataclass or a
``Decimal`` becomes dicts, lists and strings first. Money stays exact: a ``Decimal`` becomes its
string (``"1250.00"``), never a float.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

JSONValue = dict[str, Any] | list[Any] | str | int | float | bool | None


def to_plain(value: object) -> JSONValue:
    """``value`` as JSON data. Unknown objects become their ``str``."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return to_plain(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((to_plain(v) for v in value), key=str)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    dump = getattr(value, "model_dump", None)  # pydantic models
    if callable(dump):
        return to_plain(dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return str(value)
