"""Secrets other than the finance-system login: where they come from, never where they go.

A secret named ``NAME`` (e.g. ``audit_signing_key``, ``pseudonym_key``) is looked up, first
found wins:

1. the environment variable ``PAYBOT_<NAME>`` (``PAYBOT_AUDIT_SIGNING_KEY``);
2. a systemd credential: the file ``$CREDENTIALS_DIRECTORY/<name>`` with dashes for
   underscores (``audit-signing-key``; ``LoadCredential=`` in the unit, see docs/operations.md);
3. the vault file (``vault_file`` in the settings, JSON, mode 0600): its top-level key
   ``<name>`` (``{"audit_signing_key": "…"}``).

Never from the command line; a secret's value never appears in an error or in any output.
Reading is side-effect free and safe to repeat.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from paybot.errors import ConfigError

CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"


@dataclass(frozen=True)
class Secret:
    """A secret's text and where it came from (``environment``, a file path). ``repr`` hides
    the value."""

    name: str
    value: str
    source: str

    def __repr__(self) -> str:
        return f"Secret(name={self.name!r}, source={self.source!r}, value='[hidden]')"

    __str__ = __repr__


def env_name(name: str) -> str:
    """``audit_signing_key`` → ``PAYBOT_AUDIT_SIGNING_KEY``."""
    return "PAYBOT_" + name.upper()


def credential_name(name: str) -> str:
    """``audit_signing_key`` → ``audit-signing-key`` (the systemd credential's file name)."""
    return name.replace("_", "-")


def require_private(path: Path, key: str) -> None:
    """Raise :class:`ConfigError` unless ``path`` is a file that group and others can neither
    read nor write (mode 0600 or 0400)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(str(path), key, "(hidden)", f"cannot read: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            str(path),
            "(file mode)",
            oct(stat.S_IMODE(mode)),
            f"the file holding {key} is open to group or others; run: chmod 600 {path}",
        )


def _read_private(path: Path, key: str) -> str:
    require_private(path, key)
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), key, "(hidden)", f"cannot read: {exc}") from None


def _from_vault(vault: Path, name: str) -> str | None:
    if not vault.exists():
        return None
    text = _read_private(vault, name)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            str(vault), f"line {exc.lineno}", "(hidden)", f"not valid JSON: {exc.msg}"
        ) from None
    value = data.get(name) if isinstance(data, dict) else None
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(str(vault), name, "(hidden)", "not text, or empty")
    return value.strip()


def read_secret(
    name: str, vault_file: Path | None, env: Mapping[str, str] | None = None
) -> Secret | None:
    """The secret ``name`` from the environment, a systemd credential or the vault file;
    ``None`` when none of them has it. Raises :class:`ConfigError` (naming the file and key,
    never the value) when a file that should hold it is open to others or unreadable."""
    environ = os.environ if env is None else env
    value = environ.get(env_name(name), "").strip()
    if value:
        return Secret(name, value, "environment")
    creds = environ.get(CREDENTIALS_DIRECTORY, "").strip()
    if creds:
        path = Path(creds) / credential_name(name)
        if path.exists():
            return Secret(name, _read_private(path, name), str(path))
    if vault_file is not None:
        found = _from_vault(vault_file, name)
        if found is not None:
            return Secret(name, found, str(vault_file))
    return None
