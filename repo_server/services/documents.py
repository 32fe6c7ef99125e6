"""Documents (văn bản) in a dossier and their files; every change is a new object version."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import bindparam, delete, func, insert, select, update

from ..catalog import Document, DocumentFile, DocumentTombstone, Dossier, Fonds, Tombstone
from ..storage import DamagedContent, FileInfo, ObjectNotFound, StagedFile
from . import fixity, rights
from .access import can_see_document, can_see_dossier, filter_documents, in_scope
from .catalog_mirror import (
    INSERT_FILES,
    document_json,
    file_rows,
    mirror_document,
    mirrored_columns,
    sync_files,
)
from .context import Actor, Env
from .dossiers import claim_document_serial, version_summary, visible_row
from .dossiers import get_row as get_dossier_row
from .errors import Conflict, Gone, NotFound, PreconditionRequired, ValidationFailed
from .holds import ensure_not_held
from .metadata import check_document
from .numbering import guard_registered_fields
from .records import (
    DOCUMENT_FILE,
    FILES_DIR,
    dump,
    from_json_dict,
    new_id,
    object_id,
    to_json_dict,
    version_at,
)
from .signatures import check_files, merge
from .writes import WritePlan, write_object

SYSTEM_FIELDS = ("id", "type", "schema_version", "dossier_id", "fonds_code", "doc_code",
                 "serial", "files")
_FORBIDDEN_NAME_CHARS = set('/\\:*?"<>|')


@dataclass
class IncomingFile:
    """An uploaded file, already streamed to the storage's staging area."""

    name: str
    media_type: str
    staged: StagedFile
    expected_sha256: str | None = None
    role: str | None = None  # "original-scan": kept beside its PDF/A, not read for text


# The text extracted from a file is stored beside it as <name>.txt (services/texts.py), and a
# file system holds names of 255 bytes: a longer name could be stored but never indexed.
TEXT_SUFFIX = ".txt"
MAX_FILE_NAME_BYTES = 255 - len(TEXT_SUFFIX)


def clean_file_name(name: str | None) -> str:
    """A safe file name: NFC, no folders, no control characters; else a clear error."""
    if not name or not name.strip():
        raise ValidationFailed({"file": ["The file has no name; send a file name."]})
    name = unicodedata.normalize("NFC", name.strip())
    problems = []
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        problems.append("The file name contains control characters.")
    if _FORBIDDEN_NAME_CHARS & set(name):
        problems.append('A file name cannot contain / \\ : * ? " < > |.')
    if name in {".", ".."} or name.startswith("."):
        problems.append("A file name cannot start with a dot.")
    if len(name.encode()) > MAX_FILE_NAME_BYTES:
        problems.append(f"The file name is {len(name.encode())} bytes long (UTF-8); the limit is "
                        f"{MAX_FILE_NAME_BYTES} bytes, so that its extracted text "
                        f"(<name>{TEXT_SUFFIX}) fits a file name of the storage (255 bytes). "
                        "Shorten the name and send the file again.")
    if problems:
        raise ValidationFailed({"file": problems})
    return name


def _check_digests(env: Env, files: list[IncomingFile]) -> None:
    bad = [f for f in files if f.expected_sha256 and f.expected_sha256.lower() != f.staged.sha256]
    if bad:
        for f in files:
            env.store.discard(f.staged)
        raise ValidationFailed({"file": [
            f"{f.name}: the file received (SHA-256 {f.staged.sha256}) does not match the "
            f"digest you sent ({f.expected_sha256}); it was damaged on the way, send it again."
            for f in bad]})


def _discard(env: Env, files: list[IncomingFile]) -> None:
    for f in files:
        env.store.discard(f.staged)


def view(row: Document, files: list[DocumentFile]) -> dict[str, Any]:
    meta = from_json_dict(row.meta)
    meta.pop("files", None)
    return {**meta, "id": row.id, "dossier_id": row.dossier_id, "fonds_code": row.fonds_code,
            "doc_code": row.doc_code, "serial": row.serial,
            "text_status": row.text_status, "version": row.head_version,
            "created_at": row.created_at, "updated_at": row.updated_at,
            "files": [{"name": f.name, "media_type": f.media_type, "size": f.size,
                       "sha256": f.sha256, "version": f.version}
                      for f in sorted(files, key=lambda f: f.name)]}


def get_row(session, document_id: str) -> Document:  # noqa: ANN001
    row = session.get(Document, document_id)
    if row is None or row.head_version == 0:
        raise NotFound(f"There is no document with id {document_id!r}.")
    return row


