"""Rights on the object touched: every service function names its action and asks here.

The order is always the same, so that no answer tells a caller more than it may know:

1. `require(actor, action)`: a role of the actor must allow the action (403 otherwise; the
   answer is the same for every object, so it reveals nothing).
2. the service loads the object (404 when there is none);
3. `reach(...)`: the object must lie inside the actor's view: fonds scope, access mode and
   clearance, per-dossier grants. Outside it, the answer is the same 404 as for an object that
   does not exist. An action on the whole repository (the retention schedule, running a job)
   needs an actor with every fonds (403 otherwise: the repository obviously exists).

The loaders of the services take the action as an argument (`visible_row(..., action)`,
`holds.load(...)`, `users.load(...)`), so a service function declares its action where it
loads what it touches. The HTTP route table (`api/security.py`) stays as a second fence.
What each kind of object needs to be reached:

| object | reached when |
|---|---|
| fonds | its code is in the actor's fonds scope |
| dossier | in scope, and its access mode is open to the actor (02 also by a grant) |
| document | its dossier is reached, and its own access mode is open to the actor |
| legal hold | every dossier it covers or covered is reached (an empty hold: its creator) |
| disposal review, destruction record | the review's fonds is in scope |
| user | the user's fonds scope lies inside the actor's |
| stored object (fixity) | the record it holds is reached |
| repository-wide settings and jobs | the actor has every fonds |
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, not_, or_, select

from ..catalog import (
    DisposalReview,
    Document,
    DocumentTombstone,
    Dossier,
    Fonds,
    Hold,
    HoldItem,
    Tombstone,
    User,
)
from .access import can_see_document, can_see_dossier, filter_dossiers, in_scope
from .context import Actor, Env
from .errors import Forbidden, NotFound
from .policy import allowed

ALL_FONDS = "*"


def require(actor: Actor, action: str) -> None:
    """403 unless one of the actor's roles allows `action` (services/policy.py)."""
    if not allowed(actor, action):
        raise Forbidden(f"Your role ({', '.join(actor.roles) or 'none'}) does not allow this "
                        f"({action}). Ask an administrator if you need it.", action=action)


def require_whole_repository(actor: Actor, action: str, what: str) -> None:
    """For an action that changes every fonds at once: the role, and every fonds in scope."""
    require(actor, action)
    if actor.scope is not None:
        raise Forbidden(f"{what} concerns every fonds of this repository; only a user whose "
                        "fonds scope is all fonds (\"*\") may do it.", action=action)


def approver_roles(env: Env) -> set[str]:
    """Roles that may approve a disposal review (DISPOSAL_APPROVER_ROLES, default `head`)."""
    return {r.strip() for r in str(env.config["DISPOSAL_APPROVER_ROLES"]).split(",")}


def require_approver(env: Env, actor: Actor) -> None:
    """403 unless the actor may approve disposal: the action, and one of the approver roles
    (an administrator does not approve destruction unless it is made an approver)."""
    require(actor, "disposal.approve")
    roles = approver_roles(env)
    if not roles & set(actor.roles) and "system" not in actor.roles:
        raise Forbidden(f"Only the head of the agency (role {', '.join(sorted(roles))}) can "
                        "approve a disposal review.", action="disposal.approve")


def reach_fonds(actor: Actor, code: str, not_found: str | None = None) -> None:
    """404 unless the fonds is in the actor's scope."""
    if not in_scope(actor, code):
        raise NotFound(not_found or f"There is no fonds with code {code!r}.")


# ---------------------------------------------------------------- legal holds

def visible_dossier_ids(session, env: Env, actor: Actor):  # noqa: ANN001, ANN201
    """A query of the ids of every dossier the actor may see (for IN / NOT IN)."""
    return filter_dossiers(session, env, actor, select(Dossier.id))


def _hold_condition(session, env: Env, actor: Actor):  # noqa: ANN001, ANN202
    """SQL condition on Hold: every dossier the hold covers (or covered) is in the actor's
    view; a hold that never covered a dossier belongs to its creator."""
    seen = visible_dossier_ids(session, env, actor)
    destroyed_in_scope = select(Tombstone.dossier_id)
    if actor.scope is not None:
        destroyed_in_scope = destroyed_in_scope.where(Tombstone.fonds_code.in_(actor.scope))
    hidden_item = exists().where(
        HoldItem.hold_id == Hold.id, HoldItem.dossier_id.not_in(seen),
        HoldItem.dossier_id.not_in(destroyed_in_scope))
    any_item = exists().where(HoldItem.hold_id == Hold.id)
    return and_(not_(hidden_item), or_(any_item, Hold.created_by == actor.name))


def sees_all_holds(actor: Actor) -> bool:
    return actor.scope is None and actor.conditional and actor.clearance


