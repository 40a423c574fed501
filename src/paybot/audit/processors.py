"""The links of the audit trail's structlog processor chain, in their order:

1. :class:`BindIds`: the run/robot/worker/invoice ids the event belongs to,
2. :class:`paybot.audit.masking.MaskPersonalData`: plain JSON data, personal data masked,
3. :class:`AddTimestamp`: ``ts``, UTC, from an injectable clock,
4. :class:`ChainHash`: ``seq``, ``prev`` and ``hash``,
5. :class:`AppendLine`: one line appended to the file (``fsync`` for durable records),
6. optionally :class:`paybot.audit.forward.ForwardToRobocorp`.

Each is a small callable ``(logger, method_name, event_dict) -> event_dict`` with its settings
in ``__init__``; none touches structlog's global configuration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from structlog.contextvars import get_contextvars
from structlog.typing import EventDict, WrappedLogger

from paybot.audit.chain import AuditTrailError, record_hash
from paybot.audit.events import ID_FIELDS


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class BindIds:
    """Adds the ids an event belongs to (:data:`paybot.audit.events.ID_FIELDS`).

    Precedence: the event's own fields and the logger's bound context, then ids bound with
    ``structlog.contextvars.bind_contextvars`` in the current thread or task (only the id
    fields are taken from there), then the ids given here. ``None`` ids are left out; an
    ``erp_id`` written as digits becomes an int."""

    def __init__(self, **ids: object) -> None:
        unknown = set(ids) - set(ID_FIELDS)
        if unknown:
            raise ValueError(f"BindIds: unknown id fields {sorted(unknown)}; known: {ID_FIELDS}")
        self._ids = {k: v for k, v in ids.items() if v is not None}

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        context = get_contextvars()
        for key in ID_FIELDS:
            if event_dict.get(key) is None:
                value = context.get(key, self._ids.get(key))
                if value is None:
                    event_dict.pop(key, None)
                else:
                    event_dict[key] = value
        erp_id = event_dict.get("erp_id")
        if isinstance(erp_id, str) and erp_id.strip().isdigit():
            event_dict["erp_id"] = int(erp_id)
        return event_dict


class AddTimestamp:
    """``ts``: the clock's time in UTC, ISO 8601 with microseconds."""

    def __init__(self, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self._clock = clock

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise AuditTrailError(
                f"audit trail clock returned {now!r} without a time zone "
                f"(event {event_dict.get('event')!r})"
            )
        event_dict["ts"] = now.astimezone(dt.UTC).isoformat(timespec="microseconds")
        return event_dict


class Tail(Protocol):
    """Where the chain ends (:class:`paybot.audit.chain.ChainFile` provides it)."""

    def last(self) -> tuple[int, str]:
        """The last record of the trail, read under the trail's lock.

        Returns: ``(seq, hash)``: its number (1, 2, …) and SHA-256 hex digest;
        ``(0, GENESIS)`` for an empty trail.
        Raises: :class:`~paybot.audit.chain.AuditTrailError` when the lock is not held or the
        last record is incomplete or unreadable (naming the file).
        Repeat: safe (reads; cached until the file grows).
        """
        ...


class ChainHash:
    """``seq`` (last + 1), ``prev`` (the last record's hash) and ``hash`` (SHA-256 over the
    canonical JSON of the record without ``hash``). Must run after every processor that
    changes the record, under the trail's lock."""

    def __init__(self, tail: Tail) -> None:
        self._tail = tail

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        seq, prev = self._tail.last()
        event_dict.pop("hash", None)
        event_dict["seq"] = seq + 1
        event_dict["prev"] = prev
        event_dict["hash"] = record_hash(event_dict)
        return event_dict


class Sink(Protocol):
    """Where a finished record goes (:class:`paybot.audit.chain.ChainFile` provides it)."""

    def append(self, record: Mapping[str, Any], *, durable: bool) -> None:
        """Write ``record`` (with ``seq`` and ``hash``, continuing :meth:`Tail.last`) as one
        line, under the trail's lock; ``durable``: ``fsync`` before returning.

        Returns: nothing.
        Raises: :class:`~paybot.audit.chain.AuditTrailError` when the lock is not held, the
        record lacks ``seq``/``hash`` or does not follow the last record, or the write fails
        (a torn line is removed again).
        Repeat: not safe: the same record twice breaks the chain, so the second is refused.
        """
        ...


class AppendLine:
    """Appends the record to the sink as one line; durable (``fsync``) when the record says
    ``"durable": true``."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        self._sink.append(event_dict, durable=event_dict.get("durable") is True)
        return event_dict
