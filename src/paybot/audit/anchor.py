"""Checkpoints kept outside the trail file: in the ledger's database.

The trail itself holds its checkpoints (``checkpoint`` records), so a trail alone proves what
it contains. What it cannot prove alone is what is *missing*: records cut off at the end, the
whole file rolled back to an older copy, or replaced by another trail. So every checkpoint the
robot writes is also recorded here, in the table ``audit_checkpoints`` of the ledger's database
(``ledger.url``: SQLite by default, the shared PostgreSQL when several machines share one), one
row per checkpoint: the trail's name (host and path), its first record's hash (the trail's
identity), the record the signature covers, and the checkpoint record itself (its seq, its hash
and where it ends in the file). ``robot audit verify`` compares the trail with the latest row,
and a run checks the trail against it before it signs anything (:mod:`paybot.audit.open`).

Writing is an insert per checkpoint; the same checkpoint twice is one row, a *different* one at
the same place is refused (it can only come from a trail that was replaced).
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    URL,
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    UniqueConstraint,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from paybot.audit.chain import AuditTrailError
from paybot.database import make_engine
from paybot.migrations.runner import ensure_schema

_metadata = MetaData()

checkpoints_table = Table(
    "audit_checkpoints",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trail", String(600), nullable=False),
    Column("first_hash", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("checkpoint_seq", Integer, nullable=False),
    Column("checkpoint_hash", String(64), nullable=False),
    Column("offset", Integer, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(200), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("why", String(200), nullable=False),
    UniqueConstraint("trail", "first_hash", "checkpoint_seq", name="uq_audit_checkpoint"),
)


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: record ``seq`` of the trail starting with ``first_hash`` has hash
    ``hash``. The checkpoint record that says so is record ``checkpoint_seq`` with hash
    ``checkpoint_hash``, ending at byte ``offset`` of the file (0 when not known). ``ts`` is UTC
    (ISO 8601); ``why`` is ``run_start``, ``interval``, ``run_end`` or ``accepted: …``."""

    seq: int
    hash: str
    first_hash: str
    key_id: str
    signature: str
    ts: str
    why: str
    checkpoint_seq: int = 0
    checkpoint_hash: str = ""
    offset: int = 0

    @property
    def last_seq(self) -> int:
        """The last record this checkpoint vouches is in the trail: the checkpoint record
        itself when known, else the record it signs."""
        return self.checkpoint_seq or self.seq

    @property
    def last_hash(self) -> str:
        return self.checkpoint_hash or self.hash


def trail_name(path: Path, host: str | None = None) -> str:
    """``host:/absolute/path/audit.jsonl``: the trail a checkpoint row belongs to; ``host`` is
    the machine's name (setting ``machine``; the host name when not given), so that machines
    sharing one ledger never mix up their trails. The path is
    made absolute but symlinks are not followed, so swapping a folder for a symlink does not
    change which row is looked up."""
    return f"{host or socket.gethostname()}:{os.path.abspath(path)}"  # noqa: PTH100 - no resolve


def _no_table(exc: SQLAlchemyError) -> bool:
    """The table is not there yet (SQLite: "no such table", PostgreSQL: "does not exist")."""
    text = str(exc)
    return "no such table" in text or ("audit_checkpoints" in text and "does not exist" in text)


