"""Logs for machines and people: JSON lines for journald and log shippers, or plain text with
a time for a person at a terminal.

``PAYBOT_LOG_FORMAT`` chooses: ``json`` or ``text``; unset, ``json`` under systemd (where
``JOURNAL_STREAM`` is set) and ``text`` elsewhere. A JSON line has at least ``timestamp``
(UTC, ISO 8601), ``level``, ``event`` (the message) and, where known, ``run_id`` and
``robot``; CPR-shaped text is masked in every line.

- :func:`configure_logging`: the scheduler's process (the standard ``logging`` records,
  rendered by structlog's ``ProcessorFormatter`` and ``JSONRenderer``) to stdout;
- :func:`json_line`: one line for ``robot run``'s own output in JSON mode;
- :func:`stamp`: the time in front of each line of a run's ``console.log``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import IO, Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from paybot.audit import mask_text
from paybot.domain.calendar import DANISH_TIME
from paybot.errors import ConfigError

ENV_LOG_FORMAT = "PAYBOT_LOG_FORMAT"
JSON = "json"
TEXT = "text"


def log_format(env: Mapping[str, str] | None = None) -> str:
    """``json`` or ``text`` (see the module's doc)."""
    environ = os.environ if env is None else env
    chosen = environ.get(ENV_LOG_FORMAT, "").strip().lower()
    if chosen in (JSON, TEXT):
        return chosen
    return JSON if environ.get("JOURNAL_STREAM") else TEXT


def check_log_format(env: Mapping[str, str] | None = None) -> None:
    """Raise :class:`~paybot.errors.ConfigError` (exit 2) naming ``PAYBOT_LOG_FORMAT``, its
    value and the allowed values when it is set to anything but ``json`` or ``text`` (an
    empty value counts as unset). :func:`log_format` itself never raises: the error path
    uses it to print this very error. Safe to repeat."""
    environ = os.environ if env is None else env
    value = environ.get(ENV_LOG_FORMAT, "")
    if value.strip() and value.strip().lower() not in (JSON, TEXT):
        raise ConfigError(
            "environment", ENV_LOG_FORMAT, value, f"use {JSON} or {TEXT} (or leave it unset)"
        )


def _mask(logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    for key in ("event", "exception"):
        if isinstance(event_dict.get(key), str):
            event_dict[key] = mask_text(event_dict[key])
    return event_dict


def json_formatter() -> logging.Formatter:
    """A ``logging`` formatter that writes each record as one JSON line."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _mask,
            structlog.processors.JSONRenderer(ensure_ascii=False, sort_keys=False),
        ],
    )


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


def configure_logging(
    fmt: str | None = None, *, level: int = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Send this process's ``logging`` to ``stream`` (stdout) as JSON lines or timed text;
    replaces the root logger's handlers. Returns the handler."""
    handler = logging.StreamHandler(stream or sys.stdout)
    if (fmt or log_format()) == JSON:
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(_MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return handler


def json_line(event: str, *, level: str = "info", **fields: Any) -> str:
    """One JSON line (no newline): ``timestamp``, ``level``, ``event`` and ``fields``."""
    record = {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "level": level,
        "event": mask_text(event),
        **{k: v for k, v in fields.items() if v is not None},
    }
    return json.dumps(record, ensure_ascii=False, default=str)


def stamp(now: dt.datetime | None = None) -> str:
    """``2026-11-30 01:30:05.123 +0100``: Danish time, as the people reading it live."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(DANISH_TIME)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} {moment:%z}"
