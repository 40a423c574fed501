"""Signed checkpoints: each attack of docs/audit.md's threat model, tried on a real trail file
and a real SQLite ledger, is refused by verify and named."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from paybot.audit import AuditTrail, verify
from paybot.audit.anchor import Checkpoint, CheckpointStore, checkpoints_table, trail_name
from paybot.audit.chain import GENESIS, AuditTrailError, canonical_json, record_hash
from paybot.audit.open import adopts_unsigned_trail, check_before_signing, run_signer
from paybot.audit.signing import KeyRing, Signer, Verifier, load_signer, new_key_pair
from paybot.config import load_settings
from paybot.errors import ConfigError
from support.clock import FakeClock

START = dt.datetime(2026, 11, 20, 1, 30, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[2]


class Installation:
    """One robot installation: a key pair, a trail and a ledger with the checkpoint table."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        private, public = new_key_pair()
        self.signer = Signer.from_text(private, "test")
        self.verifier = KeyRing((Verifier.from_text(public, "test"),))
        self.public_pem = public
        self.private_pem = private
        self.path = root / "data" / "audit" / "audit.jsonl"
        self.store = CheckpointStore(f"sqlite:///{root / 'data' / 'ledger.sqlite'}")
        self.store.create_schema()
        self.name = trail_name(self.path)
        self.clock = FakeClock(START)

    def run(self, invoices: int, *, first_erp_id: int = 1) -> None:
        """A run's records between a run_start and a run_end checkpoint."""
        with AuditTrail(
            self.path,
            clock=self.clock,
            signer=self.signer,
            anchor=lambda cp: self.store.record(self.name, cp),
            checkpoint_every=10,
            forward_to_robocorp=False,
            robot="pay-small-invoices",
            run_id=f"run-{first_erp_id}",
        ) as trail:
            trail.checkpoint("run_start")
            for erp_id in range(first_erp_id, first_erp_id + invoices):
                self.clock.advance(dt.timedelta(seconds=1))
                log = trail.logger(erp_id=erp_id, business_key=f"21615595:F-{erp_id}")
                log.event("decision", decision="pay", amount="880.44", rule="small.pay")
                log.event("state_changed", **{"from": "PENDING", "to": "PAID"})
            trail.checkpoint("run_end")

    def anchor(self) -> Checkpoint | None:
        return self.store.latest(self.name)

    def check(self, **kw: object) -> tuple[bool, str]:
        result = verify(self.path, verifier=self.verifier, anchor=self.anchor(), **kw)  # type: ignore[arg-type]
        return result.ok, result.describe(self.path)

    def lines(self) -> list[bytes]:
        return self.path.read_bytes().splitlines(keepends=True)


def rechain(records: list[dict[str, object]]) -> bytes:
    """What an attacker who can write the file does: renumber and recompute every hash."""
    prev = GENESIS
    out = []
    for seq, record in enumerate(records, start=1):
        record = {k: v for k, v in record.items() if k != "hash"}
        record["seq"] = seq
        record["prev"] = prev
        record["hash"] = record_hash(record)
        prev = str(record["hash"])
        out.append(canonical_json(record).encode() + b"\n")
    return b"".join(out)


@pytest.fixture
def inst(tmp_path: Path) -> Installation:
    installation = Installation(tmp_path / "a")
    installation.run(12)
    installation.run(5, first_erp_id=100)
    return installation


def test_an_untouched_signed_trail_verifies_and_names_its_key(inst: Installation) -> None:
    result = verify(inst.path, verifier=inst.verifier, anchor=inst.anchor())
    assert result.ok, result.describe(inst.path)
    assert result.signed and result.key_id == inst.verifier.key_ids[0]
    # run_start + interval checkpoints + run_end of two runs
    assert result.checkpoints >= 4
    assert result.signed_through == result.records - 1
    assert result.warnings == ()
    assert "signed through seq" in result.describe(inst.path)


