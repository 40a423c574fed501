"""``robot console``: the web console, and its users.

- ``robot console [--host 127.0.0.1] [--port 8470] [--ready-file F] [--idle-minutes 15]``:
  serve it until SIGTERM/SIGINT. Exit 0 stopped; 2 a configuration error or the port is taken.
- ``robot console user add NAME --role viewer|operator|auditor``: a new user;
  ``robot console user password NAME``: a new password (the user's sessions end);
  ``robot console user remove NAME``; ``robot console user unlock NAME`` (forget failed
  logins); ``robot console user list``. The password is read from the environment variable
  ``PAYBOT_CONSOLE_PASSWORD``, else from standard input with ``--password-stdin`` (one line),
  else asked for twice at the terminal; never from the command line. Exit 0 done; 2 a bad
  name, role or password, or no such user.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import NoReturn

from paybot.commands.output import say
from paybot.config import find_home, load_settings
from paybot.console.users import Role, UserError, UserStore
from paybot.exit_codes import EXIT_OK

ENV_PASSWORD = "PAYBOT_CONSOLE_PASSWORD"  # noqa: S105 - a variable's name


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is 0 to 65535")
    return value


def _minutes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1 minute")
    return value


class _NoEchoParser(argparse.ArgumentParser):
    """The parser of ``robot console user WHAT``: an argument it does not understand (a
    password typed after ``--password``, say) is refused without being printed back, since
    standard error ends up in journals and CI logs."""

    def parse_known_args(  # type: ignore[override]
        self, args: list[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ns, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error("unexpected arguments")
        return ns, extra

    def error(self, message: str) -> NoReturn:
        if not message.startswith(("the following arguments are required", "argument --role:")):
            message = (
                "arguments not understood (not shown, in case one is a password); a password "
                f"is never an argument: set {ENV_PASSWORD}, give --password-stdin, or type it "
                "at the prompt"
            )
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from paybot.console.server import DEFAULT_PORT

    p = subparsers.add_parser(
        "console",
        help="the web console for the finance team, operators and auditors",
        description="Serve the web console (overview, runs, queue, an invoice's trail, "
        "schedule, exports) on http://HOST:PORT until SIGTERM, or manage its users "
        "('robot console user --help'). Exit codes: 0 stopped; 2 configuration error or the "
        "port is in use.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT}; 0 = a free one)"
    )
    p.add_argument("--ready-file", metavar="FILE", help="write the address here once listening")
    p.add_argument(
        "--idle-minutes", type=_minutes, default=15, help="log out after this long unused (15)"
    )
    actions = p.add_subparsers(dest="console_action", metavar="ACTION")
    user = actions.add_parser(
        "user",
        help="add, change, remove, unlock or list the console's users",
        description="The console's local users. Passwords come from PAYBOT_CONSOLE_PASSWORD, "
        "--password-stdin, or a prompt; never from the command line. Exit codes: 0 done; 2 a "
        "bad name, role or password, or no such user.",
    )
    what = user.add_subparsers(
        dest="user_action", metavar="WHAT", required=True, parser_class=_NoEchoParser
    )
    add = what.add_parser(
        "add",
        allow_abbrev=False,  # "--password" is not "--password-stdin"
        help="a new user with a role",
        description="Add a console user with a role: viewer reads, operator also releases "
        "and hands over invoices and pauses robots, auditor also reads the audit trail and "
        "exports it. The password comes from PAYBOT_CONSOLE_PASSWORD, --password-stdin or a "
        "prompt. Exit 0 added; 2 a bad name, role or password, or the user exists.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    pw = what.add_parser(
        "password",
        allow_abbrev=False,
        help="a new password; the user's sessions end",
        description="Give a console user a new password (from PAYBOT_CONSOLE_PASSWORD, "
        "--password-stdin or a prompt); the user's open sessions end and failed logins are "
        "forgotten. Exit 0 done; 2 no such user or a bad password.",
    )
    pw.add_argument("name", metavar="NAME")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    what.add_parser(
        "remove",
        help="remove a user",
        description="Remove a console user; their open sessions end at their next request. "
        "Exit 0 removed; 2 no such user.",
    ).add_argument("name", metavar="NAME")
    what.add_parser(
        "unlock",
        help="forget a user's failed logins",
        description="Forget a name's failed logins, so a user locked out after repeated "
        "wrong passwords can log in again at once. Exit 0.",
    ).add_argument("name", metavar="NAME")
    what.add_parser(
        "list",
        help="the users and their roles",
        description="List the console's users with their roles, when they were added, and "
        "who is locked out now. Exit 0.",
    )
    p.set_defaults(handler=cmd_console)


def warn(text: str) -> None:
    sys.stderr.write(f"robot console: {text}\n")


def read_password(from_stdin: bool) -> str:
    """The new password (see the module). Raises :class:`UserError` when none can be read or
    the two typed at the prompt differ."""
    given = os.environ.get(ENV_PASSWORD)
    if given:
        return given
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError(
            f"no password: set {ENV_PASSWORD}, give --password-stdin, or run at a terminal"
        )
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise UserError("the two passwords differ")
    return first


def _users(ns: argparse.Namespace, store: UserStore) -> int:
    action: str = ns.user_action
    if action == "list":
        found = store.users()
        for u in found:
            locked = store.locked_until(u.name)
            extra = f"  locked until {locked:%Y-%m-%d %H:%M} UTC" if locked else ""
            say(f"{u.name:<20} {u.role.value:<9} since {u.created_at:%Y-%m-%d}{extra}")
        if not found:
            say("no users yet: robot console user add NAME --role viewer|operator|auditor")
        return EXIT_OK
    name: str = ns.name
    if action == "add":
        store.add(name, Role(ns.role), read_password(ns.password_stdin))
        say(f"{name}: added as {ns.role}")
    elif action == "password":
        if store.get(name) is None:
            raise UserError(f"no user {name!r}")
        store.set_password(name, read_password(ns.password_stdin))
        say(f"{name}: new password; open sessions are ended")
    elif action == "remove":
        store.remove(name)
        say(f"{name}: removed")
    else:
        count = store.unlock(name)
        say(f"{name}: unlocked ({count} failed logins forgotten)")
    return EXIT_OK


def cmd_console(ns: argparse.Namespace) -> int:
    """Serve the console, or manage its users. Errors (a configuration error, a bad user
    name or password, a port in use) are raised and reported by ``robot``'s main (exit 2)."""
    home = find_home()
    settings = load_settings(home)
    if ns.console_action == "user":
        return _users(ns, UserStore(settings.data_dir))
    from paybot.console.server import serve
    from paybot.logs import configure_logging

    configure_logging()  # JSON lines under systemd (PAYBOT_LOG_FORMAT), see paybot.logs
    if ns.host not in ("127.0.0.1", "localhost", "::1"):
        warn(
            f"WARNING: listening on {ns.host}: the console speaks plain HTTP; put it behind a "
            "reverse proxy with TLS (docs/console.md)"
        )
    if not UserStore(settings.data_dir).users():
        warn("no users yet: add one with 'robot console user add NAME --role operator'")
    serve(
        home,
        ns.host,
        ns.port,
        Path(ns.ready_file) if ns.ready_file else None,
        idle_minutes=ns.idle_minutes,
    )
    return EXIT_OK
