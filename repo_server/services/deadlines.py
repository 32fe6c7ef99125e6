"""Deadline warnings: dossiers due for hand-over to the agency archive, and permanent dossiers
due for transfer to the historical archive. Made by a daily job, read through the API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select

from ..catalog import DeadlineWarning, Dossier
from . import rights
from .access import filter_dossiers
from .context import Actor, Env
from .retention import years_of


def _plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def compute_warnings(env: Env, backend: Any = None) -> dict[str, int]:
    """Replace the warning list: hand-over due within HANDOVER_WARNING_DAYS (1 year after the
    end of the work), transfer due within TRANSFER_WARNING_DAYS."""
    today = env.now().astimezone(env.tz).date()
    handover_window = today + timedelta(days=env.config["HANDOVER_WARNING_DAYS"])
    transfer_window = today + timedelta(days=env.config["TRANSFER_WARNING_DAYS"])
    minimum = env.config["ARCHIVE_MIN_RETENTION_YEARS"]
    after = env.config["TRANSFER_AFTER_YEARS"]
    rows: list[dict[str, Any]] = []
    now = env.now()
    with env.db.write() as session:
        for d in session.execute(select(Dossier.id, Dossier.end_date, Dossier.retention,
                                        Dossier.retention_years)
                                 .where(Dossier.state == "closed",
                                        Dossier.end_date.is_not(None))):
            years = years_of(env, d.retention, d.retention_years)
            if years is not None and years < minimum:
                continue
            due = _plus_years(d.end_date, 1)
            if due <= handover_window:
                rows.append({"kind": "handover", "dossier_id": d.id, "due_on": due,
                             "created_at": now})
        for d in session.execute(select(Dossier.id, Dossier.archived_on, Dossier.retention,
                                        Dossier.retention_years)
                                 .where(Dossier.state == "archived",
                                        Dossier.archived_on.is_not(None))):
            if years_of(env, d.retention, d.retention_years) is not None:
                continue
            due = date(d.archived_on.year + after, 12, 31)
            if due <= transfer_window:
                rows.append({"kind": "transfer", "dossier_id": d.id, "due_on": due,
                             "created_at": now})
        session.execute(delete(DeadlineWarning))
        if rows:
            session.execute(insert(DeadlineWarning), rows)
    return {"handover": sum(r["kind"] == "handover" for r in rows),
            "transfer": sum(r["kind"] == "transfer" for r in rows)}


def list_warnings(env: Env, viewer: Actor, *, kind: str | None, page: int, page_size: int
                  ) -> tuple[list[dict[str, Any]], int]:
    stmt = select(DeadlineWarning, Dossier.file_code, Dossier.title, Dossier.fonds_code,
                  Dossier.state).join(Dossier, Dossier.id == DeadlineWarning.dossier_id)
    if kind:
        stmt = stmt.where(DeadlineWarning.kind == kind)
    rights.require(viewer, "warnings.read")
    with env.db.read() as session:
        stmt = filter_dossiers(session, env, viewer, stmt)  # scope and access mode
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.execute(stmt.order_by(DeadlineWarning.due_on, DeadlineWarning.id)
                               .offset((page - 1) * page_size).limit(page_size)).all()
    today = env.now().astimezone(env.tz).date()
    return [{"kind": w.kind, "dossier_id": w.dossier_id, "due_on": w.due_on,
             "overdue": w.due_on < today, "file_code": file_code, "title": title,
             "fonds_code": fonds_code, "state": state, "computed_at": w.created_at}
            for w, file_code, title, fonds_code, state in rows], total
