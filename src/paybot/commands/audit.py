"""``robot audit``: check the audit trail and read one invoice's part of it.

- ``robot audit verify [--file F] [--public-key K] [--require-signed]``: exit 0 when the chain
  is intact and agrees with its signed checkpoints and the checkpoint kept in the ledger, 1 when
  it is broken (the first bad record, or what is missing, and why are printed), 2 when the
  trail, the key or the configuration cannot be read. Warnings (an unsigned trail, an unsigned
  tail) go to standard error.
- ``robot audit keygen --key-file F [--public-key-file P]``: a new Ed25519 key pair for signing
  (docs/audit.md, "Keys").
- ``robot audit show INVOICE [--file F] [--json]``: the invoice's records from start to end
  (INVOICE is a Løbenr, ``CVR:invoice number`` or an invoice number); exit 1 when there are
  none. Output is masked again before it is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from paybot.audit import AuditTrailError, format_record, mask_data, records_for, verify
from paybot.audit.anchor import Checkpoint, CheckpointStore, trail_name
from paybot.audit.signing import KeyRing, Verifier, load_verifier, new_key_pair
from paybot.config import Settings, find_home, load_settings
from paybot.errors import ConfigError, LedgerError

EXIT_OK = 0
EXIT_BROKEN = 1
EXIT_NOT_FOUND = 1
EXIT_UNREADABLE = 2


def default_audit_file() -> Path:
    """The settings' ``audit.file`` (``config/paybot.yaml``, ``PAYBOT_AUDIT_FILE``,
    ``PAYBOT_DATA_DIR``); a broken configuration is reported and stops the command."""
    return load_settings(find_home()).audit.file


def _say(text: str) -> None:
    print(text)  # noqa: T201 - this is the command's output


def _complain(text: str) -> None:
    print(text, file=sys.stderr)  # noqa: T201 - this is the command's output


def _file(args: argparse.Namespace) -> Path | None:
    given: Path | None = args.file
    if given is not None:
        return given
    try:
        return default_audit_file()
    except ConfigError as exc:
        _complain(f"robot audit: configuration error: {exc}")
        return None


def _settings() -> Settings | None:
    try:
        return load_settings(find_home())
    except ConfigError:
        return None


def _verifier(args: argparse.Namespace, settings: Settings | None) -> KeyRing | None:
    """The auditor's public keys: every ``--public-key``, else the settings'
    ``audit.public_key_file`` when that file exists. Raises :class:`ConfigError` when a given
    key cannot be read."""
    given: list[Path] | None = args.public_key
    if given:
        return load_verifier(*given)
    if settings is not None and settings.audit.public_key_file.is_file():
        return load_verifier(settings.audit.public_key_file)
    return None


def _anchor(path: Path, settings: Settings | None) -> Checkpoint | None:
    """The latest checkpoint the ledger holds for the trail at ``path`` (``None`` without a
    ledger or a checkpoint)."""
    if settings is None:
        return None
    url = settings.ledger.url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        return None
    store = CheckpointStore(url)
    try:
        return store.latest(trail_name(path))
    finally:
        store.close()


def _verify(args: argparse.Namespace) -> int:
    path = _file(args)
    if path is None:
        return EXIT_UNREADABLE
    if not path.is_file():
        _complain(f"robot audit verify: no audit trail at {path}")
        return EXIT_UNREADABLE
    settings = _settings()
    try:
        verifier = _verifier(args, settings)
        anchor = None if args.no_ledger else _anchor(path, settings)
        result = verify(
            path, verifier=verifier, anchor=anchor, require_signed=bool(args.require_signed)
        )
    except ConfigError as exc:
        _complain(f"robot audit verify: {exc}")
        return EXIT_UNREADABLE
    except (AuditTrailError, LedgerError) as exc:
        _complain(f"robot audit verify: {exc}")
        return EXIT_UNREADABLE
    for warning in result.warnings:
        _complain(f"WARNING: {warning}")
    if result.ok:
        _say(result.describe(path))
        return EXIT_OK
    _say(f"BROKEN {result.describe(path)}")
    if result.first_bad_line is not None:
        _say(f"{result.records} records before line {result.first_bad_line} are intact.")
    return EXIT_BROKEN


def _write_new(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _keygen(args: argparse.Namespace) -> int:
    key_file: Path = args.key_file
    public: Path = args.public_key_file or key_file.with_suffix(".pub.pem")
    for existing in (key_file, public):
        if existing.exists():
            _complain(
                f"robot audit keygen: {existing} exists; a new key is never written over an "
                "old one (move it away first: docs/audit.md, 'Rotating the key')"
            )
            return EXIT_UNREADABLE
    private_text, public_text = new_key_pair()
    try:
        _write_new(key_file, private_text, 0o600)
        _write_new(public, public_text, 0o644)
    except OSError as exc:
        _complain(f"robot audit keygen: cannot write ({exc})")
        return EXIT_UNREADABLE
    key = Verifier.from_text(public_text, str(public))
    _say(f"private key (keep it secret, outside the data folder): {key_file}")
    _say(f"public key (for audit.public_key_file and the auditors): {public}")
    _say(f"key id: {key.key_id}")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    path = _file(args)
    if path is None:
        return EXIT_UNREADABLE
    invoice: str = args.invoice
    if not path.is_file():
        _complain(f"robot audit show: no audit trail at {path}")
        return EXIT_UNREADABLE
    try:
        records = records_for(path, invoice)
    except AuditTrailError as exc:
        _complain(f"robot audit show: {exc}")
        return EXIT_UNREADABLE
    if not records:
        _complain(f"robot audit show: no records for invoice {invoice!r} in {path}")
        return EXIT_NOT_FOUND
    if args.json:
        for record in records:
            _say(json.dumps(mask_data(record), ensure_ascii=False, sort_keys=True))
        return EXIT_OK
    first = records[0]
    keys = sorted({str(r["business_key"]) for r in records if r.get("business_key")})
    ids = sorted({str(r["erp_id"]) for r in records if r.get("erp_id") is not None})
    robots = sorted({str(r["robot"]) for r in records if r.get("robot")})
    _say(
        f"Invoice {invoice}: Løbenr {', '.join(ids) or '-'}, business key "
        f"{', '.join(keys) or '-'}, robot {', '.join(robots) or '-'}: {len(records)} records "
        f"from {first.get('ts', '?')} ({path})"
    )
    for record in records:
        _say(format_record(record))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``robot audit verify`` and ``robot audit show``."""
    audit = subparsers.add_parser(
        "audit", help="check the audit trail and show one invoice's trail"
    )
    actions = audit.add_subparsers(dest="audit_action", metavar="ACTION")

    def usage(_args: argparse.Namespace) -> int:
        audit.print_help()
        return EXIT_UNREADABLE

    audit.set_defaults(handler=usage)
    file_help = "the audit trail (default: settings audit.file, data/audit/audit.jsonl)"

    check = actions.add_parser(
        "verify", help="check the hash chain; exit 1 and name the first bad line when broken"
    )
    check.add_argument("--file", type=Path, default=None, help=file_help)
    check.add_argument(
        "--public-key",
        type=Path,
        action="append",
        default=None,
        help="a file with the robot's public key(s); repeat for keys rotated out "
        "(default: settings audit.public_key_file)",
    )
    check.add_argument(
        "--require-signed",
        action="store_true",
        help="an unsigned trail is broken (exit 1), not a warning",
    )
    check.add_argument(
        "--no-ledger",
        action="store_true",
        help="do not compare with the checkpoint kept in the ledger (a copied trail)",
    )
    check.set_defaults(handler=_verify)

    keygen = actions.add_parser(
        "keygen", help="create a key pair for signing the trail (never overwrites)"
    )
    keygen.add_argument(
        "--key-file", type=Path, required=True, help="where the private key goes (mode 0600)"
    )
    keygen.add_argument(
        "--public-key-file",
        type=Path,
        default=None,
        help="where the public key goes (default: KEY_FILE with .pub.pem)",
    )
    keygen.set_defaults(handler=_keygen)

    show = actions.add_parser("show", help="one invoice's records, start to end")
    show.add_argument("invoice", help="Løbenr, CVR:invoice number, or invoice number")
    show.add_argument("--file", type=Path, default=None, help=file_help)
    show.add_argument("--json", action="store_true", help="one JSON record a line")
    show.set_defaults(handler=_show)