def test_every_checkpoint_is_kept_in_the_ledger_too(inst: Installation) -> None:
    anchor = inst.anchor()
    assert anchor is not None and anchor.why == "run_end"
    records = [json.loads(line) for line in inst.lines()]
    assert records[anchor.seq - 1]["hash"] == anchor.hash
    assert records[-1]["event"] == "checkpoint" and records[-1]["covers_seq"] == anchor.seq


def test_a_rewrite_with_recomputed_hashes_is_refused_at_the_checkpoint(inst: Installation) -> None:
    records = [json.loads(line) for line in inst.lines()]
    records[4]["amount"] = "1.00"  # one payment changed, every hash recomputed
    inst.path.write_bytes(rechain(records))
    # the chain alone now "verifies" ...
    assert verify(inst.path).records == len(records)
    # ... but not against the key
    result = verify(inst.path, verifier=inst.verifier)
    assert not result.ok and result.first_bad_line is not None
    assert "signature does not verify" in str(result.reason)
    assert result.first_bad_line > 5  # the first checkpoint after the change


def test_a_rewrite_without_the_checkpoints_is_refused_by_the_ledger(inst: Installation) -> None:
    records = [json.loads(line) for line in inst.lines()]
    kept = [r for r in records if r["event"] != "checkpoint"]
    kept[3]["amount"] = "1.00"
    inst.path.write_bytes(rechain(kept))
    ok, text = inst.check()
    assert not ok and "the last checkpoint kept in the ledger" in text
    # without the ledger it is an unsigned trail: a warning, or refused when a signature is
    # required (docs/audit.md: the ledger is what finds this)
    alone = verify(inst.path, verifier=inst.verifier)
    assert alone.ok and any("UNSIGNED" in w for w in alone.warnings)
    assert not verify(inst.path, verifier=inst.verifier, require_signed=True).ok


def test_a_cut_tail_says_what_is_missing(inst: Installation) -> None:
    lines = inst.lines()
    inst.path.write_bytes(b"".join(lines[:-9]))
    ok, text = inst.check()
    anchor = inst.anchor()
    assert anchor is not None
    assert not ok
    assert f"the trail ends at seq {len(lines) - 9}" in text
    assert f"says {anchor.last_seq}" in text and "run_end" in text


def test_a_rollback_to_an_older_copy_is_found(inst: Installation, tmp_path: Path) -> None:
    older = inst.path.read_bytes()
    inst.run(3, first_erp_id=200)
    inst.path.write_bytes(older)  # the copy from before the last run
    ok, text = inst.check()
    assert not ok and "cut off or the file rolled back" in text


def test_another_installations_trail_is_refused(inst: Installation, tmp_path: Path) -> None:
    other = Installation(tmp_path / "b")
    other.run(20)
    inst.path.write_bytes(other.path.read_bytes())
    # the ledger's checkpoint names this installation's trail, not the other's
    result = verify(inst.path, verifier=inst.verifier, anchor=inst.anchor())
    assert not result.ok and "is for another trail" in str(result.reason)
    # a copy verified without the ledger: signed, but by a key that is not the one given
    result = verify(inst.path, verifier=inst.verifier)
    assert not result.ok and "not by the key given" in str(result.reason)
    assert result.first_bad_line is None


def test_after_a_key_rotation_both_keys_verify(inst: Installation) -> None:
    old = inst.verifier
    private, public = new_key_pair()
    inst.signer = Signer.from_text(private, "new")
    inst.run(4, first_erp_id=300)
    new = KeyRing((Verifier.from_text(public, "new"),))
    both = KeyRing((*old.keys, *new.keys))
    assert verify(inst.path, verifier=both, anchor=inst.anchor()).ok
    # the new key alone: the old checkpoints are not checked, the new ones cover them
    only_new = verify(inst.path, verifier=new, anchor=inst.anchor())
    assert only_new.ok and only_new.signed_through == only_new.records - 1
    assert any("not given" in w for w in only_new.warnings)
    # the old key alone cannot vouch for what the new key signed
    assert not verify(inst.path, verifier=old, anchor=inst.anchor()).ok