def _destroyed(session, viewer: Actor, document_id: str) -> None:  # noqa: ANN001
    """410 naming the review, the date and the destruction record when the document was
    destroyed after an approved disposal and its fonds is in the viewer's scope."""
    gone = session.get(DocumentTombstone, document_id)
    tomb = session.get(Tombstone, gone.dossier_id) if gone is not None else None
    if tomb is None or not in_scope(viewer, tomb.fonds_code):
        return
    raise Gone(f"Document {gone.doc_code or document_id} was destroyed with dossier "
               f"{tomb.file_code} on {tomb.destroyed_at.date().isoformat()} after disposal "
               f"review {tomb.review_id}; see its destruction record.",
               review_id=tomb.review_id, record_id=tomb.record_id,
               destroyed_at=tomb.destroyed_at.isoformat(), dossier_id=tomb.dossier_id)


def visible_doc(session, env: Env, viewer: Actor, document_id: str,  # noqa: ANN001
                action: str = "document.read") -> Document:
    """The document, for `action` by `viewer` (services/rights.py): 403 without the role;
    NotFound when the viewer may not see it (or its dossier)."""
    rights.require(viewer, action)
    try:
        row = get_row(session, document_id)
    except NotFound:
        _destroyed(session, viewer, document_id)
        raise
    dossier = session.get(Dossier, row.dossier_id)
    if dossier is None or not can_see_document(session, env, viewer, row, dossier):
        raise NotFound(f"There is no document with id {document_id!r}.")
    return row


def file_list(session, document_id: str) -> list[DocumentFile]:  # noqa: ANN001
    return list(session.scalars(select(DocumentFile).where(DocumentFile.document_id == document_id)))


def get_document(env: Env, document_id: str, viewer: Actor, *,
                 as_of: datetime | None = None) -> dict[str, Any]:
    with env.db.read() as session:
        row = visible_doc(session, env, viewer, document_id)
        current = view(row, file_list(session, document_id))
    if as_of is None:
        return current
    return version_view(env, document_id,
                        version_at(env.store, document_id, as_of, "document"), viewer)


def version_view(env: Env, document_id: str, number: int, viewer: Actor) -> dict[str, Any]:
    """The document's metadata and files exactly as in version `number`."""
    with env.db.read() as session:
        visible_doc(session, env, viewer, document_id)
    try:
        info = env.store.version(object_id(document_id), number)
        record = from_json_dict(env.store.read_json(object_id(document_id), DOCUMENT_FILE, number))
    except ObjectNotFound as exc:
        raise NotFound(f"Document {document_id!r} has no version {number}.") from exc
    media = record.pop("files", {}) or {}
    record.pop("type", None)
    record.pop("schema_version", None)
    files = []
    for path, fi in sorted(info.state.items()):
        if path.startswith(FILES_DIR):
            name = path.removeprefix(FILES_DIR)
            files.append({"name": name, "size": fi.size, "sha256": fi.sha256,
                          "media_type": media.get(name, {}).get("media_type",
                                                                "application/octet-stream")})
    return {**record, "version": info.number, "version_created": info.created,
            "version_user": info.user_name, "version_message": info.message, "files": files}


def list_versions(env: Env, document_id: str, viewer: Actor) -> list[dict[str, Any]]:
    with env.db.read() as session:
        visible_doc(session, env, viewer, document_id)
    return [version_summary(v) for v in env.store.versions(object_id(document_id))]


def list_documents(env: Env, dossier_id: str, viewer: Actor, *, page: int = 1, page_size: int = 20,
                   as_of: datetime | None = None) -> tuple[list[dict[str, Any]], int]:
    """Documents of a dossier in filing order; with `as_of`, as they were at that moment."""
    with env.db.read() as session:
        visible_row(session, env, viewer, dossier_id, "document.read")
        stmt = select(Document).join(Dossier, Dossier.id == Document.dossier_id).where(
            Document.dossier_id == dossier_id, Document.head_version > 0)
        stmt = filter_documents(session, env, viewer, stmt)
        if as_of is not None:
            stmt = stmt.where(Document.created_at <= as_of)
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(Document.serial)
                               .offset((page - 1) * page_size).limit(page_size)).all()
        if as_of is None:
            files: dict[str, list[DocumentFile]] = {r.id: [] for r in rows}
            for f in session.scalars(select(DocumentFile).where(
                    DocumentFile.document_id.in_(list(files)))):
                files[f.document_id].append(f)
            return [view(r, files[r.id]) for r in rows], total
    return [get_document(env, r.id, viewer, as_of=as_of) for r in rows], total


