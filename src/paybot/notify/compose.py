"""An alert's message: subject, plain text and HTML, from :class:`~paybot.notify.facts.RunFacts`.

The words for the finance team are Danish (``templates/words.j2``); the operator's part says
what happened and what to do in plain English. Everything rendered is masked once more
(``mask_text``) so that no CPR number can reach a mail even if one slipped into a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from paybot.audit import mask_text
from paybot.notify.facts import Kind, RunFacts, local

if TYPE_CHECKING:
    from paybot.status import Status

_env = Environment(
    loader=PackageLoader("paybot.notify", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)

SUBJECT_PREFIX = "[paybot]"

HEADLINE_DA: dict[Kind, str] = {
    Kind.MISSED: "kørslen blev ikke startet",
    Kind.CONFIG: "fejl i opsætningen, intet er rørt",
    Kind.PREFLIGHT: "kunne ikke komme i gang, intet er rørt",
    Kind.KILLED: "kørslen blev afbrudt",
    Kind.CRASHED: "kørslen stoppede uventet",
    Kind.STOPPED: "stoppede undervejs",
    Kind.FAILED: "fakturaer fejlede",
    Kind.RECOVERED: "browseren gik ned og blev startet igen, kørslen blev færdig",
    Kind.OK: "kørslen gik godt",
}

HEADLINE_EN: dict[Kind, str] = {
    Kind.MISSED: "the run was not started at its planned time",
    Kind.CONFIG: "the run could not start because of a configuration error; nothing was touched",
    Kind.PREFLIGHT: "the checks before the run failed (finance system, login or a screen); "
    "nothing was touched",
    Kind.KILLED: "the scheduler ended the run before it finished",
    Kind.CRASHED: "the run's process ended unexpectedly",
    Kind.STOPPED: "the run stopped early after failures in a row",
    Kind.FAILED: "the run finished, but some invoices failed and wait for the next run",
    Kind.RECOVERED: "the browser (Chromium) died or stopped answering during the run and was "
    "replaced by a new one with a new login; the run reconciled the invoice it was on, "
    "carried on and finished",
    Kind.OK: "the run finished",
}


def todo_en(f: RunFacts, erp_url: str) -> str:
    """What the operator should do, in plain words."""
    again = f"start it again by hand with 'robot run {f.robot}', or let the next scheduled run"
    match f.kind:
        case Kind.MISSED:
            return (
                "check that the scheduler is running ('robot status'; "
                "'systemctl status paybot-scheduler'), then " + again + " catch up"
            )
        case Kind.CONFIG:
            return f"run 'robot run {f.robot}' by hand: it names the file, key and value to fix"
        case Kind.PREFLIGHT:
            return (
                f"check that the finance system answers at {erp_url} and that the robot's "
                "login works (the note above and console.log in the run folder say which "
                f"check failed); when it works, {again} do it"
            )
        case Kind.KILLED:
            return (
                "see the output below for what the run was doing; if it needs more time, raise "
                f"schedule.timeout_minutes in robots/{f.robot}.yaml; the next run reconciles "
                "the invoice it was on"
            )
        case Kind.CRASHED:
            return (
                "see the output below, console.log in the run folder and the machine's log "
                "(journalctl; 'dmesg' for the out-of-memory killer); the next run reconciles "
                f"the invoice it was on; to try at once: 'robot run {f.robot}'"
            )
        case Kind.STOPPED:
            return (
                "the finance system, the network or the browser failed again and again: see "
                f"the report's errors and screenshots, check {erp_url}; when it works, "
                + again
                + " carry on"
            )
        case Kind.RECOVERED:
            return (
                "nothing for tonight: no invoice waits because of it and none was paid twice; "
                "if it happens again, look at the machine's memory ('free -m'; 'dmesg' for the "
                "out-of-memory killer) and console.log in the run folder; "
                "runner.browser_restart_every restarts the browser every N invoices before it "
                "grows, and a run stops after runner.max_browser_restarts failures of its "
                "browser"
            )
        case _:
            return (
                "see the report for each failed invoice's error and screenshot; invoices are "
                f"tried again on the next runs and go to a person after {f.max_nights} failed "
                f"runs; 'robot queue --robot {f.robot}' lists them, 'robot queue handover' and "
                "'robot queue release' change them"
            )


@dataclass(frozen=True)
class Message:
    kind: str
    subject: str
    text: str
    html: str


def _render(name: str, context: dict[str, Any]) -> str:
    return mask_text(_env.get_template(name).render(**context))


def run_message(f: RunFacts, *, erp_url: str) -> Message:
    """The alert after a run."""
    subject = f"{SUBJECT_PREFIX} {f.title}: {HEADLINE_DA[f.kind]} ({f.started or f.run_id})"
    context = {
        "f": f,
        "subject": subject,
        "headline_da": HEADLINE_DA[f.kind],
        "headline_en": HEADLINE_EN[f.kind],
        "todo_en": todo_en(f, erp_url),
    }
    return Message(
        kind=f.kind.value,
        subject=mask_text(subject),
        text=_render("alert.txt", context),
        html=_render("alert.html", context),
    )


def summary_message(status: Status) -> Message:
    """The morning summary of every robot (``notify.summary_time``)."""
    verdict = {0: "alt i orden", 1: "noget kræver opmærksomhed", 2: "planlæggeren kører ikke"}
    day = local(status.now)[:10]
    subject = f"{SUBJECT_PREFIX} Morgenoversigt {day}: {verdict[int(status.health)]}"
    context = {
        "s": status,
        "subject": subject,
        "verdict": verdict[int(status.health)],
        "headline_da": HEADLINE_DA,
        "local": local,
    }
    return Message(
        kind="summary",
        subject=mask_text(subject),
        text=_render("summary.txt", context),
        html=_render("summary.html", context),
    )
