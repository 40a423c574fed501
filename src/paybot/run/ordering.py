"""Same decisions with one worker or many.

Duplicates (docs/rules.md) are decided by Løbenr: the document received first is the original.
Keys that need the invoice page (a CPR + form, a booking reference) are only known once a worker
has read the page. One worker reads in Løbenr order, so the earlier document's keys are always
recorded first. With several workers, a worker that has read invoice N waits until every invoice
with a lower Løbenr that another worker has claimed in this run has had its keys recorded (or
has failed). Reading a page takes a fraction of a second, so the wait is short, and it is a wait
for a condition, never for a fixed time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class KeyOrder:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._unread: set[int] = set()

    def claim(self, claim: Callable[[], T | None], erp_id_of: Callable[[T], int]) -> T | None:
        """Run ``claim`` (the ledger's ``claim_next``) and note the claimed invoice as unread,
        atomically with respect to the other workers' claims."""
        with self._cond:
            item = claim()
            if item is not None:
                self._unread.add(erp_id_of(item))
            return item

    def keys_recorded(self, erp_id: int) -> None:
        """The invoice's keys are in the ledger (or it will never have any): stop blocking."""
        with self._cond:
            self._unread.discard(erp_id)
            self._cond.notify_all()

    def wait_for_earlier(self, erp_id: int, timeout: float) -> bool:
        """Wait until no invoice with a lower Løbenr is claimed and unread. False on timeout
        (the caller then decides with what it knows; the ledger still refuses a second
        payment of one business key)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not any(other < erp_id for other in self._unread), timeout
            )
