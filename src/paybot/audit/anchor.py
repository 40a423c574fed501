"""Checkpoints kept outside the trail file: in the ledger's database.

The trail itself holds its checkpoints (``checkpoint`` records), so a trail alone proves what
it contains. What it cannot prove alone is what is *missing*: records cut off at the end, the
whole file rolled back to an older copy, or replaced by another trail. So every checkpoint the
robot writes is also recorded here, in the table ``audit_checkpoints`` of the ledger's database
(``ledger.url``: SQLite by default, the shared PostgreSQL when several machines share one), one
row per checkpoint, keyed by the trail's name (host and absolute path). ``robot audit verify``
compares the trail with the latest row: the trail must contain that record with that hash.

Writing is an insert per checkpoint (safe to repeat: the same checkpoint twice is one row).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from paybot.audit.chain import AuditTrailError
from paybot.ledger.engine import make_engine

_metadata = MetaData()

checkpoints_table = Table(
    "audit_checkpoints",
    _metadata,
    Column("trail", String(600), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("first_hash", String(64), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(200), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("why", String(40), nullable=False),
    PrimaryKeyConstraint("trail", "seq", name="pk_audit_checkpoints"),
)


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: record ``seq`` of the trail starting with ``first_hash`` has hash
    ``hash``. ``ts`` is UTC (ISO 8601); ``why`` is ``run_start``, ``interval`` or ``run_end``."""

    seq: int
    hash: str
    first_hash: str
    key_id: str
    signature: str
    ts: str
    why: str


def trail_name(path: Path, host: str | None = None) -> str:
    """``host:/absolute/path/audit.jsonl``: the trail a checkpoint row belongs to."""
    return f"{host or socket.gethostname()}:{path.resolve()}"


class CheckpointStore:
    """The ``audit_checkpoints`` table in the database at ``url`` (a SQLAlchemy URL, the
    ledger's). Raises :class:`~paybot.audit.chain.AuditTrailError` naming the database when it
    cannot be read or written."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = make_engine(url)

    def _fail(self, what: str, exc: Exception) -> AuditTrailError:
        safe = self._engine.url.render_as_string(hide_password=True)
        return AuditTrailError(f"audit checkpoints in {safe}: cannot {what} ({exc})")

    def create_schema(self) -> None:
        try:
            _metadata.create_all(self._engine, checkfirst=True)
        except SQLAlchemyError as exc:
            raise self._fail("create the table", exc) from exc

    def record(self, trail: str, checkpoint: Checkpoint) -> None:
        row = {"trail": trail, **checkpoint.__dict__}
        try:
            with self._engine.begin() as conn:
                conn.execute(checkpoints_table.insert().values(**row))
        except IntegrityError:
            return  # already recorded
        except SQLAlchemyError as exc:
            raise self._fail("record a checkpoint", exc) from exc

    def latest(self, trail: str) -> Checkpoint | None:
        """The checkpoint with the highest seq recorded for ``trail``, or ``None``."""
        query = (
            select(checkpoints_table)
            .where(checkpoints_table.c.trail == trail)
            .order_by(checkpoints_table.c.seq.desc())
            .limit(1)
        )
        try:
            with self._engine.connect() as conn:
                found = conn.execute(query).mappings().first()
        except SQLAlchemyError as exc:
            if "no such table" in str(exc):
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
        )

    def close(self) -> None:
        self._engine.dispose()
