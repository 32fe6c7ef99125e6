"""The registers of the records office (NĐ 30/2020 PL IV) as outputs: outgoing, incoming and
follow-up registers for a period, as JSON rows, XLSX and PDF.

A register is a view, not a copy: each row is a number of the log (services/numbering.py)
with the columns read from its document's current metadata. Cancelled numbers are rows too
(the note says why), so the series shows no unexplained gap. A document the reader may not
see keeps its row with the number and date only. Columns and their titles are data
(code list `register_column`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from ..catalog import Document, Dossier, Fonds, RegisterEntry
from .access import filter_documents
from .context import Actor, Env
from .errors import NotFound, ValidationFailed
from .numbering import format_number, settle
from .records import from_json_dict
from .rights import reach_fonds, require
from .tables import Column, Sheet, cell_text, to_pdf, to_xlsx

KINDS = {
    "outgoing": ("outgoing", "SỔ ĐĂNG KÝ VĂN BẢN ĐI"),
    "incoming": ("incoming", "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN"),
    "follow_up": ("incoming", "SỔ THEO DÕI GIẢI QUYẾT VĂN BẢN ĐẾN"),
}
HIDDEN = "Văn bản không thuộc phạm vi được xem"


def columns(env: Env, kind: str) -> list[Column]:
    return [Column(e.extra["field"], e.name_vi, float(e.extra.get("width", 20)))
            for e in env.codes["register_column"] if e.extra.get("register") == kind]


def _type_name(env: Env, code: str | None) -> str:
    entry = env.codes["document_type"].get(code) if code else None
    return entry.name_vi if entry else ""


def _number_symbol(number: str | None, notation: str | None) -> str:
    if number and notation:
        return f"{number}/{notation}"
    return number or notation or ""


def _signer(meta: dict[str, Any]) -> str:
    signer = meta.get("signer") or {}
    return " ".join(v for v in (signer.get("position"), signer.get("full_name")) if v)


def _assigned(reg: dict[str, Any]) -> str:
    who = reg.get("assigned_to") or {}
    return " – ".join(v for v in (who.get("unit"), who.get("person")) if v)


def _received(reg: dict[str, Any]) -> str:
    return reg.get("received_by") or ""


def _cells(env: Env, kind: str, entry: RegisterEntry, meta: dict[str, Any] | None,
           today: date) -> dict[str, Any]:
    """The columns of one row (raw values: dates stay dates)."""
    number = format_number(entry.number)
    if meta is None:  # not visible to the reader, or not written (pending / cancelled)
        cells: dict[str, Any] = {"date": entry.registered_on, "arrival_date": entry.registered_on,
                                 "arrival_number": number}
        if kind == "outgoing":
            cells["number_symbol"] = number
        return cells
    reg = meta.get("registration") or {}
    subject = f"{_type_name(env, meta.get('type_code'))}: {meta.get('subject') or ''}".strip(": ")
    common = {"type_subject": subject, "delivered_on": reg.get("delivered_on"),
              "received_sign": _received(reg), "note": reg.get("note")}
    if kind == "outgoing":
        return {**common, "number_symbol": _number_symbol(meta.get("code_number"),
                                                          meta.get("code_notation")),
                "date": meta.get("issued_date"), "signer": _signer(meta),
                "recipients": [r.get("organ_name") for r in meta.get("recipients") or []],
                "file_copy_holder": reg.get("file_copy_holder"), "copies": reg.get("copies")}
    sender_number = _number_symbol(meta.get("code_number"), meta.get("code_notation"))
    if kind == "incoming":
        return {**common, "arrival_date": meta.get("arrival_date"), "arrival_number": number,
                "author": meta.get("organ_name"), "number_symbol": sender_number,
                "date": meta.get("issued_date"), "assigned_to": _assigned(reg)}
    handling = meta.get("handling") or {}
    due = meta.get("due_date")
    identity = ", ".join(v for v in (
        _type_name(env, meta.get("type_code")), sender_number,
        cell_text(meta.get("issued_date")), meta.get("organ_name")) if v)
    notes = [handling.get("note") or reg.get("note")]
    overdue = bool(due and due < today and handling.get("status") != "done")
    if overdue:
        notes.append(f"Quá hạn {(today - due).days} ngày")
    progress = handling.get("progress") or {"done": "Đã giải quyết",
                                            "in_progress": "Đang giải quyết"}.get(
        handling.get("status"), "Chưa giải quyết")
    if handling.get("status") == "done" and handling.get("done_on"):
        progress += f" ({cell_text(handling['done_on'])})"
    return {"arrival_number": number,
            "document": f"{identity}: {meta.get('subject') or ''}" if identity
            else meta.get("subject"),
            "handler": _assigned(reg), "due_date": due, "progress": progress,
            "reply_number": handling.get("reply_number"),
            "note": "; ".join(n for n in notes if n), "overdue": overdue}


def _status_note(entry: RegisterEntry) -> str | None:
    if entry.status == "cancelled":
        return (f"Số đã hủy ngày {cell_text(entry.cancelled_at.date() if entry.cancelled_at else None)}"
                f" ({entry.cancelled_by}): {entry.cancel_reason}")
    if entry.status == "pending":
        return "Đang đăng ký (chưa hoàn tất)"
    return None


def build_register(env: Env, viewer: Actor, kind: str, *, fonds_code: str, date_from: date,
                   date_to: date, book: str | None = None,
                   overdue_only: bool = False) -> dict[str, Any]:
    """The register of one fonds for a period (registration dates, Vietnam time)."""
    require(viewer, "register.read")
    if kind not in KINDS:
        raise NotFound(f"There is no register {kind!r}; use one of {', '.join(KINDS)}.")
    reach_fonds(viewer, fonds_code)
    if date_to < date_from:
        raise ValidationFailed({"date_to": ["The end of the period is before its start."]})
    direction, title = KINDS[kind]
    settle(env)
    today = env.now().astimezone(env.tz).date()
    with env.db.read() as session:
        fonds = session.scalar(select(Fonds).where(Fonds.code == fonds_code))
        reach_fonds(viewer, fonds_code)
        if fonds is None or fonds.head_version == 0:
            raise NotFound(f"There is no fonds {fonds_code!r}.")
        stmt = select(RegisterEntry).where(
            RegisterEntry.fonds_code == fonds_code, RegisterEntry.direction == direction,
            RegisterEntry.registered_on >= date_from, RegisterEntry.registered_on <= date_to)
        if book:
            stmt = stmt.where(RegisterEntry.book == book)
        if kind == "follow_up":
            stmt = stmt.where(RegisterEntry.status == "registered")
        entries = session.scalars(stmt.order_by(RegisterEntry.book, RegisterEntry.series,
                                                RegisterEntry.year, RegisterEntry.number)).all()
        ids = [e.document_id for e in entries if e.document_id and e.status == "registered"]
        metas: dict[str, dict[str, Any]] = {}
        for chunk in range(0, len(ids), 500):
            q = select(Document.id, Document.meta).join(
                Dossier, Dossier.id == Document.dossier_id).where(
                Document.id.in_(ids[chunk:chunk + 500]), Document.head_version > 0)
            metas.update(dict(session.execute(filter_documents(session, env, viewer, q)).all()))
    rows = []
    counts = {"registered": 0, "cancelled": 0, "pending": 0, "hidden": 0}
    for entry in entries:
        counts[entry.status] = counts.get(entry.status, 0) + 1
        meta = metas.get(entry.document_id) if entry.status == "registered" else None
        if entry.status == "registered" and meta is None:
            counts["hidden"] += 1
        cells = _cells(env, kind, entry, from_json_dict(meta) if meta else None, today)
        if kind == "follow_up" and (meta is None or not from_json_dict(meta).get("due_date")):
            continue
        if overdue_only and not cells.get("overdue"):
            continue
        note = _status_note(entry) or (HIDDEN if entry.status == "registered" and meta is None
                                       else None)
        if note:
            cells["note"] = "; ".join(n for n in (note, cells.get("note")) if n)
        rows.append({"entry_id": entry.id, "status": entry.status, "book": entry.book,
                     "series": entry.series, "year": entry.year, "number": entry.number,
                     "registered_on": entry.registered_on,
                     "document_id": entry.document_id if meta is not None else None,
                     "overdue": bool(cells.pop("overdue", False)),
                     "cells": {k: v.isoformat() if isinstance(v, date) else v
                               for k, v in cells.items()}})
    cols = columns(env, kind)
    return {"register": kind, "title": title, "fonds_code": fonds_code,
            "organ_name": fonds.name, "date_from": date_from, "date_to": date_to, "book": book,
            "columns": [{"key": c.key, "title": c.title} for c in cols], "rows": rows,
            "counts": counts, "generated_at": env.now()}


def register_sheet(env: Env, register: dict[str, Any]) -> Sheet:
    cols = columns(env, register["register"])
    book = register.get("book")
    book_name = env.codes["number_book"].get(book).name_vi if book and \
        env.codes["number_book"].get(book) else None
    above = [f"Cơ quan: {register['organ_name']} ({register['fonds_code']})",
             f"Từ ngày {cell_text(register['date_from'])} đến ngày "
             f"{cell_text(register['date_to'])}" + (f" — Sổ: {book_name}" if book_name else "")]
    rows = [[cell_text(r["cells"].get(c.key)) for c in cols] for r in register["rows"]]
    c = register["counts"]
    below = [f"Tổng số: {len(rows)} dòng; đã đăng ký {c.get('registered', 0)}, số đã hủy "
             f"{c.get('cancelled', 0)}, đang đăng ký {c.get('pending', 0)}. In ngày "
             f"{cell_text(register['generated_at'].astimezone(env.tz).date())}."]
    return Sheet(title=register["title"], columns=cols, rows=rows, above=above, below=below,
                 name=register["title"].title()[:31])


def render(env: Env, register: dict[str, Any], fmt: str) -> bytes:
    sheet = register_sheet(env, register)
    if fmt == "xlsx":
        return to_xlsx([sheet])
    return to_pdf([sheet], env.config.get("PDF_FONT") or "")
