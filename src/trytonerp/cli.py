"""``robot tryton ...``: a real finance system (Tryton with sao) for the robots.

- ``robot tryton setup [--home DIR] [--invoices N] [--seed S] [--category C ...]``: sao from
  npm (once), a fresh Tryton database from the mock's seed world, the ground truth; safe to
  run again (the database is made anew; sao and the module template are reused).
- ``robot tryton serve [--home DIR] [--port P]``: trytond with sao on 127.0.0.1.
- ``robot tryton compare [--home DIR]``: every decision against the ground truth (exit 1 on a
  mismatch).

0 = done; 1 = a mismatch or a failed setup step (named); 2 = usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from trytonerp.database import TrytonPaths, TrytonSetupError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paybot" / "tryton"


def _setup(args: argparse.Namespace) -> int:
    from trytonerp.sao import ensure_sao
    from trytonerp.seed import seed_tryton

    paths = TrytonPaths(args.home.resolve(), args.database)
    try:
        sao = ensure_sao(args.cache)
        print(f"sao: {sao}")
        result = seed_tryton(
            paths,
            invoices=args.invoices,
            seed=args.seed,
            cache_dir=args.cache,
            categories=args.category or None,
        )
    except TrytonSetupError as exc:
        print(f"robot tryton setup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for line in result.summary_lines():
        print(line)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from trytonerp.sao import ensure_sao
    from trytonerp.serve import free_port, serve_forever

    paths = TrytonPaths(args.home.resolve(), args.database)
    if not paths.db_file.exists():
        print(
            f"robot tryton serve: no database {paths.db_file}; run robot tryton setup",
            file=sys.stderr,
        )
        return EXIT_USAGE
    port = args.port or free_port()
    print(f"Tryton (sao) at http://127.0.0.1:{port}/#{paths.database}", flush=True)
    serve_forever(paths, ensure_sao(args.cache), port)
    return EXIT_OK  # not reached: trytond replaced this process


def _compare(args: argparse.Namespace) -> int:
    from trytonerp.truth import compare_files

    paths = TrytonPaths(args.home.resolve(), args.database)
    report = compare_files(paths.db_file, paths.truth_file)
    for line in report.lines():
        print(line)
    return EXIT_OK if report.ok and not sum(report.still_new.values()) else EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="robot tryton", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--home", type=Path, default=Path("data/tryton"))
        p.add_argument("--database", default="paybot")
        p.add_argument("--cache", type=Path, default=default_cache())

    setup = sub.add_parser(
        "setup",
        help="sao from npm and a fresh seeded Tryton database",
        description="Install sao (Tryton's web client) from npm once, make a fresh Tryton "
        "database from the mock's seed world and write its ground truth; safe to run again.",
    )
    common(setup)
    setup.add_argument("--invoices", type=int, default=40)
    setup.add_argument("--seed", type=int, default=20261130)
    setup.add_argument(
        "--category", action="append", choices=["oevrige", "laegeerklaering", "tolk"]
    )
    setup.set_defaults(handler=_setup)
    serve = sub.add_parser(
        "serve",
        help="trytond with sao on 127.0.0.1",
        description="Serve the database made by 'robot tryton setup' with trytond and sao on "
        "127.0.0.1, until stopped.",
    )
    common(serve)
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)
    compare = sub.add_parser(
        "compare",
        help="the decisions against the ground truth",
        description="Compare every invoice's state in Tryton's database with the ground "
        "truth written by setup; exit 1 on a mismatch or an invoice still new.",
    )
    common(compare)
    compare.set_defaults(handler=_compare)
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
