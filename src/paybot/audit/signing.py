"""Signed checkpoints: the robot signs the head of its audit trail; an auditor verifies.

A checkpoint says "record ``seq`` of the trail that starts with ``first_hash`` has hash
``hash``", signed with the robot's **Ed25519** private key (RFC 8032, through the
``cryptography`` package). Because every record carries the hash of the one before, one valid
signature on the head vouches for every record up to it. Whoever can write the data folder can
rewrite the file and recompute every hash, but cannot make a signature without the private key,
which lives outside the data folder (environment, systemd credential, vault file or a key file:
:func:`load_signer`). The auditor verifies with the public key, which cannot sign.

Key text, either form:

- PEM (``-----BEGIN PRIVATE KEY-----`` PKCS#8 / ``-----BEGIN PUBLIC KEY-----`` SPKI), as
  ``robot audit keygen`` writes it;
- the 32 raw key bytes as 64 hex digits or base64 (handy in an environment variable).

A key's id (:func:`key_id`) is the first 16 hex digits of SHA-256 over its raw public key; it is
written in every checkpoint so that ``robot audit verify`` can say which key signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from paybot.errors import ConfigError, PaybotError
from paybot.secrets import read_secret, require_private

SECRET_NAME = "audit_signing_key"  # noqa: S105 - the name, not the secret
"""The secret's name: ``PAYBOT_AUDIT_SIGNING_KEY``, credential ``audit-signing-key``, vault key
``audit_signing_key`` (see :mod:`paybot.secrets`)."""

MESSAGE_PREFIX = b"paybot audit checkpoint v1"


class KeyFormatError(PaybotError, ValueError):
    """A key's text cannot be read as an Ed25519 key (the loaders turn it into a
    :class:`~paybot.errors.ConfigError` naming the file)."""


def _raw_bytes(text: str) -> bytes | None:
    compact = "".join(text.split())
    if len(compact) == 64:
        try:
            return bytes.fromhex(compact)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def private_key_from_text(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM or 32 raw bytes (hex or base64); :class:`KeyFormatError`
    (without the key's text) when it is neither."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(stripped.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"not a PEM private key ({type(exc).__name__})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError(f"a {type(key).__name__}, not an Ed25519 key")
        return key
    raw = _raw_bytes(stripped)
    if raw is None:
        raise KeyFormatError("neither PEM nor 32 bytes as 64 hex digits or base64")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM or 32 raw bytes (hex or base64); :class:`KeyFormatError`."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN PRIVATE"):
        raise KeyFormatError("this is a private key; give the auditor the public key")
    if stripped.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(stripped.encode())
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"not a PEM public key ({type(exc).__name__})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFormatError(f"a {type(key).__name__}, not an Ed25519 key")
        return key
    raw = _raw_bytes(stripped)
    if raw is None:
        raise KeyFormatError("neither PEM nor 32 bytes as 64 hex digits or base64")
    return Ed25519PublicKey.from_public_bytes(raw)


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw public key."""
    return hashlib.sha256(_public_raw(key)).hexdigest()[:16]


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def private_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def checkpoint_message(first_hash: str, seq: int, head_hash: str) -> bytes:
    """The bytes signed: prefix, the trail's first record's hash, the head's seq and hash."""
    return b"\n".join(
        (MESSAGE_PREFIX, first_hash.encode("ascii"), str(seq).encode(), head_hash.encode("ascii"))
    )


@dataclass(frozen=True)
class Signer:
    """The robot's private key; :meth:`sign` a checkpoint. ``repr`` shows only the key id."""

    private_key: Ed25519PrivateKey
    key_id: str
    source: str

    @classmethod
    def from_text(cls, text: str, source: str) -> Signer:
        key = private_key_from_text(text)
        return cls(key, key_id(key.public_key()), source)

    def sign(self, first_hash: str, seq: int, head_hash: str) -> str:
        """Base64 of the Ed25519 signature over :func:`checkpoint_message`."""
        signature = self.private_key.sign(checkpoint_message(first_hash, seq, head_hash))
        return base64.b64encode(signature).decode("ascii")

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r}, source={self.source!r})"


