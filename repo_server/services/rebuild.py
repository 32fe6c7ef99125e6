"""Rebuild the catalog's mirror rows from the storage root, and reconcile after a crash."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from ..catalog import (
    Document,
    DocumentFile,
    Dossier,
    DossierLink,
    Fonds,
    OutboxEvent,
    PendingWrite,
)
from ..storage import ObjectNotFound
from .catalog_mirror import mirror_document, recount, sync_files
from .context import Env
from .links import mirror_links
from .numbering import restore_from_documents
from .records import (
    DOCUMENT_FILE,
    DOSSIER_FILE,
    FONDS_FILE,
    from_json_dict,
    object_id,
    record_id,
    to_json_dict,
)
from .retention import due_on, years_of
from .writes import add_outbox

RECORD_KEYS = ("type", "schema_version", "id", "state")


def _meta(record: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    return from_json_dict({k: v for k, v in record.items() if k not in drop})


def import_object(session, env: Env, rid: str) -> str | None:  # noqa: ANN001
    """Make the catalog mirror the head of one object; returns its kind (None if absent)."""
    oid = object_id(rid)
    try:
        versions = env.store.versions(oid)
    except ObjectNotFound:
        return None
    head, first = versions[-1], versions[0]
    paths = head.state
    if FONDS_FILE in paths:
        record = env.store.read_json(oid, FONDS_FILE)
        meta = _meta(record, RECORD_KEYS)
        row = session.get(Fonds, rid) or Fonds(id=rid)
        row.code, row.name = meta["code"], meta["name"]
        row.status = meta.get("status", "open")
        row.closed_on, row.successor_code = meta.get("closed_on"), meta.get("successor_code")
        row.meta, row.head_version = to_json_dict(meta), head.number
        row.created_at, row.updated_at = first.created, head.created
        session.merge(row)
        return "fonds"
    if DOSSIER_FILE in paths:
        record = env.store.read_json(oid, DOSSIER_FILE)
        meta = _meta(record, RECORD_KEYS)
        row = session.get(Dossier, rid) or Dossier(id=rid, doc_total=0, doc_seq=0)
        row.fonds_code, row.file_code = meta["fonds_code"], meta["file_code"]
        row.title, row.state = meta["title"], record.get("state", "open")
        row.start_date, row.end_date = meta.get("start_date"), meta.get("end_date")
        row.year = (meta.get("start_date") or first.created).year
        row.retention, row.retention_years = meta["retention"], meta.get("retention_years")
        row.access_mode, row.external_ref = meta.get("access_mode", "01"), meta.get("external_ref")
        row.retention_rule = meta.get("retention_rule")
        try:
            years = years_of(env, row.retention, row.retention_years)
        except ValueError:
            years = None
        row.retention_due_on = due_on(row.end_date, years)
        row.archive_code = meta.get("archive_code")
        handed = (meta.get("handover") or {}).get("on")
        row.archived_on = date.fromisoformat(handed) if isinstance(handed, str) else None
        row.meta, row.head_version = to_json_dict(meta), head.number
        row.created_at, row.updated_at = first.created, head.created
        session.merge(row)
        mirror_links(session, rid, meta)
        return "dossier"
    if DOCUMENT_FILE in paths:
        record = env.store.read_json(oid, DOCUMENT_FILE)
        media = record.get("files", {})
        meta = _meta(record, (*RECORD_KEYS, "dossier_id", "fonds_code", "doc_code", "serial",
                              "files"))
        row = session.get(Document, rid) or Document(id=rid, text_status="pending")
        row.dossier_id, row.fonds_code = record["dossier_id"], record["fonds_code"]
        row.doc_code, row.serial = record["doc_code"], record["serial"]
        mirror_document(row, meta)
        row.meta, row.head_version = to_json_dict(meta), head.number
        row.created_at, row.updated_at = first.created, head.created
        row = session.merge(row)
        session.flush()
        sync_files(session, rid, head, media)
        return "document"
    return None


def rebuild_catalog(env: Env, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Recreate every mirror row from the storage root (fonds first, then dossiers, documents)."""
    ids: dict[str, list[str]] = {"fonds": [], "dossier": [], "document": []}
    for oid in env.store.iter_object_ids():
        rid = record_id(oid)
        head = env.store.version(oid)
        kind = ("fonds" if FONDS_FILE in head.state else "dossier" if DOSSIER_FILE in head.state
                else "document" if DOCUMENT_FILE in head.state else None)
        if kind:
            ids[kind].append(rid)
    with env.db.write() as session:
        session.execute(delete(DocumentFile))
        session.execute(delete(Document))
        session.execute(delete(DossierLink))  # mirrored again from each dossier's metadata
        session.execute(delete(Dossier))
        session.execute(delete(Fonds))
        session.execute(delete(PendingWrite))
        done = 0
        for kind in ("fonds", "dossier", "document"):
            for rid in ids[kind]:
                import_object(session, env, rid)
                if kind != "fonds":
                    add_outbox(session, env, rid, kind, "index")
                done += 1
                if progress:
                    progress(done)
            session.flush()
        recount(session)
        restore_from_documents(session, env)  # the number log, after a lost database
    return {k: len(v) for k, v in ids.items()}


def reconcile_pending(env: Env, older_than_seconds: float = 0,
                      only: list[str] | None = None, tokens: list[str] | None = None) -> int:
    """After a crash: import every object whose write was interrupted; drop empty reservations.

    Another process may be writing right now (gunicorn workers start one by one), so only
    writes pending for longer than `older_than_seconds` are treated as interrupted. With
    `only`, just the writes of those records (a resumed digitisation batch finishing its own
    interrupted dossier while the server runs). With `tokens`, just those pending writes
    (services/recovery.py chose them: their process is gone; it has recovered the storage).
    """
    if only is None and tokens is None:
        env.store.recover(older_than_seconds=older_than_seconds)
    cutoff = env.now() - timedelta(seconds=older_than_seconds)
    with env.db.write() as session:
        stmt = select(PendingWrite).where(PendingWrite.started_at <= cutoff)
        if only is not None:
            stmt = stmt.where(PendingWrite.object_id.in_(only))
        if tokens is not None:
            stmt = stmt.where(PendingWrite.token.in_(tokens))
        pending = session.scalars(stmt).all()
        pushes: dict[str, list[PendingWrite]] = {}
        for p in pending:
            if p.object_kind.startswith("push:"):
                pushes.setdefault(p.object_kind.split(":")[1], []).append(p)
        for rows in pushes.values():
            # a push is all or nothing: finish it only if every object made it to storage
            if not all(env.store.exists(object_id(p.object_id)) for p in rows):
                for p in rows:
                    if env.store.exists(object_id(p.object_id)):
                        env.store.purge(object_id(p.object_id))
        order = {"fonds": 0, "dossier": 1, "document": 2}
        gone: list[str] = []
        for p in sorted(pending, key=lambda p: order.get(p.object_kind.rsplit(":", 1)[-1], 3)):
            kind = import_object(session, env, p.object_id)
            if kind is None:
                gone.append(p.object_id)
            elif kind != "fonds":
                add_outbox(session, env, p.object_id, kind, "index")
            session.delete(p)
        session.flush()
        for model in (Document, Dossier, Fonds):  # children first: empty reservations go
            session.execute(delete(model).where(model.id.in_(gone), model.head_version == 0))
        if pending:
            session.flush()
            recount(session)
    return len(pending)


def outbox_depth(env: Env) -> int:
    with env.db.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxEvent)
                              .where(OutboxEvent.processed_at.is_(None))) or 0