def filter_holds(session, env: Env, actor: Actor, stmt):  # noqa: ANN001, ANN201
    """Restrict a query over Hold to the holds the actor may reach."""
    if sees_all_holds(actor):
        return stmt
    return stmt.where(_hold_condition(session, env, actor))


def reach_hold(session, env: Env, actor: Actor, hold: Hold) -> None:  # noqa: ANN001
    """404 unless every dossier the hold covers is in the actor's view: an archivist of one
    commune neither reads nor releases a hold that protects another commune's dossiers."""
    if sees_all_holds(actor):
        return
    if not session.scalar(select(_hold_condition(session, env, actor))
                          .select_from(Hold).where(Hold.id == hold.id)):
        raise NotFound(f"There is no hold {hold.id!r}.")


# ---------------------------------------------------------------- disposal reviews

def reach_review(actor: Actor, fonds_code: str | None, review_id: str) -> None:
    """404 unless the review's fonds is in scope (a review of no fonds: all-fonds users)."""
    if actor.scope is None:
        return
    if fonds_code is None or fonds_code not in actor.scope:
        raise NotFound(f"There is no disposal review {review_id!r}.")


# ---------------------------------------------------------------- stored objects

def reach_record(session, env: Env, actor: Actor, record_id: str) -> None:  # noqa: ANN001
    """404 unless the record a stored object holds is in the actor's view: a fonds, a
    dossier, a document, a destruction record (its review's fonds), or what remains of a
    destroyed dossier or document (its fonds). Anything else: all-fonds users only."""
    missing = NotFound(f"There is no record {record_id!r}.")
    if actor.scope is None and actor.conditional and actor.clearance:
        return
    if (fonds := session.get(Fonds, record_id)) is not None:
        return reach_fonds(actor, fonds.code, str(missing))
    if (dossier := session.get(Dossier, record_id)) is not None:
        if not can_see_dossier(session, env, actor, dossier):
            raise missing
        return None
    if (document := session.get(Document, record_id)) is not None:
        dossier = session.get(Dossier, document.dossier_id)
        if dossier is None or not can_see_document(session, env, actor, document, dossier):
            raise missing
        return None
    review = session.scalar(select(DisposalReview).where(DisposalReview.record_id == record_id))
    gone = session.get(DocumentTombstone, record_id)
    tomb = session.get(Tombstone, gone.dossier_id if gone else record_id)
    fonds_code = review.fonds_code if review is not None else (tomb.fonds_code if tomb else None)
    if actor.scope is not None and (fonds_code is None or fonds_code not in actor.scope):
        raise missing
    return None


# ---------------------------------------------------------------- users

def scope_of(user: User) -> tuple[str, ...] | None:
    """A user's fonds scope as an actor has it (None: every fonds)."""
    codes = list(user.fonds_scope or [])
    return None if ALL_FONDS in codes else tuple(codes)


def covers(outer: tuple[str, ...] | None, inner: tuple[str, ...] | None) -> bool:
    """True when scope `inner` lies inside scope `outer` (None: every fonds)."""
    if outer is None:
        return True
    return inner is not None and set(inner) <= set(outer)


def filter_users(actor: Actor, users: list[User]) -> list[User]:
    return [u for u in users if covers(actor.scope, scope_of(u))]


def reach_user(actor: Actor, user: User) -> None:
    """404 unless the user's whole fonds scope lies inside the actor's: an administrator of
    one commune manages that commune's users, not the city's."""
    if not covers(actor.scope, scope_of(user)):
        raise NotFound(f"There is no user {user.id!r}.")


def check_no_widening(actor: Actor, changes: dict[str, Any]) -> None:
    """403 when a change to a user (or a new user) would give more than the actor has:
    a wider fonds scope, conditional access or clearance the actor lacks, or roles the actor
    does not hold (an administrator holds every role)."""
    problems = []
    if "fonds_scope" in changes:
        wanted = scope_of(User(fonds_scope=changes["fonds_scope"] or [ALL_FONDS]))
        if not covers(actor.scope, wanted):
            mine = "all fonds" if actor.scope is None else ", ".join(actor.scope)
            problems.append(f"a fonds scope wider than your own ({mine})")
    if changes.get("conditional_access") and not actor.conditional:
        problems.append("conditional access (02), which you do not have")
    if changes.get("clearance") and not actor.clearance:
        problems.append("clearance for secret (03) records, which you do not have")
    roles = set(changes.get("roles") or ())
    if roles and not ({"admin", "system"} & set(actor.roles)) and not roles <= set(actor.roles):
        problems.append(f"roles you do not hold ({', '.join(sorted(roles - set(actor.roles)))})")
    if problems:
        raise Forbidden("Nobody can give more than they have: this would grant "
                        + "; ".join(problems) + ".", action="users.manage")
