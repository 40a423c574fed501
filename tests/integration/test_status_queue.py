"""``robot status``, ``robot queue`` and the scheduler's alerts, against fake robots run by a
real scheduler (see test_scheduler_fakes.py), a real SQLite ledger and a real SMTP server."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from test_scheduler_fakes import FakeHome, make_home, wait_for

from paybot.cli import main
from paybot.ledger import AlertRecord, Ledger, RunRecord, State, utc_now
from support.clock import FakeClock
from support.smtp import free_port, smtp_server

FINANCE = "oekonomi@kommune.example"


def finished(home: FakeHome, robot: str) -> RunRecord | None:
    rows = [r for r in home.runs(robot) if r.exit_code is not None]
    return rows[0] if rows else None


def alerts(home: FakeHome) -> list[AlertRecord]:
    ledger = Ledger(home.settings().ledger.url)
    try:
        return ledger.alerts()
    finally:
        ledger.close()


def status_json(
    home: FakeHome, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    home.use_env(monkeypatch)
    capsys.readouterr()
    code = main(["status", "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_failed_night_is_mailed_after_the_mail_server_comes_back_and_status_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = make_home(tmp_path, {"fake-garbage": "garbage"})
    port = free_port()  # the mail server is down during the run
    home.env |= {
        "PAYBOT_NOTIFY_SMTP_HOST": "127.0.0.1",
        "PAYBOT_NOTIFY_SMTP_PORT": str(port),
        "PAYBOT_NOTIFY_SMTP_STARTTLS": "false",
        "PAYBOT_NOTIFY_EMAIL": FINANCE,
    }
    clock = FakeClock(utc_now())
    code, before = status_json(home, monkeypatch, capsys)
    assert (code, before["status"], before["scheduler"]["alive"]) == (2, "down", False)
    service = home.service(run_now=("fake-garbage",), clock=clock)
    service.start()
    try:
        row = wait_for(lambda: finished(home, "fake-garbage"), "the run to end")
        assert row.exit_code == 1  # the run's own outcome, not changed by the mail server
        [alert] = wait_for(lambda: [a for a in alerts(home) if a.tries], "the first try")
        assert not alert.sent and f"127.0.0.1:{port}" in (alert.last_error or "")
        code, shown = status_json(home, monkeypatch, capsys)
        assert (code, shown["status"], shown["scheduler"]["alive"]) == (1, "degraded", True)
        [robot] = shown["robots"]
        assert robot["last_run"]["outcome"] == "crashed" and robot["last_run"]["exit_code"] == 1
        assert shown["alerts"]["last"]["sent_at"] is None and shown["alerts"]["unsent"] == 1
        capsys.readouterr()
        assert main(["status"]) == 1
        screen = capsys.readouterr().out
        assert "paybot: DEGRADED" in screen and "NOT SENT after 1 tries" in screen
        with smtp_server(port) as (inbox, _):
            # the ledger stamped the try with the real time, some seconds after the clock's start
            clock.advance(dt.timedelta(minutes=6))
            service.tick()
            service.tick()
        [mail] = inbox.mails
        assert mail["Subject"].startswith("[paybot] Fake robot fake-garbage: kørslen stoppede")
        assert "robot run fake-garbage" in mail.get_body(("plain",)).get_content()
        code, after = status_json(home, monkeypatch, capsys)
        assert after["alerts"]["last"]["sent_at"] is not None and after["alerts"]["unsent"] == 0
    finally:
        service.stop()
    code, stopped = status_json(home, monkeypatch, capsys)
    assert (code, stopped["status"]) == (2, "down")  # the heartbeat is fresh, the lock is free
    assert main(["schedule"]) == 1


@pytest.fixture
def queue_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHome:
    home = make_home(tmp_path, {"fake-quick": "quick"})
    home.use_env(monkeypatch)
    ledger = Ledger(home.settings().ledger.url)
    try:
        ledger.create_schema()
        ledger.ensure_work_many("fake-quick", [(5, "20433213:F-5"), (6, "20433213:F-6")], "r0")
        for night in ("r1", "r2"):
            item = ledger.claim_next("fake-quick", "w1", night, 60)
            assert item is not None and item.erp_id == 5
            ledger.record_failure(item, "w1", "HTTP 500")
        ledger.ensure_work("fake-quick", 7, "20433213:F-7", "r2")
        busy = ledger.claim_next("fake-quick", "w1", "r2", 600)  # 6: a run is paying it
        assert busy is not None and busy.erp_id == 6
        ledger.record_pay_intent(
            busy, "w1", amount=__import__("decimal").Decimal("10.00"),
            account_string="x", payment_date=dt.date(2026, 12, 1), rule_version="1",
        )  # fmt: skip
    finally:
        ledger.close()
    return home


def test_the_queue_lists_and_filters(
    queue_home: FakeHome, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["queue"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["ROBOT", "LØBENR", "INVOICE", "STATE"]
    assert [line.split()[1] for line in lines[1:-1]] == ["5", "6", "7"]
    assert "HTTP 500" in lines[1] and lines[-1] == "3 items"
    assert main(["queue", "--failing"]) == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()[1:-1]] == ["5"]
    assert main(["queue", "--state", "PAY_INTENT"]) == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()[1:-1]] == ["6"]
    assert main(["queue", "--older-than-days", "1"]) == 0
    assert capsys.readouterr().out == "no work items matching\n"
    assert main(["queue", "--robot", "nobody"]) == 2
    # more days than a timedelta holds: a usage error, not an OverflowError
    with pytest.raises(SystemExit) as refused:
        main(["queue", "--older-than-days", "1e308"])
    assert refused.value.code == 2
    assert "1e308" in capsys.readouterr().err


def test_handover_and_release_are_safe_and_audited(
    queue_home: FakeHome, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["queue", "handover", "5", "--reason", "NOPE", "--note", "x"]) == 2
    assert "MANUAL_SUPPLIER" in capsys.readouterr().err  # the known codes are listed
    assert main(["queue", "handover", "99", "--reason", "MANUAL_SUPPLIER", "--note", "x"]) == 2
    # a run is paying 6: refused, the state is not changed behind its back
    assert main(["queue", "handover", "6", "--reason", "MANUAL_SUPPLIER", "--note", "x"]) == 1
    assert "PAY_INTENT, not PENDING" in capsys.readouterr().err
    assert main(["queue", "release", "6"]) == 1  # the refusal names what was asked
    assert "cannot be released: it is PAY_INTENT" in capsys.readouterr().err
    note = "Leverandøren har ringet; afvent kreditnota"
    assert main(["queue", "handover", "5", "--reason", "MANUAL_SUPPLIER", "--note", note]) == 0
    assert "will not be paid" in capsys.readouterr().out
    assert main(["queue"]) == 0
    assert "MANUAL_SUPPLIER by" in capsys.readouterr().out.splitlines()[1]
    assert main(["queue", "release", "5"]) == 0
    assert "next run takes it as new" in capsys.readouterr().out
    ledger = Ledger(queue_home.settings().ledger.url)
    try:
        five = ledger.item("fake-quick", 5)
        assert five is not None and (five.state, five.attempts) == (State.PENDING, 0)
        assert ledger.handover_for("fake-quick", 5) is None
    finally:
        ledger.close()
    records = queue_home.audit()
    handed = [r for r in records if r["event"] == "item_handed_over"]
    released = [r for r in records if r["event"] == "item_released"]
    assert len(handed) == 1 and len(released) == 1
    assert (handed[0]["erp_id"], handed[0]["reason"], handed[0]["note"]) == (
        5, "MANUAL_SUPPLIER", note,
    )  # fmt: skip
    assert released[0]["attempts_before"] == 2 and released[0]["by"]
