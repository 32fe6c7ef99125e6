"""Deadline warnings: dossiers due for hand-over to the agency archive, permanent dossiers due
for transfer to the historical archive, and registered incoming documents near or past their
handling deadline. Made by a daily job, read through the API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select

from ..catalog import DeadlineWarning, Document, Dossier
from . import handover, rights
from .access import filter_dossiers, granted, modes
from .context import Actor, Env
from .retention import years_of


def compute_warnings(env: Env, backend: Any = None) -> dict[str, int]:
    """Replace the warning list: hand-over due within HANDOVER_WARNING_DAYS (services/handover:
    1 year after the end of the work, 3 months for XDCB, or the end of a keep-back), transfer
    due within TRANSFER_WARNING_DAYS, incoming documents due within HANDLING_WARNING_DAYS."""
    today = env.now().astimezone(env.tz).date()
    handover_window = today + timedelta(days=env.config["HANDOVER_WARNING_DAYS"])
    transfer_window = today + timedelta(days=env.config["TRANSFER_WARNING_DAYS"])
    after = env.config["TRANSFER_AFTER_YEARS"]
    rows: list[dict[str, Any]] = []
    now = env.now()
    with env.db.write() as session:
        # closed dossiers due for hand-over (their rule, or the date a kept-back one is due)
        for d, due in handover.due_dossiers(env, session, until=handover_window):
            rows.append({"kind": "handover", "dossier_id": d.id, "due_on": due,
                         "created_at": now})
        rows.extend(handling_warnings(env, session, today))
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
            session.execute(insert(DeadlineWarning),
                            [{"document_id": None, **row} for row in rows])
    return {kind: sum(r["kind"] == kind for r in rows) for kind in KINDS}


KINDS = ("handover", "transfer", "handling")


def handling_warnings(env: Env, session, today: date) -> list[dict[str, Any]]:  # noqa: ANN001
    """Registered incoming documents not yet handled whose deadline is within
    HANDLING_WARNING_DAYS or past (the follow-up register's overdue warnings)."""
    window = today + timedelta(days=env.config["HANDLING_WARNING_DAYS"])
    out = []
    for doc_id, dossier_id, meta in session.execute(
            select(Document.id, Document.dossier_id, Document.meta).where(
                Document.direction == "incoming", Document.head_version > 0)):
        due = meta.get("due_date")
        if not due or not meta.get("registration") or \
                (meta.get("handling") or {}).get("status") == "done":
            continue
        due = date.fromisoformat(due)
        if due <= window:
            out.append({"kind": "handling", "dossier_id": dossier_id, "document_id": doc_id,
                        "due_on": due, "created_at": env.now()})
    return out


def list_warnings(env: Env, viewer: Actor, *, kind: str | None, page: int, page_size: int
                  ) -> tuple[list[dict[str, Any]], int]:
    stmt = select(DeadlineWarning, Dossier.file_code, Dossier.title, Dossier.fonds_code,
                  Dossier.state, Document.doc_code).join(
        Dossier, Dossier.id == DeadlineWarning.dossier_id).outerjoin(
        Document, Document.id == DeadlineWarning.document_id)
    if kind:
        stmt = stmt.where(DeadlineWarning.kind == kind)
    rights.require(viewer, "warnings.read")
    with env.db.read() as session:
        stmt = filter_dossiers(session, env, viewer, stmt)  # scope and access mode
        stmt = _visible_documents(session, env, viewer, stmt)
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.execute(stmt.order_by(DeadlineWarning.due_on, DeadlineWarning.id)
                               .offset((page - 1) * page_size).limit(page_size)).all()
    today = env.now().astimezone(env.tz).date()
    return [{"kind": w.kind, "dossier_id": w.dossier_id, "due_on": w.due_on,
             "overdue": w.due_on < today, "file_code": file_code, "title": title,
             "fonds_code": fonds_code, "state": state, "computed_at": w.created_at,
             "document_id": w.document_id, "doc_code": doc_code}
            for w, file_code, title, fonds_code, state, doc_code in rows], total


def _visible_documents(session, env: Env, viewer: Actor, stmt):  # noqa: ANN001, ANN202
    """A handling warning names a document: shown only if the viewer may see it too."""
    allowed = modes(viewer)
    if len(allowed) == 3:
        return stmt
    condition = or_(DeadlineWarning.document_id.is_(None), Document.access_mode.is_(None),
                    Document.access_mode.in_(allowed))
    grants = granted(session, env, viewer)
    if grants:
        condition = or_(condition, and_(Document.access_mode == "02",
                                        Document.dossier_id.in_(grants)))
    return stmt.where(condition)
