"""Idempotent POSTs: a retry with the same Idempotency-Key gets the first answer again and
creates nothing; the same key with a different request is refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..catalog import IdempotencyKey
from .context import Env
from .errors import Conflict, ServiceError

ABANDONED_AFTER = timedelta(minutes=10)  # a request that died mid-way frees its key then


class KeyReused(ServiceError):
    status = 422


@dataclass
class Replay:
    status: int
    body: str | None
    headers: dict[str, str]


def begin(env: Env, actor: str, key: str, method: str, path: str,
          fingerprint: str) -> Replay | int:
    """Claim the key for this request (returns the claim's id), or the stored first answer."""
    now = env.now()
    with env.db.write() as session:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
        row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.actor == actor,
                                                          IdempotencyKey.key == key))
        if row is not None and row.state == "in_progress" and \
                row.created_at <= now - ABANDONED_AFTER:
            session.delete(row)
            session.flush()
            row = None
        if row is not None:
            if (row.method, row.path, row.fingerprint) != (method, path, fingerprint):
                raise KeyReused(f"Idempotency-Key {key!r} was already used for a different "
                                "request; use a new key for a new request.")
            if row.state == "in_progress":
                raise Conflict(f"A request with Idempotency-Key {key!r} is still being "
                               "processed; retry in a moment to get its answer.")
            return Replay(row.status_code or 200, row.body, row.headers or {})
        ttl = timedelta(hours=env.config["IDEMPOTENCY_TTL_HOURS"])
        claim = IdempotencyKey(actor=actor, key=key, method=method, path=path,
                               fingerprint=fingerprint, state="in_progress", created_at=now,
                               expires_at=now + ttl)
        session.add(claim)
        try:
            session.flush()
        except IntegrityError as exc:
            raise Conflict(f"A request with Idempotency-Key {key!r} is still being processed; "
                           "retry in a moment to get its answer.") from exc
        return claim.id


def finish(env: Env, claim_id: int, status: int, body: str | None,
           headers: dict[str, Any]) -> None:
    """Store a successful answer. A refused or failed request changed nothing, so its key is
    freed: a retry (after a dropped upload, or with the error corrected) runs again."""
    with env.db.write() as session:
        row = session.get(IdempotencyKey, claim_id)
        if row is None:
            return
        if status >= 400:
            session.delete(row)
            return
        row.state, row.status_code, row.body, row.headers = "done", status, body, headers
