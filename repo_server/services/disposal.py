"""Disposal (Xem xét hủy): the sweep lists expired dossiers, the council gives opinions, the head
signs off, and the execution job destroys what was approved and keeps a destruction record.

The review listing is operational state (SQL); a dossier's own object changes only when the
decision is carried out: destroyed (its objects purged, a tombstone kept) or kept with a new
retention (a new version).
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from datetime import date
from typing import Any

from sqlalchemy import exists, func, insert, literal, select, update

from ..catalog import (
    DisposalReview,
    Document,
    Dossier,
    OutboxEvent,
    ReviewItem,
    ReviewOpinion,
    Tombstone,
)
from ..catalog.models import UTCDateTime
from . import audit, rights
from .access import can_see_dossier, filter_dossiers, sees_everything
from .context import SYSTEM, Actor, Env
from .errors import Conflict, NotFound, ValidationFailed
from .holds import Held, active_holds, held_dossier_ids
from .job_runs import queue_run
from .lifecycle import check_transition
from .records import new_id
from .retention import years_of

log = logging.getLogger(__name__)
ACTIVE = ("open", "approved")


def today(env: Env) -> date:
    return env.now().astimezone(env.tz).date()


# ---------------------------------------------------------------- listing

def _create_review(session, env: Env, actor: Actor, title: str, fonds_code: str,  # noqa: ANN001
                   items: list[tuple[str, str, str]]) -> str:
    review_id = new_id()
    session.add(DisposalReview(id=review_id, status="open", title=title, created_by=actor.name,
                               created_at=env.now(), quorum=env.config["DISPOSAL_QUORUM"],
                               fonds_code=fonds_code))
    session.flush()
    for chunk in _chunks(items, 1000):
        session.execute(insert(ReviewItem), [
            {"review_id": review_id, "dossier_id": d, "reason": reason, "prior_state": state}
            for d, reason, state in chunk])
        ids = [d for d, _, _ in chunk]
        session.execute(update(Dossier).where(Dossier.id.in_(ids))
                        .values(state="disposal_review"))
        _queue_index(session, env, ids)
    return review_id


def _queue_index(session, env: Env, dossier_ids: list[str]) -> None:  # noqa: ANN001
    """The index shows each record's state: requeue the dossiers and their documents
    (one INSERT … SELECT for the documents, however many there are)."""
    now = env.now()
    session.execute(insert(OutboxEvent), [
        {"object_id": d, "object_kind": "dossier", "action": "index", "created_at": now,
         "attempts": 0} for d in dossier_ids])
    session.execute(insert(OutboxEvent).from_select(
        ["object_id", "object_kind", "action", "created_at", "attempts"],
        select(Document.id, literal("document"), literal("index"),
               literal(now, UTCDateTime()), literal(0))
        .where(Document.dossier_id.in_(dossier_ids))))


def _chunks(items: list, size: int):  # noqa: ANN202
    for i in range(0, len(items), size):
        yield items[i:i + size]


def retention_sweep(env: Env, backend: Any = None) -> dict[str, Any]:
    """List every dossier whose retention ran out (not permanent, not held, not yet in a
    review) in a new disposal review."""
    day = today(env)
    with env.db.write() as session:
        in_review = exists().where(ReviewItem.dossier_id == Dossier.id,
                                   ReviewItem.review_id == DisposalReview.id,
                                   DisposalReview.status.in_(ACTIVE))
        due = session.execute(
            select(Dossier.id, Dossier.state, Dossier.fonds_code).where(
                Dossier.state.in_(("closed", "archived")),
                Dossier.retention_due_on.is_not(None), Dossier.retention_due_on <= day,
                Dossier.head_version > 0, ~in_review)).all()
        held = held_dossier_ids(session) if due else set()
        by_fonds: dict[str, list[tuple[str, str, str]]] = {}
        for d, state, fonds_code in due:
            if d not in held:
                by_fonds.setdefault(fonds_code, []).append((d, "expired", state))
        review_ids = []
        for fonds_code, items in sorted(by_fonds.items()):
            review_id = _create_review(
                session, env, SYSTEM, f"Xem xét hủy tài liệu hết thời hạn bảo quản — phông "
                f"{fonds_code} (lập ngày {day.isoformat()})", fonds_code, items)
            audit.log_in(session, env, SYSTEM, "disposal.list", review_id,
                         {"listed": len(items), "fonds_code": fonds_code})
            review_ids.append(review_id)
    listed = sum(len(v) for v in by_fonds.values())
    return {"due": len(due), "held": len(due) - listed, "listed": listed,
            "reviews": review_ids}


def propose_review(env: Env, actor: Actor, title: str,
                   items: list[dict[str, str]]) -> dict[str, Any]:
    """An archivist lists dossiers (expired or duplicate) of one fonds for the council.

    A dossier under a legal hold makes it a 423 naming the hold(s), as every other change of
    a held dossier; other problems are a 422 listing each."""
    rights.require(actor, "disposal.propose")
    with env.db.write() as session:
        errors = []
        rows = []
        fonds = set()
        held: dict[str, list[str]] = {}
        for item in items:
            row = session.get(Dossier, item["dossier_id"])
            if row is None or row.head_version == 0 or not can_see_dossier(session, env, actor,
                                                                           row):
                errors.append(f"There is no dossier {item['dossier_id']!r}.")
                continue
            fonds.add(row.fonds_code)
            holds = active_holds(session, row.id)
            if holds:
                held[row.file_code] = [f"{h.authority_ref} ({h.id})" for h in holds]
                errors.append(f"Dossier {row.file_code} is under a legal hold: "
                              f"{'; '.join(held[row.file_code])}.")
                continue
            try:
                check_transition(row, "disposal_review")
            except Conflict as exc:
                errors.append(exc.message)
                continue
            if years_of(env, row.retention, row.retention_years) is None:
                errors.append(f"Dossier {row.file_code} is permanent; it is never destroyed.")
                continue
            rows.append((row.id, item["reason"], row.state))
        if len(fonds) > 1:
            errors.append("A review covers one fonds; these dossiers belong to "
                          f"{', '.join(sorted(fonds))}.")
        if held:
            raise Held("A dossier under a legal hold cannot be proposed for disposal: "
                       + " ".join(errors), errors={"items": errors},
                       holds=sorted({h for names in held.values() for h in names}))
        if errors:
            raise ValidationFailed({"items": errors})
        review_id = _create_review(session, env, actor, title, fonds.pop(), rows)
        audit.log_in(session, env, actor, "disposal.propose", review_id,
                     {"dossiers": [r[0] for r in rows]})
    return get_review(env, review_id, actor)


# ---------------------------------------------------------------- reading

def load(session, actor: Actor, action: str, review_id: str) -> DisposalReview:  # noqa: ANN001
    """The review, for `action` by `actor`: 403 without the role, 404 when there is none or
    its fonds is outside the actor's scope (services/rights.py)."""
    rights.require(actor, action)
    review = session.get(DisposalReview, review_id)
    if review is None:
        raise NotFound(f"There is no disposal review {review_id!r}.")
    rights.reach_review(actor, review.fonds_code, review_id)
    return review


