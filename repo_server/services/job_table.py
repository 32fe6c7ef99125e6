"""The job table: every scheduled job, what it runs and when (beside the services it runs).

A job is a service function `(env, backend) -> counts`; the worker (jobs/worker.py) runs it
with the search backend it holds and records the run (services/job_runs.py). A new job: a
service function and one line here (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from .backup import scheduled_backup
from .context import Env
from .deadlines import compute_warnings
from .disposal import retention_sweep
from .disposal_execution import execute_approved
from .errors import ValidationFailed
from .fixity import run_fixity
from .indexing import reindex


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    run: Callable[..., dict[str, Any]]  # (env, backend) -> counts
    default_schedule: str | None  # crontab; None = only on request


def _fixity(env: Env, backend: Any) -> dict[str, Any]:  # noqa: ANN401
    return run_fixity(env, "schedule")


def _backup(env: Env, backend: Any) -> dict[str, Any]:  # noqa: ANN401
    return scheduled_backup(env)


REGISTRY: dict[str, JobSpec] = {spec.name: spec for spec in (
    JobSpec("reindex", "Rebuild the search index from the storage root.", reindex, None),
    JobSpec("retention_sweep", "List dossiers whose retention ran out in a disposal review "
            "(Xem xét hủy).", retention_sweep, "30 1 * * *"),
    JobSpec("deadline_warnings", "Warn of dossiers due for hand-over to the agency archive and "
            "for transfer to the historical archive.", compute_warnings, "45 1 * * *"),
    JobSpec("disposal_execution", "Carry out approved disposal reviews and write their "
            "destruction records.", execute_approved, "0 * * * *"),
    JobSpec("fixity", "Re-hash the share of stored objects checked longest ago, so every "
            "object is checked within FIXITY_PERIOD_DAYS.", _fixity, "15 2 * * *"),
    JobSpec("backup", "Back up the database and the storage root into BACKUP_DIR (default "
            "<instance>/backups: set it to a folder on another disk).", _backup, "30 0 * * *"),
)}


def register(spec: JobSpec) -> JobSpec:
    """Add a job (an extension's); the built-in ones are in the table above."""
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
