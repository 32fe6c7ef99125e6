"""The audit trail: append-only events, each chained to the previous one by SHA-256.

hash(n) = sha256(hash(n-1) + canonical JSON of event n). Editing, deleting or reordering a
row breaks the chain at that row; the `audit_head` row holds the tip, so cutting off the
newest events is detected too. The tip is sealed with a key kept outside the database and
checkpoints of it are written into the storage root (services/audit_anchor.py), so that
rewriting rows *and* recomputing the hashes after them is detected as well. Changes to records are logged inside the transaction that
makes them; requests (reads, searches, refusals) are logged through a small per-process
buffer flushed every fraction of a second, so a read never waits for a disk flush.
"""

from __future__ import annotations

import atexit
import contextvars
import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Session

from ..catalog import AuditEvent, AuditHead
from . import audit_anchor, audit_view, rights
from .context import Actor, Env

log = logging.getLogger(__name__)
GENESIS = "0" * 64
# Set by the HTTP layer for the duration of a request; services stay unaware of Flask.
request_context: contextvars.ContextVar[dict[str, str | None] | None] = contextvars.ContextVar(
    "audit_request_context", default=None)


def canonical(event: dict[str, Any]) -> bytes:
    """The bytes that are hashed: every field but the hashes, in a fixed form."""
    body = {
        "at": event["at"].isoformat(timespec="microseconds"),
        "actor": event["actor"], "action": event["action"], "target": event.get("target"),
        "outcome": event["outcome"], "client_addr": event.get("client_addr"),
        "request_id": event.get("request_id"), "details": event.get("details") or {},
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str).encode()


def chain(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event)).hexdigest()


