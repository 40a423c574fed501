"""The audit trail: what every robot did, hash-chained, with personal data masked.

- :class:`AuditTrail` / :class:`AuditLogger`: write events (``paybot.audit.trail``),
- :func:`verify`: check a trail (``paybot.audit.verify``),
- :func:`records_for`: one invoice's records (``paybot.audit.show``),
- ``paybot.audit.export``: the trail as CSV/XLSX for an auditor (not imported here, so that
  openpyxl is loaded only to export),
- :class:`Event`: the vocabulary (``paybot.audit.events``),
- :func:`mask_data`, :func:`mask_text`: the masking, for anyone else who writes text out.
"""

from paybot.audit.chain import GENESIS, AuditTrailError, canonical_json, record_hash
from paybot.audit.events import EVENTS, ID_FIELDS, Event, durable_by_default
from paybot.audit.masking import MaskPersonalData, mask_data, mask_text
from paybot.audit.show import format_record, records_for
from paybot.audit.trail import AuditLogger, AuditTrail
from paybot.audit.verify import VerifyResult, verify

__all__ = [
    "EVENTS",
    "GENESIS",
    "ID_FIELDS",
    "AuditLogger",
    "AuditTrail",
    "AuditTrailError",
    "Event",
    "MaskPersonalData",
    "VerifyResult",
    "canonical_json",
    "durable_by_default",
    "format_record",
    "mask_data",
    "mask_text",
    "record_hash",
    "records_for",
    "verify",
]
