"""Run bookkeeping, in one place: a job run's row from request to result.

A run is `requested` (by a person or a service; web processes never run jobs), `running`,
then `ok` or `failed` with its counts or error and an audit event. The worker
(jobs/worker.py) and the commands that run a job in-process record their runs here.
"""

from __future__ import annotations

import traceback
from typing import Any

from sqlalchemy import func, select

from ..catalog import JobRun
from . import audit
from .context import SYSTEM, Env
from .errors import Conflict, NotFound


def run_view(run: JobRun) -> dict[str, Any]:
    return {"id": run.id, "job": run.job, "trigger": run.trigger, "status": run.status,
            "requested_by": run.requested_by, "requested_at": run.requested_at,
            "started_at": run.started_at, "finished_at": run.finished_at,
            "counts": run.counts or {}, "error": run.error}


def queue_run(env: Env, requested_by: str, name: str) -> dict[str, Any]:
    """Ask the worker for a run (once: a pending request is not doubled, 409)."""
    with env.db.write() as session:
        pending = session.scalar(select(JobRun).where(
            JobRun.job == name, JobRun.status.in_(("requested", "running"))).limit(1))
        if pending is not None:
            raise Conflict(f"Job {name} is already {pending.status} (run {pending.id}).",
                           run_id=pending.id)
        run = JobRun(job=name, trigger="manual", status="requested", requested_by=requested_by,
                     requested_at=env.now())
        session.add(run)
        session.flush()
        return run_view(run)


def requested_runs(env: Env) -> list[int]:
    """Runs waiting for the worker, oldest first."""
    with env.db.read() as session:
        return list(session.scalars(select(JobRun.id).where(JobRun.status == "requested")
                                    .order_by(JobRun.id)))


def start_run(env: Env, name: str | None, trigger: str, run_id: int | None = None
              ) -> tuple[int, str]:
    """Mark a run as started (a requested one, or a new one); returns its id and job name."""
    with env.db.write() as session:
        if run_id is None:
            run = JobRun(job=name, trigger=trigger, status="running", requested_at=env.now(),
                         started_at=env.now())
            session.add(run)
            session.flush()
        else:
            run = session.get(JobRun, run_id)
            run.status, run.started_at = "running", env.now()
        return run.id, run.job


def finish_run(env: Env, run_id: int, counts: dict[str, Any],
               exc: BaseException | None = None) -> str:
    """Record a run's result (and its audit event); returns its status."""
    error = None if exc is None else (
        f"{type(exc).__name__}: {exc}\n"
        + "".join(traceback.format_exception(exc, limit=5)))
    with env.db.write() as session:
        run = session.get(JobRun, run_id)
        run.status = "failed" if error else "ok"
        run.finished_at, run.counts, run.error = env.now(), counts, error
        audit.log_in(session, env, SYSTEM, "job.run", run.job,
                     {"run": run_id, "status": run.status, "counts": counts})
        return run.status


def runs_of(env: Env, name: str, *, page: int, page_size: int) -> tuple[list[dict], int]:
    with env.db.read() as session:
        stmt = select(JobRun).where(JobRun.job == name)
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(JobRun.id.desc())
                               .offset((page - 1) * page_size).limit(page_size)).all()
        return [run_view(r) for r in rows], total


def last_run(env: Env, name: str) -> dict[str, Any] | None:
    with env.db.read() as session:
        run = session.scalar(select(JobRun).where(JobRun.job == name)
                             .order_by(JobRun.id.desc()).limit(1))
        return run_view(run) if run is not None else None


def run_by_id(env: Env, run_id: int) -> dict[str, Any]:
    with env.db.read() as session:
        run = session.get(JobRun, run_id)
        if run is None:
            raise NotFound(f"There is no job run {run_id}.")
        return run_view(run)
