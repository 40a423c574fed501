"""The ledger of work items: exactly-once payment, the document register and run history.

Why an invoice is paid at most once, and every invoice eventually handled
---------------------------------------------------------------------------
The robot pays by clicking "Godkend og betal" in the finance system; the click and our record of
it can never be one atomic step. The ledger makes the gap safe:

1. **Intent before the click.** ``record_pay_intent`` moves the item PENDING → PAY_INTENT and
   commits before the robot clicks approve. On SQLite the commit is durable (WAL,
   ``synchronous=FULL``): after a crash or power cut we still know a payment may have happened.
2. **Voucher after the click.** Once the receipt shows the voucher number (bilagsnummer),
   ``record_paid`` moves PAY_INTENT → PAID with it. (Manual handling is the same:
   ``record_manual_intent`` before sending, ``record_manual_done`` after.)
3. **Reconcile before any retry.** An item found in PAY_INTENT or MANUAL_INTENT (``claim_next``
   hands those out too) means a run stopped between 1 and 2, or the answer to the click was
   lost. Before doing anything else the runner looks the invoice up in the finance system:
   paid → ``record_paid`` with the voucher it shows; still new → ``cancel_intent`` (back to
   PENDING) and decide again; in manual handling → ``record_manual_done`` when we sent it,
   else ``record_skipped``. It never clicks approve on an item whose intent it has not resolved.
4. **The database refuses a second payment.** A partial unique index on ``business_key``
   (CVR:invoice number) over the states PAY_INTENT and PAID means that no two work items, of
   any robot, can be on their way to paying, or have paid, the same invoice: the second
   ``record_pay_intent`` fails with :class:`paybot.errors.LedgerError`. Not a check-then-insert:
   the constraint holds even against a bug or a second process.
5. **Leases with expiry.** ``claim_next`` leases an item to one worker until ``lease_expires``;
   the worker renews while it works. A run that dies leaves its leases to expire, and the next
   run takes the items over (and reconciles them, step 3). Nothing stays "in progress" forever.
6. **Fencing.** Every change re-checks, inside its own transaction, that the caller still holds
   the lease: the same owner, the same lease token (incremented on every claim), not expired.
   A worker that was paused past its lease and woke up again cannot record an intent, so it
   never reaches the click.

On SQLite every write transaction starts with ``BEGIN IMMEDIATE``, so claims are serialised
across threads and processes (two ``robot`` processes on one data directory never get the same
item); on PostgreSQL the queries lock rows (``FOR UPDATE``, ``SKIP LOCKED`` for claims).

Application failures keep the state (usually PENDING), count ``attempts``, keep the masked
error, release the lease, and are not claimed again in the same run. Every state change returns
a :class:`Transition` (old and new state) for the runner to mirror into the audit trail.
"""

from paybot.ledger.memory import InMemoryLedger
from paybot.ledger.model import (
    CLAIMABLE,
    FINAL,
    INTENTS,
    PAYING,
    AlertRecord,
    DecisionRecord,
    EarlierDoc,
    Handover,
    Heartbeat,
    RunCounts,
    RunRecord,
    State,
    Transition,
    WorkItem,
    utc_now,
)
from paybot.ledger.port import LedgerPort
from paybot.ledger.sql import Ledger

__all__ = [
    "CLAIMABLE",
    "FINAL",
    "INTENTS",
    "PAYING",
    "AlertRecord",
    "DecisionRecord",
    "EarlierDoc",
    "Handover",
    "Heartbeat",
    "InMemoryLedger",
    "Ledger",
    "LedgerPort",
    "RunCounts",
    "RunRecord",
    "State",
    "Transition",
    "WorkItem",
    "utc_now",
]
