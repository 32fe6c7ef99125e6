"""API keys: random secrets shown once; only their SHA-256 is stored.

A key is 32 random bytes, so a plain SHA-256 (not a slow password hash) is the right check:
nothing can be guessed, and every request stays fast.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select

from ..catalog import ApiKey
from .context import Actor, Env
from .errors import Unauthorized
from .records import new_id

KEY_PREFIX = "rs_"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(env: Env, user_name: str, roles: list[str], *,
               expires_at: datetime | None = None) -> tuple[str, str]:
    """Create a key; returns (key id, secret). The secret is never stored or shown again."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = new_id()
    with env.db.write() as session:
        session.add(ApiKey(id=key_id, key_hash=_hash(secret), prefix=secret[:10],
                           user_name=user_name, roles=list(roles), created_at=env.now(),
                           expires_at=expires_at))
    return key_id, secret


def authenticate(env: Env, secret: str | None) -> Actor:
    """The actor behind a bearer secret, or Unauthorized."""
    if not secret:
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    with env.db.read() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(secret)))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("This API key is not valid (unknown or revoked).")
    if key.expires_at is not None and key.expires_at <= env.now():
        raise Unauthorized("This API key has expired; ask an administrator for a new one.")
    return Actor(name=key.user_name, roles=tuple(key.roles), key_id=key.id)


def has_keys(env: Env) -> bool:
    with env.db.read() as session:
        return session.scalar(select(ApiKey.id).limit(1)) is not None
