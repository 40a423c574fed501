"""``robot erp ...``: the mock finance system's commands.

Thin: parse the command line, call the module that does the work, turn the outcome into an exit
code. 0 = done; 1 = ``import`` rejected a file; 2 = usage error (the message names the file or
value). Passwords are never printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from mockerp.faults import FIELDS, FaultSettingError, settings_from

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2

DEFAULT_USERS_FILE = "mockerp-users.json"


class UsageError(Exception):
    """A bad command line or a missing file: one line naming it, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _err(line: str) -> None:
    print(line, file=sys.stderr)


# --- argument types ------------------------------------------------------------------------


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a share between 0 and 1")
    return value


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535)")
    return value


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


# --- database files ------------------------------------------------------------------------


def _db_in_existing_folder(path: Path) -> Path:
    if not path.parent.is_dir():
        raise UsageError(f"{path}: the folder {path.parent} does not exist")
    return path


def _existing_db(path: Path) -> Path:
    _db_in_existing_folder(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such database (create one with 'robot erp seed')")
    return path


def _open(path: Path) -> sqlite3.Connection:
    from mockerp import db

    try:
        return db.connect(path)
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path}: not a finance system database ({exc})") from exc


# --- commands ------------------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace) -> int:
    from mockerp.server import ServeError, serve

    db_path = _db_in_existing_folder(args.db)
    overrides = {f.name: getattr(args, f.name) for f in FIELDS}
    try:
        faults = settings_from(os.environ, overrides)
        idle = args.session_idle_minutes
        if idle is None:
            raw = os.environ.get("MOCKERP_SESSION_IDLE_MINUTES", "").strip()
            idle = _positive_int(raw) if raw else 15
    except FaultSettingError as exc:
        raise UsageError(f"robot erp serve: {exc}") from exc
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"robot erp serve: MOCKERP_SESSION_IDLE_MINUTES {exc}") from exc
    if faults.seed is None:  # a random seed, shown so that a failing run can be replayed
        faults = faults.replace(seed=secrets.randbelow(2**31))
    if faults.active:
        print(f"mockerp faults: {faults.describe()}", flush=True)
    try:
        serve(
            db_path,
            "127.0.0.1",
            args.port,
            args.ready_file,
            faults,
            session_idle_minutes=idle,
            renamed_ids=tuple(args.rename_id or ()),
            announce=lambda line: print(line, flush=True),
        )
    except ServeError as exc:
        raise UsageError(f"robot erp serve: {exc}") from exc
    return EXIT_OK


def _cmd_import(args: argparse.Namespace) -> int:
    from mockerp.oioubl import import_paths

    db_path = _db_in_existing_folder(args.db)
    for path in args.paths:
        if not path.exists():
            raise UsageError(f"robot erp import: {path}: no such file or folder")
    conn = _open(db_path)
    try:
        report = import_paths(conn, list(args.paths))
    finally:
        conn.close()
    for line in report.lines():
        print(line)
    return EXIT_OK if report.ok else EXIT_REJECTED


def _cmd_seed(args: argparse.Namespace) -> int:
    from mockerp.seed import seed
    from mockerp.users import UsersFileError

    db_path: Path = _db_in_existing_folder(args.db)
    beside = db_path.parent
    try:
        result = seed(
            db_path,
            invoices=args.invoices,
            seed=args.seed,
            truth_path=args.truth or beside / f"{db_path.stem}.truth.json",
            xml_dir=args.xml_dir or beside / f"{db_path.stem}-oioubl",
            users_path=args.users or beside / DEFAULT_USERS_FILE,
            base_date=args.base_date,
        )
    except (OSError, ValueError, UsersFileError) as exc:
        raise UsageError(f"robot erp seed: {exc}") from exc
    for line in result.summary_lines():
        print(line)
    return EXIT_OK


def _cmd_reset(args: argparse.Namespace) -> int:
    from mockerp import db

    conn = _open(_existing_db(args.db))
    try:
        db.reset_business_data(conn)
    finally:
        conn.close()
    print(f"{args.db}: business data deleted; users and chart of accounts kept")
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from mockerp.truth_check import compare_files

    db_path = _existing_db(args.db)
    truth = args.truth or db_path.parent / f"{db_path.stem}.truth.json"
    if not truth.is_file():
        raise UsageError(f"{truth}: no ground truth file (made by 'robot erp seed')")
    report = compare_files(db_path, truth, set(args.category or ()) or None)
    for line in report.lines():
        print(line)
    return EXIT_OK if report.ok else 1


