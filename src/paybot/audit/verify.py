"""Checking an audit trail: every record intact, chained to the one before, none missing.

Reads the file once, line by line (streaming, constant memory). For each line: UTF-8, one JSON
object, written in canonical form (so that no byte can change without notice, not even one
JSON would parse the same), ``seq`` one more than the line before, ``prev`` equal to the hash of
the line before, and ``hash`` equal to the SHA-256 of the record without ``hash``. The first
line that fails is named with the reason. Records cut off at the end of the file cannot be
detected from the file alone (there is nothing after them to notice the gap).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from paybot.audit.chain import GENESIS, AuditTrailError, canonical_json, record_hash


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int  # records found intact (before the first bad line)
    first_bad_line: int | None = None  # 1-based
    reason: str | None = None
    last_hash: str | None = None  # the hash of the last intact record

    def describe(self, path: Path) -> str:
        if self.ok:
            return f"{path}: {self.records} records, chain intact"
        return f"{path}: line {self.first_bad_line}: {self.reason}"


def _check(line_no: int, raw: bytes, expected_seq: int, prev: str) -> tuple[str | None, str]:
    """``(reason, hash)``; ``reason`` is ``None`` when the line is a good next record."""
    if not raw.endswith(b"\n"):
        return "incomplete record: the file ends without a newline", prev
    try:
        text = raw[:-1].decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text", prev
    try:
        record = json.loads(text)
    except ValueError as exc:
        return f"not valid JSON ({exc.args[0] if exc.args else exc})", prev
    if not isinstance(record, dict):
        return "not a JSON object", prev
    seq, record_prev, digest = record.get("seq"), record.get("prev"), record.get("hash")
    if not isinstance(seq, int) or not isinstance(record_prev, str) or not isinstance(digest, str):
        return "seq, prev or hash missing", prev
    if canonical_json(record) != text:
        return "not in canonical form: the line was changed after it was written", prev
    if seq != expected_seq:
        return f"sequence gap: expected seq {expected_seq}, found {seq}", prev
    if record_prev != prev:
        what = "the chain's start" if line_no == 1 else f"the hash of line {line_no - 1}"
        return f"wrong prev hash: it does not match {what}", prev
    if record_hash(record) != digest:
        return "wrong hash: the record's content does not match its hash", prev
    return None, digest


def verify(path: Path) -> VerifyResult:
    """Check the whole trail at ``path``; raises :class:`AuditTrailError` when it cannot be
    read at all."""
    prev = GENESIS
    count = 0
    try:
        with open(path, "rb") as file:
            for line_no, raw in enumerate(file, start=1):
                reason, digest = _check(line_no, raw, count + 1, prev)
                if reason is not None:
                    return VerifyResult(False, count, line_no, reason, prev if count else None)
                prev = digest
                count += 1
    except OSError as exc:
        raise AuditTrailError(f"audit trail {path}: cannot read ({exc})") from exc
    return VerifyResult(True, count, last_hash=prev if count else None)
