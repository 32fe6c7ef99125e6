"""Dossiers (hồ sơ): create, read, list, correct metadata, and read any earlier version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from ..catalog import Document, Dossier, Tombstone
from ..storage import ObjectNotFound
from . import rights
from .access import can_see_dossier, filter_documents, filter_dossiers, in_scope, sees_everything
from .catalog_mirror import dossier_json
from .context import SYSTEM, Actor, Env
from .errors import Conflict, Gone, NotFound, PreconditionRequired, ValidationFailed
from .fonds import get_fonds_row, predecessors
from .holds import ensure_not_held
from .metadata import check_dossier
from .records import (
    DOSSIER_FILE,
    dump,
    from_json_dict,
    new_id,
    next_in_sequence,
    object_id,
    to_json_dict,
    version_at,
)
from .retention import due_on, resolve, years_of
from .writes import WritePlan, add_outbox, write_object

# Fields set by the system, never by a client.
SYSTEM_FIELDS = ("id", "type", "schema_version", "fonds_code", "file_code", "state",
                 "archive_code", "doc_total", "closed", "handover", "transfer_due", "transfer",
                 "appraisals")
SORTS = {
    "created_at": Dossier.created_at, "title": Dossier.title, "file_code": Dossier.file_code,
    "start_date": Dossier.start_date, "end_date": Dossier.end_date, "year": Dossier.year,
}


def view(row: Dossier) -> dict[str, Any]:
    """The API view of a dossier's head version."""
    return {**from_json_dict(row.meta), "id": row.id, "state": row.state,
            "retention": row.retention, "retention_years": row.retention_years,
            "retention_due_on": row.retention_due_on, "archive_code": row.archive_code,
            "doc_total": row.doc_total, "version": row.head_version,
            "created_at": row.created_at, "updated_at": row.updated_at}


def get_row(session, dossier_id: str) -> Dossier:  # noqa: ANN001
    row = session.get(Dossier, dossier_id)
    if row is None or row.head_version == 0:
        tomb = session.get(Tombstone, dossier_id)
        if tomb is not None:
            raise Gone(f"Dossier {tomb.file_code} was destroyed on "
                       f"{tomb.destroyed_at.date().isoformat()} after disposal review "
                       f"{tomb.review_id}; see its destruction record.",
                       review_id=tomb.review_id, record_id=tomb.record_id,
                       destroyed_at=tomb.destroyed_at.isoformat())
        raise NotFound(f"There is no dossier with id {dossier_id!r}.")
    return row


def visible_row(session, env: Env, viewer: Actor, dossier_id: str,  # noqa: ANN001
                action: str = "dossier.read") -> Dossier:
    """The dossier, for `action` by `viewer` (services/rights.py): 403 without the role;
    NotFound, as if it did not exist, when the viewer may not see it; 410 when destroyed."""
    rights.require(viewer, action)
    try:
        row = get_row(session, dossier_id)
    except Gone:
        tomb = session.get(Tombstone, dossier_id)
        if not in_scope(viewer, tomb.fonds_code):
            raise NotFound(f"There is no dossier with id {dossier_id!r}.") from None
        raise
    if not can_see_dossier(session, env, viewer, row):
        raise NotFound(f"There is no dossier with id {dossier_id!r}.")
    return row


def _visible_counts(session, env: Env, viewer: Actor, ids: list[str]) -> dict[str, int]:  # noqa: ANN001
    """Documents per dossier that the viewer may see (counts must not reveal hidden ones)."""
    stmt = select(Document.dossier_id, func.count()).join(
        Dossier, Dossier.id == Document.dossier_id).where(
        Document.dossier_id.in_(ids), Document.head_version > 0).group_by(Document.dossier_id)
    return dict(session.execute(filter_documents(session, env, viewer, stmt)).all())


