"""Dossier push: a one-stop-shop desk system sends a whole case — the dossier, its documents
and their files — in one request, all or nothing, and gets a receipt.

Every file is staged and checked against the sender's SHA-256 first; every code is claimed
and every catalog row reserved (invisible) in one transaction; the objects are written; one
last transaction makes them all visible at once. If anything fails the objects written so
far are removed again, so a half-received dossier never appears — not even after a crash
(see rebuild.reconcile_pending, which finishes or removes an interrupted push as a whole).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, insert, select, update

from ..catalog import Document, DocumentFile, Dossier, PendingWrite
from ..storage import ObjectNotFound, VersionInfo
from . import audit, rights
from .access import can_see_dossier
from .catalog_mirror import document_json, file_rows, mirrored_columns
from .context import Actor, Env
from .documents import (
    FILES_DIR,
    IncomingFile,
    document_meta,
    prepare_files,
)
from .dossiers import dossier_file, prepare_dossier, reserve_dossier
from .errors import Conflict, ValidationFailed
from .holds import ensure_not_held
from .processes import this_process
from .records import (
    DOCUMENT_FILE,
    DOSSIER_FILE,
    dump,
    from_json_dict,
    new_id,
    object_id,
    to_json_dict,
)
from .signatures import Findings, check_files, merge
from .writes import add_outbox

PUSH_KIND = "push:"  # pending rows of a push carry "push:<group>:<kind>"


@dataclass
class PushedDocument:
    data: dict[str, Any]
    files: list[IncomingFile]
    id: str = ""
    meta: dict[str, Any] | None = None
    serial: int = 0
    signed: Findings | None = None


def _discard_all(env: Env, documents: list[PushedDocument]) -> None:
    for doc in documents:
        for f in doc.files:
            env.store.discard(f.staged)


def push_dossier(env: Env, actor: Actor, dossier_data: dict[str, Any],
                 documents: list[PushedDocument], *,
                 add_to_existing: bool = False, dossier_id: str | None = None,
                 source: str = "push") -> dict[str, Any]:
    """Receive a whole case; returns the receipt.

    With `add_to_existing`, a case already received (same external_ref, dossier still open)
    gets the pushed documents as its next ones — the sender's explicit new version of the
    case — instead of a 409.

    A digitisation batch (`source="digitisation"`) pushes a whole paper dossier the same way:
    it needs no case number, and gives the ids (`dossier_id`, each document's `id`) that it
    recorded before, so that a batch resumed after a crash finds what it already wrote."""
    try:
        for action in ("dossier.create", "document.create", "file.write"):
            rights.require(actor, action)
        rights.reach_fonds(actor, dossier_data.get("fonds_code") or "")
        if source == "push" and not dossier_data.get("external_ref"):
            raise ValidationFailed({"dossier.external_ref": [
                "A pushed dossier needs the sender's case number (external_ref)."]})
        new = prepare_dossier(env, dossier_data)
        if dossier_id:
            new.record_id = dossier_id
        existing = _existing_case(env, actor, new) if add_to_existing else None
        defaults = from_json_dict(existing.meta) if existing is not None else new.data
        if existing is not None:
            defaults = {**defaults, "retention": existing.retention,
                        "retention_years": existing.retention_years,
                        "access_mode": existing.access_mode}
        errors: dict[str, list[str]] = {}
        for i, doc in enumerate(documents):
            try:
                doc.meta = document_meta(env, doc.data, retention=defaults["retention"],
                                         retention_years=defaults.get("retention_years"),
                                         access_mode=defaults["access_mode"],
                                         languages=defaults.get("languages"))
                prepare_files(env, doc.files)
                doc.signed = check_files(env, doc.files)
                merge(doc.meta, doc.signed, set())
            except ValidationFailed as exc:
                for field, messages in (exc.errors or {}).items():
                    errors[f"documents.{i}.{field}"] = messages
        if errors:
            raise ValidationFailed(errors)
    except BaseException:
        _discard_all(env, documents)
        raise
    if existing is not None:
        new.record_id, new.meta = existing.id, {**from_json_dict(existing.meta)}
    group = new_id()
    for doc in documents:
        doc.id = doc.id or new_id()
    now = env.now()
    holder = this_process(env)
    with_pending = ([] if existing is not None else [(new.record_id, "dossier")]) + \
        [(d.id, "document") for d in documents]
    try:
        with env.db.write() as session:
            if existing is None:
                reserve_dossier(session, env, actor, new, doc_count=len(documents))
                first = 1
            else:
                current = session.get(Dossier, existing.id)
                ensure_not_held(session, current.id, current.file_code)
                if current.state != "open":
                    raise Conflict(f"Case {current.external_ref} ({current.file_code}) is "
                                   f"{current.state}; documents can only be added while it "
                                   "is open.", existing_id=current.id, state=current.state)
                first = session.execute(
                    update(Dossier).where(Dossier.id == current.id)
                    .values(doc_seq=Dossier.doc_seq + len(documents))
                    .returning(Dossier.doc_seq)).scalar_one() - len(documents) + 1
            for serial, doc in enumerate(documents, first):
                doc.serial = serial
                session.execute(insert(Document), [{
                    "id": doc.id, "dossier_id": new.record_id, "fonds_code": new.fonds_code,
                    "doc_code": f"{new.meta['file_code']}.{serial:07d}", "serial": serial,
                    "text_status": "pending", "meta": to_json_dict(doc.meta), "head_version": 0,
                    "created_at": now, "updated_at": now, **mirrored_columns(doc.meta)}])
            session.execute(insert(PendingWrite), [
                {"token": new_id(), "object_id": rid, "object_kind": f"{PUSH_KIND}{group}:{kind}",
                 "started_at": now, "holder": holder} for rid, kind in with_pending])
    except BaseException:
        _discard_all(env, documents)
        raise
    written: list[str] = []
    versions: dict[str, VersionInfo] = {}
    try:
        if existing is None:
            versions[new.record_id] = _write(env, actor, new.record_id,
                                             {DOSSIER_FILE: dossier_file(new)},
                                             f"Receive dossier {_label(new)} ({source})")
            written.append(new.record_id)
        holder = SimpleNamespace(id=new.record_id, fonds_code=new.fonds_code)
        for doc in documents:
            media = _media(doc.files)
            record = document_json(doc.id, holder, doc.serial,
                             f"{new.meta['file_code']}.{doc.serial:07d}", doc.meta, media)
            add = {DOCUMENT_FILE: dump(record), **(doc.signed.evidence if doc.signed else {}),
                   **{FILES_DIR + f.name: f.staged for f in doc.files}}
            versions[doc.id] = _write(env, actor, doc.id, add, f"Receive document {doc.serial} "
                                                               f"of {_label(new)}")
            written.append(doc.id)
    except BaseException:
        undo_push(env, written, [rid for rid, _ in with_pending])
        _discard_all(env, documents)
        raise
    received = versions[new.record_id if existing is None else documents[0].id].created \
        if versions else now
    receipt = _receipt(new, documents, versions, received, existing)
    with env.db.write() as session:
        if existing is None:
            dv = versions[new.record_id]
            session.execute(update(Dossier).where(Dossier.id == new.record_id).values(
                head_version=dv.number, created_at=dv.created, updated_at=dv.created,
                doc_total=len(documents)))
            add_outbox(session, env, new.record_id, "dossier", "index")
        else:
            session.execute(update(Dossier).where(Dossier.id == new.record_id).values(
                doc_total=Dossier.doc_total + len(documents)))
        for doc in documents:
            v = versions[doc.id]
            session.execute(update(Document).where(Document.id == doc.id).values(
                head_version=v.number, created_at=v.created, updated_at=v.created))
            rows = file_rows(doc.id, v, _media(doc.files))
            if rows:
                session.execute(insert(DocumentFile), rows)
            add_outbox(session, env, doc.id, "document", "index")
        session.execute(delete(PendingWrite).where(
            PendingWrite.object_kind.like(f"{PUSH_KIND}{group}:%")))
        audit.log_in(session, env, actor, "dossier.push", new.record_id,
                     {"external_ref": new.data.get("external_ref"), "source": source,
                      "documents": len(documents),
                      "added_to_existing": existing is not None,
                      "receipt_sha256": receipt["receipt_sha256"]})
    return receipt


def _media(files: list[IncomingFile]) -> dict[str, dict[str, str]]:
    """The `files` entry of a document's metadata: media type, and a role if any."""
    return {f.name: {"media_type": f.media_type, **({"role": f.role} if f.role else {})}
            for f in files}


def _label(new) -> str:  # noqa: ANN001
    """How version messages name the dossier: its case number, else its paper file code."""
    return str(new.data.get("external_ref") or new.data.get("paper_file_code")
               or new.meta.get("file_code"))


def _existing_case(env: Env, actor: Actor, new) -> Dossier | None:  # noqa: ANN001
    with env.db.read() as session:
        row = session.scalar(select(Dossier).where(
            Dossier.fonds_code == new.fonds_code,
            Dossier.external_ref == new.data["external_ref"], Dossier.head_version > 0))
        if row is not None and not can_see_dossier(session, env, actor, row):
            return None
        return row


def _write(env: Env, actor: Actor, rid: str, add: dict, message: str) -> VersionInfo:
    return env.store.write_version(object_id(rid), add=add, message=message,
                                   user_name=actor.name, user_address=actor.address,
                                   created=env.now(), expected_head=0)


def undo_push(env: Env, written: list[str], reserved: list[str]) -> None:
    """Remove what a failed push wrote: its objects and its reserved catalog rows."""
    for rid in written:
        try:
            env.store.purge(object_id(rid))
        except ObjectNotFound:
            pass
    with env.db.write() as session:
        session.execute(delete(Document).where(Document.id.in_(reserved),
                                               Document.head_version == 0))
        session.execute(delete(Dossier).where(Dossier.id.in_(reserved),
                                              Dossier.head_version == 0))
        session.execute(delete(PendingWrite).where(PendingWrite.object_id.in_(reserved)))


def _receipt(new, documents: list[PushedDocument], versions: dict[str, VersionInfo],  # noqa: ANN001
             received, existing: Dossier | None) -> dict[str, Any]:  # noqa: ANN001
    body = {
        "dossier_id": new.record_id, "fonds_code": new.fonds_code,
        "file_code": new.meta["file_code"], "external_ref": new.data.get("external_ref"),
        "archive_code": existing.archive_code if existing is not None else None,
        "received_at": received.isoformat(),
        "documents": [{
            "id": doc.id, "doc_code": f"{new.meta['file_code']}.{doc.serial:07d}",
            "files": [{"name": path.removeprefix(FILES_DIR), "sha256": fi.sha256,
                       "size": fi.size}
                      for path, fi in sorted(versions[doc.id].state.items())
                      if path.startswith(FILES_DIR)]}
            for doc in documents],
    }
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return {**body, "receipt_sha256": hashlib.sha256(canonical.encode()).hexdigest()}
