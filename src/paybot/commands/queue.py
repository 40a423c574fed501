"""``robot queue``: the work items, and an operator's two changes to them.

- ``robot queue [--robot R] [--state S] [--older-than-days N] [--all]``: the items by robot,
  state and age (default: those not settled yet).
- ``robot queue release LØBENR``: a PENDING item back to the next run as if new (its
  failures forgotten, a hand-over mark removed).
- ``robot queue handover LØBENR --reason CODE --note TEXT``: mark a PENDING item for manual
  handling. The ledger refuses to pay a marked invoice from that moment (also in a run that is
  working on it now); the next run sends it to manual handling in the finance system with the
  reason and note, through the same intent-and-reconcile steps as any hand-over, so it is
  done exactly once and audited. Why not only a note for a person: the caseworkers work in
  the finance system, and an invoice left "Ny" there is one nobody looks at.

Both changes are audited (``item_released``, ``item_handed_over``). Exit codes: 0 done; 1 the
ledger refused (the item is being paid, or is settled); 2 usage: no such item, an unknown
reason code, a configuration error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math

from paybot.audit import AuditTrail, mask_text
from paybot.audit.events import Event
from paybot.commands.output import operator, say, table
from paybot.commands.status import open_ledger
from paybot.config import (
    REASONS_FILE,
    ROBOTS_DIR,
    RobotManifest,
    Settings,
    find_home,
    load_manifests,
    load_reasons,
    load_settings,
)
from paybot.domain.reasons import ALL_REASONS, Reason
from paybot.errors import UsageError
from paybot.exit_codes import EXIT_OK
from paybot.ledger import CLAIMABLE, LedgerPort, State, WorkItem, utc_now

NOTE_LIMIT = 500


MAX_DAYS = dt.timedelta.max.days
"""The most days a filter takes: what :class:`datetime.timedelta` holds (999,999,999)."""


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of days, not negative")
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is more than {MAX_DAYS} days")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "queue",
        help="the work items by state, robot and age; release or hand one over",
        description="Without an action: the work items not settled yet (PENDING, or an intent "
        "the next run reconciles), with their failures and hand-over marks. Exit codes: 0 done; "
        "1 the ledger refused the change; 2 no such item, unknown reason code, or a "
        "configuration error.",
    )
    p.add_argument("--robot", metavar="ROBOT", help="only this robot's items")
    p.add_argument(
        "--state",
        action="append",
        choices=[s.value for s in State],
        metavar="STATE",
        help="only items in STATE (repeatable): " + ", ".join(s.value for s in State),
    )
    p.add_argument("--all", action="store_true", help="settled items too (PAID, MANUAL, …)")
    p.add_argument(
        "--older-than-days", type=_days, metavar="N", help="only items created N days ago or more"
    )
    p.add_argument("--failing", action="store_true", help="only items that have failed")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    r = actions.add_parser(
        "release",
        help="back to the next run as if new (failures forgotten, a mark removed)",
        description="A PENDING item back to the next run: its failures are forgotten "
        "(attempts 0) and a hand-over mark is removed. Audited (item_released).",
    )
    r.add_argument("erp_id", type=int, metavar="LØBENR")
    r.add_argument("--robot", dest="item_robot", metavar="ROBOT", help="when several have it")
    h = actions.add_parser(
        "handover",
        help="to manual handling: never paid; handed over in the finance system by the next run",
        description="Mark a PENDING item for manual handling. From now on the robot will not "
        "pay it; its next run sends it to manual handling in the finance system with the "
        "reason code and note. Audited (item_handed_over).",
    )
    h.add_argument("erp_id", type=int, metavar="LØBENR")
    h.add_argument("--reason", required=True, metavar="CODE", help="a code of config/reasons.yaml")
    h.add_argument(
        "--note", required=True, metavar="TEXT", help="for the caseworker (Danish, no CPR)"
    )
    h.add_argument("--robot", dest="item_robot", metavar="ROBOT", help="when several have it")
    p.set_defaults(handler=cmd_queue)


def _age(now: dt.datetime, then: dt.datetime | None) -> str:
    if then is None:
        return "-"
    hours = (now - then).total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"


def _list(ns: argparse.Namespace, ledger: LedgerPort, robots: list[str]) -> int:
    states: set[State] | None = set(CLAIMABLE)
    if ns.state:
        states = {State(s) for s in ns.state}
    elif ns.all:
        states = None
    now = utc_now()
    rows = [("ROBOT", "LØBENR", "INVOICE", "STATE", "FAILED RUNS", "AGE", "MARK", "LAST ERROR")]
    for robot in robots:
        marks = {m.erp_id: m for m in ledger.handovers(robot)}
        for item in ledger.items(robot, states):
            if ns.failing and item.attempts == 0:
                continue
            if ns.older_than_days is not None and (
                item.created_at is None
                or now - item.created_at < dt.timedelta(days=ns.older_than_days)
            ):
                continue
            mark = marks.get(item.erp_id)
            mark_text = f"{mark.reason} by {mark.by}" if mark and item.state in CLAIMABLE else ""
            rows.append(
                (
                    robot,
                    str(item.erp_id),
                    item.business_key,
                    item.state.value,
                    str(item.attempts),
                    _age(now, item.created_at),
                    mark_text,
                    mask_text(item.last_error or "")[:80],
                )
            )
    if len(rows) == 1:
        say("no work items" + (" matching" if ns.state or ns.failing or ns.older_than_days else ""))
        return EXIT_OK
    for line in table(rows):
        say(line)
    say(f"{len(rows) - 1} items")
    return EXIT_OK


def find_item(ledger: LedgerPort, robots: list[str], erp_id: int) -> WorkItem:
    """The one work item with Løbenr ``erp_id`` among ``robots``' items; :class:`UsageError`
    for none or several."""
    found = [i for r in robots if (i := ledger.item(r, erp_id)) is not None]
    if not found:
        raise UsageError(f"løbenr. {erp_id}: no work item of {', '.join(robots) or 'any robot'}")
    if len(found) > 1:
        raise UsageError(
            f"løbenr. {erp_id}: several robots have it ({', '.join(i.robot for i in found)}); "
            "say which with --robot"
        )
    return found[0]


def hand_over(
    settings: Settings, ledger: LedgerPort, item: WorkItem, *, reason: str, note: str, by: str
) -> str:
    """Mark the PENDING ``item`` for manual handling with ``reason`` (a code of
    ``config/reasons.yaml``) and ``note`` (masked, 1 to :data:`NOTE_LIMIT` characters), and
    audit it (``item_handed_over``; ``by``: who asked). Returns what was done, in a sentence.
    Raises :class:`UsageError` for an unknown code or a bad note (nothing changed),
    :class:`LedgerError` when the ledger refuses (the item is being paid or is settled),
    :class:`ConfigError` when the reasons file cannot be read. Not safe to repeat: a second
    mark is refused. ``robot queue handover`` and the console's queue page both call this."""
    reasons = load_reasons(settings.home / REASONS_FILE)
    if reason not in reasons.reasons or reason not in ALL_REASONS:
        raise UsageError(
            f"--reason {reason}: not a code of {settings.home / REASONS_FILE}; known: "
            + ", ".join(sorted(reasons.reasons))
        )
    masked = mask_text(note.strip())
    if not masked or len(masked) > NOTE_LIMIT:
        raise UsageError(f"--note: between 1 and {NOTE_LIMIT} characters, please")
    mark = ledger.request_handover(
        item.robot, item.erp_id, reason=Reason(reason), note=masked, by=by
    )
    _audit(settings, item, Event.ITEM_HANDED_OVER, by, reason=mark.reason, note=mark.note)
    return (
        f"marked for manual handling ({mark.reason}); it will not be paid, and the "
        "next run hands it over in the finance system"
    )


