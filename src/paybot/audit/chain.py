"""The hash chain and the file it lives in.

Each record is one line of canonical JSON (sorted keys, no spaces, ``ensure_ascii=False``) and
carries ``seq`` (1, 2, 3, …), ``prev`` (the hash of the record before; :data:`GENESIS` for the
first) and ``hash``: SHA-256 over the canonical JSON of the record without ``hash``. Changing,
inserting or deleting a record breaks the chain at that record (see ``paybot.audit.verify``).

:class:`ChainFile` makes appends safe across the threads of one process (a lock) and across
processes sharing the data directory (an exclusive ``fcntl.flock`` on the file), while the last
record's hash is read and the new record appended. The last ``(seq, hash)`` is cached and the
tail re-read only when the file's size is not what our own last write left.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from paybot.errors import PaybotError
from paybot.exit_codes import EXIT_USAGE
from paybot.private import private_dir, tighten

GENESIS = "0" * 64
"""``prev`` of the first record of a trail."""

_TAIL_CHUNK = 64 * 1024


class AuditTrailError(PaybotError):
    """The audit trail cannot be written or read. Names the file. Exit 2 (``robot audit``:
    the trail cannot be read); a run that meets it before it starts stops with exit 3."""

    exit_code = EXIT_USAGE


def canonical_json(record: Mapping[str, Any]) -> str:
    """The one serialization of ``record`` that is hashed and written."""
    return json.dumps(
        record, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over the canonical JSON of ``record`` without its ``hash``."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def parse_tail_record(path: Path, line: bytes) -> tuple[int, str]:
    """``(seq, hash)`` of a record line, or :class:`AuditTrailError` naming ``path``."""
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise AuditTrailError(
            f"audit trail {path}: the last record cannot be read ({exc}); "
            f"run 'robot audit verify --file {path}'"
        ) from exc
    seq = record.get("seq") if isinstance(record, dict) else None
    digest = record.get("hash") if isinstance(record, dict) else None
    if not isinstance(seq, int) or not isinstance(digest, str) or len(digest) != 64:
        raise AuditTrailError(
            f"audit trail {path}: the last record has no valid seq and hash; "
            f"run 'robot audit verify --file {path}'"
        )
    return seq, digest


class ChainFile:
    """An append-only JSON-lines file with an exclusive lock (threads and processes).

    Use :meth:`locked` around reading :meth:`last` and calling :meth:`append`; both refuse
    to work without the lock. A process that was forked after opening reopens the file, so
    parent and child never share one lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._holder: int | None = None
        self._known_size: int | None = None
        self._last: tuple[int, str] = (0, GENESIS)
        self._first: str | None = None

    # --- opening ---------------------------------------------------------------------------

    def _open(self) -> int:
        if self._fd is not None and self._pid == os.getpid():
            return self._fd
        if self._fd is not None:  # inherited through fork: the child gets its own description
            with contextlib.suppress(OSError):
                os.close(self._fd)
        try:
            if not self.path.parent.is_dir():
                private_dir(self.path.parent)  # folders we make are 0700; others are not ours
            self._fd = os.open(
                self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
            head = os.pread(self._fd, _TAIL_CHUNK, 0)
            if not head or b'"prev":"' in head:
                tighten(self.path)  # a trail an older paybot made 0640; never someone else's file
        except OSError as exc:
            raise AuditTrailError(f"audit trail {self.path}: cannot open ({exc})") from exc
        self._pid = os.getpid()
        self._known_size = None
        self._first = None
        return self._fd

    def _is_current(self, fd: int) -> bool:
        """False when the path now names another file (rotated or deleted)."""
        try:
            on_disk = self.path.stat()
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None
            self._known_size = None

    # --- locking ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file exclusively (this thread, and no other process)."""
        if self._pid and self._pid != os.getpid():
            self._thread_lock = threading.Lock()
        with self._thread_lock:
            while True:
                fd = self._open()
                fcntl.flock(fd, fcntl.LOCK_EX)
                if self._is_current(fd):
                    break
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                self._fd = None
            self._holder = threading.get_ident()
            try:
                yield
            finally:
                self._holder = None
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _locked_fd(self) -> int:
        if self._holder != threading.get_ident() or self._fd is None:
            raise AuditTrailError(f"audit trail {self.path}: used without holding its lock")
        return self._fd

    # --- the chain -------------------------------------------------------------------------

    def last(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last record; ``(0, GENESIS)`` for an empty file."""
        fd = self._locked_fd()
        size = os.fstat(fd).st_size
        if size != self._known_size:
            self._last = self._read_tail(fd, size)
            self._known_size = size
        return self._last

    def end(self) -> int:
        """The file's size after the last record this object read or wrote (under the
        lock)."""
        self._locked_fd()
        return self._known_size or 0

    def first_hash(self) -> str:
        """The hash of the trail's first record (it names the trail in a signed checkpoint);
        :data:`GENESIS` for an empty file. Under the lock."""
        fd = self._locked_fd()
        if self._first is not None and self._known_size:
            return self._first
        line = b""
        while not line.endswith(b"\n"):
            chunk = os.pread(fd, _TAIL_CHUNK, len(line))
            if not chunk:
                break
            line += chunk
            if b"\n" in line:
                line = line[: line.index(b"\n") + 1]
        if not line:
            return GENESIS
        self._first = parse_tail_record(self.path, line.rstrip(b"\n"))[1]
        return self._first

    def _read_tail(self, fd: int, size: int) -> tuple[int, str]:
        if size == 0:
            return (0, GENESIS)
        if os.pread(fd, 1, size - 1) != b"\n":
            raise AuditTrailError(
                f"audit trail {self.path}: the last record is incomplete (no newline at the "
                f"end); run 'robot audit verify --file {self.path}'"
            )
        pos = size - 1  # the last line is buf = bytes [pos, size - 1), without its newline
        buf = b""
        while True:
            cut = buf.rfind(b"\n")
            if cut >= 0:
                return parse_tail_record(self.path, buf[cut + 1 :])
            if pos == 0:
                return parse_tail_record(self.path, buf)
            step = min(_TAIL_CHUNK, pos)
            pos -= step
            buf = os.pread(fd, step, pos) + buf

    def append(self, record: Mapping[str, Any], *, durable: bool) -> None:
        """Write ``record`` as one line; ``fsync`` when ``durable``. Call :meth:`last` first
        (under the same lock): the record must continue the chain."""
        fd = self._locked_fd()
        seq, digest = record.get("seq"), record.get("hash")
        if not isinstance(seq, int) or not isinstance(digest, str):
            raise AuditTrailError(f"audit trail {self.path}: a record to append lacks seq/hash")
        if self._known_size is None or seq != self._last[0] + 1:
            raise AuditTrailError(
                f"audit trail {self.path}: record seq {seq} does not follow the last record"
            )
        data = (canonical_json(record) + "\n").encode("utf-8")
        before = self._known_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if durable:
                os.fsync(fd)
        except OSError as exc:
            self._known_size = None
            with contextlib.suppress(OSError):
                os.ftruncate(fd, before)  # we hold the lock: drop our torn line
            raise AuditTrailError(f"audit trail {self.path}: cannot append ({exc})") from exc
        self._known_size = before + len(data)
        self._last = (seq, digest)
