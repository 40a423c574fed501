"""The scheduler signs its own audit events (paybot.scheduler.sealing), on a real trail file and
a real SQLite ledger, with fake robots that write nothing to the trail themselves: whatever
is signed here, the scheduler signed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from test_scheduler_fakes import FakeHome, make_home, wait_for

from paybot.audit import AuditTrail, verify
from paybot.audit.anchor import CheckpointStore, trail_name
from paybot.audit.signing import KeyRing, Verifier
from paybot.errors import ConfigError


@pytest.fixture
def home(tmp_path: Path) -> FakeHome:
    return make_home(tmp_path, {"fake-quick": "quick"})


def verified(home: FakeHome, *, require_signed: bool = True) -> tuple[bool, int, str]:
    """``robot audit verify`` as the auditor runs it: the public key, the ledger's checkpoint."""
    settings = home.settings()
    path = settings.audit.file
    public = Path(home.env["PAYBOT_AUDIT_PUBLIC_KEY_FILE"]).read_text("utf-8")
    store = CheckpointStore(settings.ledger.url)
    try:
        anchor = store.latest(trail_name(path))
    finally:
        store.close()
    result = verify(
        path,
        verifier=KeyRing((Verifier.from_text(public, "test"),)),
        anchor=anchor,
        require_signed=require_signed,
    )
    return result.ok, result.signed_through, result.describe(path)


def test_the_scheduler_signs_its_events_at_start_on_a_wake_up_and_at_stop(home: FakeHome) -> None:
    service = home.service()
    service.start()  # the job's scheduler_job_added, signed at once
    try:
        started = home.audit()
        assert [r["event"] for r in started] == [
            "trail_started",
            "scheduler_job_added",
            "checkpoint",
        ]
        assert started[-1]["why"] == "scheduler" and started[-1]["covers_seq"] == 2
        service.run_now("fake-quick")
        wait_for(lambda: home.audit("scheduler_run_finished"), "the run's end in the trail")
        assert home.audit()[-1]["event"] == "scheduler_run_finished"  # not signed yet
        service.tick()  # the next wake-up signs it
        last = home.audit()[-1]
        assert last["event"] == "checkpoint" and last["why"] == "scheduler"
        service.tick()  # nothing new: nothing signed
        assert home.audit()[-1] == last
        service.run_now("fake-quick")
        wait_for(lambda: len(home.audit("scheduler_run_finished")) == 2, "the second run's end")
    finally:
        service.stop()  # signs what came after the last wake-up
    records = home.audit()
    assert records[-1]["event"] == "checkpoint"
    assert [r["why"] for r in records if r["event"] == "checkpoint"] == ["scheduler"] * 3
    ok, signed_through, text = verified(home)
    assert ok, text
    assert signed_through == records[-1]["seq"] - 1  # every record, the last event included


def test_a_trail_written_before_signing_is_adopted_by_the_scheduler(home: FakeHome) -> None:
    with AuditTrail(home.settings().audit.file, forward_to_robocorp=False) as unsigned:
        unsigned.event("scheduler_job_paused", job="fake-quick", by="ops")
    service = home.service()
    service.start()
    service.stop()
    whys = [r["why"] for r in home.audit("checkpoint")]
    assert whys == ["adopted"]
    ok, signed_through, text = verified(home)
    assert ok and signed_through == len(home.audit()) - 1, text


def test_the_scheduler_never_signs_a_trail_that_does_not_verify(
    home: FakeHome, caplog: pytest.LogCaptureFixture
) -> None:
    """Someone edits a signed record while the scheduler runs. Its next events are not signed:
    not on a wake-up (it verifies first) and not by count (``audit.checkpoint_every`` is 1
    here, and a checkpoint by count would sign without verifying)."""
    home.env["PAYBOT_AUDIT_CHECKPOINT_EVERY"] = "1"
    service = home.service()
    with caplog.at_level(logging.ERROR, logger="paybot.scheduler"):
        service.start()
        try:
            assert [r["why"] for r in home.audit("checkpoint")] == ["scheduler"]
            path = home.settings().audit.file
            edited = path.read_bytes().replace(b'"action":"added"', b'"action":"removed"')
            assert edited != path.read_bytes()
            path.write_bytes(edited)
            service.run_now("fake-quick")
            wait_for(lambda: home.audit("scheduler_run_finished"), "the run's end in the trail")
            service.tick()
            assert service.sealer is not None
            refused = service.sealer.refused
            service.tick()
        finally:
            service.stop()
    assert refused is not None and "does not verify" in refused
    assert [r["why"] for r in home.audit("checkpoint")] == ["scheduler"]  # the one at start
    assert home.audit()[-1]["event"] == "scheduler_run_finished"
    assert caplog.text.count("the scheduler does not sign it") == 1  # said once
    assert not verified(home)[0]


def test_no_signing_key_stops_the_scheduler_before_it_starts_anything(home: FakeHome) -> None:
    del home.env["PAYBOT_AUDIT_SIGNING_KEY"]
    service = home.service(run_now=("fake-quick",))
    with pytest.raises(ConfigError, match=r"audit\.signed"):
        service.start()
    assert home.runs() == [] and home.marker("fake-quick.ran") is None
    home.env["PAYBOT_AUDIT_SIGNED"] = "false"  # knowingly unsigned: starts, signs nothing
    service = home.service(run_now=("fake-quick",))
    service.start()
    try:
        wait_for(lambda: home.audit("scheduler_run_finished"), "the run's end")
        service.tick()
    finally:
        service.stop()
    assert home.audit("checkpoint") == []