# Core tables for the hot write path (the ORM's bulk paths cost several times more).
_DOCS = Document.__table__
_DOSSIERS = Dossier.__table__


# The statements of every create, built once (building and keying one costs ~0.1 ms).
_INSERT_DOC = insert(_DOCS)
_DOC_CREATED = update(_DOCS).where(_DOCS.c.id == bindparam("document_id"))
_COUNT_DOC = (update(_DOSSIERS).where(_DOSSIERS.c.id == bindparam("dossier_id"))
              .values(doc_total=_DOSSIERS.c.doc_total + 1))

# What filing a document needs to know of its dossier, in one statement (create's hot path).
_FILING = (
    select(_DOSSIERS.c.id, _DOSSIERS.c.fonds_code, _DOSSIERS.c.file_code, _DOSSIERS.c.state,
           _DOSSIERS.c.head_version, _DOSSIERS.c.access_mode, _DOSSIERS.c.retention,
           _DOSSIERS.c.retention_years, _DOSSIERS.c.meta,
           Fonds.__table__.c.status.label("fonds_status"))
    .select_from(_DOSSIERS.outerjoin(Fonds.__table__,
                                     Fonds.__table__.c.code == _DOSSIERS.c.fonds_code))
    .where(_DOSSIERS.c.id == bindparam("id")))


def _filing_target(session, env: Env, viewer: Actor, dossier_id: str):  # noqa: ANN001, ANN202
    """The dossier's filing facts (a row with its fonds' status) if the viewer may file a
    document in it; otherwise the error `visible_row` gives (403, 404, or 410)."""
    rights.require(viewer, "document.create")
    row = session.connection().execute(_FILING, {"id": dossier_id}).first()
    if row is None or row.head_version == 0 or not can_see_dossier(session, env, viewer, row):
        visible_row(session, env, viewer, dossier_id, "document.create")  # raises
        raise NotFound(f"There is no dossier with id {dossier_id!r}.")
    return row


def open_dossier_row(session, dossier_id: str) -> Dossier:  # noqa: ANN001
    dossier = get_dossier_row(session, dossier_id)
    ensure_not_held(session, dossier_id, dossier.file_code)
    if dossier.state != "open":
        raise Conflict(f"Dossier {dossier.file_code} is {dossier.state}; documents can only be "
                       "added to or changed in an open dossier.", state=dossier.state)
    return dossier


# Same number, notation and issuer (none = none), built once: it runs on every create.
_DUPLICATES = select(_DOCS.c.doc_code).where(
    _DOCS.c.code_number == bindparam("number"),
    _DOCS.c.code_notation == bindparam("notation"),
    _DOCS.c.organ_name.is_not_distinct_from(bindparam("organ")),
    _DOCS.c.head_version > 0, _DOCS.c.id != bindparam("exclude")).limit(5)


def duplicate_numbers(session, meta: dict[str, Any], exclude: str | None) -> list[str]:  # noqa: ANN001
    """NĐ 30 asks to warn when number + symbol + issuer is already registered."""
    if not (meta.get("code_number") and meta.get("code_notation")):
        return []
    codes = session.connection().execute(_DUPLICATES, {
        "number": meta["code_number"], "notation": meta["code_notation"],
        "organ": meta.get("organ_name"), "exclude": exclude or ""}).scalars().all()
    return [f"A document numbered {meta['code_number']}/{meta['code_notation']} from this issuer "
            f"is already registered as {code}." for code in codes]


def document_meta(env: Env, data: dict[str, Any], *, retention: str,
                  retention_years: int | None, access_mode: str,
                  languages: list[str] | None) -> dict[str, Any]:
    """A new document's metadata: what the client sent, defaults from its dossier, checked."""
    meta = {k: v for k, v in data.items() if v is not None}
    meta.setdefault("retention", retention)
    if meta["retention"] == retention and retention_years:
        meta.setdefault("retention_years", retention_years)
    meta.setdefault("access_mode", access_mode)
    meta.setdefault("languages", languages or ["01"])
    _validate(env, meta)
    return meta


def prepare_files(env: Env, files: list[IncomingFile]) -> None:
    """Clean the names and check the client's digests of one document's files."""
    names = [clean_file_name(f.name) for f in files]
    if len(set(names)) != len(names):
        raise ValidationFailed({"file": ["Two files have the same name."]})
    for f, name in zip(files, names, strict=True):
        f.name = name
    _check_digests(env, files)


