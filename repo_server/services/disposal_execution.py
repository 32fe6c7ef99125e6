"""Carrying out approved disposal reviews (the `disposal_execution` job): each item is
destroyed (objects purged, a tombstone kept), kept with a new retention, or skipped when a
legal hold or a link holds it meanwhile; then the destruction record is written
(services/destruction.py). The review itself lives in services/disposal.py."""

from __future__ import annotations

from collections import Counter as Tally
from typing import Any

from sqlalchemy import delete, insert, select, update

from ..catalog import (
    DisposalReview,
    Document,
    DocumentFile,
    DocumentTombstone,
    Dossier,
    DossierLink,
    OutboxEvent,
    ReviewItem,
    ReviewOpinion,
    Tombstone,
)
from ..storage import ObjectNotFound
from . import audit
from .context import SYSTEM, Env
from .destruction import write_record
from .disposal import load
from .holds import active_holds
from .lifecycle import keep_after_review
from .links import blocking_links
from .records import object_id


def execute_approved(env: Env, backend: Any = None) -> dict[str, Any]:
    """Carry out every approved review: destroy, keep, or skip (held meanwhile)."""
    with env.db.read() as session:
        reviews = session.scalars(select(DisposalReview.id)
                                  .where(DisposalReview.status == "approved")).all()
        unrecorded = session.scalars(select(DisposalReview.id).where(
            DisposalReview.status == "executed", DisposalReview.record_id.is_(None))).all()
    totals = Tally()
    for review_id in reviews:
        totals.update(_execute(env, backend, review_id))
    for review_id in [*reviews, *unrecorded]:
        write_record(env, review_id)  # also finishes a record a crash left unwritten
    return dict(totals, reviews=len(reviews))


def _execute(env: Env, backend: Any, review_id: str) -> Tally:
    counts: Tally = Tally()
    with env.db.read() as session:
        review = load(session, SYSTEM, "disposal.approve", review_id)
        items = session.scalars(select(ReviewItem).where(
            ReviewItem.review_id == review_id, ReviewItem.outcome.in_(("destroy", "keep")))
        ).all()
        opinions = session.scalars(select(ReviewOpinion)
                                   .where(ReviewOpinion.review_id == review_id)).all()
    decided_by = {"approved_by": review.approved_by, "decision_ref": review.decision_ref,
                  "members": sorted({o.member for o in opinions})}
    for item in items:
        with env.db.read() as session:
            holds = active_holds(session, item.dossier_id)
        if holds:
            _finish(env, item.id, "skipped",
                    "Under legal hold " + "; ".join(h.authority_ref for h in holds)
                    + " when the decision was carried out; not destroyed.",
                    dossier_id=item.dossier_id, back_to=item.prior_state)
            counts["skipped"] += 1
            continue
        with env.db.read() as session:
            linked_from = blocking_links(session, item.dossier_id)
        if linked_from and item.outcome == "destroy":
            _finish(env, item.id, "skipped",
                    "Its documents are also filed in " + ", ".join(linked_from)
                    + "; not destroyed while those dossiers keep them.",
                    dossier_id=item.dossier_id, back_to=item.prior_state)
            counts["skipped"] += 1
            continue
        if item.outcome == "keep":
            keep_after_review(env, SYSTEM, item.dossier_id, retention=item.keep_retention,
                              retention_years=item.keep_retention_years,
                              reason=item.keep_reason or "", review_id=review_id,
                              back_to=item.prior_state)
            _finish(env, item.id, "kept", None)
            counts["kept"] += 1
            continue
        destroy_dossier(env, backend, item.dossier_id, review_id, decided_by)
        _finish(env, item.id, "destroyed", None)
        counts["destroyed"] += 1
    # The review becomes `executed` with its destruction record, in the transaction that
    # stores the record (destruction.write_record): a status never runs ahead of the record.
    return counts


def _finish(env: Env, item_id: int, outcome: str, note: str | None, *,
            dossier_id: str | None = None, back_to: str | None = None) -> None:
    with env.db.write() as session:
        item = session.get(ReviewItem, item_id)
        item.outcome = outcome
        if note:
            item.outcome_note = note
        if dossier_id and back_to:
            session.execute(update(Dossier).where(Dossier.id == dossier_id,
                                                  Dossier.state == "disposal_review")
                            .values(state=back_to))


def destroy_dossier(env: Env, backend: Any, dossier_id: str, review_id: str,
                    decided_by: dict[str, Any]) -> None:
    """Irreversible: purge the dossier's and its documents' objects; keep a tombstone.

    Order matters for a crash: the tombstone is written first, then the bytes go, then the
    catalog rows; running it again finishes whatever was left.
    """
    with env.db.write() as session:
        dossier = session.get(Dossier, dossier_id)
        if dossier is None:
            return  # already done
        docs = session.scalars(select(Document).where(Document.dossier_id == dossier_id)
                               .order_by(Document.serial)).all()
        if session.get(Tombstone, dossier_id) is None:
            session.add(Tombstone(
                dossier_id=dossier.id, fonds_code=dossier.fonds_code, file_code=dossier.file_code,
                archive_code=dossier.archive_code, title=dossier.title,
                start_date=dossier.start_date, end_date=dossier.end_date,
                retention=dossier.retention, retention_years=dossier.retention_years,
                review_id=review_id, decided_by=decided_by, destroyed_at=env.now(),
                documents=[{"doc_code": d.doc_code, "type_code": d.type_code,
                            "issued_date": d.issued_date.isoformat() if d.issued_date else None}
                           for d in docs]))
            session.add_all(DocumentTombstone(document_id=d.id, dossier_id=dossier.id,
                                              doc_code=d.doc_code) for d in docs)
        doc_ids = [d.id for d in docs]
    for rid in [*doc_ids, dossier_id]:
        try:
            env.store.purge(object_id(rid))
        except ObjectNotFound:
            pass
    if backend is not None:
        backend.delete_dossier(dossier_id)  # the dossier's record and all its documents
    with env.db.write() as session:
        if doc_ids:
            session.execute(delete(DocumentFile).where(DocumentFile.document_id.in_(doc_ids)))
            session.execute(delete(Document).where(Document.id.in_(doc_ids)))
        session.execute(delete(OutboxEvent).where(OutboxEvent.object_id.in_([*doc_ids,
                                                                               dossier_id])))
        if backend is None:  # no index at hand: the worker removes the records later
            session.execute(insert(OutboxEvent), [{
                "object_id": dossier_id, "object_kind": "dossier", "action": "delete",
                "created_at": env.now(), "attempts": 0}])
        session.execute(delete(DossierLink).where(DossierLink.dossier_id == dossier_id))
        session.execute(delete(Dossier).where(Dossier.id == dossier_id))
        audit.log_in(session, env, SYSTEM, "dossier.destroy", dossier_id,
                     {"review": review_id, "documents": doc_ids, **decided_by})
