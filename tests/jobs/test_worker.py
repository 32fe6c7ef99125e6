"""The worker: one leader among several, and how it paces its turns."""

from __future__ import annotations

import time

from repo_server.jobs.worker import Worker
from repo_server.services.search import open_writer


def test_one_worker_leads_another_stands_by(env):
    a = Worker(env, lambda: open_writer(env), holder="a", use_scheduler=False)
    b = Worker(env, lambda: open_writer(env), holder="b", use_scheduler=False)
    a.step(time.monotonic())
    b.step(time.monotonic())
    assert a.is_leader and not b.is_leader
    a.lease.release()
    a.is_leader = False
    a.backend.close()
    b.step(time.monotonic() + 100)
    assert b.is_leader
    b.backend.close()


def test_worker_paces_small_batches_and_yields_the_cpu(env, monkeypatch):
    """After a turn that found less than a full batch the worker waits INDEX_INTERVAL_SECONDS
    (so the index is committed in batches), after a full one it goes on at once, after an
    idle one it polls; and its thread runs at WORKER_NICE."""
    import os
    import threading

    from repo_server.services.indexing import DRAIN_BATCH

    monkeypatch.setitem(env.config, "INDEX_INTERVAL_SECONDS", 0.4)
    monkeypatch.setitem(env.config, "WORKER_NICE", 3)
    w = Worker(env, lambda: open_writer(env), use_scheduler=False, poll_seconds=0.9)
    turns = iter([7, DRAIN_BATCH, 0])
    waits: list[float] = []
    stop = threading.Event()

    def step(now: float) -> int:
        try:
            return next(turns)
        except StopIteration:
            stop.set()
            return 0

    class Recorder:
        def is_set(self) -> bool:
            return stop.is_set()

        def wait(self, seconds: float) -> None:
            waits.append(seconds)

    niced: list[int] = []
    monkeypatch.setattr(w, "step", step)
    monkeypatch.setattr(os, "nice", lambda inc: niced.append(inc) or 0)
    w.run_forever(Recorder())  # type: ignore[arg-type]
    assert waits == [0.4, 0.9] + waits[2:] and niced == [3]
    assert w.index_interval == 0.4