Edit = Callable[[list[bytes]], list[bytes]]
EDITS: dict[str, Edit] = {  # on lines 4 and 5: a state change and a decision
    "changed": lambda ls: [*ls[:3], ls[3].replace(b"PENDING", b"PENDINX"), *ls[4:]],
    "inserted": lambda ls: [*ls[:3], ls[3], *ls[3:]],
    "deleted": lambda ls: [*ls[:3], *ls[4:]],
    "moved": lambda ls: [*ls[:3], ls[4], ls[3], *ls[5:]],
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_record_changed_inserted_deleted_or_moved_is_named(inst: Installation, edit: str) -> None:
    lines = inst.lines()
    assert b"state_changed" in lines[3] and b"decision" in lines[4]
    inst.path.write_bytes(b"".join(EDITS[edit](lines)))
    result = verify(inst.path, verifier=inst.verifier, anchor=inst.anchor())
    assert not result.ok and result.first_bad_line in (4, 5)


def test_a_trail_from_before_signing_verifies_as_unsigned(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    with AuditTrail(path, forward_to_robocorp=False) as trail:
        for i in range(5):
            trail.event("page_opened", page=f"faktura/{i}")
    result = verify(path)
    assert result.ok and not result.signed
    assert any(w.startswith("UNSIGNED") for w in result.warnings)
    assert "UNSIGNED" in result.describe(path)


def test_the_first_signed_run_vouches_for_the_records_before_it(tmp_path: Path) -> None:
    inst = Installation(tmp_path / "upgrade")
    with AuditTrail(inst.path, forward_to_robocorp=False) as trail:  # written by paybot 0.1
        for i in range(4):
            trail.event("page_opened", page=f"faktura/{i}")
    inst.run(2)
    result = verify(inst.path, verifier=inst.verifier, anchor=inst.anchor())
    assert result.ok and result.signed_through == result.records - 1
    lines = inst.lines()
    inst.path.write_bytes(rechain([json.loads(x) for x in [lines[1], *lines[1:]]]))
    assert not inst.check()[0]


def test_an_unsigned_tail_is_a_warning(inst: Installation) -> None:
    with AuditTrail(inst.path, forward_to_robocorp=False) as trail:  # e.g. the scheduler
        trail.event("scheduler_run_started", job="pay-small-invoices")
        trail.event("scheduler_run_finished", job="pay-small-invoices", exit_code=0)
    result = verify(inst.path, verifier=inst.verifier, anchor=inst.anchor())
    assert result.ok
    assert any("the last 2 records" in w for w in result.warnings)


def test_a_forged_checkpoint_signed_with_another_key_is_refused(inst: Installation) -> None:
    records = [json.loads(line) for line in inst.lines()]
    forger = Signer.from_text(new_key_pair()[0], "forger")
    records[3]["amount"] = "1.00"
    data = rechain(records)
    # re-sign every checkpoint with the forger's key under the real key's id
    fixed: list[dict[str, object]] = []
    for line in data.splitlines():
        record = json.loads(line)
        if record["event"] == "checkpoint":
            head = rechain(fixed).splitlines()[-1]
            record["signature"] = forger.sign(
                str(json.loads(rechain(fixed).splitlines()[0])["hash"]),
                int(record["covers_seq"]),
                str(json.loads(head)["hash"]),
            )
        fixed.append(record)
    inst.path.write_bytes(rechain(fixed))
    result = verify(inst.path, verifier=inst.verifier)
    assert not result.ok and "signature does not verify" in str(result.reason)


def test_a_file_that_is_no_trail_is_an_error_not_a_broken_trail(tmp_path: Path) -> None:
    other = tmp_path / "suppliers.csv"
    other.write_text("cvr;navn\n21615595;Kontorland A/S\n", encoding="utf-8")
    with pytest.raises(AuditTrailError, match="is not a paybot audit trail"):
        verify(other)
    env = {"PAYBOT_HOME": str(ROOT), "PAYBOT_DATA_DIR": str(tmp_path / "data")}
    done = robot("audit", "verify", "--file", str(other), env=env)
    assert done.returncode == 2 and str(other) in done.stderr
    assert "Traceback" not in done.stderr
    assert other.read_text(encoding="utf-8").startswith("cvr;navn")


# --- keys ----------------------------------------------------------------------------------


def test_a_key_file_open_to_others_is_refused_naming_it(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "audit.key"
    key.parent.mkdir()
    key.write_text(new_key_pair()[0])
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="open to group or others") as info:
        load_signer(key_file=key, vault_file=None, data_dir=tmp_path / "data", env={})
    assert str(key) in str(info.value) and "PRIVATE" not in str(info.value)


def test_a_key_kept_in_the_data_folder_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "data" / "audit.key"
    key.parent.mkdir()
    key.write_text(new_key_pair()[0])
    key.chmod(0o600)
    with pytest.raises(ConfigError, match="inside the data folder"):
        load_signer(key_file=key, vault_file=None, data_dir=tmp_path / "data", env={})


def test_garbage_in_the_key_variable_is_refused_without_showing_it(tmp_path: Path) -> None:
    env = {"PAYBOT_AUDIT_SIGNING_KEY": "not-a-key-but-a-secret-123"}
    with pytest.raises(ConfigError) as info:
        load_signer(key_file=None, vault_file=None, data_dir=tmp_path, env=env)
    assert "not-a-key" not in str(info.value) and "PAYBOT_AUDIT_SIGNING_KEY" not in str(
        info.value
    ).replace("audit_signing_key", "")


def test_a_run_without_a_key_refuses_unless_configured_unsigned(tmp_path: Path) -> None:
    env = {"PAYBOT_DATA_DIR": str(tmp_path / "data")}
    settings = load_settings(ROOT, env)
    with pytest.raises(ConfigError, match="no audit signing key"):
        run_signer(settings, env={})
    unsigned = load_settings(ROOT, {**env, "PAYBOT_AUDIT_SIGNED": "false"})
    assert run_signer(unsigned, env={}) is None
    private = new_key_pair()[0]
    signer = run_signer(settings, env={"PAYBOT_AUDIT_SIGNING_KEY": private})
    assert signer is not None and "PRIVATE" not in repr(signer)


def test_a_systemd_credential_is_read(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    (creds / "audit-signing-key").write_text(new_key_pair()[0])
    (creds / "audit-signing-key").chmod(0o400)
    signer = load_signer(
        key_file=None,
        vault_file=None,
        data_dir=tmp_path / "data",
        env={"CREDENTIALS_DIRECTORY": str(creds)},
    )
    assert signer is not None and signer.source.endswith("audit-signing-key")


# --- the command line ------------------------------------------------------------------------


def robot(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paybot", *args],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PAYBOT_")}, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_verify_command_uses_the_ledger_and_the_public_key(inst: Installation) -> None:
    public = inst.path.parents[2] / "audit-public-key.pem"
    public.write_text(inst.public_pem)
    env = {
        "PAYBOT_HOME": str(ROOT),
        "PAYBOT_DATA_DIR": str(inst.path.parents[1]),
        "PAYBOT_AUDIT_PUBLIC_KEY_FILE": str(public),
    }
    good = robot("audit", "verify", env=env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "signed through seq" in good.stdout and "matches the ledger's checkpoint" in good.stdout
    inst.path.write_bytes(b"".join(inst.lines()[:-5]))
    cut = robot("audit", "verify", env=env)
    assert cut.returncode == 1
    assert "BROKEN" in cut.stdout and "the trail ends at seq" in cut.stdout
    no_key = robot("audit", "verify", "--public-key", str(inst.path), env=env)
    assert no_key.returncode == 2 and "audit.public_key_file" in no_key.stderr


def test_verify_command_names_a_changed_first_line(inst: Installation) -> None:
    """One byte changed in the first record (its ``hash`` key) is a broken trail that names
    line 1 (exit 1), not "no paybot audit trail" (exit 2), also when the ledger holds a
    checkpoint that is looked up by the first record's hash."""
    env = {"PAYBOT_HOME": str(ROOT), "PAYBOT_DATA_DIR": str(inst.path.parents[1])}
    assert robot("audit", "verify", env=env).returncode == 0
    lines = inst.lines()
    assert b'"hash":' in lines[0]
    inst.path.write_bytes(lines[0].replace(b'"hash":', b'"hasx":', 1) + b"".join(lines[1:]))
    done = robot("audit", "verify", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in done.stdout and "line 1" in done.stdout
    assert "Traceback" not in done.stderr


def test_keygen_writes_a_pair_and_never_overwrites(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "audit-signing.pem"
    env = {"PAYBOT_HOME": str(ROOT)}
    made = robot("audit", "keygen", "--key-file", str(key), env=env)
    assert made.returncode == 0, made.stderr
    assert (key.stat().st_mode & 0o777) == 0o600
    assert "PRIVATE" not in made.stdout
    public = key.with_suffix(".pub.pem")
    assert Verifier.from_text(public.read_text(), "t").key_id in made.stdout
    assert (public.stat().st_mode & 0o777) == 0o644  # for the auditor, despite umask 077
    before = key.read_bytes()
    again = robot("audit", "keygen", "--key-file", str(key), env=env)
    assert again.returncode == 2 and "never written over" in again.stderr
    assert key.read_bytes() == before


# --- a run checks the trail before it signs ----------------------------------------------------


def settings_of(inst: Installation) -> Any:
    return load_settings(ROOT, {"PAYBOT_DATA_DIR": str(inst.path.parents[1])})


def test_an_untouched_trail_with_an_unsigned_tail_may_be_signed(inst: Installation) -> None:
    with AuditTrail(inst.path, forward_to_robocorp=False) as trail:  # e.g. the scheduler
        trail.event("scheduler_run_started", job="pay-small-invoices")
    assert check_before_signing(settings_of(inst), inst.signer) is None


@pytest.mark.parametrize(
    "attack",
    ["rewrite_dropping_checkpoints", "cut_tail", "delete_last_checkpoint", "replace", "delete"],
)
def test_a_run_refuses_to_sign_a_trail_someone_else_wrote(
    inst: Installation, tmp_path: Path, attack: str
) -> None:
    records = [json.loads(line) for line in inst.lines()]
    if attack == "rewrite_dropping_checkpoints":
        kept = [r for r in records if r["event"] != "checkpoint"]
        kept[3]["amount"] = "1.00"
        inst.path.write_bytes(rechain(kept))
    elif attack == "cut_tail":
        inst.path.write_bytes(b"".join(inst.lines()[:-7]))
    elif attack == "delete_last_checkpoint":
        inst.path.write_bytes(b"".join(inst.lines()[:-1]))
    elif attack == "replace":
        other = Installation(tmp_path / "other")
        other.run(30)
        inst.path.write_bytes(other.path.read_bytes())
    else:
        inst.path.unlink()
    problem = check_before_signing(settings_of(inst), inst.signer)
    assert problem is not None
    # and the command line says the same about the last checkpoint's record
    if attack == "delete_last_checkpoint":
        result = verify(inst.path, verifier=inst.verifier, anchor=inst.anchor())
        assert not result.ok and "the trail ends at seq" in str(result.reason)


def test_the_ledger_refuses_a_different_checkpoint_at_the_same_place(inst: Installation) -> None:
    anchor = inst.anchor()
    assert anchor is not None
    inst.store.record(inst.name, anchor)  # the same again: fine
    forged = dataclasses.replace(anchor, checkpoint_hash="0" * 64)
    with pytest.raises(AuditTrailError, match="another checkpoint"):
        inst.store.record(inst.name, forged)


def test_a_legacy_trail_is_adopted_by_the_first_signed_run_and_verify_says_so(
    tmp_path: Path,
) -> None:
    inst = Installation(tmp_path / "legacy")
    with AuditTrail(inst.path, forward_to_robocorp=False) as trail:
        trail.event("page_opened", page="faktura/1")
        trail.event("page_opened", page="faktura/2")
    settings = settings_of(inst)
    assert check_before_signing(settings, inst.signer) is None
    assert adopts_unsigned_trail(settings)
    with AuditTrail(inst.path, signer=inst.signer, forward_to_robocorp=False) as trail:
        trail.checkpoint("adopted")
    result = verify(inst.path, verifier=inst.verifier)
    assert result.ok and result.signed
    assert any("adopted by a run" in w for w in result.warnings)
    assert not adopts_unsigned_trail(settings)


def test_an_older_trail_swapped_in_for_a_newer_one_is_refused(inst: Installation) -> None:
    """The ledger holds checkpoints of two trails (a lost one left behind under a new name):
    putting the old file where the new one is, is a replacement."""
    old_file = inst.path.read_bytes()
    newer = Installation.__new__(Installation)
    newer.__dict__.update(inst.__dict__)
    newer.path = inst.path.with_name("audit-2.jsonl")
    newer.name = trail_name(newer.path)
    newer.run(3, first_erp_id=500)
    newer.path.write_bytes(old_file)
    anchor = newer.store.anchor_for(newer.name, json.loads(old_file.splitlines()[0])["hash"])
    result = verify(newer.path, verifier=inst.verifier, anchor=anchor)
    assert not result.ok and "is for another trail" in str(result.reason)
    env = {
        "PAYBOT_DATA_DIR": str(inst.path.parents[1]),
        "PAYBOT_AUDIT_FILE": str(newer.path),
    }
    problem = check_before_signing(load_settings(ROOT, env), inst.signer)
    assert problem is not None and "was replaced" in problem


def test_a_row_copied_into_the_ledger_cannot_hide_a_later_checkpoint(inst: Installation) -> None:
    first = json.loads(inst.lines()[0])["hash"]
    early = inst.store._one(  # the trail's first checkpoint row, copied in under another name
        select(checkpoints_table).order_by(checkpoints_table.c.id.asc())
    )
    assert early is not None
    inst.store.record("elsewhere:/copy", early)
    inst.path.write_bytes(b"".join(inst.lines()[: early.checkpoint_seq]))  # cut back to it
    anchor = inst.store.anchor_for(inst.name, first)
    assert anchor is not None and anchor.last_seq > early.last_seq
    assert check_before_signing(settings_of(inst), inst.signer) is not None


def test_require_signed_refuses_an_unsigned_tail_but_the_schedulers_own_events(
    inst: Installation,
) -> None:
    with AuditTrail(inst.path, forward_to_robocorp=False) as trail:
        trail.event("scheduler_run_finished", job="pay-small-invoices", exit_code=0)
    assert verify(inst.path, verifier=inst.verifier, require_signed=True).ok
    with AuditTrail(inst.path, forward_to_robocorp=False) as trail:
        trail.event("decision", decision="pay", amount="9999.00", note="forged")
    refused = verify(inst.path, verifier=inst.verifier, require_signed=True)
    assert not refused.ok and "1 records after seq" in str(refused.reason)
    assert verify(inst.path, verifier=inst.verifier).ok  # a warning without --require-signed


def test_a_trail_begun_over_an_older_history_says_so(tmp_path: Path) -> None:
    inst = Installation(tmp_path / "restart")
    with AuditTrail(
        inst.path,
        signer=inst.signer,
        forward_to_robocorp=False,
        start_fields={"runs_before": 2, "checkpoints_before": 7},
    ) as trail:
        trail.checkpoint("run_start")
        trail.event("page_opened", page="faktura/1")
        trail.checkpoint("run_end")
    result = verify(inst.path, verifier=inst.verifier)
    assert result.ok and any(
        "an earlier trail exists, or was deleted" in w for w in result.warnings
    )
