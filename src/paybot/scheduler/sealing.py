"""The scheduler signs its own audit events.

The scheduler writes events to the robots' audit trail: jobs added, paused and removed, runs
started, finished, missed and killed. With signing on (``audit.signed``, the default) it signs
them itself, with the key the runs use, instead of leaving them unsigned until the next run
(which may be a day or a weekend away):

- **when**: on the scheduler's first wake-up after it wrote something (every
  ``WAKEUP_SECONDS``, 15 s), after its start (the job changes) and when it stops;
- **how**: exactly as a run does before it signs. The whole trail is verified with the key's
  public half and the ledger's last checkpoint for the trail, holding the trail's lock
  (:func:`paybot.audit.open.check_trail_under_its_lock`, about 2-3 s per million records).
  Then a ``checkpoint`` record (``why: scheduler``; ``adopted`` when the trail was written
  before signing was turned on) is appended over the trail's head and kept in the ledger's
  ``audit_checkpoints`` table;
- **never over a trail that does not verify**: the scheduler then logs why (once), signs
  nothing more until it is restarted, and goes on scheduling; the next run refuses to start
  (exit 3), which sends an alert.

A failure to sign for another reason (the ledger busy, a full disk) is logged, and the
scheduler tries again on its next wake-up; it never stops the scheduler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field

from paybot.audit import AuditTrail
from paybot.audit.anchor import Checkpoint
from paybot.audit.chain import AuditTrailError
from paybot.audit.open import (
    adopts_unsigned_trail,
    check_trail_under_its_lock,
    open_run_trail,
    run_signer,
)
from paybot.audit.signing import Signer
from paybot.config import Settings
from paybot.ledger import LedgerPort

log = logging.getLogger("paybot.scheduler")

WHY = "scheduler"


@dataclass
class Sealer:
    """Signs what the scheduler wrote to ``trail`` (see the module's doc)."""

    settings: Settings
    trail: AuditTrail
    signer: Signer | None
    adopting: bool = False
    """The trail had records but no checkpoint when the scheduler started: its first
    checkpoint adopts them (``why: adopted``), as a run's would."""
    refused: str | None = None
    """Why the trail was found not to verify (then nothing more is signed)."""
    _signed_at: int = field(default=0, init=False)

    def seal(self) -> Checkpoint | None:
        """Sign the trail's head when the scheduler has written events since it last signed;
        the checkpoint, or ``None`` when nothing was signed. Never raises. Safe to repeat."""
        if self.signer is None or self.refused is not None:
            return None
        written = self.trail.written
        if written == self._signed_at:
            return None
        try:
            check_trail_under_its_lock(self.settings, self.signer)
            why = "adopted" if self.adopting else WHY
            checkpoint = self.trail.checkpoint(why, pid=os.getpid())
        except AuditTrailError as exc:
            self.refused = str(exc)
            log.error(
                "the audit trail does not verify, so the scheduler does not sign it (nor "
                "anything after it until it is restarted): %s",
                exc,
            )
            return None
        except Exception:
            log.exception("could not sign the scheduler's audit events; trying again later")
            return None
        self.adopting = False
        self._signed_at = written
        return checkpoint


def open_scheduler_trail(
    stack: ExitStack,
    settings: Settings,
    ledger: LedgerPort,
    env: Mapping[str, str] | None = None,
) -> Sealer:
    """The scheduler's trail (closed by ``stack``) and its :class:`Sealer`; the key is looked
    up in ``env`` (default: this process's environment) as a run looks it up. Raises
    :class:`~paybot.errors.ConfigError` when signing is on and there is no usable key (the
    scheduler then stops before it starts anything, as a run would)."""
    signer = run_signer(settings, env)
    adopting = signer is not None and adopts_unsigned_trail(settings)
    trail = open_run_trail(
        stack,
        settings,
        signer,
        runs_before=len(ledger.list_runs(limit=2)),
        forward_to_robocorp=False,
        interval_checkpoints=False,  # every checkpoint only after verifying: see seal()
    )
    return Sealer(settings, trail, signer, adopting=adopting)