def _no_nul(value: Any) -> Any:  # noqa: ANN401
    """PostgreSQL refuses NUL in text and JSONB (a request for `/files/%00` would otherwise
    make the whole batch of buffered events fail, again and again): U+FFFD instead."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    return value


def make_event(env: Env, actor: Actor | str, action: str, target: str | None,
               outcome: str = "ok", details: dict[str, Any] | None = None,
               at: datetime | None = None) -> dict[str, Any]:
    ctx = request_context.get() or {}
    # Round-trip the details through JSON now so that what is hashed is what is stored.
    details = _no_nul(json.loads(json.dumps(details or {}, ensure_ascii=False, default=str)))
    return {"at": (at or env.now()).astimezone(UTC), "actor": actor if isinstance(actor, str) else actor.name,
            "action": action, "target": _no_nul(target), "outcome": outcome,
            "client_addr": ctx.get("client_addr"), "request_id": ctx.get("request_id"),
            "details": details}


# Built once, on the tables rather than the ORM classes, and run on the session's connection:
# the ORM's bulk-insert and bulk-update paths cost about 1 ms per event, Core a tenth of it.
_EVENTS = AuditEvent.__table__
_HEAD = AuditHead.__table__
_TIP = select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.mac).where(_HEAD.c.id == 1).with_for_update()
_ADD = insert(_EVENTS)
_MOVE_TIP = update(_HEAD).where(_HEAD.c.id == 1).values(
    seq=bindparam("tip_seq"), hash=bindparam("tip_hash"), mac=bindparam("tip_mac"))


def append(session, events: list[dict[str, Any]], env: Env) -> None:  # noqa: ANN001
    """Add events to the chain as part of the caller's write transaction.

    The events are chained when the transaction commits, after every other change of it has
    been flushed: the tip row, which every write transaction locks, is then always the last
    lock a transaction takes. Taken earlier, it deadlocked on PostgreSQL: the worker's text
    batch held the tip after its first document and waited for the next document's row,
    which a registration held while it waited for the tip (decision 0016's follow-up)."""
    if events:
        session.info.setdefault(_PENDING, []).extend(events)
        session.info[_PENDING_ENV] = env


_PENDING = "audit_pending"
_PENDING_ENV = "audit_env"


@listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    events = session.info.pop(_PENDING, None)
    env = session.info.pop(_PENDING_ENV, None)
    if events:
        session.flush()  # every other change first: the tip is the last row locked
        _chain(session, events, env)


@listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:  # noqa: ANN001, ARG001
    session.info.pop(_PENDING, None)
    session.info.pop(_PENDING_ENV, None)


def _chain(session, events: list[dict[str, Any]], env: Env) -> None:  # noqa: ANN001
    """Lock the tip, insert the events chained to it, seal the new tip with the instance's
    audit key."""
    conn = session.connection()
    head = conn.execute(_TIP).first()
    if head is None:  # the migration creates the tip; this only covers a deleted one
        conn.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS))
        seq, prev, old_mac = 0, GENESIS, None
    else:
        seq, prev, old_mac = head
    old_seq, old_hash = seq, prev
    rows = []
    for event in events:
        seq += 1
        digest = chain(prev, event)
        rows.append({**event, "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(_ADD, rows)
    mac = audit_anchor.seal_for_append(env, old_seq, old_hash, old_mac, seq, prev)
    conn.execute(_MOVE_TIP, {"tip_seq": seq, "tip_hash": prev, "tip_mac": mac})


def audit_head_problem(env: Env) -> str | None:
    """None when the head names the newest event (seq and hash), else what is wrong: writes
    append after the head, so a head behind its rows makes every write fail."""
    with env.db.read() as session:
        head = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
        newest = session.execute(select(_EVENTS.c.seq, _EVENTS.c.hash)
                                 .order_by(_EVENTS.c.seq.desc()).limit(1)).first()
    head_seq, head_hash = head if head is not None else (0, GENESIS)
    seq, digest = newest if newest is not None else (0, GENESIS)
    if (head_seq, head_hash) == (seq, digest):
        return None
    if head_seq < seq:
        return (f"failed: the audit trail's head (event {head_seq}) is behind its newest event "
                f"({seq}): writes fail until it is repaired; run `repo-server verify-audit`")
    if head_seq > seq:
        return (f"failed: the audit trail's head (event {head_seq}) is ahead of its newest "
                f"event ({seq}): events were removed; run `repo-server verify-audit`")
    return (f"failed: the audit trail's head does not match event {seq}: run "
            "`repo-server verify-audit`")


def log_in(session, env: Env, actor: Actor | str, action: str, target: str | None,  # noqa: ANN001
           details: dict[str, Any] | None = None) -> None:
    """Log a change inside the transaction that makes it."""
    append(session, [make_event(env, actor, action, target, "ok", details)], env)


def record(env: Env, actor: Actor | str, action: str, target: str | None,
           outcome: str = "ok", details: dict[str, Any] | None = None) -> None:
    """Log an event now, in its own transaction."""
    with env.db.write() as session:
        append(session, [make_event(env, actor, action, target, outcome, details)], env)


class Buffer:
    """Request events of one process, written in batches by a background thread."""

    def __init__(self, env: Env, interval: float = 0.25) -> None:
        self.env = env
        self.interval = interval
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        # Held for a whole flush: a flush that finds the list empty still waits for the batch
        # another thread (the background one) has taken and is writing.
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)

    def add(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._events.append(event)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-flush",
                                                daemon=True)
                self._thread.start()

    def flush(self, batch: int = 1000) -> None:
        """Write what is buffered, `batch` events per transaction (so a burst of reads never
        holds the database's write lock for long). Returns once every event added before the
        call is written (or failed and was put back for the next try)."""
        with self._flushing:
            while True:
                with self._lock:
                    events, self._events = self._events[:batch], self._events[batch:]
                if not events or not self._write(events):
                    return

    def _write(self, events: list[dict[str, Any]]) -> bool:
        try:
            with self.env.db.write() as session:
                append(session, events, self.env)
            return True
        except Exception:  # noqa: BLE001 - keep them for the next try rather than lose them
            log.exception("writing %d audit events failed; will retry", len(events))
            with self._lock:
                self._events[:0] = events
            return False

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self.flush()


def buffer(env: Env) -> Buffer:
    if getattr(env, "_audit_buffer", None) is None:
        env._audit_buffer = Buffer(env)  # type: ignore[attr-defined]
    return env._audit_buffer  # type: ignore[attr-defined]


def _view(e: AuditEvent) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
            "outcome": e.outcome, "client_addr": e.client_addr, "request_id": e.request_id,
            "details": e.details, "hash": e.hash}