def _validate(env: Env, meta: dict[str, Any]) -> None:
    errors = check_document(env.codes, meta)
    if errors:
        raise ValidationFailed(errors)


def create_document(env: Env, actor: Actor, dossier_id: str, data: dict[str, Any],
                    files: list[IncomingFile] | None = None) -> dict[str, Any]:
    """Add a document (and its files) to an open dossier as one new object version."""
    files = files or []
    try:
        with env.db.read() as session:
            dossier = _filing_target(session, env, actor, dossier_id)
        prepare_files(env, files)
        if dossier.fonds_status == "closed":
            raise Conflict(f"Fonds {dossier.fonds_code} is closed: nothing new is issued or "
                           "filed in its name. File it in the successor's fonds.")
        if dossier.state != "open":  # checked again, with holds, when the serial is claimed
            raise Conflict(f"Dossier {dossier.file_code} is {dossier.state}; documents can only "
                           "be added to an open dossier.", state=dossier.state)
        meta = document_meta(env, data, retention=dossier.retention,
                             retention_years=dossier.retention_years,
                             access_mode=dossier.access_mode,
                             languages=from_json_dict(dossier.meta).get("languages"))
        signed = check_files(env, files)
        merge(meta, signed, set())
    except BaseException:
        _discard(env, files)
        raise
    document_id = new_id()
    media = {f.name: {"media_type": f.media_type} for f in files}
    claimed: dict[str, Any] = {}
    warnings: list[str] = []
    json_meta = to_json_dict(meta)

    def reserve(session) -> None:  # noqa: ANN001
        current = claim_document_serial(session, dossier_id)
        if current is None or current.head_version == 0 or current.state != "open":
            open_dossier_row(session, dossier_id)  # raises the error that fits (404, 410, 409)
        ensure_not_held(session, dossier_id, current.file_code)
        serial = current.doc_seq
        doc_code = f"{current.file_code}.{serial:07d}"
        claimed.update(serial=serial, doc_code=doc_code, dossier=current)
        warnings.extend(duplicate_numbers(session, meta, None))
        now = env.now()
        row = {"id": document_id, "dossier_id": dossier_id, "fonds_code": current.fonds_code,
               "doc_code": doc_code, "serial": serial, "text_status": "pending",
               "meta": json_meta, "head_version": 0, "created_at": now, "updated_at": now,
               **mirrored_columns(meta)}
        claimed["row"] = row
        session.connection().execute(_INSERT_DOC, [row])

    def unreserve(session) -> None:  # noqa: ANN001
        session.connection().execute(delete(_DOCS).where(_DOCS.c.id == document_id,
                                                         _DOCS.c.head_version == 0))

    def apply(session, version) -> None:  # noqa: ANN001
        claimed["version"] = version
        conn = session.connection()
        conn.execute(_DOC_CREATED, {"document_id": document_id, "head_version": version.number,
                                    "created_at": version.created,
                                    "updated_at": version.created})
        rows = file_rows(document_id, version, media)
        if rows:
            conn.execute(INSERT_FILES, rows)
        conn.execute(_COUNT_DOC, {"dossier_id": dossier_id})

    def build() -> dict[str, StagedFile | bytes]:
        record = document_json(document_id, claimed["dossier"], claimed["serial"], claimed["doc_code"],
                         meta, media)
        return {DOCUMENT_FILE: dump(record), **signed.evidence,
                **{FILES_DIR + f.name: f.staged for f in files}}

    plan = WritePlan(document_id, "document", build, expected_head=0,
                     message=f"Create document: {str(meta.get('subject', ''))[:80]}")
    try:
        write_object(env, actor, plan, reserve=reserve, apply=apply, unreserve=unreserve)
    except BaseException:
        _discard(env, files)
        raise
    # The answer is built from what was just written: no need to read it back.
    version = claimed["version"]
    row = claimed["row"]
    files_out = [{"name": r["name"], "media_type": r["media_type"], "size": r["size"],
                  "sha256": r["sha256"], "version": r["version"]}
                 for r in sorted(file_rows(document_id, version, media),
                                 key=lambda r: r["name"])]
    result = {**meta, "id": document_id, "dossier_id": dossier_id,
              "fonds_code": row["fonds_code"], "doc_code": row["doc_code"],
              "serial": row["serial"], "text_status": "pending", "version": version.number,
              "created_at": version.created, "updated_at": version.created,
              "files": files_out}
    if warnings:
        result["warnings"] = warnings
    return result