@dataclass(frozen=True)
class Verifier:
    """A public key: checks checkpoint signatures and cannot make them."""

    public_key: Ed25519PublicKey
    key_id: str
    source: str

    @classmethod
    def from_text(cls, text: str, source: str) -> Verifier:
        key = public_key_from_text(text)
        return cls(key, key_id(key), source)

    def valid(self, first_hash: str, seq: int, head_hash: str, signature: str) -> bool:
        try:
            raw = base64.b64decode(signature, validate=True)
            self.public_key.verify(raw, checkpoint_message(first_hash, seq, head_hash))
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def load_signer(
    *,
    key_file: Path | None,
    vault_file: Path | None,
    data_dir: Path,
    env: dict[str, str] | None = None,
) -> Signer | None:
    """The robot's signing key, or ``None`` when there is none.

    Looked up as any secret (:func:`paybot.secrets.read_secret`: ``PAYBOT_AUDIT_SIGNING_KEY``,
    systemd credential ``audit-signing-key``, vault key ``audit_signing_key``), then in
    ``key_file`` (settings ``audit.signing_key_file``). Raises
    :class:`~paybot.errors.ConfigError` (naming file and key, never the key) when the key cannot
    be read, its file is open to group or others, or it is kept inside the data folder (anyone
    who can rewrite the trail could then also sign it)."""
    secret = read_secret(SECRET_NAME, vault_file, env)
    if secret is None and key_file is not None:
        if not key_file.exists():
            raise ConfigError(
                str(key_file),
                "audit.signing_key_file",
                str(key_file),
                "no such file; create one with 'robot audit keygen'",
            )
        if not key_file.is_file():
            raise ConfigError(
                str(key_file),
                "audit.signing_key_file",
                str(key_file),
                "not a file (a folder?); give the private key file 'robot audit keygen' wrote",
            )
        require_private(key_file, "audit.signing_key_file")
        try:
            text = key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                str(key_file),
                "audit.signing_key_file",
                str(key_file),
                f"cannot read it as a PEM or hex/base64 key ({type(exc).__name__})",
            ) from None
        source = str(key_file)
    elif secret is not None:
        text, source = secret.value, secret.source
    else:
        return None
    if source != "environment" and _inside(Path(source), data_dir):
        raise ConfigError(
            source,
            SECRET_NAME,
            "(hidden)",
            f"the audit signing key is kept inside the data folder {data_dir}; whoever can "
            "rewrite the trail could then sign it too: move it outside (see docs/audit.md)",
        )
    try:
        return Signer.from_text(text, source)
    except KeyFormatError as exc:
        raise ConfigError(source, SECRET_NAME, "(hidden)", f"not an Ed25519 key: {exc}") from None


@dataclass(frozen=True)
class KeyRing:
    """The public keys an auditor accepts (after a key rotation, the old and the new one),
    by key id."""

    keys: tuple[Verifier, ...]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(k.key_id for k in self.keys)

    @property
    def source(self) -> str:
        return ", ".join(sorted({k.source for k in self.keys}))

    def get(self, key_id: str) -> Verifier | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def valid(self, key_id: str, first_hash: str, seq: int, head_hash: str, sig: str) -> bool:
        key = self.get(key_id)
        return key is not None and key.valid(first_hash, seq, head_hash, sig)


_PEM_PUBLIC = re.compile(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", re.S)


def load_verifier(*paths: Path) -> KeyRing:
    """The auditor's public keys from ``paths`` (each file: one or more PEM public keys, or one
    key as 64 hex digits / base64); :class:`~paybot.errors.ConfigError` naming the file when
    one is missing or holds no Ed25519 public key."""
    keys: list[Verifier] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                str(path),
                "audit.public_key_file",
                str(path),
                getattr(exc, "strerror", None) or str(exc),
            ) from None
        blocks = _PEM_PUBLIC.findall(text) or [text]
        try:
            keys += [Verifier.from_text(block, str(path)) for block in blocks]
        except KeyFormatError as exc:
            raise ConfigError(str(path), "audit.public_key_file", str(path), str(exc)) from None
    return KeyRing(tuple(keys))


def new_key_pair() -> tuple[str, str]:
    """``(private PEM, public PEM)`` of a fresh Ed25519 key."""
    key = Ed25519PrivateKey.generate()
    return private_pem(key), public_pem(key.public_key())
