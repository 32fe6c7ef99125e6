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

from sqlalchemy import delete, insert, update

from ..catalog import Document, DocumentFile, Dossier, PendingWrite
from ..storage import ObjectNotFound, VersionInfo
from . import audit
from .context import Actor, Env
from .documents import (
    FILES_DIR,
    IncomingFile,
    _file_rows,
    _mirrored,
    _record,
    document_meta,
    prepare_files,
)
from .dossiers import dossier_file, prepare_dossier, reserve_dossier
from .errors import ValidationFailed
from .records import DOCUMENT_FILE, DOSSIER_FILE, dump, new_id, object_id, to_json_dict
from .writes import add_outbox

PUSH_KIND = "push:"  # pending rows of a push carry "push:<group>:<kind>"


@dataclass
class PushedDocument:
    data: dict[str, Any]
    files: list[IncomingFile]
    id: str = ""
    meta: dict[str, Any] | None = None


def _discard_all(env: Env, documents: list[PushedDocument]) -> None:
    for doc in documents:
        for f in doc.files:
            env.store.discard(f.staged)


def push_dossier(env: Env, actor: Actor, dossier_data: dict[str, Any],
                 documents: list[PushedDocument]) -> dict[str, Any]:
    """Receive a whole case; returns the receipt."""
    try:
        if not dossier_data.get("external_ref"):
            raise ValidationFailed({"dossier.external_ref": [
                "A pushed dossier needs the sender's case number (external_ref)."]})
        new = prepare_dossier(env, dossier_data)
        data = new.data
        errors: dict[str, list[str]] = {}
        for i, doc in enumerate(documents):
            try:
                doc.meta = document_meta(env, doc.data, retention=data["retention"],
                                         retention_years=data.get("retention_years"),
                                         access_mode=data["access_mode"],
                                         languages=data.get("languages"))
                prepare_files(env, doc.files)
            except ValidationFailed as exc:
                for field, messages in (exc.errors or {}).items():
                    errors[f"documents.{i}.{field}"] = messages
        if errors:
            raise ValidationFailed(errors)
    except BaseException:
        _discard_all(env, documents)
        raise
    group = new_id()
    for doc in documents:
        doc.id = new_id()
    now = env.now()
    with_pending = [(new.record_id, "dossier")] + [(d.id, "document") for d in documents]
    try:
        with env.db.write() as session:
            reserve_dossier(session, env, actor, new, doc_count=len(documents))
            for serial, doc in enumerate(documents, 1):
                session.execute(insert(Document), [{
                    "id": doc.id, "dossier_id": new.record_id, "fonds_code": new.fonds_code,
                    "doc_code": f"{new.meta['file_code']}.{serial:07d}", "serial": serial,
                    "text_status": "pending", "meta": to_json_dict(doc.meta), "head_version": 0,
                    "created_at": now, "updated_at": now, **_mirrored(doc.meta)}])
            session.execute(insert(PendingWrite), [
                {"token": new_id(), "object_id": rid, "object_kind": f"{PUSH_KIND}{group}:{kind}",
                 "started_at": now} for rid, kind in with_pending])
    except BaseException:
        _discard_all(env, documents)
        raise
    written: list[str] = []
    versions: dict[str, VersionInfo] = {}
    try:
        versions[new.record_id] = _write(env, actor, new.record_id,
                                         {DOSSIER_FILE: dossier_file(new)},
                                         f"Receive dossier {data['external_ref']} (push)")
        written.append(new.record_id)
        holder = SimpleNamespace(id=new.record_id, fonds_code=new.fonds_code)
        for serial, doc in enumerate(documents, 1):
            media = {f.name: {"media_type": f.media_type} for f in doc.files}
            record = _record(doc.id, holder, serial, f"{new.meta['file_code']}.{serial:07d}",
                             doc.meta, media)
            add = {DOCUMENT_FILE: dump(record), **{FILES_DIR + f.name: f.staged
                                                  for f in doc.files}}
            versions[doc.id] = _write(env, actor, doc.id, add,
                                      f"Receive document {serial} of {data['external_ref']}")
            written.append(doc.id)
    except BaseException:
        undo_push(env, written, [rid for rid, _ in with_pending])
        _discard_all(env, documents)
        raise
    receipt = _receipt(env, new, documents, versions)
    with env.db.write() as session:
        dv = versions[new.record_id]
        session.execute(update(Dossier).where(Dossier.id == new.record_id).values(
            head_version=dv.number, created_at=dv.created, updated_at=dv.created,
            doc_total=len(documents)))
        add_outbox(session, env, new.record_id, "dossier", "index")
        for doc in documents:
            v = versions[doc.id]
            session.execute(update(Document).where(Document.id == doc.id).values(
                head_version=v.number, created_at=v.created, updated_at=v.created))
            rows = _file_rows(doc.id, v, {f.name: {"media_type": f.media_type}
                                          for f in doc.files})
            if rows:
                session.execute(insert(DocumentFile), rows)
            add_outbox(session, env, doc.id, "document", "index")
        session.execute(delete(PendingWrite).where(
            PendingWrite.object_kind.like(f"{PUSH_KIND}{group}:%")))
        audit.log_in(session, env, actor, "dossier.push", new.record_id,
                     {"external_ref": data["external_ref"], "documents": len(documents),
                      "receipt_sha256": receipt["receipt_sha256"]})
    return receipt


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


def _receipt(env: Env, new, documents: list[PushedDocument],  # noqa: ANN001
             versions: dict[str, VersionInfo]) -> dict[str, Any]:
    body = {
        "dossier_id": new.record_id, "fonds_code": new.fonds_code,
        "file_code": new.meta["file_code"], "external_ref": new.data["external_ref"],
        "archive_code": None, "received_at": versions[new.record_id].created.isoformat(),
        "documents": [{
            "id": doc.id, "doc_code": f"{new.meta['file_code']}.{serial:07d}",
            "files": [{"name": path.removeprefix(FILES_DIR), "sha256": fi.sha256,
                       "size": fi.size}
                      for path, fi in sorted(versions[doc.id].state.items())
                      if path.startswith(FILES_DIR)]}
            for serial, doc in enumerate(documents, 1)],
    }
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return {**body, "receipt_sha256": hashlib.sha256(canonical.encode()).hexdigest()}
