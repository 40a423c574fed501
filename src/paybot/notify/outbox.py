"""The alerts' outbox: compose, keep, deliver, and try again until delivered.

Every alert is stored in the ledger (``alerts``) before the first try, one row per channel
(``email``, ``webhook``), so nothing is lost when the mail server is down or the scheduler is
restarted. :meth:`Notifier.deliver_due` (the scheduler's tick) tries again every
``notify.retry_minutes``. Nothing here raises into a run or the scheduler: every failure is
logged and stays visible in ``robot status``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from paybot.audit import mask_text
from paybot.config import RobotManifest, Settings
from paybot.domain.calendar import DANISH_TIME
from paybot.errors import ConfigError
from paybot.ledger import AlertRecord, LedgerPort, RunRecord, utc_now
from paybot.notify import send
from paybot.notify.compose import Message, run_message, summary_message
from paybot.notify.facts import run_facts
from paybot.run_folder import run_dir
from paybot.secrets import read_secret

log = logging.getLogger("paybot.notify")

EMAIL = "email"
WEBHOOK = "webhook"
ALL_ROBOTS = "*"
"""The ``robot`` of an alert about every robot (the morning summary)."""
SUMMARY = "summary"
SMTP_PASSWORD = "smtp_password"  # noqa: S105 - the secret's name, not its value
OUTBOX_LIMIT = 100


class Notifier:
    """Alerts for the robots in ``manifests`` through the channels ``settings.notify`` sets."""

    def __init__(
        self,
        settings: Settings,
        manifests: Mapping[str, RobotManifest],
        ledger: LedgerPort,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.manifests = dict(manifests)
        self.ledger = ledger
        self.env = env
        self._clock = clock

    # --- where alerts go ------------------------------------------------------------------

    def recipients(self, robot: str) -> list[str]:
        """``notify.email`` of the settings, then of the robot's manifest (all manifests for
        :data:`ALL_ROBOTS`), each address once."""
        found = list(self.settings.notify.email)
        robots = list(self.manifests) if robot == ALL_ROBOTS else [robot]
        for name in robots:
            manifest = self.manifests.get(name)
            if manifest is not None:
                found += manifest.notify.email
        return list(dict.fromkeys(found))

    def channels(self, robot: str) -> list[str]:
        n = self.settings.notify
        chosen = []
        if n.smtp_host and self.recipients(robot):
            chosen.append(EMAIL)
        if n.webhook_url:
            chosen.append(WEBHOOK)
        return chosen

    def _password(self) -> str | None:
        secret = read_secret(SMTP_PASSWORD, self.settings.vault_file, self.env)
        return secret.value if secret else None

    # --- alerts ---------------------------------------------------------------------------

    def after_run(self, row: RunRecord, *, log_path: Path | None = None) -> list[AlertRecord]:
        """The alert after a scheduled (or missed) run, when it failed, stopped early or left
        invoices failing; delivered at once where possible. Never raises."""
        try:
            manifest = self.manifests.get(row.robot)
            folder = run_dir(self.settings.output_dir, row.run_id)
            html = folder / "report.html"
            report = html if html.is_file() else folder / "report.md"
            facts = run_facts(
                self.ledger,
                row,
                title=manifest.title if manifest else row.robot,
                max_nights=self.settings.runner.max_nights,
                report=str(report) if report.is_file() else "",
                log=str(log_path) if log_path else "",
            )
            if not facts.needs_alert and not facts.handed_over:
                return []
            message = run_message(facts, erp_url=self.settings.erp.url)
            return self.queue(row.robot, row.run_id, message)
        except Exception:
            log.exception("%s: could not make the alert for run %s", row.robot, row.run_id)
            return []

    def queue(self, robot: str, run_id: str | None, message: Message) -> list[AlertRecord]:
        """Store ``message`` for each channel and try to deliver it now."""
        channels = self.channels(robot)
        if not channels:
            log.warning(
                "%s: %s; no alert sent: no channel configured (notify.smtp_host with "
                "notify.email, or notify.webhook_url)",
                robot,
                message.subject,
            )
            return []
        stored = [
            self.ledger.add_alert(
                robot=robot,
                run_id=run_id,
                channel=channel,
                kind=message.kind,
                subject=message.subject,
                text=message.text,
                html=message.html,
            )
            for channel in channels
        ]
        return [self.deliver(alert) for alert in stored]

    def deliver(self, alert: AlertRecord) -> AlertRecord:
        """One try; the outcome is recorded on the alert (and logged). Never raises."""
        n = self.settings.notify
        try:
            if alert.channel == EMAIL:
                send.mail(
                    n,
                    self.recipients(alert.robot),
                    alert.subject,
                    alert.text,
                    alert.html,
                    self._password() if n.smtp_username else None,
                )
            elif alert.channel == WEBHOOK:
                payload: dict[str, object] = {
                    "text": f"{alert.subject}\n\n{alert.text}",
                    "subject": alert.subject,
                    "robot": alert.robot,
                    "kind": alert.kind,
                    "run_id": alert.run_id,
                }
                send.webhook(n.webhook_url, payload, n.smtp_timeout_seconds)
            else:
                raise send.DeliveryError(f"unknown channel {alert.channel!r}")
        except (send.DeliveryError, ConfigError) as exc:
            error = mask_text(str(exc))
            tried = self.ledger.alert_tried(alert.id, error)
            log.warning(
                "alert %d (%s, %s) not delivered, try %d: %s; trying again in %d min",
                alert.id,
                alert.channel,
                alert.robot,
                tried.tries,
                error,
                n.retry_minutes,
                extra={"robot": alert.robot, "run_id": alert.run_id, "alert_id": alert.id},
            )
            return tried
        except Exception as exc:  # a bug must not stop the scheduler either
            log.exception("alert %d (%s): delivery failed", alert.id, alert.channel)
            return self.ledger.alert_tried(alert.id, f"{type(exc).__name__}: {exc}")
        sent = self.ledger.alert_tried(alert.id, None)
        ids = {"robot": alert.robot, "run_id": alert.run_id, "alert_id": alert.id}
        log.info(
            "alert %d (%s, %s) delivered: %s", alert.id, alert.channel, alert.robot,
            alert.subject, extra=ids,
        )  # fmt: skip
        return sent

    def deliver_due(self) -> int:
        """Try again every unsent alert whose last try is ``notify.retry_minutes`` old, oldest
        first; returns how many were delivered now. Never raises."""
        try:
            every = dt.timedelta(minutes=self.settings.notify.retry_minutes)
            now = self._clock()
            delivered = 0
            down: set[str] = set()  # a channel that failed now is not tried again this time
            for alert in reversed(self.ledger.alerts(unsent_only=True, limit=OUTBOX_LIMIT)):
                due = alert.last_try_at is None or now - alert.last_try_at >= every
                if due and alert.channel not in down:
                    sent = self.deliver(alert).sent
                    delivered += sent
                    if not sent:
                        down.add(alert.channel)
            return delivered
        except Exception:
            log.exception("the alerts' outbox could not be read")
            return 0

    # --- the morning summary --------------------------------------------------------------

    def summary_due(self, now: dt.datetime) -> bool:
        """``notify.summary_time`` has passed today (Danish time) and today's summary is not
        made yet."""
        at = self.settings.notify.summary_time
        if not at:
            return False
        local = now.astimezone(DANISH_TIME)
        hour, minute = (int(p) for p in at.split(":"))
        if (local.hour, local.minute) < (hour, minute):
            return False
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return not any(
            a.kind == SUMMARY and a.created_at >= midnight
            for a in self.ledger.alerts(limit=OUTBOX_LIMIT)
        )

    def morning_summary(self, status_text: Callable[[], Message]) -> list[AlertRecord]:
        """Queue today's summary if due (``status_text`` makes it). Never raises."""
        try:
            if not self.channels(ALL_ROBOTS) or not self.summary_due(self._clock()):
                return []
            return self.queue(ALL_ROBOTS, None, status_text())
        except Exception:
            log.exception("the morning summary could not be made")
            return []


__all__ = ["ALL_ROBOTS", "EMAIL", "SUMMARY", "WEBHOOK", "Notifier", "summary_message"]
