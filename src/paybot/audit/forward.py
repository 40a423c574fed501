"""Forwarding a one-line summary of each audit event to robocorp's log (``log.html``).

Errors (``app_error``, ``preflight_failed``, ``item_left``) go at level ERROR
(``log.critical``), business refusals (``business_error``) at WARN, the rest at INFO; the
steps they nest in are made by :mod:`paybot.run.robolog`. Only masked text is forwarded: the
summary is built from the event after masking, and masked again here, so that the processor
stays safe wherever it sits in a chain. Outside a
robocorp-tasks run it does nothing. robocorp's log records messages from the main thread only;
events of worker threads are in the audit trail but not in ``log.html``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from structlog.typing import EventDict, WrappedLogger

from paybot.audit.events import Event
from paybot.audit.masking import mask_data

SKIPPED_IN_SUMMARY = frozenset({"event", "ts", "prev", "hash", "seq", "durable"})
MAX_VALUE = 120


def robocorp_active() -> bool:
    """True inside a task run by robocorp-tasks."""
    try:
        from robocorp.tasks import get_current_task
    except ImportError:  # pragma: no cover - robocorp-tasks is a dependency
        return False
    return get_current_task() is not None


ERROR_EVENTS = frozenset({Event.APP_ERROR, Event.PREFLIGHT_FAILED, Event.ITEM_LEFT})
WARN_EVENTS = frozenset({Event.BUSINESS_ERROR})


def level_of(event: str) -> str:
    """``ERROR``, ``WARN`` or ``INFO``: how an audit event shows in robocorp's log."""
    if event in ERROR_EVENTS:
        return "ERROR"
    if event in WARN_EVENTS:
        return "WARN"
    return "INFO"


def robocorp_emit(message: str, level: str = "INFO") -> None:
    from robocorp import log

    if level == "ERROR":
        log.critical(message)
    elif level == "WARN":
        log.warn(message)
    else:
        log.info(message)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def summary(event: Mapping[str, Any]) -> str:
    """``audit decision erp_id=17 reason=MANUAL_DUPLICATE …`` on one line, masked."""
    masked = mask_data(dict(event))
    assert isinstance(masked, dict)
    parts = [f"audit {masked.get('event', '?')}"]
    parts += [
        f"{key}={_short(value)}"
        for key, value in masked.items()
        if key not in SKIPPED_IN_SUMMARY and value not in (None, "", [], {})
    ]
    return " ".join(parts).replace("\n", " ")


class ForwardToRobocorp:
    """structlog processor: ``emit(summary(event), level_of(event))`` when ``is_active()``;
    passes the event on unchanged."""

    def __init__(
        self,
        *,
        is_active: Callable[[], bool] = robocorp_active,
        emit: Callable[[str, str], None] = robocorp_emit,
    ) -> None:
        self._is_active = is_active
        self._emit = emit

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        if self._is_active():
            self._emit(summary(event_dict), level_of(str(event_dict.get("event", ""))))
        return event_dict
