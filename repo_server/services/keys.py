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

from ..catalog import ApiKey, Counter, User
from .context import Actor, Env
from .errors import Unauthorized
from .fonds import predecessors
from .records import new_id, next_in_sequence

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


# Sign-ins are remembered per process (a key lookup costs a query per request), but only
# while the "rights generation" stays the same: every change that can take a right away
# (revoking a key, changing or disabling a user, revoking a grant) moves it forward in the
# same transaction, and a process reads it (one row, about 0.1 ms) before trusting a
# remembered sign-in, at most every AUTH_REVOCATION_SECONDS (0.25 s): a revocation is
# effective in every process within that time, and a busy process pays the read four times a
# second instead of once per request (docs/decisions/0008-rights-on-the-object-trust-rights.md).
# AUTH_CACHE_SECONDS bounds how long a sign-in is remembered at all.
_GENERATION = ("auth", "rights-generation")
_READ_GENERATION = select(Counter.value).where(Counter.scope == _GENERATION[0],
                                               Counter.key == _GENERATION[1])


def signed_in_rights_changed(session, env: Env) -> None:  # noqa: ANN001
    """Make every process check its remembered sign-ins again (inside the caller's write
    transaction: the change and the new generation are committed together)."""
    next_in_sequence(session, *_GENERATION)
    forget_sign_ins(env)


def rights_generation(env: Env) -> int:
    """The current rights generation (0 before the first change)."""
    with env.db.engine.connect() as conn:
        return conn.execute(_READ_GENERATION).scalar() or 0


class SignInCache:
    """Recently checked keys of one process, valid for one rights generation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[float, Actor, datetime | None]] = {}
        self.generation: int | None = None
        self.checked_at = float("-inf")


def _cache(env: Env) -> SignInCache:
    cache = getattr(env, "_sign_ins", None)
    if cache is None:
        cache = env._sign_ins = SignInCache()  # type: ignore[attr-defined]
    return cache


def forget_sign_ins(env: Env) -> None:
    """Forget this process's remembered sign-ins."""
    cache = _cache(env)
    with cache.lock:
        cache.entries.clear()
        cache.checked_at = float("-inf")  # read the generation again at the next request


def authenticate(env: Env, secret: str | None) -> Actor:
    """The actor behind a bearer secret, or Unauthorized."""
    if not secret:
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    digest = _hash(secret)
    ttl = env.config.get("AUTH_CACHE_SECONDS", 0)
    if not ttl:
        return _authenticate(env, digest)[0]
    cache = _cache(env)
    now = time.monotonic()
    if now - cache.checked_at >= env.config.get("AUTH_REVOCATION_SECONDS", 0.25):
        latest = rights_generation(env)
        with cache.lock:
            if cache.generation != latest:
                cache.entries.clear()
                cache.generation = latest
            cache.checked_at = now
    with cache.lock:
        generation = cache.generation
        hit = cache.entries.get(digest)
    if hit and time.monotonic() - hit[0] < ttl and (hit[2] is None or hit[2] > env.now()):
        return hit[1]
    actor, expires_at = _authenticate(env, digest)
    with cache.lock:
        if len(cache.entries) > 10000:
            cache.entries.clear()
        if cache.generation == generation:
            cache.entries[digest] = (time.monotonic(), actor, expires_at)
    return actor


def _authenticate(env: Env, digest: str) -> tuple[Actor, datetime | None]:
    with env.db.read() as session:
        row = session.execute(select(ApiKey, User).join(User, User.id == ApiKey.user_id)
                              .where(ApiKey.key_hash == digest)).first()
        if row is None or row.ApiKey.revoked_at is not None or not row.User.active:
            raise Unauthorized("This API key is not valid (unknown, revoked, or its user is "
                               "disabled).")
        if row.ApiKey.expires_at is not None and row.ApiKey.expires_at <= env.now():
            raise Unauthorized("This API key has expired; ask an administrator for a new one.")
        expires_at = row.ApiKey.expires_at
        actor = actor_for(row.User, row.ApiKey.id)
        if actor.scope is not None:
            # custody: the records of fonds merged into the user's ones are theirs to use
            extra = predecessors(session, set(actor.scope))
            if extra:
                actor = replace(actor, scope=tuple(sorted(set(actor.scope) | extra)))
    return actor, expires_at


def has_keys(env: Env) -> bool:
    with env.db.read() as session:
        return session.scalar(select(ApiKey.id).limit(1)) is not None