def get_review(env: Env, review_id: str, viewer: Actor = SYSTEM) -> dict[str, Any]:
    with env.db.read() as session:
        review = load(session, viewer, "disposal.read", review_id)
        items = session.execute(
            select(ReviewItem, Dossier.file_code, Dossier.title)
            .outerjoin(Dossier, Dossier.id == ReviewItem.dossier_id)
            .where(ReviewItem.review_id == review_id).order_by(ReviewItem.id)).all()
        opinions = session.scalars(select(ReviewOpinion)
                                   .where(ReviewOpinion.review_id == review_id)).all()
        tomb = {t.dossier_id: t for t in session.scalars(
            select(Tombstone).where(Tombstone.review_id == review_id))}
        # a council member not cleared for a secret (03) dossier sees its code, not its title
        hidden = set() if sees_everything(viewer) else {i.dossier_id for i, _, _ in items} - set(
            session.scalars(filter_dossiers(session, env, viewer, select(Dossier.id).where(
                Dossier.id.in_([i.dossier_id for i, _, _ in items])))))
    by_item: dict[str, list[ReviewOpinion]] = {}
    for o in opinions:
        by_item.setdefault(o.dossier_id, []).append(o)
    return {
        "id": review.id, "title": review.title, "status": review.status,
        "fonds_code": review.fonds_code,
        "created_by": review.created_by, "created_at": review.created_at,
        "quorum": review.quorum, "approved_by": review.approved_by,
        "approved_at": review.approved_at, "decision_ref": review.decision_ref,
        "executed_at": review.executed_at, "record_id": review.record_id,
        "items": [{
            "dossier_id": item.dossier_id, "reason": item.reason, "outcome": item.outcome,
            "outcome_note": item.outcome_note, "keep_retention": item.keep_retention,
            "keep_retention_years": item.keep_retention_years, "keep_reason": item.keep_reason,
            "file_code": file_code or (tomb[item.dossier_id].file_code
                                       if item.dossier_id in tomb else None),
            "title": None if item.dossier_id in hidden and item.dossier_id not in tomb else (
                title or (tomb[item.dossier_id].title if item.dossier_id in tomb else None)),
            "opinions": [{"member": o.member, "opinion": o.opinion, "retention": o.retention,
                          "retention_years": o.retention_years, "reason": o.reason,
                          "at": o.created_at} for o in by_item.get(item.dossier_id, [])],
        } for item, file_code, title in items],
    }


