"""Feeding the search index: records built from the storage root, and the outbox drained.

The index is derived data. Every record is built from the object's head in the storage root
(metadata JSON plus extracted text), so the outbox path and a full reindex give the same
result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update

from ..catalog import Dossier, OutboxEvent
from ..search.backend import IndexRecord, SearchBackend
from ..storage import ObjectNotFound
from .context import Env
from .documents import FILES_DIR
from .records import DOCUMENT_FILE, DOSSIER_FILE, object_id, record_id
from .texts import TextPlan, plan_document_text, read_texts, write_texts

log = logging.getLogger(__name__)

_FLAT_FIELDS = ("organ_name", "description", "maker", "autograph")
# codes are not words: a year or a serial in them would match every record of a dossier; they
# are searched with "code:" (search/query.py)
_CODE_FIELDS = ("doc_code", "file_code", "paper_file_code", "archive_code", "info_sign",
                "external_ref")


def _codes(record: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(record[k]) for k in _CODE_FIELDS if record.get(k))


def _flatten(record: dict[str, Any]) -> str:
    """Other metadata as one text, one value a line: issuer, signer, recipients, keywords,
    description."""
    parts = [str(record[k]) for k in _FLAT_FIELDS if record.get(k)]
    parts += [str(k) for k in record.get("keywords") or []]
    signer = record.get("signer") or {}
    parts += [v for v in (signer.get("position"), signer.get("full_name")) if v]
    parts += [r.get("organ_name", "") for r in record.get("recipients") or []]
    return "\n".join(parts)


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def stricter(a: str | None, b: str | None) -> str:
    """The more restrictive of two access modes (01 public < 02 conditional < 03 secret)."""
    return max(a or "01", b or "01")


def catalog_facts(env: Env, dossier_ids: list[str] | None = None
                  ) -> dict[str, tuple[str, str]]:
    """Dossier id -> (state, access mode) from the catalog, which also knows operational
    states (such as disposal_review) that are not written into the objects."""
    stmt = select(Dossier.id, Dossier.state, Dossier.access_mode)
    if dossier_ids is not None:
        stmt = stmt.where(Dossier.id.in_(dossier_ids))
    with env.db.read() as session:
        return {i: (state, mode) for i, state, mode in session.execute(stmt)}


def dossier_record(record: dict[str, Any], updated: datetime,
                   state: str | None = None) -> IndexRecord:
    return IndexRecord(
        id=record["id"], kind="dossier", dossier_id=record["id"],
        fonds_code=record["fonds_code"], state=state or record.get("state"),
        access_mode=record.get("access_mode"), type_code=None, direction=None,
        date=_date(record.get("start_date")), title=record.get("title", ""),
        number=None, fields_text=_flatten(record), body="", updated=updated,
        codes=_codes(record))


def document_record(record: dict[str, Any], texts: dict[str, str],
                    dossier: tuple[str, str] | None, updated: datetime,
                    files: list[str] | None = None) -> IndexRecord:
    """A document's record; it carries its dossier's state, and the stricter of its own and
    its dossier's access mode, so that search filters need no join."""
    dossier_state, dossier_mode = dossier or (None, None)
    number = None
    if record.get("code_number") or record.get("code_notation"):
        number = "/".join(str(p) for p in (record.get("code_number"),
                                           record.get("code_notation")) if p)
    body = "\n\f\n".join(texts[name] for name in sorted(texts))
    return IndexRecord(
        id=record["id"], kind="document", dossier_id=record["dossier_id"],
        fonds_code=record["fonds_code"], state=dossier_state,
        access_mode=stricter(record.get("access_mode"), dossier_mode),
        type_code=record.get("type_code"),
        direction=record.get("direction"), date=_date(record.get("issued_date")),
        title=record.get("subject", ""), number=number,
        fields_text=_flatten(record), body=body, updated=updated, codes=_codes(record),
        files=tuple(sorted(texts if files is None else files)))


def build_record(env: Env, rid: str, facts: dict[str, tuple[str, str]] | None = None
                 ) -> IndexRecord | None:
    """The index record of one object's head, or None if it is gone or not indexed."""
    oid = object_id(rid)
    try:
        head = env.store.version(oid)
    except ObjectNotFound:
        return None
    if DOSSIER_FILE in head.state:
        record = env.store.read_json(oid, DOSSIER_FILE)
        known = (facts or catalog_facts(env, [rid])).get(rid)
        return dossier_record(record, head.created, known[0] if known else None)
    if DOCUMENT_FILE in head.state:
        record = env.store.read_json(oid, DOCUMENT_FILE)
        dossier_id = record["dossier_id"]
        known = (facts or catalog_facts(env, [dossier_id])).get(dossier_id)
        files = [p.removeprefix(FILES_DIR) for p in head.state if p.startswith(FILES_DIR)]
        return document_record(record, read_texts(env, rid), known, head.created, files)
    return None


