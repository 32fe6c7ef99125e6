"""services/audit.py's request buffer: `flush()` returns only when every event added before it
is in the database, including a batch its background thread is writing at that moment (tests
and the audit reader rely on it instead of sleeping)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from repo_server.catalog import AuditEvent
from repo_server.services import audit


def count(env) -> int:  # noqa: ANN001
    with env.db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "test.flush"))


def test_flush_waits_for_the_batch_the_background_thread_is_writing(env, monkeypatch) -> None:  # noqa: ANN001
    buf = audit.buffer(env)
    writing, release = threading.Event(), threading.Event()
    original = buf._write

    def slow_write(events):  # noqa: ANN001, ANN202
        if threading.current_thread().name == "audit-flush":
            writing.set()
            release.wait(10)
        return original(events)

    monkeypatch.setattr(buf, "_write", slow_write)
    buf.add(audit.make_event(env, "clerk", "test.flush", None))
    assert writing.wait(10)  # the background thread holds the event, mid-write
    threading.Timer(0.3, release.set).start()
    buf.flush()
    assert count(env) == 1
