"""Feeding the search index: records built from the storage root, and the outbox drained.

The index is derived data. Every record is built from the object's head in the storage root
(metadata JSON) and the text of its files (the derived-text cache, services/texts.py), so the
outbox path and a full reindex give the same result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from ..catalog import Dossier, OutboxEvent
from ..search.backend import IndexRecord, SearchBackend
from ..storage import ObjectNotFound
from .context import Env
from .documents import FILES_DIR
from .records import DOCUMENT_FILE, DOSSIER_FILE, object_id, record_id
from .texts import DocumentText, document_text, record_statuses

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


def build_record(env: Env, rid: str, facts: dict[str, tuple[str, str]] | None = None, *,
                 extract: bool = True, texts: dict[str, DocumentText] | None = None,
                 text_errors: dict[str, str] | None = None) -> IndexRecord | None:
    """The index record of one object's head, or None if it is gone or not indexed.

    A document's file texts come from the derived-text cache; a file it lacks is read now
    (`extract`) and cached. With `texts`, the document's texts are also put there by id.
    With `text_errors`, a document whose text cannot be read or cached gets its error there
    and a record without text (found by its metadata meanwhile); else the error is raised."""
    oid = object_id(rid)
    try:
        head = env.store.version(oid)
    except ObjectNotFound:
        return None
    if DOSSIER_FILE in head.state:
        record = env.store.read_json(oid, DOSSIER_FILE, head.number)
        known = (facts or catalog_facts(env, [rid])).get(rid)
        return dossier_record(record, head.created, known[0] if known else None)
    if DOCUMENT_FILE in head.state:
        record = env.store.read_json(oid, DOCUMENT_FILE, head.number)
        dossier_id = record["dossier_id"]
        known = (facts or catalog_facts(env, [dossier_id])).get(dossier_id)
        files = [p.removeprefix(FILES_DIR) for p in head.state if p.startswith(FILES_DIR)]
        try:
            text = document_text(env, oid, head, record.get("files", {}), extract=extract)
        except Exception as exc:
            if text_errors is None:
                raise
            log.exception("reading the text of %s failed", rid)
            text_errors[rid] = f"{type(exc).__name__}: {exc}"
            return document_record(record, {}, known, head.created, files)
        if texts is not None:
            texts[rid] = text
        return document_record(record, text.texts, known, head.created, files)
    return None


DRAIN_BATCH = 200  # outbox events per index commit, at most


def _upsert(backend: SearchBackend, records: list[IndexRecord], errors: dict[str, str]) -> None:
    """Write records into the index; a batch the index refuses is written one by one."""
    if not records:
        return
    try:
        backend.upsert(records)
    except Exception as exc:  # noqa: BLE001 - isolated below; recorded on its event
        if len(records) == 1:
            log.exception("indexing %s failed", records[0].id)
            errors[records[0].id] = f"{type(exc).__name__}: {exc}"
            return
        log.warning("indexing %d records failed (%s); indexing them one by one",
                    len(records), exc)
        for record in records:
            _upsert(backend, [record], errors)


def due_events():  # noqa: ANN201
    """Outbox events to process now: not done, not parked, not waiting for a retry."""
    return (OutboxEvent.processed_at.is_(None), OutboxEvent.parked_at.is_(None))


def retry_delay(env: Env, attempts: int) -> float:
    """Seconds before try number `attempts + 1`: OUTBOX_RETRY_SECONDS, doubling each time."""
    return float(env.config["OUTBOX_RETRY_SECONDS"]) * 2 ** max(attempts - 1, 0)


def drain_outbox(env: Env, backend: SearchBackend, *, batch: int = DRAIN_BATCH) -> int:
    """Process pending outbox events: extract text, then update the index. Returns how many.

    An object that fails is isolated (the rest of the batch goes through), tried again after
    a growing delay, and parked with its reason after OUTBOX_MAX_ATTEMPTS tries (listed by
    services/outbox.py and /health). A document whose text cannot be stored is still indexed
    by its metadata meanwhile."""
    now = env.now()
    with env.db.read() as session:
        events = session.scalars(
            select(OutboxEvent).where(*due_events(), or_(OutboxEvent.next_attempt_at.is_(None),
                                                         OutboxEvent.next_attempt_at <= now))
            .order_by(OutboxEvent.id).limit(batch)).all()
    if not events:
        return 0
    latest: dict[str, OutboxEvent] = {}
    for event in events:
        latest[event.object_id] = event
    upserts: list[IndexRecord] = []
    deletes: list[str] = [rid for rid, event in latest.items() if event.action == "delete"]
    errors: dict[str, str] = {}
    texts: dict[str, DocumentText] = {}
    for rid, event in latest.items():
        if event.action == "delete":
            continue
        try:
            record = build_record(env, rid, texts=texts, text_errors=errors)
            if record is not None:
                upserts.append(record)
        except Exception as exc:  # noqa: BLE001 - one bad object must not stop the queue
            log.exception("indexing %s failed", rid)
            errors[rid] = f"{type(exc).__name__}: {exc}"
    indexed: dict[str, str] = {}
    _upsert(backend, upserts, indexed)
    errors.update(indexed)
    for rid in deletes:
        try:
            backend.delete_dossier(rid)
            backend.delete([rid])
        except Exception as exc:  # noqa: BLE001 - one bad object must not stop the queue
            log.exception("removing %s from the index failed", rid)
            errors[rid] = f"{type(exc).__name__}: {exc}"
    _record_results(env, events, errors, {rid: t for rid, t in texts.items()
                                          if rid not in errors})
    return len(events)


def _record_results(env: Env, events: list[OutboxEvent], errors: dict[str, str],
                    texts: dict[str, DocumentText] | None = None) -> None:
    """Mark the events done; an object done also settles its older events (parked or
    waiting), since the index is built from its head. A failed one waits or is parked.
    The text status of each indexed document is set in the same transaction, after the index
    holds its text (a client that waits for it can search it)."""
    now = env.now()
    limit = int(env.config["OUTBOX_MAX_ATTEMPTS"])
    done = {e.object_id: e.id for e in events if e.object_id not in errors}
    with env.db.write() as session:
        if texts:
            record_statuses(session, texts)
        if done:
            top = max(done.values())
            session.execute(update(OutboxEvent).where(
                OutboxEvent.object_id.in_(list(done)), OutboxEvent.id <= top,
                OutboxEvent.processed_at.is_(None)).values(processed_at=now))
        for event in events:
            if event.object_id not in errors:
                continue
            row = session.get(OutboxEvent, event.id)
            row.attempts += 1
            row.error = errors[event.object_id][:4000]
            if row.attempts >= limit:
                row.parked_at = now  # kept with its reason; retried when someone asks
                log.error("index item %s (%s) parked after %d attempts: %s", row.object_id,
                          row.object_kind, row.attempts, row.error)
            else:
                row.next_attempt_at = now + timedelta(seconds=retry_delay(env, row.attempts))


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


def reindex(env: Env, backend: SearchBackend | None,
            progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Rebuild the whole search index from the storage root; the texts come from the
    derived-text cache (or an old root's text files, which fill it), and a file neither holds
    is read again."""
    if backend is None:
        raise RuntimeError("no search index is open in this process")
    backend.clear()
    count = 0
    with backend.bulk() as writer:
        for record in iter_all_records(env, progress):
            writer.add(record)
            count += 1
    return {"records": count}
