"""The write path shared by every service: storage first, then the catalog and the outbox.

1. a short transaction records a pending write (and, for a new record, reserves its row so
   unique codes are claimed before any byte is written); it is on disk no later than the
   storage's commit point (see `Database.write(synced_by_storage=...)`);
2. the new OCFL version is written atomically;
3. one transaction updates the mirror rows, adds an outbox event and clears the pending row.
A crash between 2 and 3 leaves the pending row; `reconcile_pending` imports the object then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert
from sqlalchemy.orm import Session

from ..catalog import OutboxEvent, PendingWrite
from ..storage import StagedFile, StaleVersion, VersionInfo
from . import audit
from .context import Actor, Env
from .errors import PreconditionFailed
from .processes import this_process
from .records import new_id, object_id

# The statements every write runs, built once on the tables and executed on the session's
# connection: the ORM's bulk paths cost several times more per statement (see decision 0006).
_PENDING = PendingWrite.__table__
_ADD_PENDING = insert(_PENDING)
_DROP_PENDING = delete(_PENDING).where(_PENDING.c.token == bindparam("token"))
_ADD_OUTBOX = insert(OutboxEvent.__table__)


@dataclass
class WritePlan:
    """One change to one object."""

    record_id: str
    kind: str  # fonds | dossier | document
    # The new files, or a function giving them once `reserve` has run (a new record's
    # JSON needs the codes that `reserve` claims).
    add: Mapping[str, StagedFile | bytes] | Callable[[], Mapping[str, StagedFile | bytes]]
    remove: Iterable[str] = ()
    message: str = ""
    expected_head: int | None = None


def write_object(
    env: Env,
    actor: Actor,
    plan: WritePlan,
    *,
    reserve: Callable[[Session], None] | None = None,
    apply: Callable[[Session, VersionInfo], None],
    unreserve: Callable[[Session], None] | None = None,
    outbox: bool = True,
) -> VersionInfo:
    """Write one object version and mirror it in the catalog (see the module docstring)."""
    token = new_id()
    holder = this_process(env)
    # Durable once the storage commit below is (its first sync covers the database's file
    # system where that holds): the pending row is on disk before the new version exists.
    with env.db.write(synced_by_storage=True) as session:
        if reserve is not None:
            reserve(session)
        session.connection().execute(_ADD_PENDING, {
            "token": token, "object_id": plan.record_id, "object_kind": plan.kind,
            "started_at": env.now(), "holder": holder})
    try:
        version = _write(env, actor, plan)
    except BaseException as exc:
        with env.db.write() as session:
            if unreserve is not None:
                unreserve(session)
            session.connection().execute(_DROP_PENDING, {"token": token})
        if isinstance(exc, StaleVersion):
            raise PreconditionFailed(
                f"This record was changed by someone else (now version {exc.actual}); "
                "reload it and apply your change again.",
                current_version=exc.actual,
            ) from exc
        raise
    with env.db.write() as session:
        apply(session, version)
        if outbox:
            add_outbox(session, env, plan.record_id, plan.kind, "index")
        session.connection().execute(_DROP_PENDING, {"token": token})
        audit.log_in(session, env, actor, f"{plan.kind}.version", plan.record_id,
                     {"version": version.number, "message": version.message})
    return version


def _write(env: Env, actor: Actor, plan: WritePlan) -> VersionInfo:
    """Write the version; `expected_head` is the client's If-Match. Only people and client
    systems add versions (extracted text is derived data: decision 0021), so an ETag stays
    valid until someone changes the record."""
    add = plan.add() if callable(plan.add) else plan.add
    return env.store.write_version(
        object_id(plan.record_id), add=add, remove=plan.remove, message=plan.message,
        user_name=actor.name, user_address=actor.address, created=env.now(),
        expected_head=plan.expected_head)


def add_outbox(session: Session, env: Env, record_id: str, kind: str, action: str) -> None:
    session.connection().execute(_ADD_OUTBOX, {
        "object_id": record_id, "object_kind": kind, "action": action,
        "created_at": env.now(), "attempts": 0})
