"""What a caller may see: fonds scope and access mode (01 public, 02 conditional, 03 secret).

Records outside the caller's view answer 404 (not 403), so their existence never leaks; the
same rules filter listings, counts, versions, downloads and search hits.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, or_, select

from ..catalog import AccessGrant, Document, Dossier
from .context import Actor, Env

PUBLIC, CONDITIONAL, SECRET = "01", "02", "03"


def modes(actor: Actor) -> set[str]:
    """Access modes open to the actor without a per-dossier grant."""
    out = {PUBLIC}
    if actor.conditional:
        out.add(CONDITIONAL)
    if actor.clearance:
        out.add(SECRET)
    return out


def in_scope(actor: Actor, fonds_code: str) -> bool:
    return actor.scope is None or fonds_code in actor.scope


def granted(session, env: Env, actor: Actor) -> set[str]:  # noqa: ANN001
    """Dossiers opened to this user one by one (conditional access, 02)."""
    if actor.user_id is None:
        return set()
    now = env.now()
    return set(session.scalars(select(AccessGrant.dossier_id).where(
        AccessGrant.user_id == actor.user_id, AccessGrant.revoked_at.is_(None),
        or_(AccessGrant.expires_at.is_(None), AccessGrant.expires_at > now))))


def sees_everything(actor: Actor) -> bool:
    return actor.scope is None and actor.conditional and actor.clearance


def _mode_ok(mode: str | None, allowed: set[str], dossier_granted: bool) -> bool:
    mode = mode or PUBLIC
    return mode in allowed or (mode == CONDITIONAL and dossier_granted)


def can_see_dossier(session, env: Env, actor: Actor, row: Dossier) -> bool:  # noqa: ANN001
    if not in_scope(actor, row.fonds_code):
        return False
    allowed = modes(actor)
    if (row.access_mode or PUBLIC) in allowed:
        return True
    return row.access_mode == CONDITIONAL and row.id in granted(session, env, actor)


def can_see_document(session, env: Env, actor: Actor, doc: Document,  # noqa: ANN001
                     dossier: Dossier) -> bool:
    if not can_see_dossier(session, env, actor, dossier):
        return False
    allowed = modes(actor)
    return _mode_ok(doc.access_mode, allowed,
                    doc.access_mode == CONDITIONAL and dossier.id in granted(session, env, actor))


def filter_dossiers(session, env: Env, actor: Actor, stmt: Select) -> Select:  # noqa: ANN001
    """Restrict a query over Dossier to what the actor may see."""
    if actor.scope is not None:
        stmt = stmt.where(Dossier.fonds_code.in_(actor.scope))
    allowed = modes(actor)
    if allowed >= {PUBLIC, CONDITIONAL, SECRET}:
        return stmt
    grants = granted(session, env, actor)
    condition = Dossier.access_mode.in_(allowed)
    if grants and CONDITIONAL not in allowed:
        condition = or_(condition, and_(Dossier.access_mode == CONDITIONAL,
                                        Dossier.id.in_(grants)))
    return stmt.where(condition)


def filter_documents(session, env: Env, actor: Actor, stmt: Select) -> Select:  # noqa: ANN001
    """Restrict a query over Document (joined to its Dossier) to what the actor may see."""
    stmt = filter_dossiers(session, env, actor, stmt)
    allowed = modes(actor)
    if allowed >= {PUBLIC, CONDITIONAL, SECRET}:
        return stmt
    grants = granted(session, env, actor)
    condition = or_(Document.access_mode.is_(None), Document.access_mode.in_(allowed))
    if grants and CONDITIONAL not in allowed:
        condition = or_(condition, and_(Document.access_mode == CONDITIONAL,
                                        Document.dossier_id.in_(grants)))
    return stmt.where(condition)
