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

With a :class:`~paybot.audit.signing.Signer`, :meth:`AuditTrail.checkpoint` appends a signed
``checkpoint`` record over the trail's head (the runner writes one when a run starts and ends),
and one is written by itself after every ``checkpoint_every`` records (``None``: only when
asked, as the scheduler's trail, which verifies before it signs); each is also handed to
``anchor`` (the ledger's ``audit_checkpoints`` table, :mod:`paybot.audit.anchor`). See
docs/audit.md for what that proves and what it does not.
"""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog

from paybot import __version__
from paybot.audit.anchor import Checkpoint
from paybot.audit.chain import ChainFile
from paybot.audit.events import Event, durable_by_default
from paybot.audit.forward import ForwardToRobocorp, robocorp_active
from paybot.audit.masking import MaskPersonalData
from paybot.audit.processors import AddTimestamp, AppendLine, BindIds, ChainHash, utc_now
from paybot.audit.signing import Signer

DEFAULT_CHECKPOINT_EVERY = 1000


class AuditLogger:
    """Writes events to one trail with a bound set of ids. Cheap; bind one per work item."""

    def __init__(self, trail: AuditTrail, bound: Any) -> None:
        self._trail = trail
        self._file = trail._file
        self._bound = bound

    def bind(self, **ids: Any) -> AuditLogger:
        """A logger whose events also carry ``ids`` (e.g. ``worker``, ``erp_id``)."""
        return AuditLogger(self._trail, self._bound.bind(**ids))

    def event(self, event: Event, *, durable: bool | None = None, **fields: Any) -> None:
        """Append one record. ``durable`` (default: :func:`durable_by_default`) makes the call
        return only once the record is on disk (``fsync``)."""
        if durable is None:
            durable = durable_by_default(str(event), fields)
        if durable:
            fields["durable"] = True
        else:
            fields.pop("durable", None)
        with self._file.locked():
            self._trail._start_if_empty()
            self._bound.info(str(event), **fields)
            self._trail.written += 1
            self._trail._checkpoint_if_due()


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
        signer: Signer | None = None,
        anchor: Callable[[Checkpoint], None] | None = None,
        checkpoint_every: int | None = DEFAULT_CHECKPOINT_EVERY,
        start_fields: dict[str, Any] | None = None,
        **ids: Any,
    ) -> None:
        self.path = Path(path)
        self.written = 0
        """Events this object has appended (checkpoints and ``trail_started`` not counted)."""
        self._file = ChainFile(self.path)
        self._signer = signer
        self._anchor = anchor
        self._checkpoint_every = None if checkpoint_every is None else max(1, checkpoint_every)
        self._last_checkpoint_seq: int | None = None
        self._start_fields = dict(start_fields or {})
        self._ids = {k: v for k, v in ids.items() if v is not None}
        self._stamp = AddTimestamp(clock or utc_now)
        self._chain = ChainHash(self._file)
        self._append = AppendLine(self._file)
        processors: list[Any] = [
            BindIds(**ids),
            MaskPersonalData(),
            self._stamp,
            self._chain,
            self._append,
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
        return AuditLogger(self, self._root.bind(**ids))

    @property
    def signer(self) -> Signer | None:
        return self._signer

    def checkpoint(self, why: str, **ids: Any) -> Checkpoint | None:
        """Sign the trail's head now: append a ``checkpoint`` record (``fsync``-ed) and hand the
        checkpoint to the anchor (a new trail gets its ``trail_started`` record first).
        ``None`` without a signer. Safe to
        repeat (a second call signs the first checkpoint record too). Raises
        :class:`~paybot.audit.chain.AuditTrailError` when the file cannot be written."""
        if self._signer is None:
            return None
        with self._file.locked():
            return self._write_checkpoint(why, ids)

    def _start_if_empty(self) -> None:
        """Under the lock, when signing: a new trail's first record names it
        (``trail_started`` with a random ``trail_id``, the host and paybot's version), so that
        two trails never start alike and a signed checkpoint names the one it belongs to."""
        if self._signer is None or self._file.last()[0] != 0:
            return
        record: dict[str, Any] = {
            "event": Event.TRAIL_STARTED.value,
            "trail_id": uuid.uuid4().hex,
            "host": socket.gethostname(),
            "paybot_version": __version__,
            **self._start_fields,
            "durable": True,
        }
        self._append(None, "info", self._chain(None, "info", self._stamp(None, "info", record)))

    def _checkpoint_if_due(self) -> None:
        """Under the lock, after an event: sign when ``checkpoint_every`` records have been
        written since the last checkpoint this trail object wrote (never when it is None)."""
        if self._signer is None or self._last_checkpoint_seq is None:
            return
        if self._checkpoint_every is None:
            return
        seq, _ = self._file.last()
        if seq - self._last_checkpoint_seq >= self._checkpoint_every:
            self._write_checkpoint("interval", {})

    def _write_checkpoint(self, why: str, ids: dict[str, Any]) -> Checkpoint | None:
        signer = self._signer
        assert signer is not None
        self._start_if_empty()
        seq, head = self._file.last()
        first = self._file.first_hash()
        signature = signer.sign(first, seq, head)
        # Written without the masking link: a signature or hash is no personal data, and a
        # run of ten digits inside one must not be mistaken for a CPR number.
        record: dict[str, Any] = {
            **self._ids,
            **{k: v for k, v in ids.items() if v is not None},
            "event": Event.CHECKPOINT.value,
            "why": why,
            "covers_seq": seq,
            "first_hash": first,
            "key_id": signer.key_id,
            "signature": signature,
            "durable": True,
        }
        stamped = self._chain(None, "info", self._stamp(None, "info", record))
        self._append(None, "info", stamped)
        self._last_checkpoint_seq = seq + 1
        checkpoint = Checkpoint(
            seq=seq,
            hash=head,
            first_hash=first,
            key_id=signer.key_id,
            signature=signature,
            ts=str(stamped["ts"]),
            why=why,
            checkpoint_seq=int(stamped["seq"]),
            checkpoint_hash=str(stamped["hash"]),
            offset=self._file.end(),
        )
        if self._anchor is not None:
            self._anchor(checkpoint)
        return checkpoint

    def event(self, event: Event, *, durable: bool | None = None, **fields: Any) -> None:
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
