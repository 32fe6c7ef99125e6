"""Fonds (phông lưu trữ): the archive of one agency, identified by its OrganId code."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..catalog import Fonds
from . import rights
from .access import in_scope
from .context import Actor, Env
from .errors import Conflict, NotFound, PreconditionRequired, ValidationFailed
from .records import FONDS_FILE, dump, from_json_dict, new_id, to_json_dict
from .writes import WritePlan, write_object

FONDS_FIELDS = ("code", "name", "status", "closed_on", "successor_code", "history", "description",
                "closing_decision")


def _view(row: Fonds) -> dict[str, Any]:
    meta = from_json_dict(row.meta)
    return {**meta, "id": row.id, "version": row.head_version,
            "created_at": row.created_at, "updated_at": row.updated_at}


def get_fonds_row(session, code: str, viewer: Actor | None = None,  # noqa: ANN001
                  action: str = "fonds.read") -> Fonds:
    """The fonds, for `action` by `viewer` (when given): 403 without the role; NotFound also
    when it lies outside the viewer's scope."""
    if viewer is not None:
        rights.require(viewer, action)
    row = session.scalar(select(Fonds).where(Fonds.code == code))
    if row is None or (viewer is not None and not in_scope(viewer, code)):
        raise NotFound(f"There is no fonds with code {code!r}.")
    return row


def get_fonds(env: Env, code: str, viewer: Actor) -> dict[str, Any]:
    rights.require(viewer, "fonds.read")
    with env.db.read() as session:
        return _view(get_fonds_row(session, code, viewer))


def list_fonds(env: Env, viewer: Actor, *, page: int, page_size: int
               ) -> tuple[list[dict[str, Any]], int]:
    rights.require(viewer, "fonds.read")
    stmt = select(Fonds)
    if viewer.scope is not None:
        stmt = stmt.where(Fonds.code.in_(viewer.scope))
    with env.db.read() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(
            stmt.order_by(Fonds.code).offset((page - 1) * page_size).limit(page_size)
        ).all()
        return [_view(r) for r in rows], total


