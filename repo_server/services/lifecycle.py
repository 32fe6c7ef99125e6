"""The dossier lifecycle as an explicit state machine.

open -> closed -> archived -> disposal_review -> destroyed
                                      \\-> archived (kept, with a new retention)
archived (permanent) -> transfer_due -> transferred

Every transition but the review listing writes a new version of the dossier object; closed and
archived dossiers change only through these transitions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import or_, select

from ..catalog import Document, Dossier, DossierLink
from . import rights
from .catalog_mirror import dossier_json
from .context import Actor, Env
from .dossiers import get_dossier, visible_row
from .dossiers import get_row as get_dossier_row
from .errors import Conflict, ValidationFailed
from .holds import ensure_not_held
from .records import DOSSIER_FILE, dump, from_json_dict, next_in_sequence, to_json_dict
from .retention import code_for, due_on, longer, years_of
from .writes import WritePlan, add_outbox, write_object

NEXT_STATES: dict[str, tuple[str, ...]] = {
    "open": ("closed",),
    "closed": ("archived", "disposal_review"),
    "archived": ("disposal_review", "transfer_due"),
    "disposal_review": ("destroyed", "archived", "closed"),
    "transfer_due": ("transferred",),
    "transferred": (),
    "destroyed": (),
}


def check_transition(row: Dossier, target: str) -> None:
    """409 naming the current state and the allowed next ones."""
    if target not in NEXT_STATES.get(row.state, ()):
        allowed = ", ".join(NEXT_STATES.get(row.state, ())) or "none"
        raise Conflict(f"Dossier {row.file_code} is {row.state}; it cannot become {target}. "
                       f"Allowed next states: {allowed}.", state=row.state,
                       allowed=list(NEXT_STATES.get(row.state, ())))


def _write_state(env: Env, actor: Actor, row: Dossier, target: str, meta: dict[str, Any],
                 message: str, expected_version: int | None,
                 catalog: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the dossier's new version with its new state and mirror it."""
    years = years_of(env, meta["retention"], meta.get("retention_years"))

    def apply(session, version) -> None:  # noqa: ANN001
        target_row = session.get(Dossier, row.id)
        target_row.state = target
        target_row.meta = to_json_dict(meta)
        target_row.end_date = meta.get("end_date")
        target_row.retention = meta["retention"]
        target_row.retention_years = meta.get("retention_years")
        target_row.retention_rule = meta.get("retention_rule")
        target_row.retention_due_on = due_on(meta.get("end_date"), years)
        for field, value in (catalog or {}).items():
            setattr(target_row, field, value)
        target_row.head_version = version.number
        target_row.updated_at = version.created
        for doc_id in session.scalars(select(Document.id).where(Document.dossier_id == row.id)):
            add_outbox(session, env, doc_id, "document", "index")  # their index state changes

    plan = WritePlan(row.id, "dossier", {DOSSIER_FILE: dump(dossier_json(row.id, target, meta))},
                     message=message, expected_head=expected_version)
    write_object(env, actor, plan, apply=apply)
    return get_dossier(env, row.id, actor)


def _load(env: Env, actor: Actor, dossier_id: str, target: str, action: str) -> Dossier:
    with env.db.read() as session:
        row = visible_row(session, env, actor, dossier_id, action)
        ensure_not_held(session, dossier_id, row.file_code)
        check_transition(row, target)
    return row


def fixed_retention(env: Env, row: Dossier) -> tuple[str, int | None, bool]:
    """The dossier's retention at closing: the longest of its own and its documents' (those
    filed in it by a link too: a file takes the longest retention of any document in it).

    Returns (code, explicit years for 07, whether a document made it longer)."""
    own = years_of(env, row.retention, row.retention_years)
    longest = own
    with env.db.read() as session:
        filed = or_(Document.dossier_id == row.id,  # its own and its linked documents
                    Document.id.in_(select(DossierLink.document_id)
                                    .where(DossierLink.dossier_id == row.id)))
        for meta in session.scalars(select(Document.meta).where(filed,
                                                                Document.head_version > 0)):
            if meta.get("retention"):
                longest = longer(longest, years_of(env, meta["retention"],
                                                   meta.get("retention_years")))
    code, explicit = code_for(longest)
    return code, explicit, longest != own


