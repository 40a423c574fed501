"""The key that signs the console's session cookie and CSRF tokens.

From the secret ``console_secret_key`` (``PAYBOT_CONSOLE_SECRET_KEY``, the systemd credential
``console-secret-key`` or the vault file; :func:`paybot.secrets.read_secret`) when one is set;
otherwise generated once (32 random bytes from :mod:`secrets`, hex) and kept owner-only in
``<data_dir>/console/secret_key``, so sessions survive a restart. Removing that file ends every
session. Never printed.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from paybot.errors import ConfigError
from paybot.private import open_private, private_dir
from paybot.secrets import read_secret, require_private

SECRET_NAME = "console_secret_key"  # noqa: S105 - the secret's name
KEY_FILE = "secret_key"
MIN_LENGTH = 32


def session_key(data_dir: Path, vault_file: Path | None) -> str:
    """The signing key (see the module). Raises :class:`ConfigError` (naming the place, never
    the value) when a configured key is shorter than :data:`MIN_LENGTH` characters or a file
    holding it is open to others. Safe to repeat: the generated key is made once."""
    found = read_secret(SECRET_NAME, vault_file)
    if found is not None:
        if len(found.value) < MIN_LENGTH:
            raise ConfigError(
                found.source, SECRET_NAME, "(hidden)", f"at least {MIN_LENGTH} characters, please"
            )
        return found.value
    path = private_dir(data_dir / "console") / KEY_FILE
    if not path.exists():
        try:
            with open_private(path, "x", encoding="utf-8") as out:
                out.write(secrets.token_hex(32) + "\n")
        except FileExistsError:
            pass  # another process made it first: use theirs
    require_private(path, SECRET_NAME)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_LENGTH:
        raise ConfigError(str(path), SECRET_NAME, "(hidden)", "too short; remove the file")
    return key