def _change(env: Env, actor: Actor, document_id: str, action: str, *,
            expected_version: int | None, message: str, meta_changes: dict[str, Any] | None = None,
            add_files: list[IncomingFile] | None = None, remove_names: list[str] | None = None,
            must_exist: list[str] | None = None, must_not_exist: list[str] | None = None,
            ) -> dict[str, Any]:
    """One new version of a document: metadata changes, added/replaced and removed files."""
    add_files = add_files or []
    try:
        with env.db.read() as session:
            row = visible_doc(session, env, actor, document_id, action)
            open_dossier_row(session, row.dossier_id)
            current_files = file_list(session, document_id)
            current_names = {f.name for f in current_files}
        for name in must_exist or []:
            if name not in current_names:
                raise NotFound(f"Document {row.doc_code} has no file named {name!r}.")
        for name in must_not_exist or []:
            if name in current_names:
                raise Conflict(f"Document {row.doc_code} already has a file named {name!r}; "
                               "replace it with PUT and If-Match.")
        _check_digests(env, add_files)
        record = from_json_dict(row.meta)
        stored = env.store.read_json(object_id(document_id), DOCUMENT_FILE)
        media = dict(stored.get("files", {}))
        meta = {**record, **(meta_changes or {})}
        meta = {k: v for k, v in meta.items() if v is not None}
        if meta_changes:
            guard_registered_fields(record, meta_changes, row.doc_code)
            fixed = [k for k in meta_changes if k in SYSTEM_FIELDS]
            if fixed:
                raise ValidationFailed({k: ["This field is set by the system and cannot be "
                                            "changed."] for k in fixed})
            _validate(env, meta)
        signed = check_files(env, add_files)
        stale_evidence = merge(meta, signed, {f.name for f in add_files} | set(remove_names or [])) \
            if add_files or remove_names else []
    except BaseException:
        _discard(env, add_files)
        raise
    for f in add_files:
        media[f.name] = {"media_type": f.media_type}
    for name in remove_names or []:
        media.pop(name, None)
    new_record = {**{k: stored[k] for k in ("type", "schema_version", "id", "dossier_id",
                                              "fonds_code", "doc_code", "serial")},
                  **to_json_dict(meta), "files": media}

    done: dict[str, Any] = {"files": current_files}

    def apply(session, version) -> None:  # noqa: ANN001
        target = session.get(Document, document_id)
        mirror_document(target, meta)
        target.meta = to_json_dict(meta)
        target.head_version = version.number
        target.updated_at = version.created
        done["row"] = target
        if add_files or remove_names:  # a metadata-only change leaves the file rows as they are
            done["files"] = [DocumentFile(**r) for r in
                             sync_files(session, document_id, version, media)]
            # The worker reads the new files' text and records it as a version of its own:
            # until then the text is pending, so a client knows to wait before taking the ETag.
            target.text_status, target.text_reason = "pending", None

    plan = WritePlan(document_id, "document",
                     {DOCUMENT_FILE: dump(new_record), **signed.evidence,
                      **{FILES_DIR + f.name: f.staged for f in add_files}},
                     remove=[FILES_DIR + n for n in remove_names or []] + stale_evidence,
                     message=message, expected_head=expected_version)
    try:
        write_object(env, actor, plan, apply=apply)
    except BaseException:
        _discard(env, add_files)
        raise
    # The answer is built from what was just written (loaded with all its columns, and the
    # viewer's right to see it was checked above): no need to read it back.
    return view(done["row"], done["files"])


def _require(actor: Actor, action: str, expected_version: int | None, what: str) -> None:
    rights.require(actor, action)
    if expected_version is None:
        raise PreconditionRequired(f"Send If-Match with the document's current ETag to {what}.")


def update_document(env: Env, actor: Actor, document_id: str, changes: dict[str, Any],
                    expected_version: int | None) -> dict[str, Any]:
    _require(actor, "document.update", expected_version, "update it")
    return _change(env, actor, document_id, "document.update", expected_version=expected_version,
                   meta_changes=changes,
                   message=f"Update document metadata: {', '.join(sorted(changes))}")


