"""Managing users, their keys and their per-dossier access grants (administrators only).

An administrator manages only users whose fonds scope lies inside its own, and never gives
more than it has (services/rights.py). The last administrator of every fonds cannot be
demoted, narrowed, disabled or left without a valid key (409): someone must be able to
manage the repository through the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from ..catalog import AccessGrant, ApiKey, Dossier, User
from . import audit, rights
from .access import can_see_dossier
from .context import Actor, Env
from .errors import Conflict, NotFound, ValidationFailed
from .keys import ALL_FONDS, ensure_user, issue_key, signed_in_rights_changed
from .policy import ROLES


def _view(session, user: User) -> dict[str, Any]:  # noqa: ANN001
    keys = session.scalars(select(ApiKey).where(ApiKey.user_id == user.id)
                           .order_by(ApiKey.created_at)).all()
    grants = session.scalars(select(AccessGrant).where(AccessGrant.user_id == user.id)
                             .order_by(AccessGrant.id)).all()
    return {"id": user.id, "name": user.name, "display_name": user.display_name,
            "roles": user.roles, "fonds_scope": user.fonds_scope,
            "conditional_access": user.conditional_access, "clearance": user.clearance,
            "active": user.active, "created_at": user.created_at, "updated_at": user.updated_at,
            "keys": [{"id": k.id, "prefix": k.prefix, "label": k.label,
                      "created_at": k.created_at, "expires_at": k.expires_at,
                      "revoked_at": k.revoked_at} for k in keys],
            "grants": [{"id": g.id, "dossier_id": g.dossier_id, "granted_by": g.granted_by,
                        "granted_at": g.granted_at, "expires_at": g.expires_at,
                        "revoked_at": g.revoked_at} for g in grants]}


def _check(data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    bad = [r for r in data.get("roles") or [] if r not in ROLES]
    if bad:
        errors["roles"] = [f"Unknown role(s) {', '.join(bad)}; use: {', '.join(ROLES)}."]
    if "roles" in data and not data["roles"]:
        errors.setdefault("roles", []).append("Give the user at least one role.")
    if errors:
        raise ValidationFailed(errors)


def load(session, actor: Actor, user_id: str, action: str = "users.manage") -> User:  # noqa: ANN001
    """The user, for `action` by `actor`: 403 without the role, 404 when there is none or its
    fonds scope reaches beyond the actor's (services/rights.py)."""
    rights.require(actor, action)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id!r}.")
    rights.reach_user(actor, user)
    return user


def get_user(env: Env, user_id: str, viewer: Actor) -> dict[str, Any]:
    with env.db.read() as session:
        return _view(session, load(session, viewer, user_id))


def list_users(env: Env, viewer: Actor, *, page: int, page_size: int
               ) -> tuple[list[dict[str, Any]], int]:
    rights.require(viewer, "users.manage")
    with env.db.read() as session:
        # users are few (people and desk systems): filtered here, in the one rule of rights
        users = rights.filter_users(viewer, list(session.scalars(select(User)
                                                                 .order_by(User.name))))
        chosen = users[(page - 1) * page_size:page * page_size]
        return [_view(session, u) for u in chosen], len(users)


def _active_key(session, env: Env):  # noqa: ANN001, ANN202
    now = env.now()
    return select(ApiKey.user_id).where(
        ApiKey.revoked_at.is_(None),
        or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))


def _unscoped_admins(session, env: Env) -> set[str]:  # noqa: ANN001
    """Active administrators of every fonds that hold a valid key."""
    with_key = set(session.scalars(_active_key(session, env)))
    return {u.id for u in session.scalars(select(User).where(User.active.is_(True)))
            if "admin" in (u.roles or []) and ALL_FONDS in (u.fonds_scope or [])
            and u.id in with_key}


def _keep_an_admin(session, env: Env, before: set[str], what: str) -> None:  # noqa: ANN001
    """409 when a change would leave no administrator of every fonds with a valid key."""
    session.flush()
    if before and not _unscoped_admins(session, env):
        raise Conflict(f"{what} would leave no active administrator of every fonds with a "
                       "valid key; make another one first (nobody could manage users or "
                       "keys through the API otherwise).")


