"""sao, Tryton's web client, from the npm registry at its pinned version.

``npm pack tryton-sao@<version>`` fetches the published package (it ships a built ``dist/``),
``npm install --omit=dev --legacy-peer-deps`` in it installs what the built client loads at
run time (jQuery, Bootstrap, moment, ...). Kept in ``<cache>/tryton-sao-<version>/package``;
a folder with a ``.installed`` mark is reused, so a second run costs nothing. Needs ``npm``
(``scripts/setup.sh`` installs Debian's ``nodejs`` and ``npm`` when missing).
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

from trytonerp import SAO_VERSION
from trytonerp.database import TrytonSetupError


def sao_root(cache_dir: Path, version: str = SAO_VERSION) -> Path:
    """The folder trytond serves as its web root (``[web] root``)."""
    return cache_dir / f"tryton-sao-{version}" / "package"


def _npm(args: list[str], cwd: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise TrytonSetupError("npm is not installed (scripts/setup.sh installs it)")
    result = subprocess.run([npm, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-5:])
        raise TrytonSetupError(f"npm {' '.join(args)} failed in {cwd}: {tail}")


def ensure_sao(cache_dir: Path, version: str = SAO_VERSION) -> Path:
    """sao at ``version``, installed once; returns its folder. Safe to repeat."""
    root = sao_root(cache_dir, version)
    mark = root / ".installed"
    if mark.exists():
        return root
    home = root.parent
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    _npm(["pack", f"tryton-sao@{version}", "--silent"], home)
    tarballs = list(home.glob("tryton-sao-*.tgz"))
    if not tarballs:
        raise TrytonSetupError(f"npm pack tryton-sao@{version} left no tarball in {home}")
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(home, filter="data")
    _npm(["install", "--omit=dev", "--legacy-peer-deps", "--no-audit", "--no-fund"], root)
    if not (root / "dist").is_dir():
        raise TrytonSetupError(f"tryton-sao@{version} has no built dist/ folder in {root}")
    mark.write_text(version + "\n")
    return root
