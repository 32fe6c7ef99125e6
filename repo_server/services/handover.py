"""Hand-over to the agency archive (nộp lưu, NĐ 30/2020 Art. 30–31): which closed dossiers are
due, keeping one back with the head's consent, and hand-over batches — prepared and confirmed
by the giving unit, received by the archivist (two separate, audited actions), after which
each dossier is archived with its archive code.

Due dates: the dossier's rule of the `handover_rule` code list (XDCB 3 months, others 1 year
after the end of the work), or the date a kept-back dossier comes back. Only dossiers kept at
least ARCHIVE_MIN_RETENTION_YEARS (or permanently) go to the archive.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..catalog import Dossier, HandoverBatch, HandoverItem
from ..codes import CodeEntry
from . import audit
from .access import filter_dossiers
from .catalog_mirror import dossier_json
from .context import Actor, Env
from .dossiers import get_dossier, visible_row
from .errors import Conflict, NotFound, ValidationFailed
from .fonds import get_fonds_row
from .holds import ensure_not_held
from .lifecycle import archive_dossier
from .records import DOSSIER_FILE, dump, from_json_dict, new_id, to_json_dict
from .retention import years_of
from .rights import reach_fonds, require
from .writes import WritePlan, write_object


def today(env: Env) -> date:
    return env.now().astimezone(env.tz).date()


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def rule_for(env: Env, meta: dict[str, Any], retention_rule: str | None) -> CodeEntry:
    """The dossier's hand-over rule: named, matched by its retention rule, or the default."""
    rules = env.codes["handover_rule"]
    named = rules.get(meta.get("handover_rule"))
    if named is not None:
        return named
    for entry in rules:
        prefixes = entry.extra.get("retention_rule_prefixes") or ()
        if retention_rule and any(retention_rule.startswith(p) for p in prefixes):
            return entry
    for entry in rules:
        if entry.extra.get("default"):
            return entry
    return rules.entries[0]


def goes_to_archive(env: Env, retention: str, retention_years: int | None) -> bool:
    years = years_of(env, retention, retention_years)
    return years is None or years >= env.config["ARCHIVE_MIN_RETENTION_YEARS"]


def due_on(env: Env, meta: dict[str, Any], end_date: date | None,
           retention_rule: str | None) -> date | None:
    """When a closed dossier must be in the agency archive (None without an end date)."""
    keep = meta.get("keep_back") or {}
    if keep.get("until"):
        return date.fromisoformat(keep["until"])
    if end_date is None:
        return None
    return add_months(end_date, int(rule_for(env, meta, retention_rule).extra.get("months", 12)))


def due_dossiers(env: Env, session, *, fonds_codes: tuple[str, ...] | None = None,  # noqa: ANN001
                 until: date | None = None) -> list[tuple[Dossier, date]]:
    """Closed dossiers that go to the archive, with their due date (≤ `until` when given)."""
    stmt = select(Dossier).where(Dossier.state == "closed", Dossier.head_version > 0,
                                 Dossier.end_date.is_not(None))
    if fonds_codes is not None:
        stmt = stmt.where(Dossier.fonds_code.in_(fonds_codes))
    out = []
    for row in session.scalars(stmt):
        if not goes_to_archive(env, row.retention, row.retention_years):
            continue
        due = due_on(env, row.meta or {}, row.end_date, row.retention_rule)
        if due is not None and (until is None or due <= until):
            out.append((row, due))
    return sorted(out, key=lambda pair: (pair[1], pair[0].file_code))


def list_due(env: Env, viewer: Actor, *, fonds_code: str,
             within_days: int | None = None) -> list[dict[str, Any]]:
    """Closed dossiers due for hand-over within `within_days` (default HANDOVER_WARNING_DAYS);
    overdue ones first. Each says its rule, due date, keep-back and batch, if any."""
    require(viewer, "handover.read")
    reach_fonds(viewer, fonds_code)
    days = env.config["HANDOVER_WARNING_DAYS"] if within_days is None else within_days
    now = today(env)
    with env.db.read() as session:
        visible = set(session.scalars(filter_dossiers(session, env, viewer, select(Dossier.id)
                                                      .where(Dossier.fonds_code == fonds_code))))
        pairs = [(r, d) for r, d in due_dossiers(env, session, fonds_codes=(fonds_code,),
                                                 until=now + timedelta(days=days))
                 if r.id in visible]
        batches = dict(session.execute(select(HandoverItem.dossier_id, HandoverItem.batch_id)
                                       .where(HandoverItem.dossier_id.in_([r.id for r, _ in
                                                                           pairs]))).all())
    return [{"dossier_id": r.id, "file_code": r.file_code, "title": r.title,
             "end_date": r.end_date, "retention": r.retention,
             "retention_years": r.retention_years,
             "rule": rule_for(env, r.meta or {}, r.retention_rule).code, "due_on": due,
             "overdue": due < now, "kept_back_until": (r.meta or {}).get("keep_back", {})
             .get("until"), "batch_id": batches.get(r.id)} for r, due in pairs]


