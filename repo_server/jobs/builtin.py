"""The built-in jobs. Each takes (env, backend) and returns counts for its run record."""

from __future__ import annotations

from typing import Any

from ..search.backend import SearchBackend
from ..services.context import Env
from ..services.indexing import iter_all_records
from ..services.jobs import JobSpec, register


def reindex(env: Env, backend: SearchBackend | None, progress=None) -> dict[str, Any]:  # noqa: ANN001
    """Rebuild the whole search index from the storage root (extracted text is reused)."""
    if backend is None:
        raise RuntimeError("no search index is open in this process")
    backend.clear()
    count = 0
    with backend.bulk() as writer:
        for record in iter_all_records(env, progress):
            writer.add(record)
            count += 1
    return {"records": count}


register(JobSpec("reindex", "Rebuild the search index from the storage root.", reindex, None))


def _sweep(env: Env, backend: SearchBackend | None) -> dict[str, Any]:
    from ..services.disposal import retention_sweep

    return retention_sweep(env, backend)


def _warnings(env: Env, backend: SearchBackend | None) -> dict[str, Any]:
    from ..services.deadlines import compute_warnings

    return compute_warnings(env, backend)


def _execute(env: Env, backend: SearchBackend | None) -> dict[str, Any]:
    from ..services.disposal import execute_approved

    return execute_approved(env, backend)


register(JobSpec("retention_sweep", "List dossiers whose retention ran out in a disposal "
                 "review (Xem xét hủy).", _sweep, "30 1 * * *"))
register(JobSpec("deadline_warnings", "Warn of dossiers due for hand-over to the agency "
                 "archive and for transfer to the historical archive.", _warnings, "45 1 * * *"))
register(JobSpec("disposal_execution", "Carry out approved disposal reviews and write their "
                 "destruction records.", _execute, "0 * * * *"))


def _fixity(env: Env, backend: SearchBackend | None) -> dict[str, Any]:
    from ..services.fixity import run_fixity

    return run_fixity(env, "schedule")


def _backup(env: Env, backend: SearchBackend | None) -> dict[str, Any]:
    from ..services.backup import scheduled_backup

    return scheduled_backup(env)


register(JobSpec("fixity", "Re-hash the share of stored objects checked longest ago, so every "
                 "object is checked within FIXITY_PERIOD_DAYS.", _fixity, "15 2 * * *"))
register(JobSpec("backup", "Back up the database and the storage root into BACKUP_DIR "
                 "(default <instance>/backups: set it to a folder on another disk).", _backup,
                 "30 0 * * *"))
