"""The file plan (danh mục hồ sơ, NĐ 30/2020 Art. 28, PL V) of a fonds for a year: headings
(Roman numerals, Arabic sub-headings) and planned dossiers with their number and symbol,
title, retention and maker; edited, imported and exported as XLSX or CSV (row-level errors a
clerk can act on), approved by the head, and the source the year's dossiers are opened from.

The plan is operational state in the catalog (like the retention schedule); the dossiers
opened from it are records, each naming its plan item in its own metadata.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..catalog import Dossier, FilePlan, FilePlanItem, RetentionRule
from . import audit
from .context import Actor, Env
from .dossiers import create_dossier
from .errors import Conflict, NotFound, ValidationFailed
from .fonds import get_fonds_row
from .records import new_id
from .retention import code_for, years_of
from .rights import reach_fonds, require
from .tables import Column, Sheet, to_csv, to_xlsx

# canonical column -> the header titles a clerk may use (the first is written on export)
COLUMNS: dict[str, tuple[str, ...]] = {
    "heading": ("Đề mục", "heading", "Số thứ tự đề mục"),
    "abbreviation": ("Ký hiệu đề mục", "abbreviation"),
    "file_notation": ("Số và ký hiệu hồ sơ", "file_notation", "Số, ký hiệu hồ sơ"),
    "title": ("Tên đề mục và tiêu đề hồ sơ", "title", "Tiêu đề hồ sơ"),
    "retention": ("Thời hạn bảo quản", "retention"),
    "maker": ("Đơn vị/người lập hồ sơ", "maker", "Người lập hồ sơ",
              "Đơn vị, người lập hồ sơ"),
    "retention_rule": ("Mã bảng thời hạn", "retention_rule"),
    "handover_rule": ("Quy tắc nộp lưu", "handover_rule"),
    "note": ("Ghi chú", "note"),
    "file_code": ("Mã hồ sơ đã mở", "file_code"),  # written on export, ignored on import
}
WIDTHS = {"heading": 10, "abbreviation": 12, "file_notation": 18, "title": 80,
          "retention": 16, "maker": 30, "retention_rule": 14, "handover_rule": 12,
          "note": 20, "file_code": 34}
MAX_LEN = {"abbreviation": 20, "file_notation": 20, "title": 1000, "maker": 200,
           "retention_rule": 20, "handover_rule": 20, "note": 2000, "heading": 10}
_ROMAN = re.compile(r"^(X{0,3})(IX|IV|V?I{0,3})$")
_NOTATION = re.compile(r"^[0-9A-Za-zĐđ][0-9A-Za-zĐđ.\-/]*$")
_PERMANENT = {"vĩnh viễn", "vinh vien", "vv", "permanent"}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", str(text)).strip().casefold()


_ALIASES = {_fold(alias): key for key, aliases in COLUMNS.items() for alias in aliases}


def retention_text(env: Env, code: str | None, years: int | None) -> str:
    if not code:
        return ""
    value = years_of(env, code, years)
    return "Vĩnh viễn" if value is None else f"{value} năm"


# ------------------------------------------------------------------------------- views


def _item_view(item: FilePlanItem, states: dict[str, tuple[str, str]]) -> dict[str, Any]:
    opened = states.get(item.dossier_id or "")
    return {"id": item.id, "position": item.position, "kind": item.kind,
            "heading": item.heading, "level": item.level, "abbreviation": item.abbreviation,
            "parent_id": item.parent_id, "file_notation": item.file_notation,
            "title": item.title, "retention": item.retention,
            "retention_years": item.retention_years, "retention_rule": item.retention_rule,
            "handover_rule": item.handover_rule, "maker": item.maker, "note": item.note,
            "dossier_id": item.dossier_id, "file_code": opened[0] if opened else None,
            "dossier_state": opened[1] if opened else None}


def _plan_view(session, plan: FilePlan) -> dict[str, Any]:  # noqa: ANN001
    items = session.scalars(select(FilePlanItem).where(FilePlanItem.plan_id == plan.id)
                            .order_by(FilePlanItem.position)).all()
    ids = [i.dossier_id for i in items if i.dossier_id]
    states = {r.id: (r.file_code, r.state) for r in session.execute(
        select(Dossier.id, Dossier.file_code, Dossier.state).where(Dossier.id.in_(ids)))}
    return {"id": plan.id, "fonds_code": plan.fonds_code, "year": plan.year,
            "title": plan.title, "numbering": plan.numbering, "status": plan.status,
            "approved_by": plan.approved_by, "approved_at": plan.approved_at,
            "approval_ref": plan.approval_ref, "created_by": plan.created_by,
            "created_at": plan.created_at, "updated_at": plan.updated_at,
            "items": [_item_view(i, states) for i in items]}


def _plan(session, viewer: Actor, plan_id: str, *, lock: bool = False) -> FilePlan:  # noqa: ANN001
    stmt = select(FilePlan).where(FilePlan.id == plan_id)
    plan = session.scalar(stmt.with_for_update() if lock else stmt)
    missing = f"There is no file plan {plan_id!r}."
    if plan is None:
        raise NotFound(missing)
    reach_fonds(viewer, plan.fonds_code, missing)
    return plan


def get_plan(env: Env, viewer: Actor, plan_id: str) -> dict[str, Any]:
    require(viewer, "fileplan.read")
    with env.db.read() as session:
        return _plan_view(session, _plan(session, viewer, plan_id))


def list_plans(env: Env, viewer: Actor, *, fonds_code: str | None = None,
               year: int | None = None) -> list[dict[str, Any]]:
    require(viewer, "fileplan.read")
    stmt = select(FilePlan)
    if fonds_code:
        stmt = stmt.where(FilePlan.fonds_code == fonds_code)
    if year:
        stmt = stmt.where(FilePlan.year == year)
    if viewer.scope is not None:
        stmt = stmt.where(FilePlan.fonds_code.in_(viewer.scope))
    with env.db.read() as session:
        plans = session.scalars(stmt.order_by(FilePlan.fonds_code, FilePlan.year.desc())).all()
        return [{k: v for k, v in _plan_view(session, p).items() if k != "items"}
                | {"item_count": session.scalar(select(func.count()).where(
                    FilePlanItem.plan_id == p.id)) or 0} for p in plans]


def create_plan(env: Env, actor: Actor, *, fonds_code: str, year: int, title: str | None = None,
                numbering: str = "plan") -> dict[str, Any]:
    require(actor, "fileplan.write")
    now = env.now()
    with env.db.write() as session:
        fonds = get_fonds_row(session, fonds_code, actor, "fileplan.write")
        plan = FilePlan(id=new_id(), fonds_code=fonds_code, year=year,
                        title=title or f"Danh mục hồ sơ năm {year} của {fonds.name}",
                        numbering=numbering, status="draft", created_by=actor.name,
                        created_at=now, updated_at=now)
        session.add(plan)
        try:
            session.flush()
        except IntegrityError as exc:
            raise Conflict(f"Fonds {fonds_code} already has a file plan for {year}.") from exc
        audit.log_in(session, env, actor, "fileplan.create", plan.id,
                     {"fonds_code": fonds_code, "year": year})
        return _plan_view(session, plan)


def approve_plan(env: Env, actor: Actor, plan_id: str, approval_ref: str) -> dict[str, Any]:
    """The head approves the plan (NĐ 30 Art. 28): afterwards items are added, not replaced."""
    require(actor, "fileplan.approve")
    with env.db.write() as session:
        plan = _plan(session, actor, plan_id, lock=True)
        if plan.status == "approved":
            raise Conflict(f"The plan was approved on {plan.approved_at.date().isoformat()} "
                           f"({plan.approval_ref}).")
        plan.status, plan.approved_by, plan.approved_at = "approved", actor.name, env.now()
        plan.approval_ref, plan.updated_at = approval_ref, env.now()
        audit.log_in(session, env, actor, "fileplan.approve", plan_id,
                     {"approval_ref": approval_ref})
        return _plan_view(session, plan)


# ------------------------------------------------------------------------- checking rows


class RowErrors:
    """Problems found in an imported sheet, each with its row and column as the clerk sees
    them in the spreadsheet."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, row: int, column: str | None, value: Any, message: str) -> None:
        self.items.append({"row": row, "column": COLUMNS[column][0] if column in COLUMNS
                           else column, "field": column, "value": value, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            where = f"row {first['row']}" + (f", column {first['column']!r}"
                                              if first["column"] else "")
            raise ValidationFailed({"rows": self.items}, message=(
                f"The file plan has {len(self.items)} problem(s); nothing was imported. "
                f"First: {where}: {first['message']}"))


def _parse_retention(env: Env, text: str) -> tuple[str, int | None]:
    """'Vĩnh viễn', '10', '10 năm' -> (code, explicit years); ValueError with the reason."""
    folded = _fold(text)
    if folded in _PERMANENT:
        return code_for(None)
    match = re.fullmatch(r"(\d{1,3})\s*(năm|nam|years?)?", folded)
    if not match:
        raise ValueError(f"{text!r} is not a retention; write Vĩnh viễn or a number of years "
                         "from 2 to 70 (e.g. 10 năm).")
    years = int(match.group(1))
    code, explicit = code_for(years)
    years_of(env, code, explicit)  # ValueError when out of 2–70
    return code, explicit


def check_rows(env: Env, session, raw: list[tuple[int, dict[str, str]]],  # noqa: ANN001
               numbering: str) -> list[dict[str, Any]]:
    """Validate sheet rows [(row number, {column: text})] into plan items; RowErrors lists
    every problem (all of them, so the clerk fixes the file once)."""
    errors = RowErrors()
    items: list[dict[str, Any]] = []
    notations: dict[str, int] = {}
    rules = set(session.scalars(select(RetentionRule.code)))
    for row, values in raw:
        values = {k: (v or "").strip() for k, v in values.items()}
        if not any(values.get(k) for k in COLUMNS if k != "file_code"):
            continue
        for key, limit in MAX_LEN.items():
            if len(values.get(key, "")) > limit:
                errors.add(row, key, values[key][:40] + "…", f"Longer than {limit} characters.")
        item: dict[str, Any] = {"row": row, "title": values.get("title", ""),
                                "note": values.get("note") or None,
                                "maker": values.get("maker") or None}
        if not item["title"]:
            errors.add(row, "title", "", "The title is empty; every heading and planned "
                                         "dossier needs one.")
        heading = values.get("heading", "")
        if heading:
            number = heading.rstrip(".").strip()
            if _ROMAN.match(number.upper()) and number.upper():
                item.update(kind="heading", heading=number.upper(), level=1)
            elif number.isdigit():
                item.update(kind="heading", heading=str(int(number)), level=2)
            else:
                errors.add(row, "heading", heading, "A heading is numbered with a Roman numeral "
                           "(I, II, III …) or, for a sub-heading, an Arabic number (1, 2 …).")
                item.update(kind="heading", heading=number, level=1)
            item["abbreviation"] = values.get("abbreviation") or None
            for key in ("file_notation", "retention", "retention_rule", "handover_rule"):
                if values.get(key):
                    errors.add(row, key, values[key], "A heading row has no "
                               f"{COLUMNS[key][0].lower()}; put it on a dossier row, or clear "
                               "the Đề mục cell if this row is a dossier.")
            items.append(item)
            continue
        item["kind"] = "dossier"
        if values.get("abbreviation"):
            errors.add(row, "abbreviation", values["abbreviation"],
                       "Only heading rows have an abbreviation.")
        notation = values.get("file_notation") or None
        if notation:
            if not _NOTATION.match(notation):
                errors.add(row, "file_notation", notation, "Use digits, letters, '.', '-' or "
                           "'/' only, without spaces (e.g. 01.TH).")
            elif notation in notations:
                errors.add(row, "file_notation", notation,
                           f"The same number and symbol is on row {notations[notation]}.")
            notations.setdefault(notation, row)
        item["file_notation"] = notation
        rule = values.get("retention_rule") or None
        if rule and rule not in rules:
            errors.add(row, "retention_rule", rule, "There is no such rule in the retention "
                       "schedule (GET /api/v1/retention-rules).")
        item["retention_rule"] = rule
        handover_rule = values.get("handover_rule") or None
        if handover_rule and not env.codes.is_valid("handover_rule", handover_rule):
            errors.add(row, "handover_rule", handover_rule,
                       env.codes.describe_invalid("handover_rule", handover_rule))
        item["handover_rule"] = handover_rule
        text = values.get("retention", "")
        item["retention"] = item["retention_years"] = None
        if text:
            try:
                item["retention"], item["retention_years"] = _parse_retention(env, text)
            except ValueError as exc:
                errors.add(row, "retention", text, str(exc))
        elif not rule:
            errors.add(row, "retention", "", "Give the retention (Vĩnh viễn or a number of "
                       "years) or a rule of the retention schedule.")
        items.append(item)
    if not items:
        errors.add(1, None, None, "The sheet has no rows under its header.")
    errors.raise_if_any()
    assign_notations(items, numbering)
    return items


def assign_notations(items: list[dict[str, Any]], numbering: str) -> None:
    """Number the dossiers without a number and symbol: a serial from 01 (across the plan, or
    again under each main heading) plus the abbreviation of the heading they sit under."""
    serial, abbreviation = 0, {1: None, 2: None}
    taken = {i["file_notation"] for i in items if i.get("file_notation")}
    for item in items:
        if item["kind"] == "heading":
            abbreviation[item["level"]] = item.get("abbreviation")
            if item["level"] == 1:
                abbreviation[2] = None
                if numbering == "heading":
                    serial = 0
            continue
        serial += 1
        if item.get("file_notation"):
            continue
        suffix = abbreviation[2] or abbreviation[1]
        candidate = f"{serial:02d}" + (f".{suffix}" if suffix else "")
        while candidate in taken:  # an explicit number already uses it
            candidate += "a"
        item["file_notation"] = candidate
        taken.add(candidate)


def _store(session, plan: FilePlan, items: list[dict[str, Any]], start: int = 0) -> None:  # noqa: ANN001
    """Add checked items after position `start`, linking each to the heading above it."""
    parents: dict[int, int | None] = {1: None, 2: None}
    for position, item in enumerate(items, start + 1):
        row = FilePlanItem(plan_id=plan.id, position=position, kind=item["kind"],
                           heading=item.get("heading"), level=item.get("level"),
                           abbreviation=item.get("abbreviation"),
                           file_notation=item.get("file_notation"), title=item["title"],
                           retention=item.get("retention"),
                           retention_years=item.get("retention_years"),
                           retention_rule=item.get("retention_rule"),
                           handover_rule=item.get("handover_rule"), maker=item.get("maker"),
                           note=item.get("note"))
        if item["kind"] == "heading":
            row.parent_id = parents[1] if item["level"] == 2 else None
        else:
            row.parent_id = parents[2] or parents[1]
        session.add(row)
        session.flush()
        if item["kind"] == "heading":
            parents[item["level"]] = row.id
            if item["level"] == 1:
                parents[2] = None


# ------------------------------------------------------------------------ import, export


def read_sheet(data: bytes, fmt: str) -> list[tuple[int, dict[str, str]]]:
    """The rows under the header row of a CSV or the first sheet of an XLSX workbook, keyed
    by canonical column. The header is the first row naming the title column."""
    errors = RowErrors()
    if fmt == "xlsx":
        from openpyxl import load_workbook

        try:
            ws = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the clerk's to fix
            raise ValidationFailed({"file": [f"This is not an XLSX workbook that can be read "
                                             f"({type(exc).__name__}); save it as .xlsx."]}) from exc
        lines = [(n, ["" if v is None else (str(int(v)) if isinstance(v, float) and
                                            v.is_integer() else str(v)) for v in row])
                 for n, row in enumerate(ws.iter_rows(values_only=True), 1)]
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed({"file": ["The CSV is not UTF-8; save it as “CSV UTF-8” "
                                             "and send it again."]}) from exc
        try:
            dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        try:
            lines = [(reader.line_num, row) for row in reader]
        except csv.Error as exc:
            raise ValidationFailed({"file": [f"The file cannot be read as CSV ({exc}); save "
                                             "it from Excel as “CSV UTF-8” or send the "
                                             ".xlsx."]}) from exc
    for index, (number, cells) in enumerate(lines):
        keys = [_ALIASES.get(_fold(c)) if c else None for c in cells]
        if "title" not in keys:
            continue
        for cell, key in zip(cells, keys, strict=True):
            if cell and key is None:
                errors.add(number, cell, cell, "This column is not known; use "
                           + ", ".join(a[0] for a in COLUMNS.values()) + ".")
        errors.raise_if_any()
        return [(n, {k: row[i] for i, k in enumerate(keys) if k and i < len(row)})
                for n, row in lines[index + 1:]]
    errors.add(1, None, None, "No header row found: one row must name the columns, with at "
               f"least {COLUMNS['title'][0]!r}.")
    errors.raise_if_any()
    return []


def import_plan(env: Env, actor: Actor, plan_id: str, data: bytes, fmt: str) -> dict[str, Any]:
    """Replace a draft plan's items by those of a sheet; all or nothing."""
    require(actor, "fileplan.write")
    with env.db.read() as session:
        _plan(session, actor, plan_id)  # 404 before the sheet is read
    raw = read_sheet(data, fmt)
    with env.db.write() as session:
        plan = _plan(session, actor, plan_id, lock=True)
        if plan.status != "draft":
            raise Conflict("The plan is approved; add items one by one "
                           "(POST /file-plans/{id}/items) instead of replacing them.")
        old = session.scalars(select(FilePlanItem).where(FilePlanItem.plan_id == plan_id)).all()
        if any(i.dossier_id for i in old):
            raise Conflict("Dossiers were already opened from this plan; add items one by one "
                           "instead of replacing the plan.")
        items = check_rows(env, session, raw, plan.numbering)
        for item in old:
            session.delete(item)
        session.flush()
        _store(session, plan, items)
        plan.updated_at = env.now()
        audit.log_in(session, env, actor, "fileplan.import", plan_id,
                     {"format": fmt, "items": len(items)})
        return _plan_view(session, plan)


def add_item(env: Env, actor: Actor, plan_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Append one heading or planned dossier (checked as a sheet row would be)."""
    require(actor, "fileplan.write")
    values = {k: "" if v is None else str(v) for k, v in data.items()}
    with env.db.write() as session:
        plan = _plan(session, actor, plan_id, lock=True)
        existing = session.scalars(select(FilePlanItem).where(FilePlanItem.plan_id == plan_id)
                                   .order_by(FilePlanItem.position)).all()
        context = [{"kind": i.kind, "level": i.level, "abbreviation": i.abbreviation,
                    "file_notation": i.file_notation, "heading": i.heading, "title": i.title}
                   for i in existing]
        new = check_rows(env, session, [(len(existing) + 1, values)], plan.numbering)[0]
        taken = {i.file_notation for i in existing if i.file_notation}
        if data.get("file_notation") and new["file_notation"] in taken:
            raise ValidationFailed({"file_notation": [
                f"{new['file_notation']} is already in this plan."]})
        if new["kind"] == "dossier" and not data.get("file_notation"):
            new["file_notation"] = None
            everything = context + [new]
            assign_notations(everything, plan.numbering)
            new = everything[-1]
        _store_after(session, plan, existing, new)
        plan.updated_at = env.now()
        return _plan_view(session, plan)


def _store_after(session, plan: FilePlan, existing: list[FilePlanItem],  # noqa: ANN001
                 new: dict[str, Any]) -> None:
    parents: dict[int, int | None] = {1: None, 2: None}
    for item in existing:
        if item.kind == "heading":
            parents[item.level or 1] = item.id
            if item.level == 1:
                parents[2] = None
    row = FilePlanItem(plan_id=plan.id, position=len(existing) + 1, kind=new["kind"],
                       heading=new.get("heading"), level=new.get("level"),
                       abbreviation=new.get("abbreviation"),
                       file_notation=new.get("file_notation"), title=new["title"],
                       retention=new.get("retention"),
                       retention_years=new.get("retention_years"),
                       retention_rule=new.get("retention_rule"),
                       handover_rule=new.get("handover_rule"), maker=new.get("maker"),
                       note=new.get("note"),
                       parent_id=(parents[1] if new.get("level") == 2 else None)
                       if new["kind"] == "heading" else (parents[2] or parents[1]))
    session.add(row)
    session.flush()


def delete_item(env: Env, actor: Actor, plan_id: str, item_id: int) -> dict[str, Any]:
    require(actor, "fileplan.write")
    with env.db.write() as session:
        plan = _plan(session, actor, plan_id, lock=True)
        item = session.get(FilePlanItem, item_id)
        if item is None or item.plan_id != plan_id:
            raise NotFound(f"The plan has no item {item_id}.")
        if plan.status != "draft":
            raise Conflict("The plan is approved; its items stay.")
        if item.dossier_id:
            raise Conflict("A dossier was opened from this item; it stays in the plan.")
        session.delete(item)
        plan.updated_at = env.now()
        session.flush()
        return _plan_view(session, plan)


def plan_sheet(env: Env, plan: dict[str, Any]) -> Sheet:
    keys = list(COLUMNS)
    rows, bold = [], set()
    for n, item in enumerate(plan["items"]):
        if item["kind"] == "heading":
            bold.add(n)
        values = {**item, "retention": retention_text(env, item["retention"],
                                                      item["retention_years"])}
        rows.append(["" if values.get(k) is None else str(values.get(k)) for k in keys])
    status = ("Đã phê duyệt: " + str(plan["approval_ref"])) if plan["status"] == "approved" \
        else "Dự thảo (chưa phê duyệt)"
    return Sheet(title=plan["title"].upper(), columns=[
        Column(k, COLUMNS[k][0], WIDTHS[k]) for k in keys], rows=rows, bold_rows=bold,
        above=[f"Phông: {plan['fonds_code']} — năm {plan['year']} — {status}"],
        name=f"Danh muc {plan['year']}")


def export_plan(env: Env, viewer: Actor, plan_id: str, fmt: str) -> bytes:
    sheet = plan_sheet(env, get_plan(env, viewer, plan_id))
    return to_xlsx([sheet]) if fmt == "xlsx" else to_csv(sheet)


# ------------------------------------------------------------------------ opening dossiers


def open_dossiers(env: Env, actor: Actor, plan_id: str, *, item_ids: list[int] | None = None,
                  start_date: date | None = None) -> dict[str, Any]:
    """Open the plan's dossiers (all not yet opened, or the items named): each gets its file
    code from the plan's number and symbol (<fonds>.<year>.<notation>), title, retention and
    maker. Already opened items are reported, not opened twice."""
    require(actor, "fileplan.open")
    with env.db.read() as session:
        plan = _plan(session, actor, plan_id)
        items = session.scalars(select(FilePlanItem).where(
            FilePlanItem.plan_id == plan_id, FilePlanItem.kind == "dossier")
            .order_by(FilePlanItem.position)).all()
    by_id = {i.id: i for i in items}
    unknown = [i for i in item_ids or [] if i not in by_id]
    if unknown:
        raise ValidationFailed({"item_ids": [f"Item {i} is not a planned dossier of this plan."
                                             for i in unknown]})
    today = env.now().astimezone(env.tz).date()
    start = start_date or (today if today.year == plan.year else date(plan.year, 1, 1))
    if start.year != plan.year:
        raise ValidationFailed({"start_date": [
            f"The plan is for {plan.year}; its dossiers start in that year."]})
    chosen = [by_id[i] for i in item_ids] if item_ids else items
    opened, already = [], []
    for item in chosen:
        if item.dossier_id:
            already.append({"item_id": item.id, "dossier_id": item.dossier_id})
            continue
        data = {"fonds_code": plan.fonds_code, "title": item.title,
                "file_notation": item.file_notation, "start_date": start,
                "maker": item.maker, "handover_rule": item.handover_rule,
                "file_plan": {"plan_id": plan.id, "item_id": item.id, "year": plan.year}}
        if item.retention_rule:
            data["retention_rule"] = item.retention_rule
        else:
            data.update(retention=item.retention, retention_years=item.retention_years)
        dossier = create_dossier(env, actor, data)
        with env.db.write() as session:
            row = session.get(FilePlanItem, item.id)
            row.dossier_id = dossier["id"]
        opened.append({"item_id": item.id, "dossier_id": dossier["id"],
                       "file_code": dossier["file_code"]})
    return {"opened": opened, "already_open": already}
