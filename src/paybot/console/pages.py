"""The console's pages (GET): overview, runs, one run, queue, an invoice's trail, schedule,
exports. What each shows: docs/console.md, "The pages"."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from flask import Blueprint, abort, request

from paybot.audit import AuditTrailError, mask_text
from paybot.config import REASONS_FILE, load_reasons
from paybot.console import reads
from paybot.console.auth import Permission, may, requires
from paybot.console.files import RUN_ID
from paybot.console.state import render, state
from paybot.domain.reasons import ALL_REASONS
from paybot.errors import ConfigError
from paybot.ledger import State
from paybot.notify.facts import Kind
from paybot.scheduler.service import running_scheduler
from paybot.status import Health, Status

bp = Blueprint("pages", __name__)

HEALTH_TEXT = {
    Health.HEALTHY: ("I orden", "ok"),
    Health.DEGRADED: ("Kræver opmærksomhed", "warn"),
    Health.DOWN: ("Nede: planlæggeren kører ikke", "bad"),
}
JOB_TEXT = {
    "scheduled": "planlagt",
    "paused": "sat på pause",
    "disabled": "slået fra",
    "new": "ny (planlægges ved start)",
    "never": "ingen kommende kørsel",
}
RESULT_TEXT = {
    "paid": "betalt",
    "manual": "overdraget",
    "failed": "fejlet",
    "skipped": "sprunget over",
    "would_pay": "ville betale",
    "would_hand_over": "ville overdrage",
    "lost": "overtaget af anden kørsel",
}
STATE_TEXT = {
    "PENDING": "venter",
    "PAY_INTENT": "betaling i gang",
    "PAID": "betalt",
    "MANUAL_INTENT": "overdragelse i gang",
    "MANUAL": "overdraget",
    "SKIPPED": "sprunget over",
    "FAILED": "fejlet",
}
KIND_TEXT = {
    "missed": "blev ikke startet",
    "config": "konfigurationsfejl",
    "preflight": "forhåndstjekket fejlede; intet blev rørt",
    "killed": "stoppet af planlæggeren",
    "crashed": "brød ned",
    "stopped": "stoppede før tid",
    "failed": "nogle fakturaer fejlede",
    "ok": "gennemført",
}


def problems(status: Status) -> list[str]:
    """What ``robot status`` lists under "needs attention", in Danish, from the same facts
    (but the scheduler being down, which the page shows on its own)."""
    found: list[str] = []  # a scheduler that is down is shown above the list, on its own
    for r in status.robots:
        if r.last_kind is not None and r.last_kind is not Kind.OK and r.last_run is not None:
            code = r.last_run.exit_code
            found.append(
                f"{r.title}: seneste kørsel endte ikke godt ({KIND_TEXT[r.last_kind.value]}"
                + (f", kode {code}" if code is not None else "")
                + ")."
            )
        if r.long_failing:
            n = len(r.long_failing)
            found.append(
                f"{r.title}: {n} faktura{'er' if n != 1 else ''} er fejlet i mere end én kørsel."
            )
    if status.unsent_alerts:
        n = len(status.unsent_alerts)
        found.append(
            f"{n} advarsel{'er' if n != 1 else ''} kunne ikke sendes (seneste fejl: "
            f"{mask_text(status.unsent_alerts[0].last_error or '-')})."
        )
    return found


def age_text(age: Any) -> str:
    if age is None:
        return "-"
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} t" if hours < 48 else f"{hours / 24:.0f} d"


def run_outcome(r: Any) -> tuple[str, str]:
    """A run's outcome in Danish and its colour class."""
    if r.ended_at is None:
        return "kører", "info"
    if r.exit_code is None:
        return "afbrudt", "bad"
    if r.exit_code == 0:
        return "gennemført", "ok"
    if r.exit_code == 1:
        return "fejl på nogle fakturaer", "warn"
    if r.exit_code == 3:
        return "forhåndstjek fejlede", "bad"
    if r.exit_code == 4:
        return "sprunget over: kørte allerede", "warn"
    return f"stoppet (kode {r.exit_code})", "bad"


def page_context() -> dict[str, Any]:
    return {
        "job_text": JOB_TEXT,
        "result_text": RESULT_TEXT,
        "state_text": STATE_TEXT,
        "run_outcome": run_outcome,
        "age_text": age_text,
    }