def _views(session, env: Env, viewer: Actor, rows: list[Dossier]) -> list[dict[str, Any]]:  # noqa: ANN001
    out = [view(r) for r in rows]
    if not sees_everything(viewer) and rows:
        counts = _visible_counts(session, env, viewer, [r.id for r in rows])
        for item in out:
            item["doc_total"] = counts.get(item["id"], 0)
    return out


def get_dossier(env: Env, dossier_id: str, viewer: Actor, *,
                as_of: datetime | None = None) -> dict[str, Any]:
    """The dossier now, or as it was at `as_of`."""
    with env.db.read() as session:
        row = visible_row(session, env, viewer, dossier_id)
        current = _views(session, env, viewer, [row])[0]
    if as_of is None:
        return current
    return version_view(env, dossier_id, version_at(env.store, dossier_id, as_of, "dossier"),
                        viewer)


def version_view(env: Env, dossier_id: str, number: int, viewer: Actor) -> dict[str, Any]:
    """The dossier's metadata exactly as stored in version `number`."""
    with env.db.read() as session:
        visible_row(session, env, viewer, dossier_id)
    try:
        info = env.store.version(object_id(dossier_id), number)
        record = env.store.read_json(object_id(dossier_id), DOSSIER_FILE, number)
    except ObjectNotFound as exc:
        raise NotFound(f"Dossier {dossier_id!r} has no version {number}.") from exc
    record = from_json_dict(record)
    record.pop("type", None)
    record.pop("schema_version", None)
    return {**record, "version": info.number, "version_created": info.created,
            "version_user": info.user_name, "version_message": info.message}


def list_versions(env: Env, dossier_id: str, viewer: Actor) -> list[dict[str, Any]]:
    with env.db.read() as session:
        visible_row(session, env, viewer, dossier_id)
    return [version_summary(v) for v in env.store.versions(object_id(dossier_id))]


def version_summary(v) -> dict[str, Any]:  # noqa: ANN001
    return {"version": v.number, "created": v.created, "user": v.user_name, "message": v.message}


