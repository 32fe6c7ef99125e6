"""What /health reports: can we reach the catalog and write to the storage root."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import text

from .context import Env


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
    status = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
    return {"status": status, "checks": checks}
