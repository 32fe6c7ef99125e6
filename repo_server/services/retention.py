"""The retention schedule (bảng thời hạn bảo quản) and retention due dates.

A dossier is kept for its retention period counted from the year its work ended (`end_date`);
it becomes eligible for disposal review on 1 January of `end_year + years + 1` (local time).
A dossier either references a schedule rule (`retention_rule`) or carries an explicit code.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from sqlalchemy import func, select

from ..catalog import Dossier, RetentionRule
from ..codes import CodeListError, load_retention_schedule
from . import audit, rights
from .context import Actor, Env
from .errors import Conflict, NotFound, ValidationFailed

YEARS_TO_CODE = {70: "02", 50: "03", 30: "04", 20: "05", 10: "06"}
PERMANENT_CODE = "01"
OTHER_CODE = "07"
RULE_FIELDS = ("code", "group", "title", "years", "permanent", "legal_basis", "note")


def code_for(years: int | None) -> tuple[str, int | None]:
    """The TT 05 retention code (and explicit years for 07) of a period; None = permanent."""
    if years is None:
        return PERMANENT_CODE, None
    if years in YEARS_TO_CODE:
        return YEARS_TO_CODE[years], None
    return OTHER_CODE, years


def years_of(env: Env, retention: str, retention_years: int | None) -> int | None:
    """Years of a retention code (None = permanent)."""
    return env.codes.retention_years(retention, retention_years)


def due_on(end_date: date | None, years: int | None) -> date | None:
    """First day the dossier may be reviewed for disposal; None when permanent or not ended."""
    if years is None or end_date is None:
        return None
    return date(end_date.year + years + 1, 1, 1)


def longer(a: int | None, b: int | None) -> int | None:
    """The longer of two periods (None = permanent wins)."""
    if a is None or b is None:
        return None
    return max(a, b)


# ---------------------------------------------------------------- rules

def _view(rule: RetentionRule) -> dict[str, Any]:
    return {f: getattr(rule, f) for f in RULE_FIELDS} | {"updated_at": rule.updated_at,
                                                         "updated_by": rule.updated_by}


def _check_rule(data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if data.get("permanent") and data.get("years") is not None:
        errors["years"] = ["A permanent rule has no number of years."]
    years = data.get("years")
    if years is not None and not 2 <= years <= 70:
        errors["years"] = ["A retention period is between 2 and 70 years (Law on Archives 2024, "
                           "Art. 15)."]
    if errors:
        raise ValidationFailed(errors)


def get_rule_row(session, code: str) -> RetentionRule:  # noqa: ANN001
    rule = session.get(RetentionRule, code)
    if rule is None:
        raise NotFound(f"There is no retention rule {code!r}.")
    return rule


def list_rules(env: Env, *, page: int = 1, page_size: int = 200, group: str | None = None
               ) -> tuple[list[dict[str, Any]], int]:
    stmt = select(RetentionRule)
    if group:
        stmt = stmt.where(RetentionRule.group == group)
    with env.db.read() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(RetentionRule.code)
                               .offset((page - 1) * page_size).limit(page_size)).all()
        return [_view(r) for r in rows], total


def get_rule(env: Env, code: str) -> dict[str, Any]:
    with env.db.read() as session:
        return _view(get_rule_row(session, code))


def create_rule(env: Env, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    rights.require_whole_repository(actor, "retention.write", "The retention schedule")
    data = {"permanent": False, **data}
    _check_rule(data)
    with env.db.write() as session:
        if session.get(RetentionRule, data["code"]) is not None:
            raise Conflict(f"Retention rule {data['code']} already exists; change it with PATCH.")
        session.add(RetentionRule(**{f: data.get(f) for f in RULE_FIELDS},
                                  updated_at=env.now(), updated_by=actor.name))
        audit.log_in(session, env, actor, "retention.create", data["code"], data)
    return get_rule(env, data["code"])


def update_rule(env: Env, actor: Actor, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a rule; the due dates of every dossier that uses it follow."""
    rights.require_whole_repository(actor, "retention.write", "The retention schedule")
    with env.db.write() as session:
        rule = get_rule_row(session, code)
        merged = {**_view(rule), **changes}
        _check_rule(merged)
        for field, value in changes.items():
            setattr(rule, field, value)
        rule.updated_at, rule.updated_by = env.now(), actor.name
        session.flush()
        _apply_rule_to_dossiers(session, rule)
        audit.log_in(session, env, actor, "retention.update", code, changes)
    return get_rule(env, code)


