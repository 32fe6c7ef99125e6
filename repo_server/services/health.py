"""What /health reports: what a write needs (the catalog, the storage root and its staging
folder, the audit trail's head in step with its rows) and what may rot or stall silently
(fixity, backups, parked index items)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from ..catalog import Alert, OutboxEvent
from ..catalog.migrate import alembic_config
from .audit import audit_head_problem
from .backup_status import backup_state
from .context import Env
from .fixity import failing
from .outbox import parked_count
from .processes import current_lease


def health_report(env: Env) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    try:
        with env.db.read() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        checks["database"] = f"error: {type(exc).__name__}"
    root = env.store.root
    checks["storage"] = "ok" if os.access(root, os.W_OK) else "error: not writable"
    if checks["storage"] == "ok" and not os.access(env.store.tmp_dir, os.W_OK):
        checks["storage"] = f"error: the staging folder {env.store.tmp_dir} is not writable"
    if checks["database"] == "ok":
        checks["audit"] = audit_check(env)
        checks.update(record_checks(env))
    return {"status": _status(checks), "checks": checks, "warnings": _warnings(checks)}


def _status(checks: dict[str, Any]) -> str:
    """ok while every check is `ok` or only a `warning: ...` (advice that stays until it is
    followed, such as backups on the same disk); degraded otherwise."""
    return "ok" if all(v == "ok" or str(v).startswith("warning:") for v in checks.values()) \
        else "degraded"


def _warnings(checks: dict[str, Any]) -> list[str]:
    return [f"{name}: {str(v).removeprefix('warning: ')}" for name, v in checks.items()
            if str(v).startswith("warning:")]


def available(report: dict[str, Any]) -> bool:
    """Can this process serve requests (database and storage root reachable)? A damaged record
    or a failed backup makes the service 'degraded' but it still serves (HTTP 200)."""
    checks = report["checks"]
    return checks.get("database") == "ok" and checks.get("storage") == "ok"


def record_checks(env: Env) -> dict[str, str]:
    """Fixity (damaged or missing objects) and the backup job, from the operations tables."""
    out: dict[str, str] = {}
    try:
        count, rows = failing(env, 5)
        if count:
            names = ", ".join(f"{r['object_id']} ({r['kind'] or 'object'}, {r['status']})"
                              for r in rows)
            more = f" and {count - len(rows)} more" if count > len(rows) else ""
            out["fixity"] = (f"failed: {count} stored object(s) damaged or missing: "
                             f"{names}{more}; see /api/v1/fixity")
        else:
            out["fixity"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        out["fixity"] = f"unknown: {type(exc).__name__}"
    out["backup"] = backup_check(env)
    out["outbox"] = parked_check(env)
    return out


def parked_check(env: Env) -> str:
    """`failed: N index item(s) parked` while the worker has given up on some changes."""
    try:
        count = parked_count(env)
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        return f"unknown: {type(exc).__name__}"
    if not count:
        return "ok"
    return (f"failed: {count} index item(s) parked after repeated failures (not searchable "
            "as they are); see /api/v1/outbox/parked, fix the cause, then retry them")


def audit_check(env: Env) -> str:
    """Every write appends to the audit trail after its head: a head out of step with the
    newest row makes every write fail, so /health says so."""
    try:
        return audit_head_problem(env) or "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        return f"error: {type(exc).__name__}"


def backup_check(env: Env) -> str:
    """`ok`; `failed: ...` when the last backup failed or none succeeded for two days;
    `warning: ...` when backups are off or on the same disk as the records."""
    try:
        with env.db.read() as session:
            alert = session.scalar(select(Alert).where(Alert.kind == "backup",
                                                       Alert.resolved_at.is_(None))
                                   .order_by(Alert.id.desc()).limit(1))
        if alert is not None:
            return f"failed: {alert.message}"
        state = backup_state(env)
    except Exception as exc:  # noqa: BLE001 - a health check reports, never raises
        return f"unknown: {type(exc).__name__}"
    if state["stale"]:
        return "failed: " + state["warnings"][-1]
    if state["warnings"]:
        return "warning: " + "; ".join(state["warnings"])
    return "ok"


def outbox_state(env: Env) -> dict[str, Any]:
    """Changes waiting for the indexer: how many, and how long the oldest has waited."""
    with env.db.read() as session:
        depth, oldest = session.execute(
            select(func.count(), func.min(OutboxEvent.created_at))
            .where(OutboxEvent.processed_at.is_(None), OutboxEvent.parked_at.is_(None))).one()
    if oldest is not None and oldest.tzinfo is None:  # aggregate results skip the type
        oldest = (datetime.fromisoformat(oldest) if isinstance(oldest, str) else oldest
                  ).replace(tzinfo=UTC)
    age = (env.now() - oldest).total_seconds() if oldest is not None else 0.0
    return {"depth": depth or 0, "oldest_seconds": round(max(age, 0.0), 3)}


_HEADS: set[str] | None = None


def _code_heads() -> set[str]:
    global _HEADS
    if _HEADS is None:
        _HEADS = set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
    return _HEADS


def readiness_report(env: Env, index_problem: str | None) -> dict[str, Any]:
    """Readiness: database (and its migrations), storage root, search index, worker lease,
    outbox backlog, fixity. Ready = the database and the storage root can serve requests."""
    report = health_report(env)
    checks = report["checks"]
    details: dict[str, Any] = {}
    if checks["database"] == "ok":
        try:
            with env.db.read() as session:
                heads = set(session.execute(text("SELECT version_num FROM alembic_version"))
                            .scalars())
            missing = _code_heads() - heads
            checks["migrations"] = "ok" if not missing else (
                f"behind: run `repo-server init` (missing {', '.join(sorted(missing))})")
        except Exception as exc:  # noqa: BLE001
            checks["migrations"] = f"error: {type(exc).__name__}"
    root = env.store.root
    if checks["storage"] == "ok":
        if not (root / "0=ocfl_1.1").is_file():
            checks["storage"] = "error: not an OCFL storage root"
        elif not os.access(env.store.tmp_dir, os.W_OK):
            checks["storage"] = f"error: {env.store.tmp_dir} is not writable"
    checks["index"] = "ok" if index_problem is None else f"degraded: {index_problem}"
    if checks["database"] == "ok":
        try:
            holder = current_lease(env, "worker")
            if holder is None:
                checks["worker"] = ("degraded: no worker holds the lease; indexing and jobs "
                                    "wait (start `repo-server worker`)")
                details["worker"] = None
            else:
                checks["worker"] = "ok"
                details["worker"] = {"holder": holder[0], "lease_expires_at": holder[1]}
            details["outbox"] = outbox_state(env)
        except Exception as exc:  # noqa: BLE001
            checks["worker"] = f"error: {type(exc).__name__}"
    ready = available(report) and checks.get("migrations", "ok") == "ok"
    status = _status(checks) if ready else "unavailable"
    return {"status": status, "ready": ready, "checks": checks, "warnings": _warnings(checks),
            **details}
