"""The catalog mirror: the rows that repeat, for listing and filtering, what the objects in
the storage root say. Every service that writes an object, rebuild and restore mirror it
through these functions, so a column is mirrored the same way everywhere.

A new mirrored field of a document: its name in `MIRRORED` (and the column in
catalog/models.py, with a migration).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select

from ..catalog import Counter, Document, DocumentFile, Dossier
from ..storage import FileInfo
from .records import FILES_DIR

MIRRORED = ("type_code", "direction", "code_number", "code_notation", "organ_name",
            "issued_date", "subject", "access_mode")

# Built once (building and keying a statement costs ~0.1 ms); Core on the table, since the
# ORM's bulk paths cost several times more.
INSERT_FILES = insert(DocumentFile.__table__)
DROP_FILES = delete(DocumentFile.__table__).where(
    DocumentFile.__table__.c.document_id == bindparam("document_id"))


def dossier_json(record_id: str, state: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The content of a dossier's `dossier.json`."""
    return {"type": "dossier", "schema_version": 1, "id": record_id, "state": state, **meta}


def document_json(document_id: str, dossier: Dossier, serial: int, doc_code: str,
                  meta: dict[str, Any], media: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The content of a document's `metadata.json`."""
    return {"type": "document", "schema_version": 1, "id": document_id,
            "dossier_id": dossier.id, "fonds_code": dossier.fonds_code, "doc_code": doc_code,
            "serial": serial, **meta, "files": media}


def mirrored_columns(meta: dict[str, Any]) -> dict[str, Any]:
    """The metadata fields the catalog keeps in their own columns."""
    return {field: meta.get(field) for field in MIRRORED}


def mirror_document(row: Document, meta: dict[str, Any]) -> None:
    """Copy a document's mirrored fields onto its row."""
    for field, value in mirrored_columns(meta).items():
        setattr(row, field, value)


def file_rows(document_id: str, version, media: dict[str, dict]) -> list[dict[str, Any]]:  # noqa: ANN001
    """document_files rows for the `files/` of a version."""
    return [{"document_id": document_id, "name": path.removeprefix(FILES_DIR),
             "size": fi.size, "sha256": fi.sha256,
             "media_type": media.get(path.removeprefix(FILES_DIR), {}).get(
                 "media_type", "application/octet-stream"),
             "version": _first_version_with(fi, version)}
            for path, fi in version.state.items() if path.startswith(FILES_DIR)]


def sync_files(session, document_id: str, version,  # noqa: ANN001
               media: dict[str, dict]) -> list[dict[str, Any]]:
    """Make document_files mirror the `files/` of `version`."""
    conn = session.connection()
    conn.execute(DROP_FILES, {"document_id": document_id})
    rows = file_rows(document_id, version, media)
    if rows:
        conn.execute(INSERT_FILES, rows)
    return rows


def _first_version_with(fi: FileInfo, version) -> int:  # noqa: ANN001
    """The version in which this exact content was stored (from its content path `vN/...`)."""
    return int(fi.content_path.split("/", 1)[0][1:]) if fi.content_path.startswith("v") else version.number


def recount(session) -> None:  # noqa: ANN001
    """Derived numbers: documents per dossier, serials, file-number counters."""
    counts = dict(session.execute(
        select(Document.dossier_id, func.count()).where(Document.head_version > 0)
        .group_by(Document.dossier_id)).all())
    serials = dict(session.execute(
        select(Document.dossier_id, func.max(Document.serial)).group_by(Document.dossier_id)).all())
    for dossier in session.scalars(select(Dossier)):
        dossier.doc_total = counts.get(dossier.id, 0)
        dossier.doc_seq = max(dossier.doc_seq or 0, serials.get(dossier.id, 0) or 0)
    for fonds_code, year, n in session.execute(
            select(Dossier.fonds_code, Dossier.year, func.count())
            .group_by(Dossier.fonds_code, Dossier.year)).all():
        key = f"{fonds_code}:{year}"
        counter = session.get(Counter, ("file_number", key))
        if counter is None:
            session.add(Counter(scope="file_number", key=key, value=n))
        else:
            counter.value = max(counter.value, n)