def close_dossier(env: Env, actor: Actor, dossier_id: str, *, end_date: date | None,
                  note: str | None, expected_version: int | None) -> dict[str, Any]:
    """open -> closed: the end date is set and the retention fixed."""
    row = _load(env, actor, dossier_id, "closed", "dossier.close")
    meta = from_json_dict(row.meta)
    end = end_date or meta.get("end_date") or env.now().astimezone(env.tz).date()
    start = meta.get("start_date")
    if start and end < start:
        raise ValidationFailed({"end_date": [
            f"The end date ({end.isoformat()}) is before the start date ({start.isoformat()})."]})
    code, explicit, raised = fixed_retention(env, row)
    meta.update(end_date=end, retention=code)
    meta.pop("retention_years", None)
    if explicit:
        meta["retention_years"] = explicit
    if raised:
        meta.pop("retention_rule", None)  # a document needs longer than the rule gives
    meta["closed"] = {"by": actor.name, "at": env.now().isoformat(), "note": note}
    message = f"Close dossier (end date {end.isoformat()}, retention {code}" + \
              (f" {explicit} years" if explicit else "") + \
              (", raised to the longest retention of its documents" if raised else "") + ")"
    return _write_state(env, actor, row, "closed", meta, message, expected_version)


def _next_archive_code(env: Env, fonds_code: str, year: int) -> str:
    with env.db.write() as session:
        serial = next_in_sequence(session, "archive_code", f"{fonds_code}:{year}")
    return env.config["ARCHIVE_CODE_FORMAT"].format(fonds_code=fonds_code, year=year,
                                                    serial=serial)


def archive_dossier(env: Env, actor: Actor, dossier_id: str, *, handed_over_by: str,
                    received_by: str | None, handed_over_on: date | None, note: str | None,
                    expected_version: int | None) -> dict[str, Any]:
    """closed -> archived: handed over to the agency archive; assigns the archive code."""
    row = _load(env, actor, dossier_id, "archived", "dossier.archive")
    meta = from_json_dict(row.meta)
    years = years_of(env, row.retention, row.retention_years)
    minimum = env.config["ARCHIVE_MIN_RETENTION_YEARS"]
    if years is not None and years < minimum:
        raise Conflict(f"Dossier {row.file_code} is kept {years} years; only dossiers kept "
                       f"{minimum} years or more go to the agency archive (NĐ 30/2020 Art. 30). "
                       "It stays with its unit until its disposal review.", state=row.state)
    on = handed_over_on or env.now().astimezone(env.tz).date()
    code = _next_archive_code(env, row.fonds_code, on.year)
    meta["archive_code"] = code
    meta["handover"] = {"handed_over_by": handed_over_by,
                        "received_by": received_by or actor.name,
                        "on": on.isoformat(), "note": note}
    return _write_state(env, actor, row, "archived", meta,
                        f"Hand over to the agency archive (archive code {code})",
                        expected_version, catalog={"archive_code": code, "archived_on": on})


def mark_transfer_due(env: Env, actor: Actor, dossier_id: str, *, note: str | None,
                      expected_version: int | None) -> dict[str, Any]:
    """archived -> transfer_due: a permanent dossier selected for the historical archive."""
    row = _load(env, actor, dossier_id, "transfer_due", "dossier.transfer")
    if years_of(env, row.retention, row.retention_years) is not None:
        raise Conflict(f"Dossier {row.file_code} is not permanent; only permanent dossiers go "
                       "to the historical archive.", state=row.state)
    meta = from_json_dict(row.meta)
    meta["transfer_due"] = {"by": actor.name, "at": env.now().isoformat(), "note": note}
    return _write_state(env, actor, row, "transfer_due", meta,
                        "Selected for transfer to the historical archive", expected_version)


def transfer_dossier(env: Env, actor: Actor, dossier_id: str, *, receiving_archive: str,
                     reference: str | None, transferred_on: date | None,
                     expected_version: int | None) -> dict[str, Any]:
    """transfer_due -> transferred: received by the historical archive."""
    row = _load(env, actor, dossier_id, "transferred", "dossier.transfer")
    meta = from_json_dict(row.meta)
    on = transferred_on or env.now().astimezone(env.tz).date()
    meta["transfer"] = {"receiving_archive": receiving_archive, "reference": reference,
                        "on": on.isoformat(), "recorded_by": actor.name}
    return _write_state(env, actor, row, "transferred", meta,
                        f"Transferred to {receiving_archive}", expected_version)


def keep_after_review(env: Env, actor: Actor, dossier_id: str, *, retention: str,
                      retention_years: int | None, reason: str, review_id: str,
                      back_to: str) -> dict[str, Any]:
    """disposal_review -> archived (or closed): kept, with a new retention and a reason
    (carrying out an approved review: the system does it)."""
    rights.require(actor, "disposal.approve")
    with env.db.read() as session:
        row = get_dossier_row(session, dossier_id)
        check_transition(row, back_to)
    meta = from_json_dict(row.meta)
    meta.pop("retention_rule", None)
    meta["retention"] = retention
    meta.pop("retention_years", None)
    if retention_years:
        meta["retention_years"] = retention_years
    meta.setdefault("appraisals", []).append({
        "review_id": review_id, "decision": "keep", "reason": reason,
        "retention": retention, "retention_years": retention_years,
        "at": env.now().isoformat()})
    return _write_state(env, actor, row, back_to, meta,
                        f"Kept after disposal review {review_id}: {reason}", None)
