"""The audit trail: every robot action as a hash-chained, masked JSON line.

>>> trail = AuditTrail(Path("data/audit/audit.jsonl"))
>>> log = trail.logger(run_id="20261120-081500-3f9a", robot="small_invoices")
>>> item_log = log.bind(worker="w1", erp_id=17, business_key="20433213:F-00001")
>>> item_log.event("decision", kind="manual", rule="duplicate.earlier", reason="MANUAL_DUPLICATE",
...                rule_version="3 a1b2c3d4e5f6", compared={"earlier_erp_id": "12"})

Each call runs a structlog processor chain built for this trail alone (no global structlog
configuration): bind ids → mask personal data → timestamp → seq and chain hash → append →
(under robocorp-tasks) forward a masked summary to ``log.html``. See ``paybot.audit.events``
for the vocabulary and ``paybot.audit.processors`` for the links. Appends are serialised across
threads and processes by the file's lock (``paybot.audit.chain.ChainFile``); the whole chain
runs under that lock, so records are numbered in the order they are written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog

from paybot.audit.chain import ChainFile
from paybot.audit.events import durable_by_default
from paybot.audit.forward import ForwardToRobocorp, robocorp_active
from paybot.audit.masking import MaskPersonalData
from paybot.audit.processors import AddTimestamp, AppendLine, BindIds, ChainHash, utc_now


class AuditLogger:
    """Writes events to one trail with a bound set of ids. Cheap; bind one per work item."""

    def __init__(self, file: ChainFile, bound: Any) -> None:
        self._file = file
        self._bound = bound

    def bind(self, **ids: Any) -> AuditLogger:
        """A logger whose events also carry ``ids`` (e.g. ``worker``, ``erp_id``)."""
        return AuditLogger(self._file, self._bound.bind(**ids))

    def event(self, event: str, *, durable: bool | None = None, **fields: Any) -> None:
        """Append one record. ``durable`` (default: :func:`durable_by_default`) makes the call
        return only once the record is on disk (``fsync``)."""
        if durable is None:
            durable = durable_by_default(str(event), fields)
        if durable:
            fields["durable"] = True
        else:
            fields.pop("durable", None)
        with self._file.locked():
            self._bound.info(str(event), **fields)


class AuditTrail:
    """One audit file and its processor chain. ``ids`` are bound to every record (e.g.
    ``robot``, ``run_id``). ``forward_to_robocorp``: also send a masked one-line summary of
    each event to robocorp's log while ``robocorp_active()`` (inside a robocorp-tasks run).
    Close it (or use ``with``) when done."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        forward_to_robocorp: bool = True,
        robocorp_active: Callable[[], bool] = robocorp_active,
        **ids: Any,
    ) -> None:
        self.path = Path(path)
        self._file = ChainFile(self.path)
        processors: list[Any] = [
            BindIds(**ids),
            MaskPersonalData(),
            AddTimestamp(clock or utc_now),
            ChainHash(self._file),
            AppendLine(self._file),
        ]
        if forward_to_robocorp:
            processors.append(ForwardToRobocorp(is_active=robocorp_active))
        self._root = structlog.wrap_logger(
            structlog.ReturnLogger(),
            processors=processors,
            wrapper_class=structlog.BoundLogger,
            context_class=dict,
            cache_logger_on_first_use=False,
        ).bind()

    def logger(self, **ids: Any) -> AuditLogger:
        return AuditLogger(self._file, self._root.bind(**ids))

    def event(self, event: str, *, durable: bool | None = None, **fields: Any) -> None:
        """Shorthand for ``trail.logger().event(...)``."""
        self.logger().event(event, durable=durable, **fields)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
