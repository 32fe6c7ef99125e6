"""Is this instance backed up? Where to, when it last worked, and what to warn about.

One answer for the three places that tell an operator: `/api/v1/health`, the greeting of
`repo-server serve` and `repo-server doctor`. Backups are on by default, into
`<instance>/backups`: better than none, but that folder is on the same disk as the records, so
every one of those places says so until BACKUP_DIR names a folder on another disk.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ..catalog import ApiKey, JobRun
from .backup import list_sets
from .context import Env
from .job_table import schedule_of

# A nightly job that has not succeeded for this long has missed at least one night.
STALE_AFTER = timedelta(days=2)


def as_utc(value: Any) -> datetime | None:
    """A time read back from an aggregate (SQLite gives those as text, without the zone)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def same_disk(a: str | Path, b: str | Path) -> bool:
    """Are two paths on the same file system (for a folder not made yet: where it would be)?"""
    return _device(Path(a)) == _device(Path(b))


def _device(path: Path) -> int:
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return os.stat(path).st_dev


def _schedule(env: Env) -> str | None:
    return schedule_of(env, "backup")


def _last_success(env: Env, dest: str) -> datetime | None:
    """The newest backup that finished: a run of the nightly job or a set in the folder."""
    times: list[datetime] = []
    with env.db.read() as session:
        for finished, counts in session.execute(
                select(JobRun.finished_at, JobRun.counts).where(
                    JobRun.job == "backup", JobRun.status == "ok")
                .order_by(JobRun.id.desc()).limit(20)):
            if finished is not None and (counts or {}).get("set"):
                times.append(as_utc(finished))
                break
    try:
        sets = list_sets(Path(dest))
    except OSError:
        sets = []
    if sets:
        stamp = sets[-1]["manifest"].get("finished_at") or sets[-1]["manifest"].get("started_at")
        if stamp:
            times.append(as_utc(stamp))
    return max(times) if times else None


def _in_service_since(env: Env) -> datetime | None:
    """When this instance was set up: its first API key is made on the very first start."""
    with env.db.read() as session:
        return as_utc(session.scalar(select(func.min(ApiKey.created_at))))


def backup_state(env: Env) -> dict[str, Any]:
    """Destination, schedule, last success and the warnings an operator must see (plain words).

    `stale` is a real problem (nothing has been backed up for two nights); the other warnings
    are advice that stays until it is followed.
    """
    dest = str(env.config.get("BACKUP_DIR") or "")
    schedule = _schedule(env)
    root = env.store.root
    state: dict[str, Any] = {"destination": dest or None, "schedule": schedule,
                             "same_disk": bool(dest) and same_disk(dest, root),
                             "last_success": None, "stale": False, "warnings": []}
    warnings: list[str] = state["warnings"]
    if not dest or not schedule:
        warnings.append("the nightly backup is turned off (BACKUP_DIR or JOB_SCHEDULES): "
                        "nothing protects the records if this disk dies; turn it on, or "
                        "make sure they are backed up another way")
        return state
    if state["same_disk"]:
        warnings.append(f"backups go to {dest}, on the same disk as the records: a broken "
                        "disk takes both; set BACKUP_DIR to a folder on another disk "
                        "(a USB disk or a network share)")
    last = _last_success(env, dest)
    state["last_success"] = last
    since = _in_service_since(env)
    now = env.now()
    reference = last or since
    if reference is not None and now - reference > STALE_AFTER:
        state["stale"] = True
        when = f"since {last:%Y-%m-%d %H:%M} UTC" if last else "yet"
        warnings.append(f"no backup has succeeded {when}: is {dest} there and writable? "
                        f"Run `repo-server backup {dest}` to see why")
    return state
