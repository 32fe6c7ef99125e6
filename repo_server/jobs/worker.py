"""The worker: holds the lease, drains the outbox into the index, runs scheduled jobs.

Exactly one worker is active (see lease.py); others wait as standby. In embedded mode the
same loop runs in a background thread of `repo-server serve`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from ..services.context import Env
from ..services.indexing import DRAIN_BATCH, drain_outbox
from ..services.job_runs import finish_run, requested_runs, start_run
from ..services.job_table import REGISTRY, trigger_of
from ..services.recovery import needs_recovery, recover
from ..services.search import SearchBackend
from .digitisation import BatchThread
from .lease import Lease

log = logging.getLogger(__name__)
RECOVERY_CHECK_SECONDS = 5.0  # how often the active worker looks for crashed writers


class Worker:
    def __init__(self, env: Env, backend_factory: Callable[[], SearchBackend], *,
                 holder: str | None = None, poll_seconds: float = 0.5,
                 lease_seconds: float = 30, use_scheduler: bool = True) -> None:
        self.env = env
        self.backend_factory = backend_factory
        self.backend: SearchBackend | None = None
        self.lease = Lease(env, "worker", holder, lease_seconds)
        self.poll = poll_seconds
        # A turn that found less than a full batch waits this long before the next one, so
        # that under steady ingest the index is committed in batches (each commit makes a
        # segment; many tiny ones cost more to write and merge than the documents in them).
        self.index_interval = float(env.config.get("INDEX_INTERVAL_SECONDS", 0))
        # Background work yields the CPU to requests (nice(2) of the worker's threads).
        self.nice = int(env.config.get("WORKER_NICE", 0))
        self.renew_every = lease_seconds / 3
        self.use_scheduler = use_scheduler
        self.scheduler: BackgroundScheduler | None = None
        self.is_leader = False
        self._last_renew = 0.0
        self._last_check = 0.0
        self._last_recovery = 0.0
        self._lock = threading.Lock()  # one job or drain at a time
        self.batches = BatchThread(env, self.lease.holder)  # digitisation, in its own thread

    # ------------------------------------------------------------------ leadership
    def _become_leader(self) -> None:
        log.info("worker %s holds the lease", self.lease.holder)
        self.is_leader = True
        self.backend = self.backend_factory()
        self.ensure_index()
        if self.use_scheduler:
            self.scheduler = BackgroundScheduler(timezone=self.env.tz)
            for name in REGISTRY:
                trigger = trigger_of(self.env, name)
                if trigger is not None:
                    self.scheduler.add_job(self.run_job, trigger, args=[name, "schedule"],
                                           id=name, max_instances=1, coalesce=True)
            self.scheduler.start()

    def _step_down(self, reason: str = "lost the lease; standing by",
                   level: int = logging.WARNING) -> None:
        log.log(level, "worker %s %s", self.lease.holder, reason)
        self.is_leader = False
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self.backend is not None:
            self.backend.close()
            self.backend = None

    def ensure_index(self) -> None:
        """Rebuild a missing or corrupt index from the storage root (the API keeps serving)."""
        assert self.backend is not None
        problem = self.backend.check()
        if problem is None:
            return
        if problem == "missing" and next(iter(self.env.store.iter_object_ids()), None) is None:
            # A brand-new instance: nothing to rebuild, and nothing an operator must hear about.
            log.info("search index created in %s", self.env.config["INDEX_DIR"])
        else:
            log.warning("search index %s; rebuilding it from the storage root", problem)
        self.run_job("reindex", "automatic")

    # ------------------------------------------------------------------ the loop
    def step(self, now: float) -> int:
        """One turn: keep the lease, drain the outbox, run requested jobs. Returns work done."""
        if now - self._last_renew >= self.renew_every or not self.is_leader:
            have = self.lease.acquire()
            self._last_renew = now
            if have and not self.is_leader:
                self._become_leader()
            elif not have and self.is_leader:
                self._step_down()
        if not self.is_leader:
            return 0
        if now - self._last_check >= 60:
            self._last_check = now
            self.ensure_index()
        if now - self._last_recovery >= RECOVERY_CHECK_SECONDS:
            self._last_recovery = now
            self.recover_crashed()
        done = self.run_requested()
        self.batches.tick()
        with self._lock:
            done += drain_outbox(self.env, self.backend)
        return done

    def recover_crashed(self) -> None:
        """A web process killed on this host (kill -9, out of memory) left pending writes,
        a reserved row or staged files: recover them now rather than at the next restart."""
        if needs_recovery(self.env):
            with self._lock:
                recover(self.env)

    def run_forever(self, stop: threading.Event) -> None:
        if self.nice > 0:
            # On Linux nice(2) applies to the calling thread and the threads it starts later
            # (the scheduler's), not to the request threads of an embedding `serve`.
            os.nice(self.nice)
        try:
            while not stop.is_set():
                try:
                    busy = self.step(time.monotonic())
                except Exception:  # noqa: BLE001 - the worker must survive a bad turn
                    log.exception("worker turn failed")
                    busy = 0
                if not busy:
                    stop.wait(self.poll)
                elif busy < DRAIN_BATCH and self.index_interval > 0:
                    stop.wait(self.index_interval)
        finally:
            if self.is_leader:
                self._step_down("stopping", logging.INFO)  # asked to: nothing is wrong
                self.lease.release()

    # ------------------------------------------------------------------ jobs
    def run_requested(self) -> int:
        ids = requested_runs(self.env)
        for run_id in ids:
            self.run_job(None, "manual", run_id=run_id)
        return len(ids)

    def run_job(self, name: str | None, trigger: str, run_id: int | None = None) -> dict[str, Any]:
        """Run one job now and record the run (start, end, status, counts, error)."""
        run_id, name = start_run(self.env, name, trigger, run_id)
        counts: dict[str, Any] = {}
        failure: Exception | None = None
        try:
            with self._lock:
                counts = REGISTRY[name].run(self.env, self.backend) or {}
        except Exception as exc:  # noqa: BLE001 - recorded on the run
            log.exception("job %s failed", name)
            failure = exc
        finish_run(self.env, run_id, counts, failure)
        return counts


def start_embedded(env: Env, backend_factory: Callable[[], SearchBackend]
                   ) -> tuple[threading.Thread, threading.Event]:
    """Run the worker in a daemon thread of this process (embedded mode)."""
    stop = threading.Event()
    worker = Worker(env, backend_factory)
    thread = threading.Thread(target=worker.run_forever, args=(stop,), name="repo-worker",
                              daemon=True)
    thread.start()
    return thread, stop
