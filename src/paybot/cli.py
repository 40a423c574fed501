"""The ``robot`` command (also ``paybot`` and ``python -m paybot``).

Thin: it parses the command line, hands the work to the module that owns it and turns the
outcome into an exit code (:mod:`paybot.exit_codes`, the README's table). A command returns
its code, or raises a :class:`~paybot.errors.PaybotError`: the one handler in :func:`main`
prints the error's sentence (``robot audit verify: configuration error: …``; a JSON line in
JSON log mode) and exits with the error's ``exit_code``, never with a traceback. Commands do
not catch paybot's errors to choose a code themselves.

Robot Framework installs a ``robot`` script too; ours replaces it. What looks like Robot
Framework's arguments (``robot tests/``, ``robot --outputdir out suite.robot``: an option, a
``.robot`` file, an existing file or folder) is handed to Robot Framework unchanged, so neither
is lost; any other unknown word is a typo of ours, answered with the nearest command (exit 2).
``robot --version`` is paybot's; ``robot rf ARGS`` always goes to Robot Framework, e.g.
``robot rf --version``.

More commands come from installed packages through the ``paybot.commands`` entry-point group
(the mock finance system registers ``erp`` that way, so paybot never imports it).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, cast

from paybot import __version__
from paybot.errors import PaybotError, UsageError
from paybot.exit_codes import EXIT_OK, EXIT_USAGE
from paybot.logs import JSON, check_log_format, json_line, log_format
from paybot.private import restrict_umask


class CommandModule(Protocol):
    """A module that adds subcommands: ``register`` adds parsers and sets ``handler``."""

    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add the module's subcommands to ``subparsers``; each sets ``handler`` (a function of
        the parsed arguments that returns an exit code or raises a PaybotError).

        Returns: nothing.
        Raises: ``argparse.ArgumentError`` for a subcommand name already taken.
        Repeat: not safe: a second call on the same parser adds the names twice.
        """
        ...


# Our own command modules; each registers one or more subcommands.
COMMAND_MODULES: tuple[str, ...] = (
    "paybot.commands.run",
    "paybot.commands.audit",
    "paybot.commands.scheduling",
    "paybot.commands.status",
    "paybot.commands.queue",
    "paybot.commands.report",
    "paybot.commands.db",
    "paybot.commands.console",
)

Handler = Callable[[argparse.Namespace], int]
PluginMain = Callable[[Sequence[str]], int]


def _plugins() -> dict[str, PluginMain]:
    """Subcommands contributed by other installed packages (``paybot.commands`` group)."""
    found: dict[str, PluginMain] = {}
    for ep in entry_points(group="paybot.commands"):
        found[ep.name] = ep.load()
    return found


def build_parser() -> tuple[argparse.ArgumentParser, set[str]]:
    parser = argparse.ArgumentParser(
        prog="robot",
        description=(
            "paybot: robots that pay routine invoices. Robot Framework's arguments (an "
            "option, a .robot file, a file or folder) are handed to Robot Framework; "
            "'robot rf ARGS' always goes there (see 'robot rf --help')."
        ),
    )
    parser.add_argument(
        "--version",
        "--paybot-version",
        action="version",
        version=f"paybot {__version__}",
        help="paybot's version ('robot rf --version' gives Robot Framework's)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = cast("CommandModule", importlib.import_module(name))
        module.register(sub)
    plugin_names = set(_plugins())
    for plugin in sorted(plugin_names):
        sub.add_parser(
            plugin, help=f"{plugin} commands (see 'robot {plugin} --help')", add_help=False
        )
    sub.add_parser(
        "rf", help="hand the rest of the command line to Robot Framework", add_help=False
    )
    return parser, set(sub.choices)


def run_robot_framework(argv: Sequence[str]) -> int:
    """Robot Framework's own ``robot`` command, exactly as its script would run it."""
    from robot import run_cli

    return int(run_cli(list(argv), exit=False))


OUR_OPTIONS = frozenset({"-h", "--help", "--version", "--paybot-version"})


def for_robot_framework(word: str) -> bool:
    """True when ``word`` (the first argument, not one of our commands) looks like Robot
    Framework's: an option, a ``.robot`` file or an existing file or folder."""
    return word.startswith("-") or word.endswith(".robot") or Path(word).exists()


def unknown_command(word: str, ours: set[str]) -> UsageError:
    """``robot lst``: the error that names the nearest command (difflib), exit 2."""
    near = difflib.get_close_matches(word, sorted(ours), n=1, cutoff=0.5)
    hint = f"; did you mean 'robot {near[0]}'?" if near else ""
    return UsageError(
        f"unknown command '{word}'{hint} ('robot --help' lists the commands; "
        "'robot rf ...' runs Robot Framework)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    restrict_umask()  # everything this process and its children create is owner-only
    args = list(sys.argv[1:] if argv is None else argv)
    parser, ours = build_parser()
    first = args[0] if args else "-h"
    if first == "rf":
        return run_robot_framework(args[1:])
    if first not in ours and first not in OUR_OPTIONS:
        if for_robot_framework(first):
            return run_robot_framework(args)
        error = unknown_command(first, ours)
        report_error("", error)
        return error.exit_code
    plugins = _plugins()
    if first in plugins:
        return plugins[first](args[1:])
    ns = parser.parse_args(args)
    handler: Handler | None = getattr(ns, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        check_log_format()  # PAYBOT_LOG_FORMAT=xml: exit 2 naming it, before the command
        code = handler(ns)
        sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # `robot runs | head -1`: the reader went away; stop quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_OK
    except PaybotError as exc:
        # An expected failure (outside a project, a broken file, a lock held, a trail that
        # cannot be read): one sentence and the error's own exit code, never a traceback.
        report_error(command_name(ns), exc)
        return exc.exit_code


def command_name(ns: argparse.Namespace) -> str:
    """``audit verify``, ``schedule pause``, ``run``: the words that name the command."""
    words = (getattr(ns, "command", None), getattr(ns, "action", None))
    return " ".join(str(w) for w in words if w)


def report_error(command: str, exc: PaybotError) -> None:
    """``robot COMMAND: SENTENCE`` on standard error (a JSON line in JSON log mode)."""
    text = f"robot {command}: {exc.sentence()}" if command else f"robot: {exc.sentence()}"
    if log_format() == JSON:
        sys.stderr.write(json_line(text, level="error") + "\n")
    else:
        sys.stderr.write(text + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
