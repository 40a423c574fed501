"""Checking an audit trail: every record intact, chained, none missing, signed by the robot.

Reads the file once, line by line (streaming, constant memory), and checks for each line that
``seq`` is one more than the line before, ``prev`` is the hash of the line before, and ``hash``
is the SHA-256 of the line's own bytes without its ``"hash"`` member (which is exactly the
canonical JSON the writer hashed, so no byte can change without notice). That is done on the
stored bytes, without parsing the JSON, which keeps ``robot audit verify`` within a small
multiple of ``sha256sum`` on the same file (benchmarks/audit_costs.py). A line that fails, or
whose members cannot be found unambiguously that way, is checked again the slow way (parsed,
re-serialised) to say exactly what is wrong.

On top of the chain:

- every ``checkpoint`` record's signature is checked with the auditor's public key
  (:class:`~paybot.audit.signing.Verifier`); one valid signature vouches for every record up to
  the one it covers, so a trail rewritten with recomputed hashes is refused;
- the latest checkpoint recorded outside the file (:mod:`paybot.audit.anchor`) must be in the
  trail with the same hash: a cut tail, a rollback to an older copy and a wholesale replacement
  are refused ("the trail ends at seq 1,180; the last checkpoint, signed at run end, says
  1,240");
- records after the last valid checkpoint, and a trail with no checkpoint at all (written
  before signing was turned on), are reported as unsigned: a warning, or a failure with
  ``require_signed`` (the scheduler's own events after the last run excepted: they decide
  nothing, and the next run signs them).

docs/audit.md has the threat model: what each check finds and what it cannot.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybot.audit.anchor import Checkpoint
from paybot.audit.chain import GENESIS, AuditTrailError, canonical_json, record_hash
from paybot.audit.signing import KeyRing
from paybot.domain.calendar import danish_timestamp_or_text

_HASH = b',"hash":"'
_HASH_KEY = b'"hash":"'
_sha256 = hashlib.sha256
_PREV = b'"prev":"'
_SEQ = b'"seq":'
_CHECKPOINT = b'"event":"checkpoint"'


def _thousands(n: int) -> str:
    return f"{n:,}"


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found. ``ok`` is False when the trail is broken, a checkpoint
    disagrees, or (with ``require_signed``) nothing is signed."""

    ok: bool
    records: int
    """Records found intact (before the first bad line, or all)."""
    first_bad_line: int | None = None
    """1-based line number of the first bad record; ``None`` when the lines are intact but a
    checkpoint kept outside the trail disagrees."""
    reason: str | None = None
    last_hash: str | None = None
    """The hash of the last intact record."""
    first_hash: str | None = None
    """The hash of the first record: the trail's identity in its signed checkpoints."""
    checkpoints: int = 0
    """Checkpoint records whose signature verified (or, without a key, that were found)."""
    signed_through: int = 0
    """The seq of the last record a valid checkpoint covers (0: none)."""
    last_checkpoint: Checkpoint | None = None
    """The last valid checkpoint in the trail."""
    anchor: Checkpoint | None = None
    """The checkpoint kept outside the trail that the trail was compared with."""
    key_id: str | None = None
    """The public key(s) the signatures were checked with; ``None`` when none was given."""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def signed(self) -> bool:
        return self.signed_through > 0 and self.key_id is not None

    def describe(self, path: Path) -> str:
        """One line: ``…: 1,240 records, chain intact, signed through seq 1,239 (key …)``."""
        if not self.ok:
            where = f"line {self.first_bad_line}: " if self.first_bad_line else ""
            return f"{path}: {where}{self.reason}"
        text = f"{path}: {_thousands(self.records)} records, chain intact"
        if self.signed:
            text += (
                f", signed through seq {_thousands(self.signed_through)} "
                f"(key {self.key_id}, {self.checkpoints} checkpoints)"
            )
        elif self.checkpoints and self.key_id is None:
            text += f", {self.checkpoints} checkpoints (signatures not checked: no public key)"
        else:
            text += ", UNSIGNED"
        if self.anchor is not None:
            text += f"; matches the ledger's checkpoint at seq {_thousands(self.anchor.last_seq)}"
        return text


def slow_check(line_no: int, raw: bytes, expected_seq: int, prev: str) -> tuple[str | None, str]:
    """``(reason, hash)``: the line parsed and re-serialised; ``reason`` is ``None`` when it is
    a good next record."""
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


