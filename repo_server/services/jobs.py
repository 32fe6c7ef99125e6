"""Scheduled jobs as seen by the API: what exists, when it runs next, what past runs did.

Web processes never run a job: asking for a run records a request that the worker picks up.
The table of jobs is services/job_table.py; the run rows are kept by services/job_runs.py.
"""

from __future__ import annotations

from typing import Any

from . import rights
from .context import Actor, Env
from .errors import NotFound
from .job_runs import last_run, queue_run, run_by_id, runs_of
from .job_table import REGISTRY, JobSpec, register, schedule_of, trigger_of

__all__ = ["REGISTRY", "JobSpec", "get_run", "list_jobs", "list_runs", "queue_job",
           "register", "request_run", "schedule_of", "trigger_of"]


def list_jobs(env: Env, viewer: Actor) -> list[dict[str, Any]]:
    rights.require(viewer, "jobs.read")
    now = env.now()
    out = []
    for name, spec in sorted(REGISTRY.items()):
        trigger = trigger_of(env, name)
        out.append({"name": name, "description": spec.description,
                    "schedule": schedule_of(env, name),
                    "next_run": trigger.get_next_fire_time(None, now) if trigger else None,
                    "last_run": last_run(env, name)})
    return out


def list_runs(env: Env, name: str, *, page: int, page_size: int,
              viewer: Actor) -> tuple[list[dict], int]:
    rights.require(viewer, "jobs.read")
    if name not in REGISTRY:
        raise NotFound(f"There is no job {name!r}.")
    return runs_of(env, name, page=page, page_size=page_size)


def get_run(env: Env, run_id: int, viewer: Actor) -> dict[str, Any]:
    rights.require(viewer, "jobs.read")
    return run_by_id(env, run_id)


def request_run(env: Env, actor: Actor, name: str) -> dict[str, Any]:
    """Ask the worker to run a job now (once; a pending request is not doubled). A job works
    on every fonds, so only a user with every fonds may start one (services/rights.py)."""
    rights.require_whole_repository(actor, "jobs.run", f"Job {name}")
    return queue_job(env, actor.name, name)


def queue_job(env: Env, requested_by: str, name: str) -> dict[str, Any]:
    """Queue a run of a job of the table (404 for an unknown name)."""
    if name not in REGISTRY:
        raise NotFound(f"There is no job {name!r}.")
    return queue_run(env, requested_by, name)