def _cmd_users(args: argparse.Namespace) -> int:
    from mockerp.auth import unlock

    conn = _open(_existing_db(args.db))
    try:
        if args.unlock:
            if not unlock(conn, args.unlock):
                raise UsageError(f"robot erp users: {args.db}: no user {args.unlock!r}")
            print(f"{args.unlock}: unlocked")
            return EXIT_OK
        rows = conn.execute(
            "SELECT username, role, full_name, failed_logins, locked_at FROM users"
            " ORDER BY username"
        ).fetchall()
    finally:
        conn.close()
    if not rows:
        print(f"{args.db}: no users (create them with 'robot erp seed')")
        return EXIT_OK
    width = max(len(r["username"]) for r in rows)
    print(f"{'user':<{width}}  {'role':<6}  {'locked':<6}  name")
    for r in rows:
        locked = "yes" if r["locked_at"] else "no"
        print(f"{r['username']:<{width}}  {r['role']:<6}  {locked:<6}  {r['full_name']}")
    return EXIT_OK


# --- the parser ----------------------------------------------------------------------------


def _fault_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "fault injection (off by default; each flag also reads its environment variable)"
    )
    kinds: dict[str, Callable[[str], object]] = {
        "latency_ms": _non_negative_int,
        "error_rate": _share,
        "session_expiry_requests": _non_negative_int,
        "system_message_rate": _share,
        "slow_rate": _share,
        "slow_ms": _non_negative_int,
        "lost_answer_rate": _share,
        "seed": int,
    }
    for f in FIELDS:
        group.add_argument(
            f.flag, dest=f.name, type=kinds[f.name], default=None, help=f"(env {f.env})"
        )
    group.add_argument(
        "--session-idle-minutes",
        type=_positive_int,
        default=None,
        help="idle timeout of a session, default 15 (env MOCKERP_SESSION_IDLE_MINUTES)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="robot erp",
        description="The mock finance system (Økonomisystem) for development, demos and "
        "tests: serve it, seed or reset its database, import OIOUBL files, compare the "
        "outcomes with the seed's ground truth, list or unlock users.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "serve",
        help="serve the web app on http://127.0.0.1:PORT",
        description="Serve the mock finance system on 127.0.0.1:PORT (waitress) from the "
        "database DB until SIGTERM or Ctrl-C; fault flags make it misbehave on purpose "
        "(docs/finance-system.md).",
    )
    p.add_argument("--port", type=_port, required=True, help="0 picks a free port")
    p.add_argument("--db", type=Path, required=True, help="the database file")
    p.add_argument("--ready-file", type=Path, help="write the address here once listening")
    p.add_argument(
        "--rename-id",
        action="append",
        metavar="ID",
        help="simulate a changed user interface: element id ID becomes ID-v2 (repeatable)",
    )
    _fault_flags(p)
    p.set_defaults(handler=_cmd_serve)

    p = sub.add_parser(
        "import",
        help="import OIOUBL invoice and credit note files",
        description="Import OIOUBL invoices and credit notes (files, or folders of them) into "
        "the inbox of the database DB, as the finance system's own import would; prints "
        "one line per file.",
    )
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="files or folders")
    p.set_defaults(handler=_cmd_import)

    p = sub.add_parser(
        "seed",
        help="a fresh database with deterministic demo data",
        description="Create a fresh database with users, chart of accounts, reference data "
        "and N new invoices (plus history) from the seed S, the same every time, with a "
        "ground truth of what the robots should decide (.truth.json).",
    )
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--invoices", type=_non_negative_int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--truth", type=Path, help="default: <db stem>.truth.json beside the db")
    p.add_argument("--xml-dir", type=Path, help="default: <db stem>-oioubl/ beside the db")
    p.add_argument("--users", type=Path, help=f"default: {DEFAULT_USERS_FILE} beside the db")
    p.add_argument("--base-date", type=_iso_date, help="YYYY-MM-DD, default today")
    p.set_defaults(handler=_cmd_seed)

    p = sub.add_parser(
        "reset",
        help="delete business data; keep users and chart of accounts",
        description="Delete the invoices, payments and reference data of the database DB; "
        "users and the chart of accounts stay.",
    )
    p.add_argument("--db", type=Path, required=True)
    p.set_defaults(handler=_cmd_reset)

    p = sub.add_parser(
        "compare",
        help="compare the invoices' outcomes with the seed's ground truth (exit 1 on a mismatch)",
        description="Compare every invoice's outcome in the database (paid with which amount "
        "and account, or handed over with which reason) with the seed's ground truth; list "
        "the differences and exit 1 when there are any.",
    )
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--truth", type=Path, help="default: <db stem>.truth.json beside the db")
    p.add_argument(
        "--category",
        action="append",
        choices=("laegeerklaering", "tolk", "oevrige"),
        help="only this category (repeatable); default: all",
    )
    p.set_defaults(handler=_cmd_compare)

    p = sub.add_parser(
        "users",
        help="list users, or unlock one",
        description="List the users of the database DB (name, role, locked or not), or with "
        "--unlock USER unlock one after too many failed logins.",
    )
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--unlock", metavar="USER")
    p.set_defaults(handler=_cmd_users)
    return parser


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