def create_user(env: Env, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """A new user; without `fonds_scope` it gets the creator's (an administrator of one
    commune makes users of that commune)."""
    rights.require(actor, "users.manage")
    if not data.get("fonds_scope"):
        data = {**data, "fonds_scope": list(actor.scope) if actor.scope is not None
                else [ALL_FONDS]}
    rights.check_no_widening(actor, data)
    _check(data)
    with env.db.write() as session:
        if session.scalar(select(User.id).where(User.name == data["name"])):
            raise Conflict(f"A user named {data['name']!r} exists.")
        user = ensure_user(session, env, data["name"], data["roles"],
                           fonds_scope=data["fonds_scope"],
                           conditional=data.get("conditional_access", False),
                           clearance=data.get("clearance", False),
                           display_name=data.get("display_name"))
        user_id = user.id
        audit.log_in(session, env, actor, "user.create", user_id, data)
    return get_user(env, user_id, actor)


def update_user(env: Env, actor: Actor, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    rights.require(actor, "users.manage")
    rights.check_no_widening(actor, changes)
    _check(changes)
    with env.db.write() as session:
        user = load(session, actor, user_id)
        before = _unscoped_admins(session, env)
        for field, value in changes.items():
            setattr(user, field, value)
        user.updated_at = env.now()
        _keep_an_admin(session, env, before, f"Changing user {user.name}")
        audit.log_in(session, env, actor, "user.update", user_id, changes)
        signed_in_rights_changed(session, env)
    return get_user(env, user_id, actor)


def create_user_key(env: Env, actor: Actor, user_id: str, *, label: str | None,
                    expires_at: datetime | None) -> dict[str, Any]:
    """A new key; the secret is in this answer only."""
    if expires_at is not None and expires_at <= env.now():
        raise ValidationFailed({"expires_at": ["The expiry must be in the future."]})
    rights.require(actor, "users.manage")
    with env.db.write() as session:
        user = load(session, actor, user_id)
        key_id, secret = issue_key(session, env, user, label=label, expires_at=expires_at)
        audit.log_in(session, env, actor, "key.create", user_id, {"key": key_id})
    return {"id": key_id, "secret": secret, "user_id": user_id, "label": label,
            "expires_at": expires_at}


def revoke_key(env: Env, actor: Actor, user_id: str, key_id: str) -> dict[str, Any]:
    with env.db.write() as session:
        user = load(session, actor, user_id)
        key = session.get(ApiKey, key_id)
        if key is None or key.user_id != user_id:
            raise NotFound(f"User {user_id} has no key {key_id}.")
        if key.revoked_at is None:
            before = _unscoped_admins(session, env)
            key.revoked_at = env.now()
            _keep_an_admin(session, env, before, f"Revoking this key of {user.name}")
            audit.log_in(session, env, actor, "key.revoke", user_id, {"key": key_id})
            signed_in_rights_changed(session, env)
    return get_user(env, user_id, actor)


def grant(env: Env, actor: Actor, user_id: str, dossier_id: str,
          expires_at: datetime | None) -> dict[str, Any]:
    """Open one conditional-access (02) dossier to one user; only a dossier the granting
    user may see itself (nobody grants what they do not have)."""
    with env.db.write() as session:
        load(session, actor, user_id)
        dossier = session.get(Dossier, dossier_id)
        if dossier is None or dossier.head_version == 0 or not can_see_dossier(
                session, env, actor, dossier):
            raise ValidationFailed({"dossier_id": [f"There is no dossier {dossier_id!r}."]})
        session.add(AccessGrant(user_id=user_id, dossier_id=dossier_id, granted_by=actor.name,
                                granted_at=env.now(), expires_at=expires_at))
        audit.log_in(session, env, actor, "grant.create", user_id, {"dossier": dossier_id})
        signed_in_rights_changed(session, env)
    return get_user(env, user_id, actor)


def revoke_grant(env: Env, actor: Actor, user_id: str, grant_id: int) -> dict[str, Any]:
    with env.db.write() as session:
        load(session, actor, user_id)
        g = session.get(AccessGrant, grant_id)
        if g is None or g.user_id != user_id:
            raise NotFound(f"User {user_id} has no grant {grant_id}.")
        if g.revoked_at is None:
            g.revoked_at = env.now()
            audit.log_in(session, env, actor, "grant.revoke", user_id, {"grant": grant_id})
            signed_in_rights_changed(session, env)
    return get_user(env, user_id, actor)
