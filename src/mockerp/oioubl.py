"""OIOUBL import for the mock finance system: the public face of ``oioubl_parse`` (reading one
document, pure) and ``oioubl_import`` (loading files into the database). See docs/oioubl.md.
"""

from __future__ import annotations

from mockerp.oioubl_import import ImportedDoc, ImportReport, expand_paths, import_paths
from mockerp.oioubl_parse import (
    MAX_FILE_BYTES,
    CertificateData,
    InterpreterData,
    OioublError,
    ParsedDocument,
    ParsedLine,
    ParsedPayment,
    parse_document,
)

__all__ = [
    "MAX_FILE_BYTES",
    "CertificateData",
    "ImportReport",
    "ImportedDoc",
    "InterpreterData",
    "OioublError",
    "ParsedDocument",
    "ParsedLine",
    "ParsedPayment",
    "expand_paths",
    "import_paths",
    "parse_document",
]
