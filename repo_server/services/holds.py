"""Legal holds (freeze): a held dossier refuses every change, transition and disposal.

Holds, additions, removals and releases are kept forever with who and when.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select

from ..catalog import Dossier, Hold, HoldItem
from . import audit, rights
from .access import can_see_dossier
from .context import Actor, Env
from .errors import Conflict, NotFound, ServiceError, ValidationFailed
from .records import new_id


class Held(ServiceError):
    """423 Locked: the dossier is under a legal hold."""

    status = 423


def active_holds(session, dossier_id: str) -> list[Hold]:  # noqa: ANN001
    return list(session.scalars(
        select(Hold).join(HoldItem, HoldItem.hold_id == Hold.id)
        .where(HoldItem.dossier_id == dossier_id, HoldItem.removed_at.is_(None),
               Hold.released_at.is_(None))))


_HOLDS, _HOLD_ITEMS = Hold.__table__, HoldItem.__table__
# Asked on every write: one Core statement on the connection (the ORM query that names the
# holds runs only when there is one).
_ANY_ACTIVE_HOLD = (
    select(_HOLD_ITEMS.c.hold_id)
    .join(_HOLDS, _HOLDS.c.id == _HOLD_ITEMS.c.hold_id)
    .where(_HOLD_ITEMS.c.dossier_id == bindparam("dossier_id"),
           _HOLD_ITEMS.c.removed_at.is_(None), _HOLDS.c.released_at.is_(None))
    .limit(1))


def ensure_not_held(session, dossier_id: str, file_code: str | None = None) -> None:  # noqa: ANN001
    """Refuse (423) when the dossier is under any active hold, naming the hold(s)."""
    if session.connection().execute(_ANY_ACTIVE_HOLD, {"dossier_id": dossier_id}).first() is None:
        return
    holds = active_holds(session, dossier_id)
    if holds:
        names = "; ".join(f"{h.authority_ref} ({h.id})" for h in holds)
        raise Held(f"Dossier {file_code or dossier_id} is under a legal hold: {names}. "
                   "Nothing can change it or destroy it until the hold is released.",
                   holds=[h.id for h in holds])


def held_dossier_ids(session) -> set[str]:  # noqa: ANN001
    return set(session.scalars(
        select(HoldItem.dossier_id).join(Hold, Hold.id == HoldItem.hold_id)
        .where(HoldItem.removed_at.is_(None), Hold.released_at.is_(None))))


def _view(session, hold: Hold, viewer: Actor) -> dict[str, Any]:  # noqa: ANN001
    """A hold the viewer may reach (so every dossier it covers is in the viewer's view)."""
    stmt = select(HoldItem).where(HoldItem.hold_id == hold.id).order_by(HoldItem.id)
    items = session.scalars(stmt).all()
    return {"id": hold.id, "reason": hold.reason, "authority_ref": hold.authority_ref,
            "created_by": hold.created_by, "created_at": hold.created_at,
            "released_by": hold.released_by, "released_at": hold.released_at,
            "release_reason": hold.release_reason,
            "active": hold.released_at is None,
            "dossiers": [{"dossier_id": i.dossier_id, "added_by": i.added_by,
                          "added_at": i.added_at, "removed_by": i.removed_by,
                          "removed_at": i.removed_at} for i in items]}


def load(session, env: Env, actor: Actor, action: str, hold_id: str) -> Hold:  # noqa: ANN001
    """The hold, for `action` by `actor`: 403 without the role, 404 when there is none or
    when it covers a dossier outside the actor's view (services/rights.py)."""
    rights.require(actor, action)
    hold = session.get(Hold, hold_id)
    if hold is None:
        raise NotFound(f"There is no hold {hold_id!r}.")
    rights.reach_hold(session, env, actor, hold)
    return hold


def get_hold(env: Env, hold_id: str, viewer: Actor) -> dict[str, Any]:
    with env.db.read() as session:
        return _view(session, load(session, env, viewer, "hold.read", hold_id), viewer)


def list_holds(env: Env, viewer: Actor, *, active: bool | None, page: int, page_size: int
               ) -> tuple[list[dict[str, Any]], int]:
    rights.require(viewer, "hold.read")
    stmt = select(Hold)
    if active is True:
        stmt = stmt.where(Hold.released_at.is_(None))
    elif active is False:
        stmt = stmt.where(Hold.released_at.is_not(None))
    with env.db.read() as session:
        stmt = rights.filter_holds(session, env, viewer, stmt)
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(Hold.created_at.desc())
                               .offset((page - 1) * page_size).limit(page_size)).all()
        return [_view(session, h, viewer) for h in rows], total