def keep_back(env: Env, actor: Actor, dossier_id: str, *, until: date, consent_ref: str,
              reason: str, expected_version: int | None = None) -> dict[str, Any]:
    """The head's consent to keep a closed dossier with its unit until `until` (at most
    KEEP_BACK_MAX_YEARS ahead, NĐ 30 Art. 30); it is due for hand-over on that date."""
    require(actor, "dossier.keep_back")
    with env.db.read() as session:
        row = visible_row(session, env, actor, dossier_id, "dossier.keep_back")
        now = today(env)
        limit = add_months(now, 12 * int(env.config["KEEP_BACK_MAX_YEARS"]))
        if not now < until <= limit:
            raise ValidationFailed({"until": [
                f"Keep a dossier back until a date after today and no later than "
                f"{limit.isoformat()} ({env.config['KEEP_BACK_MAX_YEARS']} years ahead)."]})
        ensure_not_held(session, dossier_id, row.file_code)
        if row.state != "closed":
            raise Conflict(f"Dossier {row.file_code} is {row.state}; only closed dossiers "
                           "waiting for hand-over are kept back.", state=row.state)
        if not goes_to_archive(env, row.retention, row.retention_years):
            raise Conflict(f"Dossier {row.file_code} stays with its unit anyway (kept less "
                           f"than {env.config['ARCHIVE_MIN_RETENTION_YEARS']} years).")
        batch = session.scalar(select(HandoverItem.batch_id)
                               .where(HandoverItem.dossier_id == dossier_id))
        if batch:
            raise Conflict(f"Dossier {row.file_code} is in hand-over batch {batch}; take it "
                           "out of the batch first.", batch_id=batch)
    meta = from_json_dict(row.meta)
    earlier = meta.get("keep_back")
    if earlier:
        meta.setdefault("keep_back_history", []).append(earlier)
    meta["keep_back"] = {"until": until.isoformat(), "consent_ref": consent_ref,
                         "reason": reason, "by": actor.name, "at": env.now().isoformat()}

    def apply(session, version) -> None:  # noqa: ANN001
        target = session.get(Dossier, dossier_id)
        target.meta = to_json_dict(meta)
        target.head_version = version.number
        target.updated_at = version.created

    write_object(env, actor, WritePlan(
        dossier_id, "dossier", {DOSSIER_FILE: dump(dossier_json(dossier_id, row.state, meta))},
        message=f"Kept back by the unit until {until.isoformat()} ({consent_ref})",
        expected_head=expected_version or row.head_version), apply=apply)
    return get_dossier(env, dossier_id, actor)


# ------------------------------------------------------------------------------ batches


def _batch_view(session, batch: HandoverBatch) -> dict[str, Any]:  # noqa: ANN001
    items = session.execute(
        select(HandoverItem, Dossier).outerjoin(Dossier, Dossier.id == HandoverItem.dossier_id)
        .where(HandoverItem.batch_id == batch.id).order_by(HandoverItem.position)).all()
    return {"id": batch.id, "fonds_code": batch.fonds_code, "title": batch.title,
            "giving_unit": batch.giving_unit, "receiving_archive": batch.receiving_archive,
            "status": batch.status, "created_by": batch.created_by,
            "created_at": batch.created_at, "given_by": batch.given_by,
            "given_name": batch.given_name, "given_at": batch.given_at,
            "given_note": batch.given_note, "received_by": batch.received_by,
            "received_name": batch.received_name, "received_at": batch.received_at,
            "received_note": batch.received_note, "record_id": batch.record_id,
            "dossiers": [{"position": i.position, "dossier_id": i.dossier_id,
                          "file_code": d.file_code if d else None,
                          "title": d.title if d else None,
                          "start_date": d.start_date if d else None,
                          "end_date": d.end_date if d else None,
                          "retention": d.retention if d else None,
                          "retention_years": d.retention_years if d else None,
                          "doc_total": d.doc_total if d else None,
                          "state": d.state if d else None,
                          "archive_code": i.archive_code or (d.archive_code if d else None)}
                         for i, d in items]}


