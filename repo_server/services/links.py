"""Filing one document in several dossiers without a copy (NĐ 30/2020 PL VI: "one document can
sit in several users' files without being copied"); decision 0010.

A document has one home dossier (its OCFL metadata names it; its retention, access mode and
lifecycle follow from there). Filing it in a further dossier is a change of *that* dossier:
a new version of its `dossier.json` adds the document to `linked_documents` (id and code only),
mirrored in the `dossier_links` table. So the link is in the storage root (rebuilt with the
catalog), the dossier "as of" a date shows its links as of then, and no byte is copied.

Rules: only into an open dossier of the same fonds; a reader sees a linked document only if
they may see it where it lives (a link never widens access); the dossier's retention at
closing counts its linked documents; a document linked elsewhere is not destroyed with its
home dossier while the other dossier still exists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from ..catalog import Document, Dossier, DossierLink
from .access import can_see_document
from .catalog_mirror import dossier_json
from .context import Actor, Env
from .documents import get_document, visible_doc
from .dossiers import visible_row
from .errors import Conflict, NotFound
from .holds import ensure_not_held
from .records import DOSSIER_FILE, dump, from_json_dict, to_json_dict
from .rights import require
from .writes import WritePlan, add_outbox, write_object


def _write(env: Env, actor: Actor, row: Dossier, meta: dict[str, Any], message: str,
           expected_version: int | None, mirror) -> dict[str, Any]:  # noqa: ANN001
    def apply(session, version) -> None:  # noqa: ANN001
        target = session.get(Dossier, row.id)
        target.meta = to_json_dict(meta)
        target.head_version = version.number
        target.updated_at = version.created
        mirror(session)

    write_object(env, actor, WritePlan(
        row.id, "dossier", {DOSSIER_FILE: dump(dossier_json(row.id, row.state, meta))},
        message=message, expected_head=expected_version or row.head_version), apply=apply)
    return list_links(env, actor, row.id)


def _open_target(session, env: Env, actor: Actor, dossier_id: str) -> Dossier:  # noqa: ANN001
    row = visible_row(session, env, actor, dossier_id, "dossier.link")
    ensure_not_held(session, dossier_id, row.file_code)
    if row.state != "open":
        raise Conflict(f"Dossier {row.file_code} is {row.state}; documents are filed only in "
                       "an open dossier.", state=row.state)
    return row


def link_document(env: Env, actor: Actor, dossier_id: str, document_id: str, *,
                  note: str | None = None,
                  expected_version: int | None = None) -> dict[str, Any]:
    """File an existing document in a further dossier (a new version of that dossier)."""
    require(actor, "dossier.link")
    with env.db.read() as session:
        row = _open_target(session, env, actor, dossier_id)
        doc = visible_doc(session, env, actor, document_id)
        if doc.dossier_id == dossier_id:
            raise Conflict(f"Document {doc.doc_code} already lives in dossier {row.file_code}.")
        if doc.fonds_code != row.fonds_code:
            raise Conflict(f"Document {doc.doc_code} belongs to fonds {doc.fonds_code}; a "
                           f"dossier of {row.fonds_code} files only its own fonds' documents "
                           "(a fonds is handed over and kept as a whole).")
        if session.get(DossierLink, (dossier_id, document_id)) is not None:
            raise Conflict(f"Document {doc.doc_code} is already filed in {row.file_code}.")
    meta = from_json_dict(row.meta)
    now = env.now()
    entry = {"document_id": document_id, "doc_code": doc.doc_code, "linked_by": actor.name,
             "linked_at": now.isoformat(), "note": note}
    meta["linked_documents"] = [*meta.get("linked_documents", []),
                                {k: v for k, v in entry.items() if v is not None}]

    def mirror(session) -> None:  # noqa: ANN001
        session.add(DossierLink(dossier_id=dossier_id, document_id=document_id,
                                linked_by=actor.name, linked_at=now))
        add_outbox(session, env, document_id, "document", "index")

    return _write(env, actor, row, meta, f"File document {doc.doc_code} here too (link, no "
                  "copy)", expected_version, mirror)


def unlink_document(env: Env, actor: Actor, dossier_id: str, document_id: str, *,
                    expected_version: int | None = None) -> dict[str, Any]:
    require(actor, "dossier.link")
    with env.db.read() as session:
        row = _open_target(session, env, actor, dossier_id)
        if session.get(DossierLink, (dossier_id, document_id)) is None:
            raise NotFound(f"Document {document_id} is not filed in {row.file_code}.")
    meta = from_json_dict(row.meta)
    meta["linked_documents"] = [e for e in meta.get("linked_documents", [])
                                if e["document_id"] != document_id]

    def mirror(session) -> None:  # noqa: ANN001
        session.execute(delete(DossierLink).where(DossierLink.dossier_id == dossier_id,
                                                  DossierLink.document_id == document_id))

    return _write(env, actor, row, meta, f"Take linked document {document_id} out",
                  expected_version, mirror)


def linked_rows(session, env: Env, viewer: Actor, dossier_id: str) -> list[Document]:  # noqa: ANN001
    """The documents linked into a dossier that the viewer may see where they live."""
    require(viewer, "document.read")
    rows = session.execute(
        select(Document, Dossier).join(DossierLink, DossierLink.document_id == Document.id)
        .join(Dossier, Dossier.id == Document.dossier_id)
        .where(DossierLink.dossier_id == dossier_id, Document.head_version > 0)
        .order_by(DossierLink.linked_at)).all()
    return [doc for doc, home in rows if can_see_document(session, env, viewer, doc, home)]


def list_links(env: Env, viewer: Actor, dossier_id: str) -> dict[str, Any]:
    require(viewer, "dossier.read")
    with env.db.read() as session:
        row = visible_row(session, env, viewer, dossier_id)
        docs = linked_rows(session, env, viewer, dossier_id)
        homes = {d.id: session.get(Dossier, d.dossier_id).file_code for d in docs}
        version = row.head_version
    return {"dossier_id": dossier_id, "version": version,
            "items": [{**get_document(env, d.id, viewer), "home_file_code": homes[d.id]}
                      for d in docs]}


def linked_document_ids(session, dossier_id: str) -> list[str]:  # noqa: ANN001
    return list(session.scalars(select(DossierLink.document_id)
                                .where(DossierLink.dossier_id == dossier_id)))


def blocking_links(session, dossier_id: str) -> list[str]:  # noqa: ANN001
    """File codes of other dossiers that hold a link to one of this dossier's documents
    (its documents cannot be destroyed while those dossiers exist)."""
    return sorted(set(session.scalars(
        select(Dossier.file_code).join(DossierLink, DossierLink.dossier_id == Dossier.id)
        .join(Document, Document.id == DossierLink.document_id)
        .where(Document.dossier_id == dossier_id, DossierLink.dossier_id != dossier_id,
               Dossier.head_version > 0))))


def mirror_links(session, dossier_id: str, meta: dict[str, Any]) -> None:  # noqa: ANN001
    """Make dossier_links match a dossier's stored `linked_documents` (rebuild, import)."""
    from datetime import datetime

    session.execute(delete(DossierLink).where(DossierLink.dossier_id == dossier_id))
    for entry in meta.get("linked_documents") or []:
        session.add(DossierLink(dossier_id=dossier_id, document_id=entry["document_id"],
                                linked_by=entry.get("linked_by", ""),
                                linked_at=datetime.fromisoformat(entry["linked_at"])))