def fast_check(raw: bytes, expected_seq: int, prev: bytes) -> bytes | None:
    """The line's hash (hex, as bytes) when it is a good next record, judged on its bytes
    alone; ``None`` when it is not, or when its members cannot be found unambiguously (then
    :func:`slow_check` says why). ``prev``: the hash of the line before, hex as bytes."""
    at = raw.find(_HASH)
    if at < 0 or raw.count(_HASH_KEY) != 1 or raw.count(_PREV) != 1 or raw.count(_SEQ) != 1:
        return None
    digest = _sha256(raw[:at])
    digest.update(raw[at + 74 : -1])
    hexdigest = digest.hexdigest().encode("ascii")
    if raw[at + 9 : at + 74] != hexdigest + b'"' or raw[-2:] != b"}\n" or raw[:1] != b"{":
        return None
    p = raw.find(_PREV)
    if raw[p + 8 : p + 72] != prev:
        return None
    s = raw.find(_SEQ) + 6
    digits = b"%d" % expected_seq
    if raw[s : s + len(digits)] != digits or raw[s + len(digits) : s + len(digits) + 1] not in (
        b",",
        b"}",
    ):
        return None
    return hexdigest


@dataclass
class _Scan:
    verifier: KeyRing | None
    anchor: Checkpoint | None
    count: int = 0
    prev: str = GENESIS
    prev_bytes: bytes = GENESIS.encode("ascii")
    first_hash: str | None = None
    checkpoints: int = 0
    signed_through: int = 0
    last_checkpoint: Checkpoint | None = None
    anchor_hash_seen: str | None = None
    foreign_keys: set[str] = field(default_factory=set)
    adopted: list[tuple[int, str]] = field(default_factory=list)
    started_over: str | None = None
    unsigned_not_scheduler: int = 0


def _checkpoint(scan: _Scan, line_no: int, raw: bytes, seq: int) -> str | None:
    """Check a ``checkpoint`` record; the reason when it is bad."""
    record: dict[str, Any] = json.loads(raw)
    covers, first = record.get("covers_seq"), record.get("first_hash")
    key, signature = record.get("key_id"), record.get("signature")
    if not isinstance(covers, int) or not isinstance(first, str) or not isinstance(signature, str):
        return "checkpoint without covers_seq, first_hash or signature"
    if covers != seq - 1 or first != scan.first_hash:
        return (
            f"checkpoint covers seq {covers} of the trail starting {first[:12]}…, but it "
            f"follows seq {seq - 1} of the trail starting {(scan.first_hash or '')[:12]}…"
        )
    if scan.verifier is not None:
        if scan.verifier.get(str(key)) is None:
            # Signed by a key not given (e.g. one rotated out): not counted; a later checkpoint
            # by a given key covers these records, else they end up as an unsigned tail.
            scan.foreign_keys.add(str(key))
            return None
        if not scan.verifier.valid(str(key), first, covers, scan.prev, signature):
            return (
                f"checkpoint signature does not verify with key {key}: the records it covers "
                "were changed and their hashes recomputed"
            )
    if str(record.get("why", "")) == "adopted" and covers > 1:
        scan.adopted.append((covers, str(record.get("ts", ""))))
    scan.checkpoints += 1
    scan.signed_through = covers
    scan.last_checkpoint = Checkpoint(
        seq=covers,
        hash=scan.prev,
        first_hash=first,
        key_id=str(key),
        signature=signature,
        ts=str(record.get("ts", "")),
        why=str(record.get("why", "")),
    )
    return None


def _started_over(raw: bytes) -> str | None:
    """A warning when the trail's first record says the ledger already held runs or
    checkpoints when the trail began: an earlier trail exists, or was deleted."""
    if b'"event":"trail_started"' not in raw:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    runs, checkpoints = record.get("runs_before", 0), record.get("checkpoints_before", 0)
    if not (isinstance(runs, int) and isinstance(checkpoints, int)) or not (runs or checkpoints):
        return None
    began = danish_timestamp_or_text(str(record.get("ts", "")))
    return (
        f"this trail began ({began}) when the ledger already held "
        f"runs ({'at least ' if runs else ''}{runs:,}) and {checkpoints:,} checkpoints: an "
        "earlier trail exists, or was deleted (expected only when a lost trail was left "
        "behind, docs/audit.md)"
    )


