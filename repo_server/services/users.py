"""Managing users, their keys and their per-dossier access grants (administrators only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from ..catalog import AccessGrant, ApiKey, Dossier, User
from . import audit
from .context import Actor, Env
from .errors import Conflict, NotFound, ValidationFailed
from .keys import ALL_FONDS, ensure_user, forget_sign_ins, issue_key
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


def _get(session, user_id: str) -> User:  # noqa: ANN001
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id!r}.")
    return user


def get_user(env: Env, user_id: str) -> dict[str, Any]:
    with env.db.read() as session:
        return _view(session, _get(session, user_id))


def list_users(env: Env, *, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
    with env.db.read() as session:
        total = session.scalar(select(func.count()).select_from(User)) or 0
        users = session.scalars(select(User).order_by(User.name)
                                .offset((page - 1) * page_size).limit(page_size)).all()
        return [_view(session, u) for u in users], total


def create_user(env: Env, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    _check(data)
    with env.db.write() as session:
        if session.scalar(select(User.id).where(User.name == data["name"])):
            raise Conflict(f"A user named {data['name']!r} exists.")
        user = ensure_user(session, env, data["name"], data["roles"],
                           fonds_scope=data.get("fonds_scope") or [ALL_FONDS],
                           conditional=data.get("conditional_access", False),
                           clearance=data.get("clearance", False),
                           display_name=data.get("display_name"))
        user_id = user.id
        audit.log_in(session, env, actor, "user.create", user_id, data)
    return get_user(env, user_id)


def update_user(env: Env, actor: Actor, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    _check(changes)
    with env.db.write() as session:
        user = _get(session, user_id)
        for field, value in changes.items():
            setattr(user, field, value)
        user.updated_at = env.now()
        audit.log_in(session, env, actor, "user.update", user_id, changes)
        forget_sign_ins()
    return get_user(env, user_id)


def create_user_key(env: Env, actor: Actor, user_id: str, *, label: str | None,
                    expires_at: datetime | None) -> dict[str, Any]:
    """A new key; the secret is in this answer only."""
    if expires_at is not None and expires_at <= env.now():
        raise ValidationFailed({"expires_at": ["The expiry must be in the future."]})
    with env.db.write() as session:
        user = _get(session, user_id)
        key_id, secret = issue_key(session, env, user, label=label, expires_at=expires_at)
        audit.log_in(session, env, actor, "key.create", user_id, {"key": key_id})
    return {"id": key_id, "secret": secret, "user_id": user_id, "label": label,
            "expires_at": expires_at}


def revoke_key(env: Env, actor: Actor, user_id: str, key_id: str) -> dict[str, Any]:
    with env.db.write() as session:
        key = session.get(ApiKey, key_id)
        if key is None or key.user_id != user_id:
            raise NotFound(f"User {user_id} has no key {key_id}.")
        if key.revoked_at is None:
            key.revoked_at = env.now()
            audit.log_in(session, env, actor, "key.revoke", user_id, {"key": key_id})
            forget_sign_ins()
    return get_user(env, user_id)


def grant(env: Env, actor: Actor, user_id: str, dossier_id: str,
          expires_at: datetime | None) -> dict[str, Any]:
    """Open one conditional-access (02) dossier to one user."""
    with env.db.write() as session:
        _get(session, user_id)
        if session.get(Dossier, dossier_id) is None:
            raise ValidationFailed({"dossier_id": [f"There is no dossier {dossier_id!r}."]})
        session.add(AccessGrant(user_id=user_id, dossier_id=dossier_id, granted_by=actor.name,
                                granted_at=env.now(), expires_at=expires_at))
        audit.log_in(session, env, actor, "grant.create", user_id, {"dossier": dossier_id})
        forget_sign_ins()
    return get_user(env, user_id)


def revoke_grant(env: Env, actor: Actor, user_id: str, grant_id: int) -> dict[str, Any]:
    with env.db.write() as session:
        g = session.get(AccessGrant, grant_id)
        if g is None or g.user_id != user_id:
            raise NotFound(f"User {user_id} has no grant {grant_id}.")
        if g.revoked_at is None:
            g.revoked_at = env.now()
            audit.log_in(session, env, actor, "grant.revoke", user_id, {"grant": grant_id})
            forget_sign_ins()
    return get_user(env, user_id)