def _batch(session, viewer: Actor, batch_id: str, *, lock: bool = False) -> HandoverBatch:  # noqa: ANN001
    stmt = select(HandoverBatch).where(HandoverBatch.id == batch_id)
    batch = session.scalar(stmt.with_for_update() if lock else stmt)
    missing = f"There is no hand-over batch {batch_id!r}."
    if batch is None:
        raise NotFound(missing)
    reach_fonds(viewer, batch.fonds_code, missing)
    return batch


def _check_dossier(session, env: Env, actor: Actor, batch: HandoverBatch,  # noqa: ANN001
                   dossier_id: str) -> Dossier:
    row = visible_row(session, env, actor, dossier_id)
    if row.fonds_code != batch.fonds_code:
        raise Conflict(f"Dossier {row.file_code} belongs to fonds {row.fonds_code}, not to "
                       f"{batch.fonds_code}; a batch holds the dossiers of one fonds.")
    if row.state != "closed":
        raise Conflict(f"Dossier {row.file_code} is {row.state}; only closed dossiers are "
                       "handed over.", state=row.state)
    if not goes_to_archive(env, row.retention, row.retention_years):
        raise Conflict(f"Dossier {row.file_code} is kept less than "
                       f"{env.config['ARCHIVE_MIN_RETENTION_YEARS']} years; it stays with its "
                       "unit (NĐ 30/2020 Art. 30).")
    ensure_not_held(session, dossier_id, row.file_code)
    return row


def _add_items(session, env: Env, actor: Actor, batch: HandoverBatch,  # noqa: ANN001
               dossier_ids: list[str]) -> None:
    if len(set(dossier_ids)) != len(dossier_ids):
        raise ValidationFailed({"dossier_ids": ["A dossier is named twice."]})
    position = session.scalar(select(func.max(HandoverItem.position))
                              .where(HandoverItem.batch_id == batch.id)) or 0
    for dossier_id in dossier_ids:
        row = _check_dossier(session, env, actor, batch, dossier_id)
        other = session.scalar(select(HandoverItem.batch_id)
                               .where(HandoverItem.dossier_id == dossier_id))
        if other:
            raise Conflict(f"Dossier {row.file_code} is already in hand-over batch {other}.",
                           batch_id=other)
        position += 1
        session.add(HandoverItem(batch_id=batch.id, dossier_id=dossier_id, position=position))
    try:
        session.flush()
    except IntegrityError as exc:  # another batch took one of them meanwhile
        raise Conflict("A dossier was put in another batch meanwhile; reload and retry.") from exc


def create_batch(env: Env, actor: Actor, *, fonds_code: str, title: str, giving_unit: str,
                 receiving_archive: str, dossier_ids: list[str]) -> dict[str, Any]:
    require(actor, "handover.prepare")
    batch_id = new_id()
    with env.db.write() as session:
        get_fonds_row(session, fonds_code, actor, "handover.prepare")
        batch = HandoverBatch(id=batch_id, fonds_code=fonds_code, title=title,
                              giving_unit=giving_unit, receiving_archive=receiving_archive,
                              status="draft", created_by=actor.name, created_at=env.now())
        session.add(batch)
        session.flush()
        _add_items(session, env, actor, batch, dossier_ids)
        audit.log_in(session, env, actor, "handover.prepare", batch_id,
                     {"dossiers": dossier_ids, "title": title})
        return _batch_view(session, batch)


def _draft(batch: HandoverBatch) -> None:
    if batch.status != "draft":
        raise Conflict(f"Batch {batch.title!r} is {batch.status}; only a draft batch changes.",
                       batch_status=batch.status)


def add_dossiers(env: Env, actor: Actor, batch_id: str, dossier_ids: list[str]) -> dict[str, Any]:
    require(actor, "handover.prepare")
    with env.db.write() as session:
        batch = _batch(session, actor, batch_id, lock=True)
        _draft(batch)
        _add_items(session, env, actor, batch, dossier_ids)
        return _batch_view(session, batch)


def remove_dossier(env: Env, actor: Actor, batch_id: str, dossier_id: str) -> dict[str, Any]:
    require(actor, "handover.prepare")
    with env.db.write() as session:
        batch = _batch(session, actor, batch_id, lock=True)
        _draft(batch)
        item = session.scalar(select(HandoverItem).where(HandoverItem.batch_id == batch_id,
                                                         HandoverItem.dossier_id == dossier_id))
        if item is None:
            raise NotFound(f"Dossier {dossier_id} is not in this batch.")
        session.delete(item)
        session.flush()
        return _batch_view(session, batch)