def _line(scan: _Scan, line_no: int, raw: bytes) -> str | None:
    expected = scan.count + 1
    fast = fast_check(raw, expected, scan.prev_bytes)
    if fast is None:
        reason, digest = slow_check(line_no, raw, expected, scan.prev)
        if reason is not None:
            return reason
    else:
        digest = fast.decode("ascii")
    if scan.first_hash is None:
        scan.first_hash = digest
        scan.started_over = _started_over(raw)
    if _CHECKPOINT in raw:
        reason = _checkpoint(scan, line_no, raw, expected)
        if reason is not None:
            return reason
    if scan.anchor is not None and expected == scan.anchor.last_seq:
        scan.anchor_hash_seen = digest
    scan.prev = digest
    scan.prev_bytes = digest.encode("ascii")
    scan.count += 1
    return None


def _anchor_problem(scan: _Scan) -> str | None:
    anchor = scan.anchor
    if anchor is None:
        return None
    said = (
        f"the last checkpoint kept in the ledger, signed at {anchor.why} "
        f"({danish_timestamp_or_text(anchor.ts)}),"
    )
    if scan.first_hash is not None and anchor.first_hash != scan.first_hash:
        return (
            f"{said} is for another trail (first record {anchor.first_hash[:12]}…, this one "
            f"{scan.first_hash[:12]}…): the file was replaced"
        )
    if scan.count < anchor.last_seq:
        return (
            f"the trail ends at seq {_thousands(scan.count)}; {said} says "
            f"{_thousands(anchor.last_seq)}: records were cut off or the file rolled back"
        )
    if scan.anchor_hash_seen != anchor.last_hash:
        return (
            f"record seq {_thousands(anchor.last_seq)} is not the one {said} names: the file "
            "was replaced or rewritten"
        )
    if scan.verifier is not None and not scan.verifier.valid(
        anchor.key_id, anchor.first_hash, anchor.seq, anchor.hash, anchor.signature
    ):
        return f"{said} has a signature that does not verify with the keys given"
    return None


def verify(
    path: Path,
    *,
    verifier: KeyRing | None = None,
    anchor: Checkpoint | None = None,
    require_signed: bool = False,
) -> VerifyResult:
    """Check the whole trail at ``path`` (see the module's text). ``verifier``: the auditor's
    public key (signatures are not checked without one); ``anchor``: the latest checkpoint
    kept outside the trail; ``require_signed``: an unsigned trail or tail is a failure, not a
    warning. Raises :class:`~paybot.audit.chain.AuditTrailError` when the file cannot be read
    or is no paybot trail at all (its first line has no chain fields). Reads only; safe to
    repeat."""
    scan = _Scan(verifier, anchor)
    try:
        with open(path, "rb", buffering=1 << 20) as file:
            head = file.readline() + file.readline()
            if head and not (_SEQ in head or _PREV in head or _HASH_KEY in head):
                raise AuditTrailError(
                    f"{path} is not a paybot audit trail: its first lines have no seq, prev or hash"
                )
            file.seek(0)
            line_no = 0
            for raw in file:
                line_no += 1
                # The common case inline (a record that is not a checkpoint and passes on its
                # bytes): this loop is what makes verify fast; anything else goes to _line.
                if line_no > 1 and _CHECKPOINT not in raw:
                    fast = fast_check(raw, scan.count + 1, scan.prev_bytes)
                    if fast is not None and (anchor is None or scan.count + 1 != anchor.last_seq):
                        scan.prev_bytes = fast
                        scan.count += 1
                        continue
                scan.prev = scan.prev_bytes.decode("ascii")
                reason = _line(scan, line_no, raw)
                if reason is not None:
                    return VerifyResult(
                        False,
                        scan.count,
                        line_no,
                        reason,
                        scan.prev if scan.count else None,
                        scan.first_hash,
                        scan.checkpoints,
                        scan.signed_through,
                        scan.last_checkpoint,
                        anchor,
                        ", ".join(verifier.key_ids) if verifier else None,
                    )
    except OSError as exc:
        raise AuditTrailError(f"audit trail {path}: cannot read ({exc})") from exc
    scan.prev = scan.prev_bytes.decode("ascii")
    if require_signed and scan.checkpoints:
        scan.unsigned_not_scheduler = _unsigned_beyond_scheduler(path, scan.signed_through + 1)
    return _result(scan, require_signed)


