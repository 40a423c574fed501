"""Alerts against a real SMTP server on 127.0.0.1 (aiosmtpd) and a real HTTP webhook: what
the message says (subject, plain text and HTML, no CPR), STARTTLS with a login, and a mail
server that is down (the alert is kept and delivered once it is up, exactly once)."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from paybot.config import RobotManifest, Settings, load_manifests, load_settings
from paybot.ledger import Ledger, RunRecord
from paybot.notify import Notifier
from paybot.notify.compose import summary_message
from paybot.scheduler.jobs import Entry, JobState
from paybot.status import gather
from support.clock import FakeClock
from support.db import generated_cpr
from support.smtp import free_port, self_signed, smtp_server

ROOT = Path(__file__).resolve().parents[2]
ROBOT = "pay-small-invoices"
START = dt.datetime(2026, 11, 30, 0, 30, tzinfo=dt.UTC)  # 01:30 in Copenhagen
FINANCE = "oekonomi@kommune.example"
PASSWORD = "Smtp-Kodeord-42!"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock) -> Iterator[Ledger]:
    made = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}", clock=clock)
    made.create_schema()
    yield made
    made.close()


@pytest.fixture(scope="module")
def manifests() -> dict[str, RobotManifest]:
    return load_manifests(ROOT / "robots")


def settings(tmp_path: Path, **notify: str) -> Settings:
    env = {
        "PAYBOT_DATA_DIR": str(tmp_path / "data"),
        "PAYBOT_OUTPUT_DIR": str(tmp_path / "output"),
        "PAYBOT_NOTIFY_EMAIL": FINANCE,
        "PAYBOT_NOTIFY_SMTP_STARTTLS": "false",
        **{f"PAYBOT_NOTIFY_{k.upper()}": v for k, v in notify.items()},
    }
    return load_settings(ROOT, env=env)


def failed_row(note: str, exit_code: int | None = 3, failed: int = 0) -> RunRecord:
    return RunRecord(
        run_id="20261130T003000Z-ab12",
        robot=ROBOT,
        trigger="scheduler",
        host="host",
        pid=1,
        started_at=START,
        ended_at=START + dt.timedelta(minutes=2),
        exit_code=exit_code,
        failed=failed,
        note=note,
    )


def parts(mail: Any) -> tuple[str, str]:
    return mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


def test_a_failed_run_mails_what_happened_and_what_to_do(
    tmp_path: Path, ledger: Ledger, clock: FakeClock, manifests: dict[str, RobotManifest]
) -> None:
    cpr = generated_cpr(random.Random(21))
    ledger.ensure_work(ROBOT, 5, "20433213:F-5", "r0")
    for night in ("r1", "r2"):
        item = ledger.claim_next(ROBOT, "w1", night, 60)
        assert item is not None
        ledger.record_failure(item, "w1", f"HTTP 500 while reading {cpr}")
    with smtp_server() as (inbox, port):
        s = settings(tmp_path, smtp_host="127.0.0.1", smtp_port=str(port))
        notifier = Notifier(s, manifests, ledger, env={}, clock=clock)
        row = failed_row(f"preflight failed: the login was refused for {cpr}")
        [alert] = notifier.after_run(row, log_path=tmp_path / "run.log")
    assert alert.sent and alert.tries == 1 and alert.channel == "email"
    [mail] = inbox.mails
    assert inbox.recipients == [[FINANCE]]
    assert mail["To"] == FINANCE and mail["From"] == s.notify.sender
    assert mail["Subject"].startswith("[paybot] Betaling af småfakturaer")
    assert "kunne ikke komme i gang" in mail["Subject"]
    text, html = parts(mail)
    assert "TIL ØKONOMI" in text and "Ingen fakturaer er rørt" in text
    assert "løbenr. 5: 2 kørsler" in text
    assert "What to do:" in text and "robot run pay-small-invoices" in text
    assert s.erp.url in text and str(tmp_path / "run.log") in text
    assert "<h2" in html and "Til økonomi" in html and "løbenr. 5: 2 kørsler" in html
    raw = mail.as_string()
    assert cpr not in raw and cpr.replace("-", "") not in raw
    assert cpr[:6] in text  # masked as the audit trail masks it: the date part only
    assert ledger.alerts()[0].sent_at == START


def test_a_run_that_went_well_sends_nothing(
    tmp_path: Path, ledger: Ledger, clock: FakeClock, manifests: dict[str, RobotManifest]
) -> None:
    with smtp_server() as (inbox, port):
        s = settings(tmp_path, smtp_host="127.0.0.1", smtp_port=str(port))
        notifier = Notifier(s, manifests, ledger, env={}, clock=clock)
        assert notifier.after_run(failed_row("", exit_code=0)) == []
        skipped = failed_row("skipped: already running (the robot's lock is held)", None)
        assert notifier.after_run(skipped) == []
    assert inbox.mails == [] and ledger.alerts() == []


def test_invoices_handed_to_a_person_are_named(
    tmp_path: Path, ledger: Ledger, clock: FakeClock, manifests: dict[str, RobotManifest]
) -> None:
    ledger.ensure_work(ROBOT, 17, "20433213:F-17", "r0")
    clock.advance(dt.timedelta(minutes=1))  # during the run
    ledger.request_handover(
        ROBOT, 17, reason="MANUAL_REPEATED_FAILURES", note="Fejlet i 3 kørsler", by="robot"
    )
    with smtp_server() as (inbox, port):
        s = settings(tmp_path, smtp_host="127.0.0.1", smtp_port=str(port))
        Notifier(s, manifests, ledger, env={}, clock=clock).after_run(failed_row("", 1, failed=1))
    text, html = parts(inbox.mails[0])
    assert "MANUAL_REPEATED_FAILURES" in text and "løbenr. 17" in text
    assert "<li>løbenr. 17</li>" in html
    assert "fakturaer fejlede" in inbox.mails[0]["Subject"]


def test_starttls_with_a_login(
    tmp_path: Path, ledger: Ledger, clock: FakeClock, manifests: dict[str, RobotManifest]
) -> None:
    cert = self_signed(tmp_path / "tls")
    with smtp_server(certificate=cert, login=("paybot", PASSWORD)) as (inbox, port):
        common = {
            "smtp_host": "127.0.0.1",
            "smtp_port": str(port),
            "smtp_starttls": "true",
            "smtp_username": "paybot",
        }
        # the system's store does not know the self-signed certificate: nothing is sent
        untrusted = Notifier(
            settings(tmp_path, **common), manifests, ledger, env={"PAYBOT_SMTP_PASSWORD": PASSWORD}
        )
        [refused] = untrusted.after_run(failed_row("preflight failed"))
        assert not refused.sent and "CERTIFICATE_VERIFY_FAILED" in (refused.last_error or "")
        assert inbox.logins == []
        # trusted, but no password anywhere: refused before connecting
        s = settings(tmp_path, smtp_ca_file=str(cert.cert), **common)
        [no_password] = Notifier(s, manifests, ledger, env={}).after_run(failed_row("x"))
        assert "smtp_password" in (no_password.last_error or "")
        trusted = Notifier(s, manifests, ledger, env={"PAYBOT_SMTP_PASSWORD": PASSWORD})
        [alert] = trusted.after_run(failed_row("preflight failed"))
    assert alert.sent, alert.last_error
    assert inbox.logins == [("paybot", PASSWORD)] and inbox.tls == [True]
    assert all(PASSWORD not in (a.last_error or "") for a in ledger.alerts())


def test_a_login_is_never_sent_unencrypted(
    tmp_path: Path, ledger: Ledger, manifests: dict[str, RobotManifest]
) -> None:
    with smtp_server() as (inbox, port):
        s = settings(tmp_path, smtp_host="127.0.0.1", smtp_port=str(port), smtp_username="u")
        notifier = Notifier(s, manifests, ledger, env={"PAYBOT_SMTP_PASSWORD": PASSWORD})
        [alert] = notifier.after_run(failed_row("preflight failed"))
    assert not alert.sent and "unencrypted" in (alert.last_error or "")
    assert inbox.mails == []


def test_a_mail_server_that_is_down_gets_the_alert_later_exactly_once(
    tmp_path: Path, ledger: Ledger, clock: FakeClock, manifests: dict[str, RobotManifest]
) -> None:
    port = free_port()  # nothing listens there yet
    s = settings(tmp_path, smtp_host="127.0.0.1", smtp_port=str(port))
    notifier = Notifier(s, manifests, ledger, env={}, clock=clock)
    [alert] = notifier.after_run(failed_row("preflight failed"))
    assert (alert.sent, alert.tries) == (False, 1)
    assert f"127.0.0.1:{port}" in (alert.last_error or "")
    assert notifier.deliver_due() == 0  # not again before notify.retry_minutes
    assert ledger.alerts()[0].tries == 1
    with smtp_server(port) as (inbox, _):
        clock.advance(dt.timedelta(minutes=s.notify.retry_minutes))
        assert notifier.deliver_due() == 1
        clock.advance(dt.timedelta(minutes=s.notify.retry_minutes))
        assert notifier.deliver_due() == 0
    assert len(inbox.mails) == 1
    [stored] = ledger.alerts()
    assert (stored.sent, stored.tries, stored.last_error) == (True, 2, None)


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(Hook.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def hook() -> Iterator[str]:
    Hook.received, Hook.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/abc"
    server.shutdown()
    server.server_close()


def test_a_webhook_gets_the_alert_as_json(
    tmp_path: Path, ledger: Ledger, clock: FakeClock, manifests: dict[str, RobotManifest], hook: str
) -> None:
    s = settings(tmp_path, webhook_url=hook)  # no mail server: the webhook only
    notifier = Notifier(s, manifests, ledger, env={}, clock=clock)
    [alert] = notifier.after_run(failed_row("preflight failed"))
    assert alert.channel == "webhook" and alert.sent
    [payload] = Hook.received
    assert payload["robot"] == ROBOT and payload["kind"] == "preflight"
    assert payload["text"].startswith(payload["subject"]) and "TIL ØKONOMI" in payload["text"]
    Hook.status = 500
    [failed] = notifier.after_run(failed_row("preflight failed"))
    assert not failed.sent and failed.last_error == "webhook answered HTTP 500"
    assert hook not in (failed.last_error or "")


def test_the_morning_summary_comes_once_a_day(
    tmp_path: Path, ledger: Ledger, manifests: dict[str, RobotManifest]
) -> None:
    clock = FakeClock(dt.datetime(2026, 11, 30, 5, 59, tzinfo=dt.UTC))  # 06:59 in Copenhagen
    ledger.record_run(failed_row("preflight failed"))
    entries = [Entry(name, "cron", JobState.SCHEDULED, None, 90, 120) for name in sorted(manifests)]
    with smtp_server() as (inbox, port):
        s = settings(tmp_path, smtp_host="127.0.0.1", smtp_port=str(port), summary_time="07:00")
        notifier = Notifier(s, manifests, ledger, env={}, clock=clock)

        def summary() -> Any:
            return summary_message(gather(s, manifests, ledger, entries, clock()))

        assert notifier.morning_summary(summary) == []
        clock.advance(dt.timedelta(minutes=2))
        [sent] = notifier.morning_summary(summary)
        assert sent.sent and sent.kind == "summary"
        clock.advance(dt.timedelta(hours=3))
        assert notifier.morning_summary(summary) == []
    [mail] = inbox.mails
    text, html = parts(mail)
    assert "Morgenoversigt" in mail["Subject"] and "planlæggeren kører ikke" in mail["Subject"]
    assert all(m.title in text for m in manifests.values())
    assert "kunne ikke komme i gang" in text and "the scheduler is not running" in text
    assert "<h2" in html
