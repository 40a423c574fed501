"""Owner-only files and folders, whatever the umask (issue 8: what the robots write holds
invoices, decisions and masked personal data; nobody but the robot's own user reads it).

Two layers: :func:`restrict_umask` at the start of every process (``robot ...`` and a robot's
task) makes everything created afterwards owner-only, also by libraries and child processes
(SQLite's ``-wal``/``-shm``, robocorp's output, Chromium's downloads); and the places that make
our own files and folders do it with explicit modes (:func:`private_dir`, :func:`open_private`),
tightening ones that already exist (made by an older paybot or by hand under umask 022).

Folders are ``0700``, files ``0600`` (tightening takes group's and others' bits away and keeps
the owner's). Only what the current user owns is tightened; a folder
owned by someone else (``/tmp``, a mount point) is left as it is. Every function here is safe to
repeat.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import IO, Any

from paybot.errors import FolderError

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_umask() -> int:
    """Set the process umask to ``0o077`` (group and others get nothing); returns the old
    one."""
    return os.umask(PRIVATE_UMASK)


def tighten(path: Path) -> None:
    """Take every permission of group and others away from ``path`` when it is ours (the
    owner's own bits stay); a vanished path is fine. A folder with the sticky bit (``/tmp``,
    ``/var/tmp``: shared by design) is never touched, even when root owns it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if st.st_uid != os.geteuid() or (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
        return
    current = stat.S_IMODE(st.st_mode)
    if current & PRIVATE_UMASK:
        with contextlib.suppress(FileNotFoundError):
            path.chmod(current & ~PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """``mkdir -p path`` with the folders it makes ``0700``, and ``path`` itself tightened to
    ``0700`` if it existed. Returns ``path``. Raises :class:`~paybot.errors.FolderError`
    (exit 2, also an ``OSError``) naming the folder when one cannot be made."""
    missing = []
    for parent in (path, *path.parents):
        if parent.exists():
            break
        missing.append(parent)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
        except OSError as exc:
            where = "" if folder == path else f" (at {folder})"
            raise FolderError(
                f"cannot create the folder {path}{where}: {exc.strerror or exc}"
            ) from None
        tighten(folder)  # mkdir's mode is filtered by the umask, never widened
    tighten(path)
    return path


def private_file(path: Path) -> Path:
    """``path`` created empty (``0600``) if missing, else tightened to ``0600``; its folder is
    made with :func:`private_dir` (a sticky folder such as ``/tmp`` is left as it is).
    Returns ``path``."""
    private_dir(path.parent)
    if not path.exists():
        # Never open (and close) a file that exists: for a SQLite database, closing any
        # descriptor of the file drops every POSIX lock this process holds on it, including
        # those of open connections (fcntl semantics), which SQLite reports as "disk I/O
        # error" or, worse, does not notice.
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
            os.close(fd)
    tighten(path)
    return path


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open` that creates files ``0600`` and tightens an existing one
    (``open(p, "w", opener=private_opener)``)."""
    fd = os.open(path, flags | os.O_CLOEXEC, FILE_MODE)
    tighten(Path(path))
    return fd


def open_private(path: Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """:func:`open` for a file that must be owner-only: its folder made ``0700``, the file
    created ``0600`` (or tightened)."""
    private_dir(path.parent)
    return open(path, mode, opener=private_opener, **kwargs)


def write_private_text(path: Path, text: str) -> Path:
    """``path.write_text(text)`` with the file ``0600`` and its folder ``0700``."""
    with open_private(path, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def tighten_tree(root: Path) -> int:
    """Group and others lose every permission on ``root`` and everything below it (folders
    ``0700``, files ``0600`` when written as usual), for trees that another program wrote
    (robocorp's output); returns how many were changed. Symlinks are not followed."""
    changed = 0
    if not root.is_dir():
        return 0
    for top, _dirs, files in os.walk(root):
        folder = Path(top)
        for path in [folder, *(folder / f for f in files)]:
            if path.is_symlink():
                continue
            before = stat.S_IMODE(path.lstat().st_mode)
            tighten(path)
            changed += stat.S_IMODE(path.lstat().st_mode) != before
    return changed