def _unsigned_beyond_scheduler(path: Path, skip: int) -> int:
    """How many records after the first ``skip`` are not the scheduler's own events (which
    the next run signs, and which decide nothing)."""
    count = 0
    with open(path, "rb") as file:
        for line_no, raw in enumerate(file, start=1):
            if line_no > skip and b'"event":"scheduler_' not in raw:
                count += 1
    return count


def _result(scan: _Scan, require_signed: bool) -> VerifyResult:
    key = ", ".join(scan.verifier.key_ids) if scan.verifier else None
    base: dict[str, Any] = {
        "records": scan.count,
        "last_hash": scan.prev if scan.count else None,
        "first_hash": scan.first_hash,
        "checkpoints": scan.checkpoints,
        "signed_through": scan.signed_through,
        "last_checkpoint": scan.last_checkpoint,
        "anchor": scan.anchor,
        "key_id": key,
    }
    problem = _anchor_problem(scan)
    if problem is None and scan.foreign_keys and not scan.checkpoints:
        problem = (
            f"signed only by key {', '.join(sorted(scan.foreign_keys))}, not by the key given "
            f"({key}): the trail is another installation's, or the wrong public key was given"
        )
    if problem is not None:
        return VerifyResult(False, first_bad_line=None, reason=problem, **base)
    warnings: list[str] = []
    if scan.started_over:
        warnings.append(scan.started_over)
    for covers, ts in scan.adopted:
        warnings.append(
            f"records 1 to {_thousands(covers)} were written before the trail was signed and "
            f"adopted by a run at {danish_timestamp_or_text(ts)}: the signature vouches for "
            "them from then on, not for who wrote them (expected once, when signing was "
            "turned on)"
        )
    if scan.foreign_keys:
        warnings.append(
            f"checkpoints signed by key {', '.join(sorted(scan.foreign_keys))} (not given) were "
            "not checked; later checkpoints by the key given cover the records before them"
        )
    if scan.count and not scan.checkpoints and not scan.foreign_keys:
        warnings.append(
            "UNSIGNED: no record of this trail is signed (written before signing was turned "
            "on, or by a robot configured with audit.signed: false); the chain shows "
            "accidental damage, not a deliberate rewrite"
        )
    elif scan.count and key is None:
        warnings.append(
            "no public key given (--public-key or audit.public_key_file): the checkpoints' "
            "signatures were not checked"
        )
    unsigned_tail = scan.count - scan.signed_through - (1 if scan.checkpoints else 0)
    if scan.checkpoints and unsigned_tail > 0:
        warnings.append(
            f"the last {_thousands(unsigned_tail)} records (after seq "
            f"{_thousands(scan.signed_through + 1)}) are not signed yet: written after the "
            "last checkpoint (by the scheduler, a run in progress or a killed run)"
        )
    if require_signed and (not scan.checkpoints or key is None):
        return VerifyResult(
            False,
            reason="the trail is not signed by the key given, and a signature is required",
            warnings=tuple(warnings),
            **base,
        )
    if require_signed and scan.unsigned_not_scheduler:
        return VerifyResult(
            False,
            reason=(
                f"{_thousands(scan.unsigned_not_scheduler)} records after seq "
                f"{_thousands(scan.signed_through + 1)} are not signed (other than the "
                "scheduler's own events), and a signature is required: let the next run sign "
                "them after you have looked at them, or find out who wrote them"
            ),
            warnings=tuple(warnings),
            **base,
        )
    return VerifyResult(True, warnings=tuple(warnings), **base)


def first_record_hash(path: Path) -> str | None:
    """The hash of the trail's first record (the trail's identity in signed checkpoints);
    ``None`` for an empty file. Raises :class:`AuditTrailError` when the file cannot be read
    or its first line is no trail record."""
    try:
        with open(path, "rb") as file:
            line = file.readline()
    except OSError as exc:
        raise AuditTrailError(f"audit trail {path}: cannot read ({exc})") from exc
    if not line:
        return None
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    digest = record.get("hash") if isinstance(record, dict) else None
    if not isinstance(digest, str) or len(digest) != 64:
        raise AuditTrailError(f"{path} is not a paybot audit trail: its first line has no hash")
    return digest