def list_reviews(env: Env, viewer: Actor, *, status: str | None, page: int, page_size: int
                 ) -> tuple[list[dict[str, Any]], int]:
    rights.require(viewer, "disposal.read")
    stmt = select(DisposalReview)
    if viewer.scope is not None:
        stmt = stmt.where(DisposalReview.fonds_code.in_(viewer.scope))
    if status:
        stmt = stmt.where(DisposalReview.status == status)
    with env.db.read() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        ids = session.scalars(stmt.order_by(DisposalReview.created_at.desc())
                              .offset((page - 1) * page_size).limit(page_size)).all()
        counts = dict(session.execute(
            select(ReviewItem.review_id, func.count()).where(
                ReviewItem.review_id.in_([r.id for r in ids])).group_by(ReviewItem.review_id)
        ).all())
    return [{"id": r.id, "title": r.title, "status": r.status, "fonds_code": r.fonds_code,
             "created_at": r.created_at,
             "created_by": r.created_by, "approved_at": r.approved_at,
             "executed_at": r.executed_at, "item_count": counts.get(r.id, 0)} for r in ids], total


# ---------------------------------------------------------------- council

def record_opinions(env: Env, actor: Actor, review_id: str,
                    opinions: list[dict[str, Any]]) -> dict[str, Any]:
    """A council member's opinion per item: destroy, or keep with a new retention and reason."""
    with env.db.write() as session:
        review = load(session, actor, "disposal.opinion", review_id)
        if review.status != "open":
            raise Conflict(f"Review {review_id} is {review.status}; opinions are closed.")
        items = set(session.scalars(select(ReviewItem.dossier_id)
                                    .where(ReviewItem.review_id == review_id)))
        errors: dict[str, list[str]] = {}
        for i, op in enumerate(opinions):
            problems = []
            if op["dossier_id"] not in items:
                problems.append(f"Dossier {op['dossier_id']} is not in this review.")
            if op["opinion"] == "keep":
                if not op.get("retention") or not op.get("reason"):
                    problems.append("To keep a dossier, give its new retention and a reason.")
                else:
                    try:
                        years = years_of(env, op["retention"], op.get("retention_years"))
                    except (ValueError, KeyError) as exc:
                        problems.append(str(exc))
                    else:
                        if not env.codes.is_valid("retention", op["retention"]):
                            problems.append(env.codes.describe_invalid("retention",
                                                                       op["retention"]))
                        _ = years
            if problems:
                errors[f"opinions.{i}"] = problems
        if errors:
            raise ValidationFailed(errors)
        for op in opinions:
            existing = session.scalar(select(ReviewOpinion).where(
                ReviewOpinion.review_id == review_id, ReviewOpinion.dossier_id == op["dossier_id"],
                ReviewOpinion.member == actor.name))
            target = existing or ReviewOpinion(review_id=review_id, dossier_id=op["dossier_id"],
                                               member=actor.name)
            target.opinion = op["opinion"]
            target.retention = op.get("retention")
            target.retention_years = op.get("retention_years")
            target.reason = op.get("reason")
            target.created_at = env.now()
            if existing is None:
                session.add(target)
        audit.log_in(session, env, actor, "disposal.opinion", review_id,
                     {"opinions": [{"dossier": o["dossier_id"], "opinion": o["opinion"]}
                                   for o in opinions]})
    return get_review(env, review_id, actor)


