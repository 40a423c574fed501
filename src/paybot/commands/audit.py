"""``robot audit``: check the audit trail, read one invoice's part of it, export it.

- ``robot audit verify [--file F] [--public-key K] [--require-signed]``: exit 0 when the chain
  is intact and agrees with its signed checkpoints and the checkpoint kept in the ledger, 1 when
  it is broken (the first bad record, or what is missing, and why are printed), 2 when the
  trail, the key or the configuration cannot be read. Warnings (an unsigned trail, an unsigned
  tail) go to standard error.
- ``robot audit keygen --key-file F [--public-key-file P]``: a new Ed25519 key pair for signing
  (docs/audit.md, "Keys").
- ``robot audit show INVOICE [--file F] [--json] [--run RUN_ID] [--robot R] [--since DATE]
  [--until DATE]``: every record of the invoice, from the collection that read it to its last
  record (INVOICE is a Løbenr, ``CVR:invoice number`` or an invoice number; see
  ``paybot.audit.show``), under a header with the count and the first and last time (Copenhagen
  time with offset). Exit 1 when no invoice fits, or several do and none exactly (they are
  listed on stderr); 2 when the trail cannot be read or a date is bad. Output is masked again
  before it is printed; a reader that goes away (``| head``) ends it quietly.
- ``robot audit export --out FILE [--format csv|xlsx] [--file F] [filters as for show]``: the
  selected records, masked, one row each, with the trail's verification (see
  ``paybot.audit.export``). Exit 0; 1 when the verification failed (the file is written and
  says so); 2 on bad input, nothing written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from paybot.audit import AuditTrailError, verify
from paybot.audit.anchor import Checkpoint, trail_name
from paybot.audit.export import (
    FORMATS,
    SEPARATORS,
    export,
    verification_summary,
)
from paybot.audit.open import ledger_checkpoints
from paybot.audit.show import (
    Candidate,
    Filters,
    choose,
    find_invoices,
    format_record,
    invoice_records,
    masked_record,
    shown_time,
)
from paybot.audit.signing import KeyRing, Verifier, load_verifier, new_key_pair
from paybot.audit.verify import first_record_hash
from paybot.config import Settings, find_home, load_settings
from paybot.domain.calendar import parse_danish_moment
from paybot.errors import ConfigError, LedgerError, UsageError
from paybot.exit_codes import EXIT_AUDIT_BROKEN, EXIT_AUDIT_NOT_FOUND, EXIT_OK, EXIT_USAGE


def default_audit_file() -> Path:
    """The settings' ``audit.file`` (``config/paybot.yaml``, ``PAYBOT_AUDIT_FILE``,
    ``PAYBOT_DATA_DIR``); a broken configuration is reported and stops the command."""
    return load_settings(find_home()).audit.file


def _say(text: str) -> None:
    print(text)  # noqa: T201 - this is the command's output


def _complain(text: str) -> None:
    print(text, file=sys.stderr)  # noqa: T201 - this is the command's output


def _file(args: argparse.Namespace, *, must_exist: bool = True) -> Path:
    """``--file``, else the settings' ``audit.file``. Raises :class:`ConfigError` for broken
    settings, :class:`AuditTrailError` (exit 2) when ``must_exist`` and there is no trail."""
    given: Path | None = args.file
    path = given if given is not None else default_audit_file()
    if must_exist and not path.is_file():
        raise AuditTrailError(f"no audit trail at {path}")
    return path


def _settings() -> Settings | None:
    """The project's settings; ``None`` outside a project (an auditor with a copied trail and
    the public key). A project whose settings are broken raises :class:`ConfigError`."""
    try:
        home = find_home()
    except ConfigError:
        return None
    return load_settings(home)


def _verifier(args: argparse.Namespace, settings: Settings | None) -> KeyRing | None:
    """The auditor's public keys: every ``--public-key``, else the settings'
    ``audit.public_key_file`` when that file exists. Raises :class:`ConfigError` when a given
    key cannot be read."""
    given: list[Path] | None = args.public_key
    if given:
        return load_verifier(*given)
    if settings is None:
        return None
    configured = settings.audit.public_key_file
    if configured.is_file():
        return load_verifier(configured)
    if configured != settings.home / "config" / "audit-public-key.pem":
        raise ConfigError(str(configured), "audit.public_key_file", str(configured), "no such file")
    return None


def _anchor(path: Path, settings: Settings | None) -> Checkpoint | None:
    """The latest checkpoint the ledger holds for the trail at ``path`` (``None`` without a
    ledger or a checkpoint)."""
    if settings is None:
        return None
    try:
        first = first_record_hash(path)
    except AuditTrailError:
        # A first line changed so that it is no record any more: verify names it (exit 1),
        # or says the file is no trail at all (exit 2). Either way there is no checkpoint
        # to look up by the trail's first hash.
        return None
    store = ledger_checkpoints(settings)
    if store is None:
        return None
    try:
        return store.anchor_for(trail_name(path, settings.machine_name), first)
    except LedgerError as exc:  # the checkpoint is part of what is checked: it cannot be read
        raise AuditTrailError(f"the ledger's checkpoint for {path}: {exc}") from exc
    finally:
        store.close()


def _verify(args: argparse.Namespace) -> int:
    path = _file(args)
    settings = _settings()
    verifier = _verifier(args, settings)
    anchor = None if args.no_ledger else _anchor(path, settings)
    result = verify(
        path, verifier=verifier, anchor=anchor, require_signed=bool(args.require_signed)
    )
    for warning in result.warnings:
        _complain(f"WARNING: {warning}")
    if result.ok and anchor is None and not args.no_ledger and result.checkpoints:
        _complain(
            "WARNING: the ledger holds no checkpoint for this trail, so records cut off its "
            "end or a rollback to an older copy cannot be seen (another host, a copied trail, "
            "or the ledger's checkpoints were removed)"
        )
        if args.require_signed:
            _say(f"BROKEN {path}: no checkpoint in the ledger to compare the trail's end with")
            return EXIT_AUDIT_BROKEN
    if result.ok:
        _say(result.describe(path))
        return EXIT_OK
    _say(f"BROKEN {result.describe(path)}")
    if result.first_bad_line is not None:
        _say(
            f"{result.records} records before line {result.first_bad_line} are chained intact; "
            f"the records up to seq {result.signed_through} are covered by a valid signature "
            "(what follows it, up to the bad record, cannot be vouched for)."
            if result.signed_through
            else f"{result.records} records before line {result.first_bad_line} are chained "
            "intact; none is covered by a valid signature."
        )
    return EXIT_AUDIT_BROKEN


def _write_new(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.fchmod(fd, mode)  # exactly ``mode``: the process umask (077) would close the public key
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _keygen(args: argparse.Namespace) -> int:
    key_file: Path = args.key_file
    public: Path = args.public_key_file or key_file.with_suffix(".pub.pem")
    if key_file.absolute() == public.absolute():
        raise UsageError("the private and the public key need two different files")
    for existing in (key_file, public):
        if existing.exists():
            raise UsageError(
                f"{existing} exists; a new key is never written over an old one (move it "
                "away first: docs/audit.md, 'Rotating the key')"
            )
    private_text, public_text = new_key_pair()
    try:
        _write_new(key_file, private_text, 0o600)
        _write_new(public, public_text, 0o644)
    except OSError as exc:
        raise UsageError(f"cannot write ({exc})") from exc
    key = Verifier.from_text(public_text, str(public))
    _say(f"private key (keep it secret, outside the data folder): {key_file}")
    _say(f"public key (for audit.public_key_file and the auditors): {public}")
    _say(f"key id: {key.key_id}")
    return EXIT_OK


def _filters(args: argparse.Namespace) -> Filters:
    """``--run``, ``--robot``, ``--since``, ``--until`` (dates in Copenhagen time; ``--until``
    with a date alone takes that whole day); a bad date raises :class:`UsageError`."""
    moments: dict[str, dt.datetime | None] = {}
    for name in ("since", "until"):
        text: str | None = getattr(args, name, None)
        try:
            moments[name] = (
                None if text is None else parse_danish_moment(text, end_of_day=name == "until")
            )
        except ValueError as exc:
            raise UsageError(f"--{name}: {exc}") from exc
    return Filters(
        run_id=getattr(args, "run", None),
        robot=getattr(args, "robot", None),
        since=moments["since"],
        until=moments["until"],
    )


def _show(args: argparse.Namespace) -> int:
    invoice: str = args.invoice
    filters = _filters(args)
    path = _file(args)
    candidates = find_invoices(path, invoice, filters)
    chosen = choose(candidates)
    records = [] if chosen is None else invoice_records(path, chosen, filters)
    within = f" ({filters.describe()})" if filters.active else ""
    if not candidates:
        _complain(f"robot audit show: no records for invoice {invoice!r}{within} in {path}")
        return EXIT_AUDIT_NOT_FOUND
    if chosen is None:
        _complain(
            f"robot audit show: {invoice!r} names {len(candidates)} invoices{within}; "
            "name one by its CVR:invoice number, or by Løbenr with --robot:"
        )
        for candidate in candidates:
            _complain(f"  {candidate.describe()}")
        return EXIT_AUDIT_NOT_FOUND
    others = [c for c in candidates if c is not chosen]
    if args.json:
        for record in records:
            _say(json.dumps(masked_record(record), ensure_ascii=False, sort_keys=True))
    else:
        _say(_header(chosen, records, filters, path))
        for record in records:
            _say(format_record(record))
    for other in others:
        _complain(f"robot audit show: {invoice!r} also names, less exactly: {other.describe()}")
    return EXIT_OK


def _header(invoice: Candidate, records: list[dict[str, Any]], filters: Filters, path: Path) -> str:
    """``Invoice 20433213:F-00017 (Løbenr 17, robot R): 7 records from … to …, runs …``."""
    name = invoice.business_key or f"Løbenr {invoice.erp_id}"
    ids = f"Løbenr {invoice.erp_id}, " if invoice.business_key and invoice.erp_id else ""
    runs = sorted({str(r["run_id"]) for r in records if r.get("run_id")})
    span = f" from {shown_time(records[0])} to {shown_time(records[-1])}" if records else ""
    within = f" ({filters.describe()})" if filters.active else ""
    return (
        f"Invoice {name} ({ids}robot {invoice.robot or '-'}): {len(records)} records{within}"
        f"{span}; runs {', '.join(runs) or '-'}; {path}"
    )


def _export(args: argparse.Namespace) -> int:
    path = _file(args, must_exist=False)  # export names a missing trail itself
    filters = _filters(args)
    settings = _settings()
    keys = _verifier(args, settings)
    anchor = _anchor(path, settings) if path.is_file() else None

    def summarize(trail: Path) -> tuple[str, str]:
        return verification_summary(trail, keys=keys, anchor=anchor)

    result = export(
        path,
        args.out,
        args.format,
        filters,
        separator=SEPARATORS[args.separator],
        summarize=summarize,
    )
    span = f" (seq {result.first_seq} to {result.last_seq})" if result.rows else ""
    _say(f"{result.out}: {result.rows} records{span}, owner-only (0600)")
    _say(f"verification: {result.verification}")
    _say(f"checkpoint: {result.checkpoint}")
    return EXIT_OK if result.verification.startswith("intact") else EXIT_AUDIT_BROKEN


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", metavar="RUN_ID", default=None, help="only this run's records")
    parser.add_argument("--robot", default=None, help="only this robot's records")
    parser.add_argument(
        "--since",
        metavar="DATE",
        default=None,
        help="from this date (YYYY-MM-DD, or 'YYYY-MM-DD HH:MM'; Copenhagen time)",
    )
    parser.add_argument(
        "--until",
        metavar="DATE",
        default=None,
        help="up to and including this date (with a time: before that time; Copenhagen time)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``robot audit verify``, ``robot audit show`` and ``robot audit export``."""
    audit = subparsers.add_parser(
        "audit",
        help="check the audit trail, show one invoice's trail, export it",
        description="The audit trail: masked, hash-chained and signed JSON lines of everything "
        "the robots did (docs/audit.md). verify checks it, show prints one invoice's records, "
        "export writes them for an auditor, keygen makes the signing key.",
    )
    actions = audit.add_subparsers(dest="action", metavar="ACTION")

    def usage(_args: argparse.Namespace) -> int:
        audit.print_help()
        return EXIT_USAGE

    audit.set_defaults(handler=usage)
    file_help = "the audit trail (default: settings audit.file, data/audit/audit.jsonl)"

    check = actions.add_parser(
        "verify",
        help="check the hash chain; exit 1 and name the first bad line when broken",
        description="Check the whole trail: every record's hash and link to the one before, "
        "the robot's signatures and the checkpoint kept in the ledger. Exit 0 when it "
        "verifies; exit 1 naming the first record that was changed, inserted, deleted or "
        "moved, or what is missing at the end.",
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
        "keygen",
        help="create a key pair for signing the trail (never overwrites)",
        description="Create a new Ed25519 key pair for signing the audit trail: the private "
        "key (mode 0600) for the robots, the public key for the auditors. An existing file "
        "is never overwritten.",
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

    show = actions.add_parser(
        "show",
        help="one invoice's whole trail, from collection to voucher",
        description="Every record of one invoice, from the collection that read it to its "
        "last record, times in Copenhagen time. Exit 1 when no invoice fits INVOICE, or "
        "several do (they are listed); 2 when the trail cannot be read or a date is bad.",
    )
    show.add_argument("invoice", help="Løbenr, CVR:invoice number, or invoice number")
    show.add_argument("--file", type=Path, default=None, help=file_help)
    show.add_argument("--json", action="store_true", help="one JSON record a line")
    _add_filters(show)
    show.set_defaults(handler=_show)

    out = actions.add_parser(
        "export",
        help="the trail, masked, as CSV or XLSX for an auditor, with its verification",
        description="One row per record (masked; times in Copenhagen time) for a period or a "
        "run, with the verification of the whole trail and the checkpoint it was checked "
        "against. The file is created owner-only (0600). Exit 0; 1 when the trail's "
        "verification failed (the file is written, and says so); 2 on bad input (no trail, an "
        "output that cannot be written, a bad date), with nothing written.",
    )
    out.add_argument("--out", type=Path, required=True, metavar="FILE", help="the file to write")
    out.add_argument(
        "--format", choices=FORMATS, default=None, help="csv or xlsx (default: FILE's suffix)"
    )
    out.add_argument(
        "--separator",
        choices=sorted(SEPARATORS),
        default="semicolon",
        help="a CSV's cell separator (default: semicolon, as Excel with Danish settings reads)",
    )
    out.add_argument("--file", type=Path, default=None, help=file_help)
    out.add_argument(
        "--public-key",
        type=Path,
        action="append",
        default=None,
        help="the robot's public key(s) to verify with (default: settings audit.public_key_file)",
    )
    _add_filters(out)
    out.set_defaults(handler=_export)