@bp.route("/")
@requires(Permission.READ)
def overview() -> str:
    st = state()
    status, nights = reads.overview(st)
    health_text, health_class = HEALTH_TEXT[status.health]
    waiting = [
        (r, sum(n for s, n in r.items.items() if s == State.PENDING.value)) for r in status.robots
    ]
    return render(
        "overview.html",
        title="Overblik",
        status=status,
        health_text=health_text,
        health_class=health_class,
        problems=problems(status),
        nights=nights,
        waiting=waiting,
        morning=reads.morning_reports(st)[:7],
        **page_context(),
    )


@bp.route("/koersler")
@requires(Permission.READ)
def runs() -> str:
    st = state()
    robot = request.args.get("robot") or None
    if robot is not None and robot not in st.manifests:
        robot = None
    found = reads.runs(st, robot, limit=200)
    return render(
        "runs.html",
        title="Kørsler",
        runs=found,
        robots=sorted(st.manifests),
        robot=robot,
        files={r.run_id: reads.run_files(st, r.run_id) for r in found},
        **page_context(),
    )


@bp.route("/koersler/<run_id>")
@requires(Permission.READ)
def run(run_id: str) -> str:
    st = state()
    found = reads.run(st, run_id) if RUN_ID.match(run_id) else None
    if found is None:
        abort(404)
    return render(
        "run.html",
        title=f"Kørsel {run_id}",
        run=found,
        figures=reads.figures(st, run_id),
        files=reads.run_files(st, run_id),
        **page_context(),
    )


def _older_than() -> float | None:
    """``aeldre_end`` in days; ``None`` (no filter) for anything but 0 to what a
    :class:`datetime.timedelta` holds (999,999,999 days)."""
    text = request.args.get("aeldre_end", "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 <= value <= dt.timedelta.max.days else None


@bp.route("/koe")
@requires(Permission.READ)
def queue() -> str:
    st = state()
    robot = request.args.get("robot") or None
    if robot is not None and robot not in st.manifests:
        robot = None
    wanted = {s for s in State if s.value in request.args.getlist("tilstand")}
    failing = request.args.get("fejlet") == "1"
    older = _older_than()
    rows = reads.queue(st, robot=robot, states=wanted, older_than_days=older, failing=failing)
    reasons: dict[str, str] = {}
    if may(Permission.ACT):
        try:
            texts = load_reasons(st.home / REASONS_FILE).reasons
            reasons = {code: text for code, text in texts.items() if code in ALL_REASONS}
        except ConfigError:
            reasons = {}
    return render(
        "queue.html",
        title="Kø",
        rows=rows,
        robots=sorted(st.manifests),
        robot=robot,
        states=[s.value for s in State],
        wanted={s.value for s in wanted},
        failing=failing,
        older=request.args.get("aeldre_end", ""),
        reasons=reasons,
        **page_context(),
    )


@bp.route("/spor")
@requires(Permission.AUDIT)
def trail() -> tuple[str, int]:
    st = state()
    invoice = request.args.get("faktura", "").strip()[:80]
    robot = request.args.get("robot") or None
    if robot is not None and robot not in st.manifests:
        robot = None
    found: reads.Trail | None = None
    problem = ""
    try:
        found = reads.trail(st, invoice, robot) if invoice else None
        result = reads.verification(st)
    except (AuditTrailError, ConfigError) as exc:
        problem, result = str(exc), None
    return render(
        "trail.html",
        title="Revisionsspor",
        invoice=invoice,
        robot=robot,
        robots=sorted(st.manifests),
        found=found,
        verification=result,
        trail_file=str(st.settings.audit.file),
        problem=problem,
        **page_context(),
    ), 200


@bp.route("/planlaegning")
@requires(Permission.READ)
def schedule() -> str:
    st = state()
    return render(
        "schedule.html",
        title="Planlægning",
        entries=reads.entries(st),
        scheduler_pid=running_scheduler(st.settings.data_dir),
        titles={n: m.title for n, m in st.manifests.items()},
        **page_context(),
    )


@bp.route("/eksport")
@requires(Permission.AUDIT)
def exports() -> str:
    st = state()
    return render(
        "exports.html",
        title="Eksport",
        robots=sorted(st.manifests),
        message="",
        **page_context(),
    )