class CheckpointStore:
    """The ``audit_checkpoints`` table in the database at ``url`` (a SQLAlchemy URL, the
    ledger's). Raises :class:`~paybot.audit.chain.AuditTrailError` naming the database when it
    cannot be read or written."""

    def __init__(self, url: str | URL) -> None:
        self.url = url
        self._engine = make_engine(url)

    def _fail(self, what: str, exc: Exception) -> AuditTrailError:
        safe = self._engine.url.render_as_string(hide_password=True)
        return AuditTrailError(f"audit checkpoints in {safe}: cannot {what} ({exc})")

    def create_schema(self) -> None:
        """Make sure the table is there: the ledger database's migrations own it
        (:func:`paybot.migrations.runner.ensure_schema`: an empty SQLite file is created, any
        other database must be at this code's schema version, else
        :class:`~paybot.errors.SchemaMismatch`)."""
        ensure_schema(self._engine)

    def record(self, trail: str, checkpoint: Checkpoint) -> None:
        """Insert the checkpoint. The same one again is a no-op; another checkpoint at the same
        place of the same trail raises :class:`AuditTrailError`."""
        row = {"trail": trail, **asdict(checkpoint)}
        try:
            with self._engine.begin() as conn:
                conn.execute(checkpoints_table.insert().values(**row))
        except IntegrityError:
            same = self._find(trail, checkpoint.first_hash, checkpoint.checkpoint_seq)
            if same is None or same.checkpoint_hash != checkpoint.checkpoint_hash:
                raise AuditTrailError(
                    f"audit checkpoints: the ledger already holds another checkpoint at seq "
                    f"{checkpoint.checkpoint_seq} of trail {trail}: the trail was replaced"
                ) from None
        except SQLAlchemyError as exc:
            raise self._fail("record a checkpoint", exc) from exc

    def _find(self, trail: str, first_hash: str, checkpoint_seq: int) -> Checkpoint | None:
        c = checkpoints_table.c
        return self._one(
            select(checkpoints_table).where(
                c.trail == trail, c.first_hash == first_hash, c.checkpoint_seq == checkpoint_seq
            )
        )

    def latest(self, trail: str) -> Checkpoint | None:
        """The checkpoint recorded last for the trail named ``trail``, or ``None``."""
        c = checkpoints_table.c
        return self._one(select(checkpoints_table).where(c.trail == trail).order_by(c.id.desc()))

    def latest_for(self, first_hash: str) -> Checkpoint | None:
        """The checkpoint furthest into the trail whose first record has ``first_hash``
        (whatever host or path it was written at, the highest checkpoint seq, not the row added
        last: a row copied in later cannot hide a later checkpoint), or ``None``."""
        c = checkpoints_table.c
        query = (
            select(checkpoints_table)
            .where(c.first_hash == first_hash)
            .order_by(c.checkpoint_seq.desc(), c.id.desc())
        )
        return self._one(query)

    def anchor_for(self, trail: str, first_hash: str | None) -> Checkpoint | None:
        """The checkpoint a trail at ``trail`` whose first record has ``first_hash`` is
        compared with: when the row recorded last under this name is for another first record,
        that row (the file was replaced: the comparison then says so); else the checkpoint
        furthest into this trail; ``None`` when the ledger knows neither."""
        by_name = self.latest(trail)
        if by_name is not None and by_name.first_hash != first_hash:
            return by_name
        furthest = self.latest_for(first_hash) if first_hash else None
        return furthest or by_name

    def count(self, machine: str | None = None) -> int:
        """How many checkpoints the table holds (0 when it does not exist yet); with
        ``machine``, only those of trails on that machine (a ledger several machines share)."""
        query = select(checkpoints_table.c.id)
        if machine is not None:
            query = query.where(
                checkpoints_table.c.trail.startswith(f"{machine}:", autoescape=True)
            )
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as exc:
            if _no_table(exc):
                return 0
            raise self._fail("read the checkpoints", exc) from exc
        return len(rows)

    def _one(self, query: Select[Any]) -> Checkpoint | None:
        try:
            with self._engine.connect() as conn:
                found = conn.execute(query.limit(1)).mappings().first()
        except SQLAlchemyError as exc:
            if _no_table(exc):
                return None
            raise self._fail("read the checkpoints", exc) from exc
        if found is None:
            return None
        return Checkpoint(
            seq=int(found["seq"]),
            hash=str(found["hash"]),
            first_hash=str(found["first_hash"]),
            key_id=str(found["key_id"]),
            signature=str(found["signature"]),
            ts=str(found["ts"]),
            why=str(found["why"]),
            checkpoint_seq=int(found["checkpoint_seq"]),
            checkpoint_hash=str(found["checkpoint_hash"]),
            offset=int(found["offset"]),
        )

    def close(self) -> None:
        self._engine.dispose()
