"""What the console's views share: the project it serves, the clock, and Danish formatting.

Times are shown in Copenhagen time (``30.11.2026 07:15``); amounts as ``1.019,48 kr.``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from flask import current_app, g, render_template

from paybot.config import RobotManifest, Settings
from paybot.console.users import UserStore
from paybot.domain.calendar import DANISH_TIME, danish_timestamp
from paybot.domain.money import format_kr

EXTENSION = "paybot_console"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ConsoleState:
    """The project the console serves, loaded once at start (a changed manifest needs a
    restart, as for the scheduler)."""

    home: Path
    settings: Settings
    manifests: dict[str, RobotManifest]
    users: UserStore
    idle: dt.timedelta = dt.timedelta(minutes=15)
    lifetime: dt.timedelta = dt.timedelta(hours=8)
    clock: Callable[[], dt.datetime] = utc_now
    cache: dict[str, Any] = field(default_factory=dict)
    """Results worth keeping between requests (the trail's verification, by file size)."""


def state() -> ConsoleState:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, ConsoleState)
    return found


def danish(moment: dt.datetime | str | None) -> str:
    """``30.11.2026 07:15`` in Copenhagen time; ``-`` for none; a text that is no time as is."""
    if moment is None or moment == "":
        return "-"
    if isinstance(moment, str):
        try:
            parsed = dt.datetime.fromisoformat(moment)
        except ValueError:
            return moment
        moment = parsed
    if moment.tzinfo is None:
        return moment.strftime("%d.%m.%Y %H:%M")
    return moment.astimezone(DANISH_TIME).strftime("%d.%m.%Y %H:%M")


def danish_seconds(moment: dt.datetime | str | None) -> str:
    """``2026-11-30 07:15:05+01:00`` (as ``robot audit show``); the text as is when it is no
    time."""
    if moment is None or moment == "":
        return "-"
    try:
        return danish_timestamp(moment)
    except ValueError:
        return str(moment)


def plain(value: Any) -> str:
    """A value of an audit record as text: JSON for lists and mappings (escaped by the
    template like any text)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def kroner(amount: Decimal | str | float | int | None) -> str:
    """``1.019,48 kr.``; ``-`` for none or a text that is not an amount."""
    if amount is None or amount == "":
        return "-"
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return "-"
    return format_kr(value) if value.is_finite() else "-"


def render(template: str, **context: Any) -> str:
    """A page with the logged-in user (if any) and the municipality's name."""
    st = state()
    return render_template(
        template,
        user=g.get("user"),
        municipality=st.settings.municipality.name,
        **context,
    )


def install_filters(app: Any) -> None:
    app.jinja_env.filters["danish"] = danish
    app.jinja_env.filters["kroner"] = kroner
    app.jinja_env.filters["danish_seconds"] = danish_seconds
    app.jinja_env.filters["plain"] = plain
