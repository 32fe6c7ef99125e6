"""TT 05/2025 metadata as XML: the file (hồ sơ, 18 elements) and document (văn bản, 21
elements) element names of DOMAIN.md section 2.2, filled from the repository's records.

Every element is written, in the circular's order, empty when the record has no value (the
vendor sample the standard's implementers follow has all of them). Multi-valued elements
(`language`, `keyword`) repeat. Dates are DD/MM/YYYY; booleans `true`/`false`; codes as the
two-digit codes of the code lists.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

STANDARD = "TT 05/2025/TT-BNV"

# element -> how to read it from a dossier record (dossier.json of the head version)
FILE_ELEMENTS: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("fileCode", lambda r: r.get("file_code")),
    ("title", lambda r: r.get("title")),
    ("maintenance", lambda r: r.get("retention")),
    ("mode", lambda r: r.get("access_mode")),
    ("language", lambda r: r.get("languages")),
    ("startDate", lambda r: r.get("start_date")),
    ("endDate", lambda r: r.get("end_date")),
    ("keyword", lambda r: r.get("keywords")),
    ("totalDoc", lambda r: r.get("doc_total")),
    ("numberOfPaper", lambda r: r.get("sheet_count")),
    ("numberOfPage", lambda r: r.get("page_count")),
    ("format", lambda r: r.get("physical_state")),
    ("inforSign", lambda r: r.get("info_sign")),
    ("confidenceLevel", lambda r: r.get("confidence_level")),
    ("paperFileCode", lambda r: r.get("paper_file_code")),
    ("riskRecovery", lambda r: r.get("backup_copy")),
    ("riskRecoveryStatus", lambda r: r.get("backup_status")),
    ("description", lambda r: _file_description(r)),
)

DOC_ELEMENTS: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("docId", lambda r: r.get("doc_id")),
    ("docCode", lambda r: r.get("doc_code")),
    ("maintenance", lambda r: r.get("retention")),
    ("typeName", lambda r: r.get("type_code")),
    ("codeNumber", lambda r: r.get("code_number")),
    ("codeNotation", lambda r: r.get("code_notation")),
    ("issuedDate", lambda r: r.get("issued_date")),
    ("organName", lambda r: r.get("organ_name")),
    ("subject", lambda r: r.get("subject")),
    ("language", lambda r: r.get("languages")),
    ("numberOfPage", lambda r: r.get("page_count")),
    ("inforSign", lambda r: r.get("info_sign")),
    ("keyword", lambda r: r.get("keywords")),
    ("mode", lambda r: r.get("access_mode")),
    ("confidenceLevel", lambda r: r.get("confidence_level")),
    ("autograph", lambda r: r.get("autograph")),
    ("format", lambda r: r.get("physical_state")),
    ("riskRecovery", lambda r: r.get("backup_copy")),
    ("riskRecoveryStatus", lambda r: r.get("backup_status")),
    ("process", lambda r: r.get("has_process_history")),
    ("description", lambda r: r.get("description")),
)

FILE_ELEMENT_NAMES = tuple(name for name, _ in FILE_ELEMENTS)
DOC_ELEMENT_NAMES = tuple(name for name, _ in DOC_ELEMENTS)


def _file_description(record: dict[str, Any]) -> str | None:
    """TT 05: the description includes the name of the person who made the file."""
    text, maker = record.get("description"), record.get("maker")
    if maker and (not text or maker not in text):
        return f"{text}\nNgười lập hồ sơ: {maker}" if text else f"Người lập hồ sơ: {maker}"
    return text


def format_value(value: Any) -> str:
    """One value as TT 05 writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:  # ISO dates as stored in the JSON records
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return str(value)


def _build(root_name: str, elements: Sequence[tuple[str, Callable[[dict[str, Any]], Any]]],
           record: dict[str, Any], attributes: dict[str, str]) -> bytes:
    root = ET.Element(root_name, {"standard": STANDARD, **attributes})
    for name, read in elements:
        value = read(record)
        values = value if isinstance(value, list | tuple) else [value]
        for item in values or [None]:
            ET.SubElement(root, name).text = format_value(item)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def file_xml(record: dict[str, Any], *, doc_total: int, version: int) -> bytes:
    """The dossier (hồ sơ) as TT 05 file metadata; `doc_total` = documents in the package."""
    return _build("file", FILE_ELEMENTS, {**record, "doc_total": doc_total},
                  {"id": str(record.get("id", "")), "fondsCode": str(record.get("fonds_code", "")),
                   "version": str(version)})


def doc_xml(record: dict[str, Any], *, file_code: str, version: int) -> bytes:
    """The document (văn bản) as TT 05 document metadata; docId = <fileCode>.<serial>."""
    doc_id = f"{file_code}.{record.get('serial')}" if record.get("serial") is not None else None
    return _build("doc", DOC_ELEMENTS, {**record, "doc_id": doc_id},
                  {"id": str(record.get("id", "")), "fileCode": file_code,
                   "version": str(version)})
