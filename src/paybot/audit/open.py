"""Opening the audit trail the way a robot run (and the scheduler) does: signed, its
checkpoints kept in the ledger.

:func:`run_signer` decides before anything is touched whether a run may start (a key, or
``audit.signed: false``); :func:`open_run_trail` opens the trail with the signer and the
ledger's checkpoint table as its anchor.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from paybot.audit.anchor import Checkpoint, CheckpointStore, trail_name
from paybot.audit.chain import AuditTrailError, ChainFile
from paybot.audit.signing import SECRET_NAME, KeyRing, Signer, Verifier, load_signer
from paybot.audit.trail import AuditTrail
from paybot.audit.verify import first_record_hash, verify
from paybot.config_load import ledger_url
from paybot.config_models import Settings
from paybot.errors import ConfigError
from paybot.secrets import env_name


def run_signer(settings: Settings, env: Mapping[str, str] | None = None) -> Signer | None:
    """The signing key a run uses, or ``None`` when ``audit.signed`` is false. Raises
    :class:`~paybot.errors.ConfigError` (exit 2, nothing started) when signing is on and no
    key is found, or the key is unusable."""
    signer = load_signer(
        key_file=settings.audit.signing_key_file,
        vault_file=settings.vault_file,
        data_dir=settings.data_dir,
        env=dict(env) if env is not None else None,
    )
    if signer is None and settings.audit.signed:
        raise ConfigError(
            str(settings.home / "config" / "paybot.yaml"),
            "audit.signed",
            True,
            f"no audit signing key: set {env_name(SECRET_NAME)}, a systemd credential "
            "'audit-signing-key', or audit.signing_key_file (create a key with 'robot audit "
            "keygen'); or set audit.signed: false to knowingly write an unsigned trail",
        )
    return signer if settings.audit.signed else None


def check_trail_under_its_lock(settings: Settings, signer: Signer | None) -> None:
    """Raise :class:`AuditTrailError` when a signing run must not start because the trail is
    not the one the robot left (:func:`check_before_signing`). Holds the trail file's lock
    while it reads, so a record another process is appending is never read half-written."""
    if signer is None:
        return
    path = Path(settings.audit.file)
    if path.is_file():
        guard = ChainFile(path)
        try:
            with guard.locked():
                problem = check_before_signing(settings, signer)
        finally:
            guard.close()
    else:
        problem = check_before_signing(settings, signer)
    if problem is not None:
        raise AuditTrailError(
            f"{problem}. The robot does not sign a trail it cannot vouch for; nothing was "
            "touched. See 'robot audit verify' and docs/audit.md"
        )


def ledger_checkpoints(settings: Settings) -> CheckpointStore | None:
    """The ledger's checkpoint table, or ``None`` when the ledger is a SQLite file that does
    not exist yet (nothing has been signed then; the file is not created by looking)."""
    url = settings.ledger.url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        return None
    return CheckpointStore(ledger_url(settings))


def check_before_signing(settings: Settings, signer: Signer) -> str | None:
    """Before a run signs the trail's head (which vouches for every record before it), make
    sure the trail is the one the robot left: ``None`` when it is, else what is wrong (the run
    must not start). The whole trail is verified with the robot's own public key and the
    ledger's last checkpoint for it (about 2-3 s per million records): a trail that does not
    verify is never written to. A trail written before signing (no checkpoint anywhere)
    passes: its first signed run adopts it. Raises :class:`AuditTrailError` when the trail or
    the ledger cannot be read. Reads only."""
    path = Path(settings.audit.file)
    store = ledger_checkpoints(settings)
    try:
        name = trail_name(path, settings.machine_name)
        by_name = store.latest(name) if store is not None else None
        exists = path.is_file() and path.stat().st_size > 0
        if not exists:
            if by_name is None:
                return None
            return (
                f"the audit trail {path} is missing or empty, but the ledger's last checkpoint "
                f"for it says seq {by_name.last_seq:,} ({by_name.ts}): restore it from a backup; "
                "a trail that is truly lost is left behind by giving audit.file a new name "
                "(docs/audit.md, 'A lost trail')"
            )
        first = first_record_hash(path)
        anchor = store.anchor_for(name, first) if store is not None else None
    finally:
        if store is not None:
            store.close()
    if anchor is not None and anchor.first_hash != first:
        return (
            f"the audit trail {path} is not the one the ledger's checkpoints for it are for "
            f"(its last checkpoint there, seq {anchor.last_seq:,}, names another first "
            "record): the file was replaced"
        )
    own = KeyRing((Verifier(signer.private_key.public_key(), signer.key_id, "the robot's key"),))
    result = verify(path, verifier=own, anchor=anchor)
    if not result.ok:
        where = f"line {result.first_bad_line}: " if result.first_bad_line else ""
        return f"the audit trail {path} does not verify: {where}{result.reason}"
    return None


def adopts_unsigned_trail(settings: Settings) -> bool:
    """True when the trail has records but no checkpoint at all (written before signing was
    turned on): the run's first checkpoint then adopts it, and says so (``why: adopted``), so
    that an auditor sees from where on the trail is signed. Reads only."""
    path = Path(settings.audit.file)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    store = ledger_checkpoints(settings)
    if store is not None:
        try:
            if store.latest(trail_name(path, settings.machine_name)) is not None:
                return False  # signed before: the common case, answered without reading
        finally:
            store.close()
    with open(path, "rb") as file:
        return not any(b'"event":"checkpoint"' in line for line in file)


def open_run_trail(
    stack: ExitStack,
    settings: Settings,
    signer: Signer | None,
    *,
    runs_before: int = 0,
    forward_to_robocorp: bool = True,
    interval_checkpoints: bool = True,
    **ids: Any,
) -> AuditTrail:
    """The run's trail (closed by ``stack``), signing with ``signer`` and recording each
    checkpoint in the ledger's ``audit_checkpoints`` table. A new signed trail's first record
    says how many runs (``runs_before``, from the run history) and checkpoints the ledger
    already held, so that a trail started over an older one's history shows as such. The
    scheduler opens its trail the same way (:mod:`paybot.scheduler.sealing`), without
    ``forward_to_robocorp`` and without ``interval_checkpoints``: a checkpoint every
    ``audit.checkpoint_every`` records would sign the runs' records unverified."""
    anchor = None
    start: dict[str, Any] = {}
    if signer is not None:
        store = CheckpointStore(ledger_url(settings))
        stack.callback(store.close)
        store.create_schema()
        name = trail_name(Path(settings.audit.file), settings.machine_name)
        # this machine's checkpoints only: other machines sharing the ledger keep their own trails
        before = store.count(machine=settings.machine_name)
        start = {"runs_before": runs_before, "checkpoints_before": before}

        def anchor(checkpoint: Checkpoint) -> None:
            store.record(name, checkpoint)

    return stack.enter_context(
        AuditTrail(
            settings.audit.file,
            signer=signer,
            anchor=anchor,
            checkpoint_every=settings.audit.checkpoint_every if interval_checkpoints else None,
            start_fields=start,
            forward_to_robocorp=forward_to_robocorp,
            **ids,
        )
    )
