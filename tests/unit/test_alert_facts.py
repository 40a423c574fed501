"""Which alert a run gets (from its row in the run history), and ``robot status``'s verdict,
over the in-memory ledger."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from paybot.config import load_manifests, load_settings
from paybot.ledger import InMemoryLedger, RunRecord
from paybot.notify.facts import Kind, classify
from paybot.scheduler.jobs import Entry, JobState
from paybot.status import HEARTBEAT_STALE, Health, gather

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)


def row(exit_code: int | None, note: str | None = None, failed: int = 0) -> RunRecord:
    return RunRecord("r", "pay-small-invoices", "scheduler", "h", 1, NOW, NOW, exit_code,
                     failed=failed, note=note)  # fmt: skip


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (row(0), Kind.OK),
        (row(0, "stopped on request (SIGTERM) between two invoices"), Kind.OK),
        (row(4, "skipped: already running (robot run found the robot's lock held)"), Kind.OK),
        (row(None, "skipped: already running (the robot's lock is held)"), Kind.OK),
        (row(None, "missed: planned for 2026-11-30 01:30 CET; the scheduler was off"), Kind.MISSED),
        (row(None, "skipped: could not start robot run: [Errno 2]"), Kind.MISSED),
        (row(None, "abandoned: the process ended without finishing the run"), Kind.CRASHED),
        (row(2, "configuration error: config/paybot.yaml: erp.url"), Kind.CONFIG),
        (row(3, "preflight failed: the login was refused"), Kind.PREFLIGHT),
        (
            row(
                1,
                "stopped after 5 failed attempts in a row: the finance system seems to be down",
                failed=5,
            ),
            Kind.STOPPED,
        ),
        (row(1, "", failed=2), Kind.FAILED),
        (row(0, "the browser failed and was restarted 1 time(s)"), Kind.RECOVERED),
        (row(1, "the browser failed and was restarted 2 time(s)", failed=1), Kind.FAILED),
        (
            row(1, "stopped after 4 browser restart(s): the browser (Chromium) keeps failing"),
            Kind.STOPPED,
        ),
        (row(1, "the run ended without an outcome (robocorp exit 3)"), Kind.CRASHED),
        (row(143, "killed: it ran longer than its timeout of 90 min"), Kind.KILLED),
        (row(0, "ended by the scheduler: processes left behind"), Kind.KILLED),
        (row(137, None), Kind.CRASHED),
    ],
)
def test_each_run_gets_the_right_kind(record: RunRecord, kind: Kind) -> None:
    assert classify(record) is kind


def entries(state: JobState) -> list[Entry]:
    names = sorted(load_manifests(ROOT / "robots"))
    return [Entry(n, "cron", state, None, 90, 120) for n in names]


def test_the_verdict() -> None:
    settings = load_settings(ROOT, env={})
    manifests = load_manifests(ROOT / "robots")
    ledger = InMemoryLedger(clock=lambda: NOW)
    scheduled = entries(JobState.SCHEDULED)

    # never a heartbeat, robots scheduled: down
    assert gather(settings, manifests, ledger, scheduled, NOW).health is Health.DOWN
    # every robot paused or disabled: nothing should run, so not down
    paused = gather(settings, manifests, ledger, entries(JobState.PAUSED), NOW)
    assert paused.health is Health.HEALTHY and not paused.scheduler_alive

    ledger.beat("scheduler", "host-a", 10)
    fresh = gather(settings, manifests, ledger, scheduled, NOW + HEARTBEAT_STALE)
    assert fresh.health is Health.HEALTHY and fresh.scheduler_alive
    stale = NOW + HEARTBEAT_STALE + dt.timedelta(seconds=1)
    assert gather(settings, manifests, ledger, scheduled, stale).health is Health.DOWN
    # a fresh heartbeat from this host, but no scheduler holds the lock here: it stopped
    here = gather(settings, manifests, ledger, scheduled, NOW, host="host-a", local_pid=None)
    assert here.health is Health.DOWN
    there = gather(settings, manifests, ledger, scheduled, NOW, host="host-b", local_pid=None)
    assert there.health is Health.HEALTHY

    ledger.record_run(row(3, "preflight failed"))
    degraded = gather(settings, manifests, ledger, scheduled, NOW)
    assert degraded.health is Health.DEGRADED
    assert degraded.problems == [
        "pay-small-invoices: the last run r did not end well (preflight, exit code 3)"
    ]
    assert degraded.as_json()["robots"][2]["last_run"]["outcome"] == "preflight"

    # a run that went well after its browser was replaced: worth knowing, not a problem
    later = dt.timedelta(seconds=1)
    ledger.record_run(
        dataclasses.replace(
            row(0, "the browser failed and was restarted 1 time(s)"),
            run_id="r2",
            started_at=NOW + later,
            ended_at=NOW + later,
        )
    )
    recovered = gather(settings, manifests, ledger, scheduled, NOW)
    assert recovered.health is Health.HEALTHY and recovered.problems == []
    assert recovered.notices == [
        "pay-small-invoices: the last run r2 finished after its browser failed "
        "(the browser failed and was restarted 1 time(s))"
    ]
    shown = recovered.as_json()
    assert shown["notices"] == recovered.notices
    assert shown["robots"][2]["last_run"]["outcome"] == "recovered"
    assert shown["robots"][2]["last_run"]["note"].startswith("the browser failed")


def test_recipients_come_from_the_settings_and_the_manifest() -> None:
    from paybot.config_models import Notify
    from paybot.notify import Notifier

    settings = load_settings(
        ROOT, env={"PAYBOT_NOTIFY_EMAIL": "drift@k.example, oekonomi@k.example"}
    )
    manifests = load_manifests(ROOT / "robots")
    small = manifests["pay-small-invoices"]
    manifests["pay-small-invoices"] = small.model_copy(
        update={"notify": Notify(email=["bogholderi@k.example", "drift@k.example"])}
    )
    notifier = Notifier(settings, manifests, InMemoryLedger())
    assert notifier.recipients("pay-small-invoices") == [
        "drift@k.example", "oekonomi@k.example", "bogholderi@k.example",
    ]  # fmt: skip
    assert notifier.recipients("pay-medical-certificates") == [
        "drift@k.example", "oekonomi@k.example",
    ]  # fmt: skip
    assert "bogholderi@k.example" in notifier.recipients("*")  # the morning summary
    assert notifier.channels("pay-small-invoices") == []  # no mail server, no webhook
