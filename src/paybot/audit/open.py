"""Opening the audit trail the way a robot run does: signed, its checkpoints kept in the ledger.

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
from paybot.audit.signing import SECRET_NAME, Signer, load_signer
from paybot.audit.trail import AuditTrail
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


def open_run_trail(
    stack: ExitStack, settings: Settings, signer: Signer | None, **ids: Any
) -> AuditTrail:
    """The run's trail (closed by ``stack``), signing with ``signer`` and recording each
    checkpoint in the ledger's ``audit_checkpoints`` table."""
    anchor = None
    if signer is not None:
        store = CheckpointStore(settings.ledger.url)
        stack.callback(store.close)
        store.create_schema()
        name = trail_name(Path(settings.audit.file))

        def anchor(checkpoint: Checkpoint) -> None:
            store.record(name, checkpoint)

    return stack.enter_context(
        AuditTrail(
            settings.audit.file,
            signer=signer,
            anchor=anchor,
            checkpoint_every=settings.audit.checkpoint_every,
            **ids,
        )
    )
