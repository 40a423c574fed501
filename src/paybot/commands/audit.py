"""``robot audit``: check the audit trail and read one invoice's part of it.

- ``robot audit verify [--file F]``: exit 0 when the chain is intact, 1 when it is broken
  (the first bad line and why are printed), 2 when the file cannot be read.
- ``robot audit show INVOICE [--file F] [--json]``: the invoice's records from start to end
  (INVOICE is a Løbenr, ``CVR:invoice number`` or an invoice number); exit 1 when there are
  none. Output is masked again before it is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from paybot.audit import AuditTrailError, format_record, mask_data, records_for, verify
from paybot.config import find_home, load_settings
from paybot.errors import ConfigError

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


def _verify(args: argparse.Namespace) -> int:
    path = _file(args)
    if path is None:
        return EXIT_UNREADABLE
    if not path.is_file():
        _complain(f"robot audit verify: no audit trail at {path}")
        return EXIT_UNREADABLE
    try:
        result = verify(path)
    except AuditTrailError as exc:
        _complain(f"robot audit verify: {exc}")
        return EXIT_UNREADABLE
    if result.ok:
        _say(result.describe(path))
        return EXIT_OK
    _say(f"BROKEN {result.describe(path)}")
    _say(f"{result.records} records before line {result.first_bad_line} are intact.")
    return EXIT_BROKEN


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
    check.set_defaults(handler=_verify)

    show = actions.add_parser("show", help="one invoice's records, start to end")
    show.add_argument("invoice", help="Løbenr, CVR:invoice number, or invoice number")
    show.add_argument("--file", type=Path, default=None, help=file_help)
    show.add_argument("--json", action="store_true", help="one JSON record a line")
    show.set_defaults(handler=_show)
