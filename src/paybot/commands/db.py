"""``robot db``: the ledger database's schema version (docs/database.md).

- ``robot db current``: which schema version the database is at and which one this paybot is
  written for. Exit codes: 0 up to date; 1 not (older, newer, none yet); 2 the database cannot
  be reached, or a configuration error.
- ``robot db upgrade``: bring the database to this paybot's version (Alembic, one transaction,
  under a lock: two machines upgrading at once do it one after the other). Back the database
  up first. Safe to repeat: at the version already, it does nothing. Exit codes: 0 upgraded or
  nothing to do; 2 the database is newer than this paybot, cannot be reached, the upgrade
  failed (and changed nothing), or a configuration error.

The database is ``ledger.url`` (``PAYBOT_LEDGER_URL``), its password from
``PAYBOT_LEDGER_PASSWORD``, the systemd credential ``ledger-password`` or the vault file;
it is shown without its password.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from paybot.commands.output import say
from paybot.config import find_home, ledger_url, load_settings
from paybot.database import make_engine, shown
from paybot.exit_codes import EXIT_FAILED, EXIT_OK
from paybot.migrations.runner import code_version, schema_state, upgrade


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "db",
        help="the ledger database's schema version: show it, upgrade it",
        description="The ledger database (ledger.url) and its schema version. See "
        "docs/database.md.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = actions.add_parser(
        "current",
        help="the database's schema version and the one this paybot needs",
        description="Show the ledger database's schema version (ledger.url) and the one "
        "this paybot needs, and whether 'robot db upgrade' is due; changes nothing. Exit "
        "codes: 0 up to date; 1 older, newer or none yet; 2 the database cannot be reached, "
        "or a configuration error.",
    )
    c.set_defaults(handler=cmd_current)
    u = actions.add_parser(
        "upgrade",
        help="bring the database to this paybot's schema version (back it up first)",
        description="Runs the schema migrations in one transaction under a lock. Safe to "
        "repeat. Exit codes: 0 upgraded or already up to date; 2 the database is newer than "
        "this paybot, cannot be reached, the upgrade failed (nothing changed), or a "
        "configuration error.",
    )
    u.set_defaults(handler=cmd_upgrade)


def cmd_current(ns: argparse.Namespace) -> int:
    url = ledger_url(load_settings(find_home()))  # ConfigError, DatabaseError: exit 2, by main
    say(f"ledger database {shown(url)}")
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        say(f"schema version: none: no file yet (the first run creates it at {code_version()})")
        return EXIT_FAILED  # and looking did not create it
    engine = make_engine(url)
    try:
        state = schema_state(engine)
    finally:
        engine.dispose()
    say(f"schema version: {state.describe()}")
    say(f"this paybot needs: {state.head}")
    if not state.up_to_date and not state.newer:
        say("run 'robot db upgrade' (back the database up first)")
    return EXIT_OK if state.up_to_date else EXIT_FAILED


def cmd_upgrade(ns: argparse.Namespace) -> int:
    engine = make_engine(ledger_url(load_settings(find_home())))  # errors: exit 2, by main
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    where = f"ledger database {shown(engine.url)}"
    if before.up_to_date:
        say(f"{where}: schema version {after.current}, up to date (nothing to do)")
    else:
        say(f"{where}: schema version {before.current or 'none'} → {after.current} (upgraded)")
    return EXIT_OK
