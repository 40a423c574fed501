"""The seed's mix: which cases, in which order, with which history and reference data.

Roughly half small invoices, a quarter certificates and a quarter interpreter invoices; in each
about 70 % clean. From 60 invoices up, every reason a category's robot can give appears at
least once (the mandatory problem cases), both duplicate kinds included: the number kind
duplicates a paid document in the history, the other kind an earlier document in the batch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol

from mockerp import seed_certificates, seed_interpreter, seed_small
from mockerp.seed_calc import Mode
from mockerp.seed_model import (
    BookingRow,
    Category,
    Context,
    Draft,
    HistoryStatus,
    RequisitionRow,
)

MANDATORY_FROM = 60
_MODES: tuple[Mode, ...] = ("fremmoede", "fremmoede", "video", "telefon")
CLEAN_SHARE = 0.7


class CategoryBuilder(Protocol):
    PREFIX: str
    CLEAN: tuple[str, ...]
    PROBLEMS: tuple[tuple[str, str, bool], ...]

    def build(self, ctx: Context, variant: str, *, history: bool = False) -> Draft: ...

    def duplicate(self, ctx: Context, original: Draft, variant: str) -> Draft: ...


BUILDERS: dict[Category, CategoryBuilder] = {
    "oevrige": seed_small,
    "laegeerklaering": seed_certificates,
    "tolk": seed_interpreter,
}


@dataclass(slots=True)
class Plan:
    history: list[Draft]
    new: list[Draft]
    requisitions: list[RequisitionRow]
    bookings: list[BookingRow]


def category_counts(invoices: int) -> dict[Category, int]:
    small = (invoices + 1) // 2
    certificates = (invoices - small + 1) // 2
    return {
        "oevrige": small,
        "laegeerklaering": certificates,
        "tolk": invoices - small - certificates,
    }


def problem_variants(builder: CategoryBuilder, count: int, invoices: int) -> list[str]:
    """The problem cases of one category: the mandatory ones first (from 60 invoices), then
    the others in turn, about 30 % of the category in all."""
    mandatory = [v for v, _, required in builder.PROBLEMS if required]
    everything = [v for v, _, _ in builder.PROBLEMS]
    wanted = round((1 - CLEAN_SHARE) * count)
    if invoices >= MANDATORY_FROM:
        wanted = min(count, max(wanted, len(mandatory)))
        extra = [everything[i % len(everything)] for i in range(wanted - len(mandatory))]
        return (mandatory + extra)[:wanted]
    return [mandatory[i % len(mandatory)] for i in range(wanted)]


def to_history(draft: Draft, status: HistoryStatus) -> Draft:
    """A document the municipality already handled; a paid certificate closes its requisition."""
    requisitions = draft.requisitions
    if status == "betalt":
        requisitions = [replace(r, status="lukket") for r in requisitions]
    return replace(draft, history=status, requisitions=requisitions, case="")


def _history_original(ctx: Context, builder: CategoryBuilder) -> Draft:
    variant = ctx.rng.choice(builder.CLEAN[:6])
    return to_history(builder.build(ctx, variant, history=True), "betalt")


def _filler_history(ctx: Context, invoices: int) -> list[Draft]:
    drafts = []
    counts = category_counts(max(3, invoices // 10))
    for category, count in counts.items():
        builder = BUILDERS[category]
        problems = [v for v, _, _ in builder.PROBLEMS if not v.startswith("duplicate-")]
        for _ in range(count):
            if ctx.rng.random() < CLEAN_SHARE:
                draft = builder.build(ctx, ctx.rng.choice(builder.CLEAN), history=True)
                drafts.append(to_history(draft, "betalt"))
            else:
                draft = builder.build(ctx, ctx.rng.choice(problems), history=True)
                drafts.append(to_history(draft, "manuel"))
    return drafts


def _decoy_requisitions(ctx: Context, drafts: list[Draft], count: int) -> list[RequisitionRow]:
    rules = ctx.world.certificates
    forms = sorted({t.form for t in rules.tariffs if t.fee and not t.by_time})
    rows = []
    for _ in range(count):
        rows.append(
            RequisitionRow(
                number=ctx.requisition_number(),
                cpr=ctx.cpr(),
                form=ctx.rng.choice(forms),
                requested_on=ctx.base - dt.timedelta(days=ctx.rng.randint(1, 150)),
                interpreter_approved=ctx.rng.random() < 0.2,
                status="lukket" if ctx.rng.random() < 0.25 else "aaben",
                cancelled=ctx.rng.random() < 0.15,
            )
        )
    # the same citizen, another form: must not be mistaken for the invoice's requisition
    for draft in drafts:
        if draft.category != "laegeerklaering" or ctx.rng.random() >= 0.3:
            continue
        props = dict(draft.doc.lines[0].properties)
        cpr, form = props.get("CPR"), props.get("Blanket")
        if not cpr or not form:
            continue
        rows.append(
            RequisitionRow(
                number=ctx.requisition_number(),
                cpr=cpr,
                form=ctx.rng.choice([f for f in forms if f != form]),
                requested_on=draft.doc.issue_date - dt.timedelta(days=ctx.rng.randint(10, 60)),
                interpreter_approved=False,
            )
        )
    return rows


def _decoy_bookings(ctx: Context, count: int) -> list[BookingRow]:
    rows = []
    categories = sorted(set(seed_interpreter.CATEGORIES))
    for _ in range(count):
        day = ctx.base + dt.timedelta(days=ctx.rng.randint(-40, 20))
        start = ctx.rng.randrange(8 * 60, 15 * 60, 15)
        cancelled = None
        if ctx.rng.random() < 0.15:
            cancelled = dt.datetime.combine(day, dt.time(8, 0)) - dt.timedelta(
                hours=ctx.rng.randint(2, 72)
            )
        mode = ctx.rng.choice(_MODES)
        rows.append(
            BookingRow(
                reference=ctx.booking_ref(),
                language=ctx.rng.choice(seed_interpreter.SPOKEN),
                date=day,
                planned_start=dt.time(start // 60, start % 60),
                planned_end=dt.time(start // 60 + 1, start % 60),
                category=ctx.rng.choice(categories),
                distance_km=(
                    Decimal(ctx.rng.randint(0, 500)) / 10 if mode == "fremmoede" else Decimal(0)
                ),
                mode=mode,
                cancelled_at=cancelled,
            )
        )
    return rows


def _order(ctx: Context, new: list[Draft]) -> list[Draft]:
    """Shuffled, but an original in the batch always comes before its duplicate."""
    ordered = list(new)
    ctx.rng.shuffle(ordered)
    position = {id(d): i for i, d in enumerate(ordered)}
    for draft in list(ordered):
        original = draft.original
        if original is None or id(original) not in position:
            continue
        i_dup, i_orig = position[id(draft)], position[id(original)]
        if i_dup < i_orig:
            ordered[i_dup], ordered[i_orig] = original, draft
            position[id(draft)], position[id(original)] = i_orig, i_dup
    return ordered


def build_plan(ctx: Context, invoices: int) -> Plan:
    history: list[Draft] = []
    new: list[Draft] = []
    for category, count in category_counts(invoices).items():
        builder = BUILDERS[category]
        problems = problem_variants(builder, count, invoices)
        clean = [
            builder.build(ctx, builder.CLEAN[i % len(builder.CLEAN)])
            for i in range(count - len(problems))
        ]
        new.extend(clean)
        originals = list(clean)
        for variant in problems:
            if variant == "duplicate-number" or (
                variant.startswith("duplicate-") and not originals
            ):
                original = _history_original(ctx, builder)
                history.append(original)
                new.append(builder.duplicate(ctx, original, variant))
            elif variant.startswith("duplicate-"):
                new.append(builder.duplicate(ctx, originals.pop(0), variant))
            else:
                new.append(builder.build(ctx, variant))
    history.extend(_filler_history(ctx, invoices))
    history.sort(key=lambda d: d.doc.issue_date)
    everything = history + new
    requisitions = [r for d in everything for r in d.requisitions]
    requisitions += _decoy_requisitions(ctx, everything, max(3, invoices // 8))
    bookings = [b for d in everything for b in d.bookings]
    bookings += _decoy_bookings(ctx, max(3, invoices // 8))
    return Plan(history, _order(ctx, new), requisitions, bookings)