def cancel_batch(env: Env, actor: Actor, batch_id: str) -> dict[str, Any]:
    """Drop a draft batch; its dossiers are free for another one."""
    require(actor, "handover.prepare")
    with env.db.write() as session:
        batch = _batch(session, actor, batch_id, lock=True)
        _draft(batch)
        for item in session.scalars(select(HandoverItem)
                                    .where(HandoverItem.batch_id == batch_id)):
            session.delete(item)
        batch.status = "cancelled"
        audit.log_in(session, env, actor, "handover.cancel", batch_id, {})
        session.flush()
        return _batch_view(session, batch)


def get_batch(env: Env, viewer: Actor, batch_id: str) -> dict[str, Any]:
    require(viewer, "handover.read")
    with env.db.read() as session:
        return _batch_view(session, _batch(session, viewer, batch_id))


def list_batches(env: Env, viewer: Actor, *, fonds_code: str | None, status: str | None,
                 page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
    require(viewer, "handover.read")
    stmt = select(HandoverBatch)
    if fonds_code:
        stmt = stmt.where(HandoverBatch.fonds_code == fonds_code)
    if status:
        stmt = stmt.where(HandoverBatch.status == status)
    if viewer.scope is not None:
        stmt = stmt.where(HandoverBatch.fonds_code.in_(viewer.scope))
    with env.db.read() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(HandoverBatch.created_at.desc())
                               .offset((page - 1) * page_size).limit(page_size)).all()
        return [_batch_view(session, b) for b in rows], total


def confirm_giving(env: Env, actor: Actor, batch_id: str, *, name: str,
                   note: str | None = None) -> dict[str, Any]:
    """The giving unit confirms the batch and its inventory: draft -> given (audited)."""
    require(actor, "handover.give")
    with env.db.write() as session:
        batch = _batch(session, actor, batch_id, lock=True)
        _draft(batch)
        ids = list(session.scalars(select(HandoverItem.dossier_id)
                                   .where(HandoverItem.batch_id == batch_id)))
        if not ids:
            raise Conflict("The batch has no dossiers; add the dossiers to hand over first.")
        codes = [_check_dossier(session, env, actor, batch, i).file_code for i in ids]
        batch.status, batch.given_by, batch.given_name = "given", actor.name, name
        batch.given_at, batch.given_note = env.now(), note
        audit.log_in(session, env, actor, "handover.give", batch_id,
                     {"name": name, "note": note, "file_codes": codes})
        return _batch_view(session, batch)


def confirm_receiving(env: Env, actor: Actor, batch_id: str, *, name: str,
                      note: str | None = None) -> dict[str, Any]:
    """The agency archive receives the batch: each dossier is archived with its archive code,
    then given -> received (audited). The receiver is not the one who gave it. If one dossier
    cannot be archived (a hold placed meanwhile), the others keep their codes and a retry
    finishes the rest."""
    require(actor, "handover.receive")
    with env.db.read() as session:
        batch = _batch(session, actor, batch_id)
        if batch.status != "given":
            raise Conflict(f"Batch {batch.title!r} is {batch.status}; it is received once the "
                           "giving unit has confirmed it.", batch_status=batch.status)
        if batch.given_by == actor.name:
            raise Conflict("The hand-over is confirmed by two different people: you confirmed "
                           "it for the giving unit, so the archivist receives it.")
        items = session.scalars(select(HandoverItem).where(HandoverItem.batch_id == batch_id)
                                .order_by(HandoverItem.position)).all()
        given_name, title = batch.given_name, batch.title
    on = today(env)
    for item in items:
        if item.archive_code:
            continue
        done = archive_dossier(env, actor, item.dossier_id, handed_over_by=given_name,
                               received_by=name, handed_over_on=on,
                               note=f"Hand-over batch {title} ({batch_id})",
                               expected_version=None)
        with env.db.write() as session:
            session.get(HandoverItem, item.id).archive_code = done["archive_code"]
    with env.db.write() as session:
        batch = _batch(session, actor, batch_id, lock=True)
        if batch.status != "given":
            raise Conflict(f"Batch {batch.title!r} is {batch.status} now.")
        batch.status, batch.received_by, batch.received_name = "received", actor.name, name
        batch.received_at, batch.received_note = env.now(), note
        audit.log_in(session, env, actor, "handover.receive", batch_id,
                     {"name": name, "note": note,
                      "archive_codes": [i.archive_code for i in session.scalars(
                          select(HandoverItem).where(HandoverItem.batch_id == batch_id))]})
        return _batch_view(session, batch)
