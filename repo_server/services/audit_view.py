"""Who reads which audit events, and what is masked in them (the read side of the trail).

An auditor of some fonds sees the events about the records of those fonds (dossiers,
documents, their destruction, the fonds, reviews and their records, holds that cover only
those fonds, users within those fonds) and the events about nothing in particular (jobs,
listings, sign-in failures), except those of users of other fonds only. Events stay visible
for secret (03) records, so the reader learns that they were used and by whom, but without
their words: unless the reader is cleared, the `message` (a version's message carries the
title or subject), titles and subjects of events on secret records are masked, and so is the
query text of other users' searches. A masked event says which fields were masked; its
`hash` still chains, but only the full trail (`GET /audit/verify`, an unscoped cleared
auditor's export) can be checked again outside.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Select, and_, not_, or_, select

from ..catalog import (
    AuditEvent,
    DisposalReview,
    Document,
    DocumentTombstone,
    Dossier,
    FilePlan,
    Fonds,
    HandoverBatch,
    Hold,
    Tombstone,
    User,
)
from . import rights
from .access import SECRET
from .context import Actor, Env

MASKED = "[masked]"
# Fields of an event's details that carry a record's words (titles, subjects, messages).
RECORD_WORDS = ("message", "title", "subject", "reason", "description")


def sees_whole_trail(reader: Actor) -> bool:
    """Every fonds and cleared: nothing is hidden or masked."""
    return reader.scope is None and reader.clearance


def _out_of_scope_targets(session, env: Env, reader: Actor) -> list[Select]:  # noqa: ANN001
    """Queries of the ids (targets) of everything outside the reader's fonds scope."""
    scope = list(reader.scope or ())
    by_scope = replace(reader, conditional=True, clearance=True)  # fonds scope only
    reachable_holds = rights.filter_holds(session, env, by_scope, select(Hold.id))
    users = session.scalars(select(User)).all()
    hidden_users = [u.id for u in users if not rights.covers(reader.scope, rights.scope_of(u))]
    return [
        select(Dossier.id).where(Dossier.fonds_code.not_in(scope)),
        select(Document.id).where(Document.fonds_code.not_in(scope)),
        select(Tombstone.dossier_id).where(Tombstone.fonds_code.not_in(scope)),
        select(DocumentTombstone.document_id).join(
            Tombstone, Tombstone.dossier_id == DocumentTombstone.dossier_id).where(
            Tombstone.fonds_code.not_in(scope)),
        select(Fonds.id).where(Fonds.code.not_in(scope)),
        select(Fonds.code).where(Fonds.code.not_in(scope)),
        select(DisposalReview.id).where(or_(DisposalReview.fonds_code.is_(None),
                                            DisposalReview.fonds_code.not_in(scope))),
        select(DisposalReview.record_id).where(
            DisposalReview.record_id.is_not(None),
            or_(DisposalReview.fonds_code.is_(None), DisposalReview.fonds_code.not_in(scope))),
        select(Hold.id).where(Hold.id.not_in(reachable_holds)),
        # records office: hand-over batches and file plans belong to one fonds
        select(HandoverBatch.id).where(HandoverBatch.fonds_code.not_in(scope)),
        select(FilePlan.id).where(FilePlan.fonds_code.not_in(scope)),
        *([select(User.id).where(User.id.in_(hidden_users))] if hidden_users else []),
    ]


def _other_fonds_users(session, reader: Actor) -> list[str]:  # noqa: ANN001
    """Names of the users whose whole scope lies outside the reader's."""
    names = []
    for user in session.scalars(select(User)):
        scope = rights.scope_of(user)
        if scope is not None and not set(scope) & set(reader.scope or ()):
            names.append(user.name)
    return names


def filter_events(session, env: Env, reader: Actor, stmt: Select) -> Select:  # noqa: ANN001
    """Restrict a query over AuditEvent to what the reader may see."""
    if reader.scope is None:
        return stmt
    hidden = or_(*[AuditEvent.target.in_(q) for q in _out_of_scope_targets(session, env, reader)])
    condition = or_(AuditEvent.target.is_(None), not_(hidden))
    others = _other_fonds_users(session, reader)
    if others:  # what users of other fonds only did, unless it touched one of our records
        ours = or_(*[AuditEvent.target.in_(q) for q in _in_scope_targets(reader)])
        condition = and_(condition, or_(AuditEvent.actor.not_in(others),
                                        and_(AuditEvent.target.is_not(None), ours)))
    return stmt.where(condition)


def _in_scope_targets(reader: Actor) -> list[Select]:
    scope = list(reader.scope or ())
    return [select(Dossier.id).where(Dossier.fonds_code.in_(scope)),
            select(Document.id).where(Document.fonds_code.in_(scope)),
            select(HandoverBatch.id).where(HandoverBatch.fonds_code.in_(scope)),
            select(FilePlan.id).where(FilePlan.fonds_code.in_(scope))]


def _secret_targets(session, targets: set[str]) -> set[str]:  # noqa: ANN001
    """The targets among `targets` that are secret (03) records, or destroyed ones (their
    access mode is gone with them, so they are treated as secret)."""
    if not targets:
        return set()
    ids = list(targets)
    secret = set(session.scalars(select(Dossier.id).where(Dossier.id.in_(ids),
                                                          Dossier.access_mode == SECRET)))
    secret |= set(session.scalars(
        select(Document.id).join(Dossier, Dossier.id == Document.dossier_id)
        .where(Document.id.in_(ids),
               or_(Document.access_mode == SECRET, Dossier.access_mode == SECRET))))
    secret |= set(session.scalars(select(Tombstone.dossier_id)
                                  .where(Tombstone.dossier_id.in_(ids))))
    secret |= set(session.scalars(select(DocumentTombstone.document_id)
                                  .where(DocumentTombstone.document_id.in_(ids))))
    return secret


def mask(session, reader: Actor, events: list[dict[str, Any]]) -> list[dict[str, Any]]:  # noqa: ANN001
    """Mask, in events already chosen for the reader, what it is not cleared to read."""
    if sees_whole_trail(reader) or not events:
        return events
    secret = set() if reader.clearance else _secret_targets(
        session, {e["target"] for e in events if e.get("target")})
    out = []
    for event in events:
        details = dict(event.get("details") or {})
        masked = []
        if event.get("target") in secret:
            masked += [k for k in RECORD_WORDS if k in details]
        if "query" in details and event["actor"] != reader.name and not reader.clearance:
            masked.append("query")
        if masked:
            for key in masked:
                details[key] = MASKED
            event = {**event, "details": details, "masked": sorted(masked)}
        out.append(event)
    return out
