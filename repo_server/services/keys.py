"""Users and their API keys: random secrets shown once; only their SHA-256 is stored.

A key is 32 random bytes, so a plain SHA-256 (not a slow password hash) is the right check:
nothing can be guessed, and every request stays fast.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select

from ..catalog import ApiKey, User
from .context import Actor, Env
from .errors import Unauthorized
from .records import new_id

KEY_PREFIX = "rs_"
ALL_FONDS = "*"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def ensure_user(session, env: Env, name: str, roles: list[str], *,  # noqa: ANN001
                fonds_scope: list[str] | None = None, conditional: bool | None = None,
                clearance: bool = False, display_name: str | None = None) -> User:
    """The user with this name, created with these settings if it does not exist yet."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        now = env.now()
        user = User(id=new_id(), name=name, display_name=display_name, roles=list(roles),
                    fonds_scope=list(fonds_scope or [ALL_FONDS]),
                    conditional_access="admin" in roles if conditional is None else conditional,
                    clearance=clearance, active=True, created_at=now, updated_at=now)
        session.add(user)
        session.flush()
    return user


def issue_key(session, env: Env, user: User, *, label: str | None = None,  # noqa: ANN001
              expires_at: datetime | None = None) -> tuple[str, str]:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = new_id()
    session.add(ApiKey(id=key_id, key_hash=_hash(secret), prefix=secret[:10],
                       user_name=user.name, user_id=user.id, roles=list(user.roles),
                       label=label, created_at=env.now(), expires_at=expires_at))
    return key_id, secret


def create_key(env: Env, user_name: str, roles: list[str], *,
               fonds_scope: list[str] | None = None, conditional: bool | None = None,
               clearance: bool = False, expires_at: datetime | None = None) -> tuple[str, str]:
    """A new key for a user (created on first use); returns (key id, secret)."""
    with env.db.write() as session:
        user = ensure_user(session, env, user_name, roles, fonds_scope=fonds_scope,
                           conditional=conditional, clearance=clearance)
        return issue_key(session, env, user, expires_at=expires_at)


def actor_for(user: User, key_id: str | None = None) -> Actor:
    scope = None if ALL_FONDS in (user.fonds_scope or []) else tuple(user.fonds_scope or ())
    return Actor(name=user.name, roles=tuple(user.roles), key_id=key_id, user_id=user.id,
                 scope=scope, conditional=user.conditional_access, clearance=user.clearance)


# A short per-process memory of recent sign-ins: a key lookup costs a query per request.
# Revoking a key or changing a user clears it in this process; other processes notice
# within AUTH_CACHE_SECONDS.
_recent: dict[str, tuple[float, Actor, datetime | None]] = {}
_recent_lock = threading.Lock()


def forget_sign_ins() -> None:
    with _recent_lock:
        _recent.clear()


def authenticate(env: Env, secret: str | None) -> Actor:
    """The actor behind a bearer secret, or Unauthorized."""
    if not secret:
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    digest = _hash(secret)
    ttl = env.config.get("AUTH_CACHE_SECONDS", 0)
    if ttl:
        with _recent_lock:
            hit = _recent.get(digest)
        if hit and time.monotonic() - hit[0] < ttl and (hit[2] is None or hit[2] > env.now()):
            return hit[1]
    actor = _authenticate(env, digest)
    if ttl:
        with _recent_lock:
            if len(_recent) > 10000:
                _recent.clear()
            _recent[digest] = (time.monotonic(), actor, _expiry.get(digest))
    return actor


_expiry: dict[str, datetime | None] = {}


def _authenticate(env: Env, digest: str) -> Actor:
    from .fonds import predecessors

    with env.db.read() as session:
        row = session.execute(select(ApiKey, User).join(User, User.id == ApiKey.user_id)
                              .where(ApiKey.key_hash == digest)).first()
        if row is None or row.ApiKey.revoked_at is not None or not row.User.active:
            raise Unauthorized("This API key is not valid (unknown, revoked, or its user is "
                               "disabled).")
        if row.ApiKey.expires_at is not None and row.ApiKey.expires_at <= env.now():
            raise Unauthorized("This API key has expired; ask an administrator for a new one.")
        _expiry[digest] = row.ApiKey.expires_at
        actor = actor_for(row.User, row.ApiKey.id)
        if actor.scope is not None:
            # custody: the records of fonds merged into the user's ones are theirs to use
            extra = predecessors(session, set(actor.scope))
            if extra:
                actor = replace(actor, scope=tuple(sorted(set(actor.scope) | extra)))
    return actor


def has_keys(env: Env) -> bool:
    with env.db.read() as session:
        return session.scalar(select(ApiKey.id).limit(1)) is not None