def _check(env: Env, data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    pattern = env.config["FONDS_CODE_PATTERN"]
    if not re.fullmatch(pattern, data["code"]):
        errors["code"] = [
            f"{data['code']!r} is not a valid agency code (OrganId, up to 13 characters, "
            "upper-case letters, digits and dots, e.g. 000.00.00.G09)."
        ]
    if data.get("status") == "closed" and not data.get("closed_on"):
        errors["closed_on"] = ["A closed fonds needs the date it was closed."]
    if errors:
        raise ValidationFailed(errors)


def create_fonds(env: Env, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Register a fonds; its code never changes afterwards. A user with some fonds only
    registers one of those (a code in its scope not registered yet)."""
    rights.require(actor, "fonds.write")
    rights.reach_fonds(actor, data.get("code") or "")
    data = {k: v for k, v in data.items() if v is not None}
    data.setdefault("status", "open")
    if not str(data.get("name") or "").strip():
        raise ValidationFailed({"name": ["Give the fonds its name (the agency's name)."]})
    _check(env, data)
    record_id = new_id()
    record = {"type": "fonds", "schema_version": 1, "id": record_id, **data}

    def reserve(session) -> None:  # noqa: ANN001
        if session.scalar(select(Fonds.id).where(Fonds.code == data["code"])):
            raise Conflict(f"A fonds with code {data['code']!r} already exists.")
        now = env.now()
        session.add(Fonds(id=record_id, code=data["code"], name=data["name"],
                          status=data["status"], closed_on=data.get("closed_on"),
                          successor_code=data.get("successor_code"),
                          meta=to_json_dict(data), head_version=0,
                          created_at=now, updated_at=now))
        try:
            session.flush()
        except IntegrityError as exc:
            raise Conflict(f"A fonds with code {data['code']!r} already exists.") from exc

    def unreserve(session) -> None:  # noqa: ANN001
        row = session.get(Fonds, record_id)
        if row is not None and row.head_version == 0:
            session.delete(row)

    def apply(session, version) -> None:  # noqa: ANN001
        row = session.get(Fonds, record_id)
        row.head_version = version.number
        row.created_at = row.updated_at = version.created

    write_object(env, actor, WritePlan(record_id, "fonds", {FONDS_FILE: dump(record)},
                                       message=f"Create fonds {data['code']}", expected_head=0),
                 reserve=reserve, apply=apply, unreserve=unreserve)
    return get_fonds(env, data["code"], actor)


def update_fonds(env: Env, actor: Actor, code: str, changes: dict[str, Any],
                 expected_version: int | None) -> dict[str, Any]:
    """Change a fonds' name, status, history or successor (the code is fixed)."""
    rights.require(actor, "fonds.write")
    if expected_version is None:
        raise PreconditionRequired("Send If-Match with the fonds' current ETag to update it.")
    with env.db.read() as session:
        row = get_fonds_row(session, code, actor, "fonds.write")
    meta = {**from_json_dict(row.meta), **changes}
    meta = {k: v for k, v in meta.items() if v is not None}
    _check(env, meta)
    record = {"type": "fonds", "schema_version": 1, "id": row.id, **meta}

    def apply(session, version) -> None:  # noqa: ANN001
        target = session.get(Fonds, row.id)
        target.name = meta["name"]
        target.status = meta.get("status", "open")
        target.closed_on = meta.get("closed_on")
        target.successor_code = meta.get("successor_code")
        target.meta = to_json_dict(meta)
        target.head_version = version.number
        target.updated_at = version.created

    write_object(env, actor, WritePlan(row.id, "fonds", {FONDS_FILE: dump(record)},
                                       message=f"Update fonds {code}: {', '.join(sorted(changes))}",
                                       expected_head=expected_version), apply=apply)
    return get_fonds(env, code, actor)


def predecessors(session, codes: set[str]) -> set[str]:  # noqa: ANN001
    """Every fonds whose successor chain leads into `codes` (communes merged into them)."""
    found: set[str] = set()
    frontier = set(codes)
    while frontier:
        rows = set(session.scalars(select(Fonds.code).where(Fonds.successor_code.in_(frontier))))
        frontier = rows - found - codes
        found |= frontier
    return found


def close_fonds(env: Env, actor: Actor, code: str, *, closed_on, decision_ref: str,  # noqa: ANN001
                successor_code: str | None, expected_version: int | None) -> dict[str, Any]:
    """Close an agency's fonds (it stops operating; e.g. merged in the 2025 reform).

    It takes no new dossiers or documents; its records and codes stay exactly as they are,
    and the successor's users see them (custody) without anything being rewritten.
    """
    rights.require(actor, "fonds.write")
    with env.db.read() as session:
        row = get_fonds_row(session, code, actor, "fonds.write")
        if row.status == "closed":
            raise Conflict(f"Fonds {code} is already closed (on {row.closed_on}).")
        if successor_code:
            if successor_code == code:
                raise ValidationFailed({"successor_code": ["A fonds cannot succeed itself."]})
            successor = session.scalar(select(Fonds).where(Fonds.code == successor_code))
            if successor is None:
                raise ValidationFailed({"successor_code": [
                    f"There is no fonds {successor_code!r}; register the successor first."]})
            if code in predecessors(session, {code}) | {successor_code} and \
                    successor_code in predecessors(session, {code}):
                raise ValidationFailed({"successor_code": [
                    f"{successor_code} is itself a predecessor of {code}."]})
        version = row.head_version
    changes = {"status": "closed", "closed_on": closed_on, "successor_code": successor_code,
               "closing_decision": decision_ref}
    return update_fonds(env, actor, code, changes,
                        expected_version if expected_version is not None else version)