def _filtered(filters: dict[str, Any]) -> Select:
    stmt = select(AuditEvent)
    for field in ("target", "actor", "action", "outcome", "request_id"):
        if filters.get(field):
            stmt = stmt.where(getattr(AuditEvent, field) == filters[field])
    if filters.get("since"):
        stmt = stmt.where(AuditEvent.at >= filters["since"])
    if filters.get("until"):
        stmt = stmt.where(AuditEvent.at < filters["until"])
    return stmt


def query(env: Env, filters: dict[str, Any], *, page: int, page_size: int,
          reader: Actor) -> tuple[list[dict[str, Any]], int]:
    """Events the reader may see (services/audit_view.py), newest first."""
    rights.require(reader, "audit.read")
    buffer(env).flush()
    with env.db.read() as session:
        stmt = audit_view.filter_events(session, env, reader, _filtered(filters))
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(AuditEvent.seq.desc())
                               .offset((page - 1) * page_size).limit(page_size)).all()
        return audit_view.mask(session, reader, [_view(e) for e in rows]), total


def export_lines(env: Env, filters: dict[str, Any], reader: Actor,
                 batch: int = 1000) -> Iterator[str]:
    """Matching events the reader may see, oldest first, one JSON object per line (streamed
    in batches)."""
    rights.require(reader, "audit.read")
    buffer(env).flush()
    last = 0
    while True:
        with env.db.read() as session:
            stmt = audit_view.filter_events(session, env, reader, _filtered(filters))
            rows = session.scalars(stmt.where(AuditEvent.seq > last)
                                   .order_by(AuditEvent.seq).limit(batch)).all()
            items = audit_view.mask(session, reader, [
                _view(e) | {"prev_hash": e.prev_hash, "at": e.at.isoformat()} for e in rows])
        if not rows:
            return
        for item in items:
            yield json.dumps(item, ensure_ascii=False, default=str) + "\n"
        last = rows[-1].seq


def verify(env: Env, batch: int = 5000) -> dict[str, Any]:
    """Walk the chain; report the first broken link (or that it is intact)."""
    buffer(env).flush()
    wanted = {p["seq"] for p in audit_anchor.read_checkpoints(env) if isinstance(p.get("seq"), int)}
    hash_at: dict[int, str] = {}
    prev, expected_seq, checked = GENESIS, 1, 0
    while True:
        with env.db.read() as session:
            rows = session.scalars(select(AuditEvent).where(AuditEvent.seq >= expected_seq)
                                   .order_by(AuditEvent.seq).limit(batch)).all()
            head = session.get(AuditHead, 1)
        for e in rows:
            event = {"at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
                     "outcome": e.outcome, "client_addr": e.client_addr,
                     "request_id": e.request_id, "details": e.details}
            problem = None
            if e.seq != expected_seq:
                problem = f"event {expected_seq} is missing (next is {e.seq})"
            elif e.prev_hash != prev:
                problem = f"event {e.seq} does not follow event {e.seq - 1} (removed or reordered)"
            elif chain(prev, event) != e.hash:
                problem = f"event {e.seq} was altered (its content does not match its hash)"
            if problem:
                return {"ok": False, "checked": checked, "first_broken_seq": e.seq
                        if e.seq == expected_seq else expected_seq, "problem": problem}
            if e.seq in wanted:
                hash_at[e.seq] = e.hash
            prev, expected_seq, checked = e.hash, expected_seq + 1, checked + 1
        if len(rows) < batch:
            break
    tip_seq = head.seq if head else 0
    if tip_seq != checked or (head and head.hash != prev):
        return {"ok": False, "checked": checked, "first_broken_seq": checked + 1,
                "problem": f"the chain ends at event {checked} but its tip says {tip_seq}: "
                           "the newest events were removed or the tip was altered"}
    problem = audit_anchor.check(env, (head.seq, head.hash, head.mac) if head else None,
                                 checked, hash_at)
    if problem:
        return {"ok": False, "checked": checked, "first_broken_seq": None, "problem": problem}
    return {"ok": True, "checked": checked, "first_broken_seq": None, "problem": None}