DRAIN_BATCH = 200  # outbox events per index commit, at most


# Extracted texts are stored in batches of at most this many documents or bytes: one storage
# commit and two transactions per batch instead of per document (see write_system_versions).
TEXT_BATCH = 64
TEXT_BATCH_BYTES = 8 << 20


def _store_texts(env: Env, document_ids: list[str], errors: dict[str, str]) -> None:
    """Extract the documents' new texts and store them, batch by batch; a document that fails
    gets its error in `errors` (a client's change racing with this one is not an error: its
    own event follows)."""
    pending: list[TextPlan] = []
    size = 0

    def flush() -> None:
        nonlocal size
        if pending:
            try:
                write_texts(env, pending)
            except Exception as exc:  # noqa: BLE001 - recorded on each event; retried later
                log.exception("storing the extracted text of %d documents failed", len(pending))
                for text in pending:
                    errors[text.plan.record_id] = f"{type(exc).__name__}: {exc}"
        pending.clear()
        size = 0

    for rid in document_ids:
        try:
            text = plan_document_text(env, rid)
        except Exception as exc:  # noqa: BLE001 - one bad object must not stop the queue
            log.exception("extracting the text of %s failed", rid)
            errors[rid] = f"{type(exc).__name__}: {exc}"
            continue
        if text is None:
            continue
        pending.append(text)
        size += sum(len(v) for v in text.plan.add.values())  # type: ignore[union-attr]
        if len(pending) >= TEXT_BATCH or size >= TEXT_BATCH_BYTES:
            flush()
    flush()


def drain_outbox(env: Env, backend: SearchBackend, *, batch: int = DRAIN_BATCH) -> int:
    """Process pending outbox events: extract text, then update the index. Returns how many."""
    with env.db.read() as session:
        events = session.scalars(select(OutboxEvent).where(OutboxEvent.processed_at.is_(None))
                                 .order_by(OutboxEvent.id).limit(batch)).all()
    if not events:
        return 0
    latest: dict[str, OutboxEvent] = {}
    for event in events:
        latest[event.object_id] = event
    upserts: list[IndexRecord] = []
    deletes: list[str] = [rid for rid, event in latest.items() if event.action == "delete"]
    errors: dict[str, str] = {}
    _store_texts(env, [rid for rid, event in latest.items()
                       if event.action != "delete" and event.object_kind == "document"], errors)
    for rid, event in latest.items():
        if event.action == "delete" or rid in errors:
            continue
        try:
            record = build_record(env, rid)
            if record is not None:
                upserts.append(record)
        except Exception as exc:  # noqa: BLE001 - one bad object must not stop the queue
            log.exception("indexing %s failed", rid)
            errors[rid] = f"{type(exc).__name__}: {exc}"
    if upserts:
        backend.upsert(upserts)
    for rid in deletes:
        backend.delete_dossier(rid)
        backend.delete([rid])
    now = env.now()
    with env.db.write() as session:
        ok_ids = [e.id for e in events if e.object_id not in errors]
        if ok_ids:
            session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(ok_ids))
                            .values(processed_at=now))
        for event in events:
            if event.object_id in errors:
                row = session.get(OutboxEvent, event.id)
                row.attempts += 1
                row.error = errors[event.object_id]
                if row.attempts >= 5:
                    row.processed_at = now  # parked: visible with its error, no endless retry
    return len(events)


def iter_all_records(env: Env, progress: Callable[[int], None] | None = None
                     ) -> Iterator[IndexRecord]:
    """Every index record, read from the storage root alone (for a full reindex).

    `progress` is called with 1 for each object read.
    """
    oids = list(env.store.iter_object_ids())
    facts = catalog_facts(env)
    documents: list[str] = []
    for oid in oids:
        head = env.store.version(oid)
        if DOSSIER_FILE in head.state:
            record = env.store.read_json(oid, DOSSIER_FILE)
            facts.setdefault(record["id"], (record.get("state", "open"),
                                            record.get("access_mode", "01")))
            yield dossier_record(record, head.created, facts[record["id"]][0])
        elif DOCUMENT_FILE in head.state:
            documents.append(record_id(oid))
            continue
        if progress:
            progress(1)
    for rid in documents:
        record = build_record(env, rid, facts)
        if record is not None:
            yield record
        if progress:
            progress(1)
