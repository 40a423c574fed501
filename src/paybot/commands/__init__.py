"""Subcommands of ``robot``: each module's ``register`` adds its parsers (see ``paybot.cli``)."""
