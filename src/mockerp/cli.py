"""``robot erp ...``: the mock finance system's commands (placeholder being built)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="robot erp", description="The mock finance system.")
    parser.parse_args(list(argv))
    return 0
