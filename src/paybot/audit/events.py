"""The audit trail's event vocabulary: what a robot writes, and which fields each event carries.

Every record of the trail (a JSON object on one line of ``audit.jsonl``) has these fields:

=============  ==========================================================================
``event``      one of the names below
``ts``         UTC time, ISO 8601 with microseconds (``2026-11-20T08:15:00.000000+00:00``)
``seq``        the record's number in the file, 1, 2, 3, … without gaps
``prev``       ``hash`` of the record before (64 zeros for the first record)
``hash``       SHA-256 (hex) over the canonical JSON of the record without ``hash``
``durable``    ``true`` when the record was ``fsync``-ed before the call returned
=============  ==========================================================================

and, when known, the ids bound by the runner (see :data:`ID_FIELDS`): ``run_id``, ``robot``,
``worker``, ``erp_id`` (the finance system's Løbenr, an int) and ``business_key``
(``CVR:invoice number``). ``robot audit show`` finds an invoice's records by these ids.

Events (call ``logger.event(Event.DECISION, rule=…, …)``: always the enum member, never the
string; ``tests/unit/test_event_vocabulary.py`` checks both ways that every member is written
somewhere and that nothing else is). The fields named are the essentials ``robot audit show``
prints; events may carry more.

Runs and preflight
  ``run_started`` (trigger, dry_run, workers, host, pid) · ``run_finished`` (exit_code, paid,
  manual, failed, skipped) · ``preflight_passed`` · ``preflight_failed`` (check, error)
Finance system session
  ``login`` (user; never the password) · ``page_opened`` (page, url)
Collecting
  ``collected`` (from_loebenr, to_loebenr, pages, rows, new: the inbox rows read and the
  invoices that became work) · ``leases_released`` (erp_ids: leases a dead run left, freed
  by the lock holder) · ``duplicate_keys_upgraded`` (count, to: unsalted certificate keys an
  older paybot stored, converted to keyed hashes at run start) ·
  ``leftovers_swept`` (what: browser processes or export files a killed run left, ended or
  deleted at start-up)
Browser
  ``browser_restarted`` (error, restarts: a dead or hung browser replaced; or planned,
  every: a fresh browser every ``runner.browser_restart_every`` invoices)
Reading and deciding
  ``field_read`` (field, value; or fields: every field read on a page, ``{name: value}``;
  values masked by field name: ``cpr``, ``kontonr``, ``bank_account``, ``regnr``) ·
  ``voucher_read`` (voucher) · ``decision`` (kind ``pay``/``manual``, rule, reason,
  rule_version, compared, checks: every check made in order, each ``{rule, reason, passed,
  compared}``; amount, account_string, payment_date for ``pay``)
Acting
  ``value_typed`` (field, value; a password field is always ``[secret]``) ·
  ``button_clicked`` (button) · ``screenshot`` (file; the picture itself is masked by the
  caller)
Work item state (mirrors the ledger)
  ``state_changed`` (from, to, why; a skipped invoice is one to ``SKIPPED``) ·
  ``reconciled`` (found: paid/new/manual, voucher, action) · ``item_left`` (attempts, state,
  error: application errors used up the attempts; the invoice waits for the next run) ·
  ``item_handed_over`` (reason, by, note, nights: marked for manual handling by an operator
  with ``robot queue handover``, or by the robot after ``runner.max_nights`` failed runs; the
  next run hands it over) ·
  ``item_released`` (by: ``robot queue release``, back to the next run, failures forgotten)
Failures
  ``app_error`` (error, attempt: the system misbehaved, retried) · ``business_error``
  (reason, error: bad data, to a person)
Scheduler
  ``scheduler_job_added`` (job, schedule, action: added/changed) · ``scheduler_job_removed`` ·
  ``scheduler_job_paused`` · ``scheduler_job_resumed`` · ``scheduler_run_started`` (job) ·
  ``scheduler_run_finished`` (job, exit_code) · ``scheduler_run_missed`` (job, scheduled_at)
  · ``scheduler_run_killed`` (job, why)
Signing
  ``trail_started`` (trail_id: random, host, paybot_version): the first record of every signed
  trail; it makes each trail's first hash, which signed checkpoints name, unique.
  ``checkpoint`` (why: run_start/interval/run_end, adopted, or scheduler with its pid: the
  scheduler signing its own events, ``paybot.scheduler.sealing``; covers_seq: the record
  signed, first_hash: the trail's first record's hash, key_id, signature: Ed25519, base64):
  the robot's signature
  over the trail's head (``paybot.audit.signing``, docs/audit.md). Written unmasked.

Personal data never reaches the file: :class:`paybot.audit.masking.MaskPersonalData` masks
CPR numbers (``070761-****``), citizen names, bank accounts and secrets in every event before it
is hashed and written.

Durability: records of :func:`durable_by_default` events (the payment intent and the voucher,
the end of a run) are ``fsync``-ed; others are written and flushed to the kernel only.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Event(StrEnum):
    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    PREFLIGHT_PASSED = "preflight_passed"
    PREFLIGHT_FAILED = "preflight_failed"
    LOGIN = "login"
    PAGE_OPENED = "page_opened"
    FIELD_READ = "field_read"
    DECISION = "decision"
    VALUE_TYPED = "value_typed"
    BUTTON_CLICKED = "button_clicked"
    VOUCHER_READ = "voucher_read"
    STATE_CHANGED = "state_changed"
    APP_ERROR = "app_error"
    BUSINESS_ERROR = "business_error"
    SCREENSHOT = "screenshot"
    RECONCILED = "reconciled"
    ITEM_LEFT = "item_left"
    ITEM_HANDED_OVER = "item_handed_over"
    ITEM_RELEASED = "item_released"
    COLLECTED = "collected"
    LEASES_RELEASED = "leases_released"
    DUPLICATE_KEYS_UPGRADED = "duplicate_keys_upgraded"
    BROWSER_RESTARTED = "browser_restarted"
    LEFTOVERS_SWEPT = "leftovers_swept"
    SCHEDULER_JOB_ADDED = "scheduler_job_added"
    SCHEDULER_JOB_REMOVED = "scheduler_job_removed"
    SCHEDULER_JOB_PAUSED = "scheduler_job_paused"
    SCHEDULER_JOB_RESUMED = "scheduler_job_resumed"
    SCHEDULER_RUN_STARTED = "scheduler_run_started"
    SCHEDULER_RUN_FINISHED = "scheduler_run_finished"
    SCHEDULER_RUN_MISSED = "scheduler_run_missed"
    SCHEDULER_RUN_KILLED = "scheduler_run_killed"
    CHECKPOINT = "checkpoint"
    TRAIL_STARTED = "trail_started"


EVENTS: frozenset[str] = frozenset(e.value for e in Event)

ID_FIELDS: tuple[str, ...] = ("run_id", "robot", "worker", "erp_id", "business_key")
"""The ids the runner binds to a logger; every record carries those that are known."""

_DURABLE_STATES = frozenset({"PAY_INTENT", "PAID", "MANUAL_INTENT", "MANUAL"})


def durable_by_default(event: str, fields: Mapping[str, object]) -> bool:
    """Events whose record must be on disk before the robot goes on: a voucher read, a work
    item entering an intent or a final state, and the end of a run."""
    if event in (Event.VOUCHER_READ, Event.RUN_FINISHED):
        return True
    return event == Event.STATE_CHANGED and str(fields.get("to", "")) in _DURABLE_STATES
