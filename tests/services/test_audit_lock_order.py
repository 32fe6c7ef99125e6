"""The audit tip is the last row a write transaction locks.

Every write transaction moves the audit chain's tip (one row). Locked in the middle of a
transaction, it deadlocked on PostgreSQL: the worker's text batch held the tip after its first
document and waited for the next document's row, which a registration held while it waited
for the tip (seen as a 500 `DeadlockDetected` in the README's records walkthrough). Events
logged in a transaction are now chained when it commits, after its other changes."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select, update

from repo_server.catalog import AuditEvent, Fonds
from repo_server.services import audit, fonds
from repo_server.services.context import Actor

ADMIN = Actor(name="archivist", roles=("admin",), conditional=True, clearance=True)


def two_fonds(env) -> list[str]:  # noqa: ANN001
    for code, name in (("000.00.00.A01", "UBND xã A"), ("000.00.00.B02", "UBND xã B")):
        fonds.create_fonds(env, ADMIN, {"code": code, "name": name})
    return ["000.00.00.A01", "000.00.00.B02"]


def rename(session, code: str, name: str) -> None:  # noqa: ANN001
    session.execute(update(Fonds).where(Fonds.code == code).values(name=name))


def logged(env, action: str) -> int:  # noqa: ANN001
    with env.db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == action))


def test_the_tip_is_locked_after_every_other_change_of_the_transaction(env) -> None:  # noqa: ANN001
    a, b = two_fonds(env)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # noqa: ANN001, ANN002
        statements.append(" ".join(statement.split()).lower())

    event.listen(env.db.engine, "before_cursor_execute", seen)
    try:
        with env.db.write() as session:
            rename(session, a, "UBND xã A mới")
            audit.log_in(session, env, ADMIN, "test.order", a)
            rename(session, b, "UBND xã B mới")  # a change after the event is logged
            row = session.scalar(select(Fonds).where(Fonds.code == a))
            row.name = "UBND xã A (ORM)"  # and an ORM change, flushed only at commit
    finally:
        event.remove(env.db.engine, "before_cursor_execute", seen)
    tip = next(i for i, s in enumerate(statements) if "from audit_head" in s)
    changes = [i for i, s in enumerate(statements)
               if s.startswith("update fonds")]
    assert len(changes) == 3 and max(changes) < tip, statements
    assert logged(env, "test.order") == 1


def test_events_of_a_rolled_back_transaction_are_not_chained(env) -> None:  # noqa: ANN001
    a, _ = two_fonds(env)
    with pytest.raises(RuntimeError), env.db.write() as session:
        rename(session, a, "never")
        audit.log_in(session, env, ADMIN, "test.rolled_back", a)
        raise RuntimeError("the change fails after its event was logged")
    with env.db.write() as session:  # the next transaction does not inherit the event
        audit.log_in(session, env, ADMIN, "test.next", a)
    assert logged(env, "test.rolled_back") == 0
    assert logged(env, "test.next") == 1
    assert audit.audit_head_problem(env) is None


def test_two_writers_locking_rows_in_turn_do_not_deadlock(env) -> None:  # noqa: ANN001
    """The interleaving that deadlocked: W logs an event after changing row A, then wants row
    B; R has changed row B and logs its event. Only PostgreSQL lets both transactions run
    at once (SQLite serialises writers), so the race only exists there."""
    if env.db.is_sqlite:
        pytest.skip("SQLite runs one write transaction at a time: no interleaving to test")
    a, b = two_fonds(env)
    w_logged, r_changed = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def worker_batch() -> None:
        try:
            with env.db.write() as session:
                rename(session, a, "A by W")
                audit.log_in(session, env, "system", "test.w", a)
                w_logged.set()
                assert r_changed.wait(10)
                rename(session, b, "B by W")  # waits for R's lock on B
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def registration() -> None:
        try:
            assert w_logged.wait(10)
            with env.db.write() as session:
                rename(session, b, "B by R")
                audit.log_in(session, env, ADMIN, "test.r", b)
                r_changed.set()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker_batch), threading.Thread(target=registration)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert logged(env, "test.w") == 1 and logged(env, "test.r") == 1
    assert audit.audit_head_problem(env) is None
