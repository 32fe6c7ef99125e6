"""Rules for dossier and document metadata that go beyond types: code lists and cross-field checks.

The API schemas check types and unknown fields; these checks apply to every caller (API,
push, import, jobs), so they live here. Each returns field -> messages; empty means valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..codes import CodeLists

# field -> code list; a tuple marks a list-valued field.
DOSSIER_CODE_FIELDS: dict[str, str | tuple[str]] = {
    "retention": "retention",
    "access_mode": "access_mode",
    "languages": ("language",),
    "physical_state": "physical_state",
    "confidence_level": "confidence_level",
    "backup_status": "backup_status",
}
DOCUMENT_CODE_FIELDS: dict[str, str | tuple[str]] = {
    **DOSSIER_CODE_FIELDS,
    "type_code": "document_type",
    "direction": "direction",
    "secrecy": "secrecy",
    "urgency": "urgency",
}


def _check_codes(codes: CodeLists, meta: Mapping[str, Any], fields: Mapping[str, Any],
                 errors: dict[str, list[str]]) -> None:
    for field, list_name in fields.items():
        value = meta.get(field)
        if value is None:
            continue
        name = list_name[0] if isinstance(list_name, tuple) else list_name
        values = value if isinstance(list_name, tuple) else [value]
        for code in values:
            if not codes.is_valid(name, code):
                errors.setdefault(field, []).append(codes.describe_invalid(name, code))


def _check_retention(codes: CodeLists, meta: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    code = meta.get("retention")
    if code is None or "retention" in errors:
        return
    try:
        codes.retention_years(code, meta.get("retention_years"))
    except ValueError as exc:
        errors.setdefault("retention_years", []).append(str(exc))


def _check_dates(meta: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    start, end = meta.get("start_date"), meta.get("end_date")
    if start and end and end < start:
        errors.setdefault("end_date", []).append(
            f"The end date ({end.isoformat()}) is before the start date ({start.isoformat()})."
        )


def _check_common(meta: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    if meta.get("confidence_level") == "02" and not meta.get("paper_file_code"):
        errors.setdefault("paper_file_code", []).append(
            "A digitised record (confidence level 02) needs the code of its paper original."
        )
    if meta.get("backup_copy") and not meta.get("backup_status"):
        errors.setdefault("backup_status", []).append(
            "Say whether the backup copy is made (01) or not yet (02)."
        )


def check_dossier(codes: CodeLists, meta: Mapping[str, Any]) -> dict[str, list[str]]:
    """Problems in a dossier's complete metadata (after merging an update)."""
    errors: dict[str, list[str]] = {}
    _check_codes(codes, meta, {**DOSSIER_CODE_FIELDS, "handover_rule": "handover_rule"}, errors)
    _check_retention(codes, meta, errors)
    _check_dates(meta, errors)
    _check_common(meta, errors)
    return errors


def check_document(codes: CodeLists, meta: Mapping[str, Any]) -> dict[str, list[str]]:
    """Problems in a document's complete metadata (after merging an update)."""
    errors: dict[str, list[str]] = {}
    _check_codes(codes, meta, DOCUMENT_CODE_FIELDS, errors)
    _check_retention(codes, meta, errors)
    _check_common(meta, errors)
    if meta.get("direction") != "incoming":
        for field in ("arrival_number", "arrival_date"):
            if meta.get(field) is not None:
                errors.setdefault(field, []).append(
                    "Only incoming documents (direction 'incoming') have an arrival number and date."
                )
    issued, arrived = meta.get("issued_date"), meta.get("arrival_date")
    if issued and arrived and arrived < issued:
        errors.setdefault("arrival_date", []).append(
            f"The arrival date ({arrived.isoformat()}) is before the issue date ({issued.isoformat()})."
        )
    return errors
