"""Parked index items: changes the worker could not index after OUTBOX_MAX_ATTEMPTS tries.

They stay in the outbox with their reason, make /health `degraded`, and are listed and sent
back to the worker here. A parked item is seen by an administrator or an archivist whose
fonds scope holds the record's fonds (services/rights.py): `jobs.read` to list, `jobs.run`
to retry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select, update

from ..catalog import Document, Dossier, Fonds, OutboxEvent
from . import audit, rights
from .access import in_scope
from .context import Actor, Env
from .errors import Conflict, NotFound

# The fonds of each kind of object an outbox event names.
_FONDS_OF = {
    "document": select(Document.fonds_code).where(Document.id == OutboxEvent.object_id)
    .scalar_subquery(),
    "dossier": select(Dossier.fonds_code).where(Dossier.id == OutboxEvent.object_id)
    .scalar_subquery(),
    "fonds": select(Fonds.code).where(Fonds.id == OutboxEvent.object_id).scalar_subquery(),
}


def parked_count(env: Env) -> int:
    with env.db.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.processed_at.is_(None), OutboxEvent.parked_at.is_not(None))) or 0


def _fonds_column():  # noqa: ANN202
    return case(*((OutboxEvent.object_kind == kind, sub) for kind, sub in _FONDS_OF.items()),
                else_=None)


def _parked(actor: Actor):  # noqa: ANN202
    """Parked events with their fonds, limited to the actor's fonds scope."""
    fonds = _fonds_column().label("fonds_code")
    stmt = select(OutboxEvent, fonds).where(OutboxEvent.processed_at.is_(None),
                                            OutboxEvent.parked_at.is_not(None))
    if actor.scope is not None:
        stmt = stmt.where(fonds.in_(list(actor.scope)))
    return stmt


def _view(event: OutboxEvent, fonds_code: str | None) -> dict[str, Any]:
    return {"id": event.id, "object_id": event.object_id, "kind": event.object_kind,
            "action": event.action, "fonds_code": fonds_code, "attempts": event.attempts,
            "error": event.error, "created_at": event.created_at,
            "parked_at": event.parked_at}


def list_parked(env: Env, actor: Actor, *, page: int, page_size: int
                ) -> tuple[list[dict[str, Any]], int]:
    """Parked items of the fonds in the actor's scope, oldest first."""
    rights.require(actor, "jobs.read")
    stmt = _parked(actor)
    with env.db.read() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.execute(stmt.order_by(OutboxEvent.id)
                               .offset((page - 1) * page_size).limit(page_size)).all()
        return [_view(event, code) for event, code in rows], total


def retry_parked(env: Env, actor: Actor, item_id: int | None = None) -> dict[str, Any]:
    """Send parked items back to the worker (one, or every one the actor may see): their
    tries start again from zero. Returns how many were sent back."""
    rights.require(actor, "jobs.run")
    stmt = _parked(actor)
    with env.db.write() as session:
        if item_id is not None:
            found = session.execute(select(OutboxEvent, _fonds_column()).where(
                OutboxEvent.id == item_id)).first()
            if found is None or not (actor.scope is None or (
                    found[1] is not None and in_scope(actor, found[1]))):
                raise NotFound(f"There is no index item {item_id} in your fonds.")
            if found[0].parked_at is None or found[0].processed_at is not None:
                state = "done" if found[0].processed_at is not None else "waiting for the worker"
                raise Conflict(f"Index item {item_id} is not parked ({state}).")
            stmt = stmt.where(OutboxEvent.id == item_id)
        ids = [event.id for event, code in session.execute(stmt).all()
               if actor.scope is None or (code is not None and in_scope(actor, code))]
        if ids:
            session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(
                parked_at=None, next_attempt_at=None, attempts=0))
            audit.log_in(session, env, actor, "outbox.retry", None, {"items": ids})
    return {"retried": len(ids), "ids": ids}