def list_dossiers(env: Env, viewer: Actor, *, fonds_code: str | None = None, year: int | None = None,
                  state: str | None = None, q: str | None = None, external_ref: str | None = None,
                  include_predecessors: bool = False,
                  sort: str = "-created_at", page: int = 1,
                  page_size: int = 20) -> tuple[list[dict[str, Any]], int]:
    """Dossiers filtered from the catalog, with the total before pagination."""
    rights.require(viewer, "dossier.read")
    stmt: Select = select(Dossier).where(Dossier.head_version > 0)
    if fonds_code and include_predecessors:
        with env.db.read() as session:
            codes = {fonds_code} | predecessors(session, {fonds_code})
        stmt = stmt.where(Dossier.fonds_code.in_(codes))
    elif fonds_code:
        stmt = stmt.where(Dossier.fonds_code == fonds_code)
    if year:
        stmt = stmt.where(Dossier.year == year)
    if state:
        stmt = stmt.where(Dossier.state == state)
    if external_ref:
        stmt = stmt.where(Dossier.external_ref == external_ref)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Dossier.title.ilike(f"%{escaped}%", escape="\\"))
    column = SORTS[sort.lstrip("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    with env.db.read() as session:
        stmt = filter_dossiers(session, env, viewer, stmt)
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(
            stmt.order_by(order, Dossier.id).offset((page - 1) * page_size).limit(page_size)
        ).all()
        return _views(session, env, viewer, list(rows)), total


def _validate(env: Env, meta: dict[str, Any]) -> None:
    errors = check_dossier(env.codes, meta)
    if errors:
        raise ValidationFailed(errors)


@dataclass
class NewDossier:
    """A validated new dossier, before its codes are claimed."""

    fonds_code: str
    data: dict[str, Any]
    notation: str | None
    explicit_code: str | None
    year: int
    record_id: str = field(default_factory=new_id)
    meta: dict[str, Any] = field(default_factory=dict)  # filled by reserve_dossier


def prepare_dossier(env: Env, data: dict[str, Any]) -> NewDossier:
    """Check a new dossier's metadata (codes, retention rule, dates) before any write."""
    data = {k: v for k, v in data.items() if v is not None}
    fonds_code = data.pop("fonds_code")
    notation = data.pop("file_notation", None)
    explicit_code = data.pop("file_code", None)
    data.setdefault("access_mode", "01")
    data.setdefault("languages", ["01"])
    with env.db.read() as session:
        data = resolve(env, session, data)
    if not data.get("retention"):
        raise ValidationFailed({"retention": ["Give a retention code (01–07) or a retention "
                                              "rule of the schedule (retention_rule)."]})
    _validate(env, data)
    year = (data.get("start_date") or env.now().astimezone(env.tz)).year
    return NewDossier(fonds_code, data, notation, explicit_code, year)


def reserve_dossier(session, env: Env, actor: Actor, new: NewDossier, *,  # noqa: ANN001
                    doc_count: int = 0) -> None:
    """Claim the file code and case number and add the (still invisible) catalog row."""
    fonds_code, data = new.fonds_code, new.data
    rights.require(actor, "dossier.create")
    fonds = get_fonds_row(session, fonds_code, actor, "dossier.create")
    if fonds.status == "closed":
        raise Conflict(f"Fonds {fonds_code} is closed; it takes no new dossiers.")
    ref = data.get("external_ref")
    if ref:
        existing = session.scalar(select(Dossier.id).where(
            Dossier.fonds_code == fonds_code, Dossier.external_ref == ref))
        if existing:
            raise Conflict(f"Case {ref!r} was already received as dossier {existing}.",
                           existing_id=existing)
    if new.explicit_code:
        if not new.explicit_code.startswith(f"{fonds_code}."):
            raise ValidationFailed({"file_code": [
                f"A file code starts with the fonds code and a dot ({fonds_code}.)."]})
        file_code = new.explicit_code
    else:
        number = new.notation or "{:02d}".format(
            next_in_sequence(session, "file_number", f"{fonds_code}:{new.year}"))
        file_code = f"{fonds_code}.{new.year}.{number}"
    if session.scalar(select(Dossier.id).where(Dossier.file_code == file_code)):
        raise Conflict(f"File code {file_code} is already used by another dossier.")
    new.meta.update(data, fonds_code=fonds_code, file_code=file_code)
    now = env.now()
    session.add(Dossier(
        id=new.record_id, fonds_code=fonds_code, file_code=file_code, title=data["title"],
        state="open", year=new.year, start_date=data.get("start_date"),
        end_date=data.get("end_date"), retention=data["retention"],
        retention_years=data.get("retention_years"), access_mode=data["access_mode"],
        retention_rule=data.get("retention_rule"),
        retention_due_on=due_on(data.get("end_date"),
                                years_of(env, data["retention"], data.get("retention_years"))),
        external_ref=data.get("external_ref"), doc_total=0, doc_seq=doc_count,
        meta=to_json_dict(new.meta), head_version=0, created_at=now, updated_at=now))
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("The file code or case number is already used.") from exc


def dossier_file(new: NewDossier) -> bytes:
    """The dossier.json of a new dossier's first version."""
    return dump(dossier_json(new.record_id, "open", new.meta))


def create_dossier(env: Env, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Open a new dossier in a fonds; assigns the file code unless the client gives one."""
    rights.require(actor, "dossier.create")
    rights.reach_fonds(actor, data.get("fonds_code") or "")  # 404 before anything else
    new = prepare_dossier(env, data)

    def reserve(session) -> None:  # noqa: ANN001
        reserve_dossier(session, env, actor, new)

    def unreserve(session) -> None:  # noqa: ANN001
        row = session.get(Dossier, new.record_id)
        if row is not None and row.head_version == 0:
            session.delete(row)

    def apply(session, version) -> None:  # noqa: ANN001
        row = session.get(Dossier, new.record_id)
        row.head_version = version.number
        row.created_at = row.updated_at = version.created

    plan = WritePlan(new.record_id, "dossier", lambda: {DOSSIER_FILE: dossier_file(new)},
                     message=f"Create dossier: {new.data['title'][:80]}", expected_head=0)
    write_object(env, actor, plan, reserve=reserve, apply=apply, unreserve=unreserve)
    return get_dossier(env, new.record_id, SYSTEM)


def update_dossier(env: Env, actor: Actor, dossier_id: str, changes: dict[str, Any],
                   expected_version: int | None) -> dict[str, Any]:
    """Correct a dossier's metadata; needs the current version (If-Match)."""
    rights.require(actor, "dossier.update")
    if expected_version is None:
        raise PreconditionRequired("Send If-Match with the dossier's current ETag to update it.")
    with env.db.read() as session:
        row = visible_row(session, env, actor, dossier_id, "dossier.update")
        ensure_not_held(session, dossier_id, row.file_code)
    if row.state != "open":
        raise Conflict(f"Dossier {row.file_code} is {row.state}; only open dossiers can be edited.",
                       state=row.state)
    fixed = [k for k in changes if k in SYSTEM_FIELDS]
    if fixed:
        raise ValidationFailed({k: ["This field is set by the system and cannot be changed."]
                                for k in fixed})
    meta = {**from_json_dict(row.meta), **changes}
    if "retention" in changes and "retention_rule" not in changes:
        meta.pop("retention_rule", None)  # an explicit retention replaces the rule
    if changes.get("retention_rule"):
        meta.pop("retention", None)
        meta.pop("retention_years", None)
    meta = {k: v for k, v in meta.items() if v is not None}
    with env.db.read() as session:
        meta = resolve(env, session, meta)
    _validate(env, meta)

    def apply(session, version) -> None:  # noqa: ANN001
        target = session.get(Dossier, dossier_id)
        if target.access_mode != meta["access_mode"]:
            # documents are indexed with their dossier's access mode
            for doc_id in session.scalars(select(Document.id)
                                          .where(Document.dossier_id == dossier_id)):
                add_outbox(session, env, doc_id, "document", "index")
        target.retention_rule = meta.get("retention_rule")
        target.retention_due_on = due_on(meta.get("end_date"), years_of(
            env, meta["retention"], meta.get("retention_years")))
        target.title = meta["title"]
        target.start_date = meta.get("start_date")
        target.end_date = meta.get("end_date")
        target.retention = meta["retention"]
        target.retention_years = meta.get("retention_years")
        target.access_mode = meta["access_mode"]
        target.external_ref = meta.get("external_ref")
        target.meta = to_json_dict(meta)
        target.head_version = version.number
        target.updated_at = version.created

    message = f"Update dossier metadata: {', '.join(sorted(changes))}"
    write_object(env, actor, WritePlan(dossier_id, "dossier",
                                       {DOSSIER_FILE: dump(dossier_json(dossier_id, row.state, meta))},
                                       message=message, expected_head=expected_version),
                 apply=apply)
    return get_dossier(env, dossier_id, actor)


def claim_document_serial(session, dossier_id: str):  # noqa: ANN001, ANN201
    """Claim the next document serial in a dossier (its doc_code suffix), in one statement
    that also returns what the caller must check under the write lock: a row with
    doc_seq, id, fonds_code, file_code, state and head_version (None: no such dossier)."""
    return session.connection().execute(_CLAIM_SERIAL, {"dossier_id": dossier_id}).first()


_T = Dossier.__table__
_CLAIM_SERIAL = (  # built once: it runs on every document create
    update(_T).where(_T.c.id == bindparam("dossier_id")).values(doc_seq=_T.c.doc_seq + 1)
    .returning(_T.c.doc_seq, _T.c.id, _T.c.fonds_code, _T.c.file_code, _T.c.state,
               _T.c.head_version))