def add_files(env: Env, actor: Actor, document_id: str, files: list[IncomingFile],
              expected_version: int | None = None) -> dict[str, Any]:
    """Attach new files (names not yet used in the document)."""
    try:
        rights.require(actor, "file.write")
        names = [clean_file_name(f.name) for f in files]
        if not files:
            raise ValidationFailed({"file": ["Send at least one file."]})
        if len(set(names)) != len(names):
            raise ValidationFailed({"file": ["Two files have the same name."]})
    except BaseException:
        _discard(env, files)
        raise
    for f, name in zip(files, names, strict=True):
        f.name = name
    return _change(env, actor, document_id, "file.write", expected_version=expected_version,
                   add_files=files, must_not_exist=names,
                   message=f"Add file{'s' if len(files) > 1 else ''}: {', '.join(names)}")


def replace_file(env: Env, actor: Actor, document_id: str, name: str, file: IncomingFile,
                 expected_version: int | None) -> dict[str, Any]:
    """Replace a file (e.g. with its signed version); the old bytes stay in the old version."""
    try:
        _require(actor, "file.write", expected_version, "replace a file")
        file.name = clean_file_name(name)
    except BaseException:
        _discard(env, [file])
        raise
    return _change(env, actor, document_id, "file.write", expected_version=expected_version,
                   add_files=[file], must_exist=[file.name], message=f"Replace file: {file.name}")


def remove_file(env: Env, actor: Actor, document_id: str, name: str,
                expected_version: int | None) -> dict[str, Any]:
    """Take a file out of the document's current version (earlier versions keep it)."""
    _require(actor, "file.write", expected_version, "remove a file")
    name = unicodedata.normalize("NFC", name)
    return _change(env, actor, document_id, "file.write", expected_version=expected_version,
                   remove_names=[name], must_exist=[name], message=f"Remove file: {name}")


def open_file(env: Env, document_id: str, name: str, viewer: Actor,
              version: int | None = None) -> tuple[Path, FileInfo, str]:
    """Where a file's bytes are, its digests and media type, now or in an earlier version."""
    name = unicodedata.normalize("NFC", name)
    with env.db.read() as session:
        row = visible_doc(session, env, viewer, document_id, "file.read")
        if "\x00" in name:  # no file has one (PostgreSQL refuses it in a query, too)
            raise NotFound(f"Document {row.doc_code} has no file named {name!r}.")
        if version is None:
            current = session.get(DocumentFile, (document_id, name))
            if current is None:
                raise NotFound(f"Document {row.doc_code} has no file named {name!r}.")
    try:
        path, info = env.store.file_path(object_id(document_id), FILES_DIR + name, version)
        media = env.store.read_json(object_id(document_id), DOCUMENT_FILE, version).get("files", {})
    except ObjectNotFound as exc:
        where = f"in version {version}" if version else "now"
        raise NotFound(f"Document {row.doc_code} has no file named {name!r} {where}.") from exc
    return path, info, media.get(name, {}).get("media_type", "application/octet-stream")


class DamagedFile(Exception):
    """Raised while streaming a download whose bytes no longer match their recorded digest
    (after the object was marked damaged); the transfer is cut before its last byte."""


@dataclass
class Download:
    """A file ready to send: an open file (for ranges and conditional answers), its digests
    and media type, and ``verified()`` for a whole-file answer checked as it streams."""

    env: Env
    document_id: str
    file: BinaryIO
    info: FileInfo
    media_type: str

    @property
    def sha256(self) -> str:
        return self.info.sha256

    @property
    def size(self) -> int:
        return self.info.size

    @property
    def modified(self) -> float:
        return os.fstat(self.file.fileno()).st_mtime

    def verified(self) -> Iterator[bytes]:
        """The whole file, checked against its recorded digest as it streams. On a mismatch
        the object is marked damaged (fixity alert, /health degraded) and DamagedFile is
        raised before the last chunk is sent."""
        oid = object_id(self.document_id)
        try:
            yield from self.env.store.verified_chunks(oid, self.info, self.file)
        except DamagedContent as exc:
            fixity.report_damaged(env=self.env, oid=oid, kind="document", problems=[
                f"{exc.content_path}: a download found its bytes changed on disk "
                f"(digest {exc.actual}, recorded {exc.expected})"])
            raise DamagedFile(str(exc)) from exc


def download(env: Env, document_id: str, name: str, viewer: Actor,
             version: int | None = None) -> Download:
    """Open a file for download (rights as ``open_file``); the caller closes ``file`` or
    consumes ``verified()``."""
    _, info, media_type = open_file(env, document_id, name, viewer, version)
    try:
        fh, info = env.store.open_file(object_id(document_id), info.logical_path, version)
    except ObjectNotFound as exc:
        raise NotFound(f"The file {name!r} is no longer stored.") from exc
    return Download(env, document_id, fh, info, media_type)
