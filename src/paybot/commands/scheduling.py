"""Placeholder: the 'scheduling' commands are being built (see the open issues)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds nothing yet."""
