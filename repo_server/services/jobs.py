"""Scheduled jobs as seen by the API: what exists, when it runs next, what past runs did.

Web processes never run a job: asking for a run records a request that the worker picks up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from ..catalog import JobRun
from . import rights
from .context import Actor, Env
from .errors import Conflict, NotFound, ValidationFailed


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    run: Callable[..., dict[str, Any]]  # (env, backend) -> counts
    default_schedule: str | None  # crontab; None = only on request


REGISTRY: dict[str, JobSpec] = {}


def register(spec: JobSpec) -> JobSpec:
    REGISTRY[spec.name] = spec
    return spec


def schedule_of(env: Env, name: str) -> str | None:
    """The crontab of a job: configuration JOB_SCHEDULES overrides the default; '' disables."""
    configured = (env.config.get("JOB_SCHEDULES") or {}).get(name)
    if configured is not None:
        return configured or None
    return REGISTRY[name].default_schedule


def trigger_of(env: Env, name: str) -> CronTrigger | None:
    cron = schedule_of(env, name)
    if not cron:
        return None
    try:
        return CronTrigger.from_crontab(cron, timezone=env.tz)
    except ValueError as exc:
        raise ValidationFailed({"JOB_SCHEDULES": [f"{name}: {cron!r} is not a crontab ({exc})"]}) from exc


def _run_view(run: JobRun) -> dict[str, Any]:
    return {"id": run.id, "job": run.job, "trigger": run.trigger, "status": run.status,
            "requested_by": run.requested_by, "requested_at": run.requested_at,
            "started_at": run.started_at, "finished_at": run.finished_at,
            "counts": run.counts or {}, "error": run.error}


def list_jobs(env: Env, viewer: Actor) -> list[dict[str, Any]]:
    rights.require(viewer, "jobs.read")
    now = env.now()
    out = []
    with env.db.read() as session:
        for name, spec in sorted(REGISTRY.items()):
            trigger = trigger_of(env, name)
            last = session.scalar(select(JobRun).where(JobRun.job == name)
                                  .order_by(JobRun.id.desc()).limit(1))
            out.append({"name": name, "description": spec.description,
                        "schedule": schedule_of(env, name),
                        "next_run": trigger.get_next_fire_time(None, now) if trigger else None,
                        "last_run": _run_view(last) if last else None})
    return out


def list_runs(env: Env, name: str, *, page: int, page_size: int,
              viewer: Actor) -> tuple[list[dict], int]:
    rights.require(viewer, "jobs.read")
    if name not in REGISTRY:
        raise NotFound(f"There is no job {name!r}.")
    with env.db.read() as session:
        stmt = select(JobRun).where(JobRun.job == name)
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(JobRun.id.desc())
                               .offset((page - 1) * page_size).limit(page_size)).all()
        return [_run_view(r) for r in rows], total


def get_run(env: Env, run_id: int, viewer: Actor) -> dict[str, Any]:
    rights.require(viewer, "jobs.read")
    with env.db.read() as session:
        run = session.get(JobRun, run_id)
        if run is None:
            raise NotFound(f"There is no job run {run_id}.")
        return _run_view(run)


def _known(name: str) -> bool:
    if name not in REGISTRY:
        import repo_server.jobs  # noqa: F401 - registers the built-in jobs when not yet loaded
    return name in REGISTRY


def request_run(env: Env, actor: Actor, name: str) -> dict[str, Any]:
    """Ask the worker to run a job now (once; a pending request is not doubled). A job works
    on every fonds, so only a user with every fonds may start one (services/rights.py)."""
    rights.require_whole_repository(actor, "jobs.run", f"Job {name}")
    return queue_run(env, actor.name, name)


def queue_run(env: Env, requested_by: str, name: str) -> dict[str, Any]:
    """Queue a run for a service that needs one (e.g. carrying out an approved review)."""
    if not _known(name):
        raise NotFound(f"There is no job {name!r}.")
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
        return _run_view(run)