def release(settings: Settings, ledger: LedgerPort, item: WorkItem, *, by: str) -> str:
    """Put the PENDING ``item`` back to the next run as if new (failures forgotten, a
    hand-over mark removed) and audit it (``item_released``). Returns what was done. Raises
    :class:`LedgerError` when the ledger refuses (a run is working on it, or it is settled).
    Safe to repeat (each is audited)."""
    ledger.release_item(item.robot, item.erp_id)
    _audit(settings, item, Event.ITEM_RELEASED, by, attempts_before=item.attempts)
    return "released: the next run takes it as new"


def _audit(settings: Settings, item: WorkItem, event: Event, by: str, **fields: object) -> None:
    with AuditTrail(settings.audit.file, forward_to_robocorp=False) as trail:
        trail.logger(robot=item.robot, erp_id=item.erp_id, business_key=item.business_key).event(
            event, durable=True, by=by, **fields
        )


def _change(
    ns: argparse.Namespace, settings: Settings, ledger: LedgerPort, robots: list[str]
) -> int:
    if ns.item_robot:
        robots = [ns.item_robot] if ns.item_robot in robots else []
    item, who = find_item(ledger, robots, ns.erp_id), operator()
    if ns.action == "handover":
        done = hand_over(settings, ledger, item, reason=ns.reason, note=ns.note, by=who)
    else:  # a refusal (LedgerError, exit 1) is reported by robot's main
        done = release(settings, ledger, item, by=who)
    say(f"{item.robot} løbenr. {item.erp_id} ({item.business_key}): {done}")
    return EXIT_OK


def cmd_queue(ns: argparse.Namespace) -> int:
    home = find_home()
    settings = load_settings(home)
    manifests: dict[str, RobotManifest] = load_manifests(home / ROBOTS_DIR)
    robots = sorted(manifests)
    if ns.robot:
        if ns.robot not in manifests:
            raise UsageError(f"--robot {ns.robot}: no such robot; known: {', '.join(robots)}")
        robots = [ns.robot]
    ledger = open_ledger(settings)
    try:
        if ns.action is None:
            return _list(ns, ledger, robots)
        return _change(ns, settings, ledger, robots)
    finally:
        ledger.close()