def delete_rule(env: Env, actor: Actor, code: str) -> None:
    rights.require_whole_repository(actor, "retention.write", "The retention schedule")
    with env.db.write() as session:
        rule = get_rule_row(session, code)
        used = session.scalar(select(func.count()).select_from(Dossier)
                              .where(Dossier.retention_rule == code)) or 0
        if used:
            raise Conflict(f"Retention rule {code} is used by {used} dossier(s); it cannot be "
                           "removed.", used_by=used)
        session.delete(rule)
        audit.log_in(session, env, actor, "retention.delete", code)


def rule_period(rule: RetentionRule) -> int | None:
    """Years of a rule (None = permanent); a rule without a period cannot be applied."""
    if rule.permanent:
        return None
    if rule.years is None:
        raise ValidationFailed({"retention_rule": [
            f"Rule {rule.code} has no period yet ({rule.note or 'set by the agency'}); give it a "
            "number of years first, or give the dossier an explicit retention."]})
    return rule.years


def _apply_rule_to_dossiers(session, rule: RetentionRule) -> None:  # noqa: ANN001
    years = None if rule.permanent else rule.years
    if not rule.permanent and rule.years is None:
        return
    code, explicit = code_for(years)
    for dossier in session.scalars(select(Dossier).where(Dossier.retention_rule == rule.code)):
        dossier.retention, dossier.retention_years = code, explicit
        dossier.retention_due_on = due_on(dossier.end_date, years)


def import_csv(env: Env, actor: Actor, text: str) -> dict[str, int]:
    """Add or replace rules from a CSV (same columns as the export); all or nothing."""
    rights.require_whole_repository(actor, "retention.write", "The retention schedule")
    try:
        rows = load_retention_schedule(text=text, source="uploaded CSV")
    except CodeListError as exc:
        raise ValidationFailed({"csv": [str(exc)]}) from exc
    created = updated = 0
    with env.db.write() as session:
        for row in rows:
            rule = session.get(RetentionRule, row["code"])
            if rule is None:
                rule = RetentionRule(code=row["code"])
                session.add(rule)
                created += 1
            else:
                updated += 1
            for field in RULE_FIELDS:
                setattr(rule, field, row.get(field))
            rule.updated_at, rule.updated_by = env.now(), actor.name
            session.flush()
            _apply_rule_to_dossiers(session, rule)
        audit.log_in(session, env, actor, "retention.import", None,
                     {"created": created, "updated": updated})
    return {"created": created, "updated": updated}


def export_csv(env: Env) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RULE_FIELDS)
    with env.db.read() as session:
        for rule in session.scalars(select(RetentionRule).order_by(RetentionRule.code)):
            writer.writerow(["" if getattr(rule, f) is None else
                             str(getattr(rule, f)).lower() if f == "permanent" else getattr(rule, f)
                             for f in RULE_FIELDS])
    return out.getvalue()


def seed_default_schedule(env: Env) -> int:
    """On a new installation, load the packaged schedule (a starting point to be checked)."""
    with env.db.write() as session:
        if session.scalar(select(func.count()).select_from(RetentionRule)):
            return 0
        rows = load_retention_schedule()
        for row in rows:
            note = row.get("note") or ""
            session.add(RetentionRule(**{f: row.get(f) for f in RULE_FIELDS if f != "note"},
                                      note=(note + " " if note else "") +
                                      "[Default schedule shipped with repo-server: check it "
                                      "against TT 10/2022/TT-BNV.]",
                                      updated_at=env.now(), updated_by="repo-server"))
        return len(rows)


def resolve(env: Env, session, meta: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN001
    """Fill `retention` (and years) from `retention_rule` when a dossier references a rule."""
    code = meta.get("retention_rule")
    if not code:
        return meta
    rule = session.get(RetentionRule, code)
    if rule is None:
        raise ValidationFailed({"retention_rule": [f"There is no retention rule {code!r}; see "
                                                   "/api/v1/retention-rules."]})
    retention, explicit = code_for(rule_period(rule))
    given = meta.get("retention")
    if given and (given, meta.get("retention_years")) != (retention, explicit):
        raise ValidationFailed({"retention": [
            f"Rule {code} sets retention {retention}"
            f"{f' ({explicit} years)' if explicit else ''}; leave 'retention' out or make it "
            "agree."]})
    return {**meta, "retention": retention, "retention_years": explicit}