def _decide(opinions: list[ReviewOpinion], quorum: int) -> tuple[str | None, ReviewOpinion | None]:
    """An item's outcome: the side that at least `quorum` distinct members agree on."""
    tally = Tally(o.opinion for o in opinions)
    for side, other in (("destroy", "keep"), ("keep", "destroy")):
        if tally[side] >= quorum and tally[side] > tally[other]:
            if side == "keep":
                proposals = Tally((o.retention, o.retention_years) for o in opinions
                                  if o.opinion == "keep")
                (ret, years), _ = proposals.most_common(1)[0]
                chosen = next(o for o in opinions if o.opinion == "keep"
                              and (o.retention, o.retention_years) == (ret, years))
                return "keep", chosen
            return "destroy", None
    return None, None


def approve_review(env: Env, actor: Actor, review_id: str, decision_ref: str) -> dict[str, Any]:
    """The head of the agency signs off; every item needs a quorum first."""
    rights.require_approver(env, actor)
    with env.db.write() as session:
        review = load(session, actor, "disposal.approve", review_id)
        if review.status != "open":
            raise Conflict(f"Review {review_id} is already {review.status}.")
        items = session.scalars(select(ReviewItem).where(ReviewItem.review_id == review_id)).all()
        opinions: dict[str, list[ReviewOpinion]] = {}
        for o in session.scalars(select(ReviewOpinion)
                                 .where(ReviewOpinion.review_id == review_id)):
            opinions.setdefault(o.dossier_id, []).append(o)
        missing = []
        for item in items:
            outcome, chosen = _decide(opinions.get(item.dossier_id, []), review.quorum)
            if outcome is None:
                missing.append(item.dossier_id)
                continue
            item.outcome = outcome
            if chosen is not None:
                item.keep_retention = chosen.retention
                item.keep_retention_years = chosen.retention_years
                item.keep_reason = chosen.reason
        if missing:
            raise Conflict(f"{len(missing)} item(s) lack a quorum of {review.quorum} agreeing "
                           "council members; the review cannot be approved yet.",
                           missing_quorum=missing)
        review.status = "approved"
        review.approved_by, review.approved_at = actor.name, env.now()
        review.decision_ref = decision_ref
        audit.log_in(session, env, actor, "disposal.approve", review_id,
                     {"decision_ref": decision_ref})
    try:
        queue_run(env, actor.name, "disposal_execution")
    except Conflict:
        pass  # a run is already waiting; it will carry this review out too
    return get_review(env, review_id, actor)
