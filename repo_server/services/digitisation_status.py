"""What a digitisation batch has done so far: counts, speed and the time it will need."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from ..catalog import DigitisationBatch, DigitisationDossier, DigitisationItem
from .context import Env


def _counts(session, batch_id: str) -> dict[str, Any]:  # noqa: ANN001
    items = dict(session.execute(
        select(DigitisationItem.state, func.count()).where(
            DigitisationItem.batch_id == batch_id).group_by(DigitisationItem.state)).all())
    pages = dict(session.execute(
        select(DigitisationItem.state, func.sum(DigitisationItem.pages)).where(
            DigitisationItem.batch_id == batch_id).group_by(DigitisationItem.state)).all())
    dossiers = dict(session.execute(
        select(DigitisationDossier.state, func.count()).where(
            DigitisationDossier.batch_id == batch_id)
        .group_by(DigitisationDossier.state)).all())
    return {
        "dossiers": {"total": sum(dossiers.values()), "done": dossiers.get("done", 0),
                     "failed": dossiers.get("failed", 0), "pending": dossiers.get("pending", 0)},
        "documents": {"total": sum(items.values()), "done": items.get("done", 0),
                      "converted": items.get("converted", 0), "failed": items.get("failed", 0),
                      "pending": items.get("pending", 0)},
        "pages": {"total": int(sum(v or 0 for v in pages.values())),
                  "converted": int((pages.get("done") or 0) + (pages.get("converted") or 0)),
                  "failed": int(pages.get("failed") or 0)},
    }


def batch_view(session, env: Env, row: DigitisationBatch) -> dict[str, Any]:  # noqa: ANN001
    counts = _counts(session, row.id)
    pages = counts["pages"]
    run = (row.options or {}).get("run") or {}
    eta = rate = None
    if row.state == "running" and row.started_at is not None:
        elapsed = (env.now() - row.started_at).total_seconds()
        done_now = pages["converted"] - int(run.get("pages_before", 0))
        if elapsed > 0 and done_now > 0:
            rate = done_now / elapsed * 60
            remaining = pages["total"] - pages["converted"] - pages["failed"]
            eta = env.now() + timedelta(minutes=max(remaining, 0) / rate)
    options = row.options or {}
    return {
        "id": row.id, "fonds_code": row.fonds_code, "state": row.state,
        "cancel_requested": row.cancel_requested, "created_by": row.created_by,
        "created_at": row.created_at, "started_at": row.started_at,
        "finished_at": row.finished_at, **counts,
        "pages_per_minute": round(rate, 1) if rate else None, "eta": eta,
        "cpu_seconds": round(row.cpu_seconds or 0.0, 1),
        "cpu_seconds_per_page": (round(row.cpu_seconds / pages["converted"], 2)
                                 if pages["converted"] and row.cpu_seconds else None),
        "import_valid_rows": bool(options.get("import_valid_rows")),
        "left_out": row.rejected or [], "notes": options.get("notes") or [],
        "error": row.error,
    }