def create_hold(env: Env, actor: Actor, reason: str, authority_ref: str,
                dossier_ids: list[str]) -> dict[str, Any]:
    rights.require(actor, "hold.write")
    hold_id = new_id()
    with env.db.write() as session:
        session.add(Hold(id=hold_id, reason=reason, authority_ref=authority_ref,
                         created_by=actor.name, created_at=env.now()))
        session.flush()
        _add(session, env, actor, hold_id, dossier_ids)
        audit.log_in(session, env, actor, "hold.create", hold_id,
                     {"authority_ref": authority_ref, "dossiers": dossier_ids})
    return get_hold(env, hold_id, actor)


def _add(session, env: Env, actor: Actor, hold_id: str, dossier_ids: list[str]) -> None:  # noqa: ANN001
    missing = [d for d in dossier_ids if (row := session.get(Dossier, d)) is None
               or not can_see_dossier(session, env, actor, row)]
    if missing:
        raise ValidationFailed({"dossier_ids": [f"There is no dossier {d!r}." for d in missing]})
    current = set(session.scalars(select(HoldItem.dossier_id).where(
        HoldItem.hold_id == hold_id, HoldItem.removed_at.is_(None))))
    for dossier_id in dict.fromkeys(dossier_ids):
        if dossier_id not in current:
            session.add(HoldItem(hold_id=hold_id, dossier_id=dossier_id, added_by=actor.name,
                                 added_at=env.now()))


def add_dossiers(env: Env, actor: Actor, hold_id: str, dossier_ids: list[str]) -> dict[str, Any]:
    with env.db.write() as session:
        hold = load(session, env, actor, "hold.write", hold_id)
        if hold.released_at is not None:
            raise Conflict(f"Hold {hold.authority_ref} was released; create a new hold.")
        _add(session, env, actor, hold_id, dossier_ids)
        audit.log_in(session, env, actor, "hold.add", hold_id, {"dossiers": dossier_ids})
    return get_hold(env, hold_id, actor)


def remove_dossier(env: Env, actor: Actor, hold_id: str, dossier_id: str) -> dict[str, Any]:
    with env.db.write() as session:
        load(session, env, actor, "hold.write", hold_id)
        item = session.scalar(select(HoldItem).where(
            HoldItem.hold_id == hold_id, HoldItem.dossier_id == dossier_id,
            HoldItem.removed_at.is_(None)))
        if item is None:
            raise NotFound(f"Dossier {dossier_id} is not under hold {hold_id}.")
        item.removed_by, item.removed_at = actor.name, env.now()
        audit.log_in(session, env, actor, "hold.remove", hold_id, {"dossier": dossier_id})
    return get_hold(env, hold_id, actor)


def release_hold(env: Env, actor: Actor, hold_id: str, reason: str) -> dict[str, Any]:
    with env.db.write() as session:
        hold = load(session, env, actor, "hold.write", hold_id)
        if hold.released_at is not None:
            raise Conflict(f"Hold {hold.authority_ref} was already released.")
        hold.released_by, hold.released_at, hold.release_reason = actor.name, env.now(), reason
        audit.log_in(session, env, actor, "hold.release", hold_id, {"reason": reason})
    return get_hold(env, hold_id, actor)
