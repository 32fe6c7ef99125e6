"""A dossier as one PDF and as TT 05 XML (NĐ 30/2020 PL VI: "export a file as PDF + XML in
chronological order").

The PDF: a cover page, a table of contents with the page each document starts on, then every
document the reader may see (its own and those filed in it by a link) in chronological order:
the pages of its PDF files, merged as they are (pypdfium2), and for any other file a page
naming the file, its type, size and SHA-256 (the bytes stay downloadable).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from ..catalog import Document, DocumentFile, Dossier, Fonds
from .access import filter_documents
from .context import Actor, Env
from .documents import open_file
from .dossiers import visible_row
from .links import linked_rows
from .records import DOCUMENT_FILE, DOSSIER_FILE, from_json_dict, object_id
from .rights import require
from .tables import cell_text, new_pdf
from .tt05_xml import STANDARD, doc_xml, file_xml

_LINE = {"new_x": "LMARGIN", "new_y": "NEXT"}


@dataclass
class _Doc:
    row: Document
    linked_from: str | None  # home file code for a linked document
    files: list[DocumentFile]
    parts: list[tuple[str, Any]] = field(default_factory=list)  # ("pdf", path) | ("note", lines)
    pages: int = 0
    first_page: int = 0

    @property
    def day(self) -> date:
        meta = self.row.meta or {}
        for key in ("issued_date", "arrival_date"):
            if meta.get(key):
                return date.fromisoformat(meta[key])
        return self.row.created_at.date()


def _documents(env: Env, viewer: Actor, dossier_id: str) -> tuple[Dossier, str, list[_Doc]]:
    require(viewer, "dossier.export")
    with env.db.read() as session:
        dossier = visible_row(session, env, viewer, dossier_id, "dossier.export")
        fonds = session.scalar(select(Fonds.name).where(Fonds.code == dossier.fonds_code))
        own = session.scalars(filter_documents(session, env, viewer, select(Document).join(
            Dossier, Dossier.id == Document.dossier_id).where(
            Document.dossier_id == dossier_id, Document.head_version > 0))).all()
        linked = linked_rows(session, env, viewer, dossier_id)
        homes = {d.id: session.get(Dossier, d.dossier_id).file_code for d in linked}
        ids = [d.id for d in [*own, *linked]]
        files: dict[str, list[DocumentFile]] = {i: [] for i in ids}
        for f in session.scalars(select(DocumentFile).where(DocumentFile.document_id.in_(ids))
                                 .order_by(DocumentFile.name)):
            files[f.document_id].append(f)
    docs = [_Doc(d, homes.get(d.id), files[d.id]) for d in [*own, *linked]]
    docs.sort(key=lambda d: (d.day, d.linked_from is not None, d.row.serial))
    return dossier, fonds or dossier.fonds_code, docs


def _is_pdf(path) -> bool:  # noqa: ANN001
    with open(path, "rb") as fh:
        return fh.read(1024).lstrip().startswith(b"%PDF")


def _plan_pages(env: Env, viewer: Actor, docs: list[_Doc]) -> None:
    """Decide how each file is shown and count the pages it takes."""
    import pypdfium2 as pdfium

    for doc in docs:
        if not doc.files:
            doc.parts.append(("note", ["Văn bản không có tệp đính kèm."]))
        for f in doc.files:
            path, _, _ = open_file(env, doc.row.id, f.name, viewer)
            facts = [f"Tệp: {f.name}", f"Loại: {f.media_type}", f"Kích thước: {f.size} byte",
                     f"SHA-256: {f.sha256}"]
            if _is_pdf(path):
                try:
                    pdf = pdfium.PdfDocument(str(path))
                    count = len(pdf)
                    pdf.close()
                    doc.parts.append(("pdf", (path, count)))
                    continue
                except pdfium.PdfiumError:
                    facts.append("Tệp PDF này không đọc được (hỏng hoặc có mật khẩu); tải tệp "
                                 "gốc để xem.")
            else:
                facts.append("Tệp này không phải PDF: bản gốc được lưu nguyên vẹn và tải về "
                             f"tại /api/v1/documents/{doc.row.id}/files/{f.name}.")
            doc.parts.append(("note", facts))
    for doc in docs:
        doc.pages = sum(part[1] if kind == "pdf" else 1 for kind, part in doc.parts)


def _identity(doc: _Doc) -> str:
    meta = doc.row.meta or {}
    number = "/".join(v for v in (meta.get("code_number"), meta.get("code_notation")) if v)
    return number or doc.row.doc_code


def _front(env: Env, dossier: Dossier, organ: str, docs: list[_Doc], offset: int) -> bytes:
    """Cover page and table of contents; `offset` = their own page count (0 on the first
    pass, which only measures them)."""
    pdf = new_pdf(env.config.get("PDF_FONT") or "", portrait=True, page_numbers=False)
    meta = from_json_dict(dossier.meta)
    pdf.add_page()
    pdf.set_font("vn", size=12)
    pdf.multi_cell(0, 7, organ.upper(), align="C", **_LINE)
    pdf.ln(30)
    pdf.set_font("vn", "B", size=18)
    pdf.multi_cell(0, 10, "HỒ SƠ", align="C", **_LINE)
    pdf.set_font("vn", "B", size=14)
    pdf.multi_cell(0, 8, dossier.title, align="C", **_LINE)
    pdf.ln(12)
    pdf.set_font("vn", size=11)
    retention = env.codes["retention"].get(dossier.retention)
    facts = [("Mã hồ sơ", dossier.file_code), ("Mã lưu trữ", dossier.archive_code),
             ("Phông", f"{organ} ({dossier.fonds_code})"),
             ("Thời gian", " – ".join(cell_text(v) for v in (meta.get("start_date"),
                                                            meta.get("end_date")) if v)),
             ("Thời hạn bảo quản", (f"{dossier.retention_years} năm" if dossier.retention_years
                                    else retention.name_vi if retention else dossier.retention)),
             ("Người lập hồ sơ", meta.get("maker")), ("Trạng thái", dossier.state),
             ("Số văn bản", str(len(docs))), ("Xuất ngày", cell_text(
                 env.now().astimezone(env.tz).date()))]
    for label, value in facts:
        if value:
            pdf.multi_cell(0, 7, f"{label}: {value}", **_LINE)
    pdf.add_page()
    pdf.set_font("vn", "B", size=13)
    pdf.multi_cell(0, 8, "MỤC LỤC VĂN BẢN", align="C", **_LINE)
    pdf.set_font("vn", size=9)
    from fpdf.fonts import FontFace

    with pdf.table(col_widths=(8, 30, 18, 80, 14), line_height=4.5, text_align="LEFT",
                   repeat_headings=1, headings_style=FontFace(emphasis="BOLD")) as table:
        head = table.row()
        for title in ("STT", "Số, ký hiệu", "Ngày", "Trích yếu nội dung", "Trang"):
            head.cell(title)
        for n, doc in enumerate(docs, 1):
            meta_doc = doc.row.meta or {}
            subject = meta_doc.get("subject") or ""
            if doc.linked_from:
                subject += f" (lưu trong hồ sơ {doc.linked_from})"
            row = table.row()
            for value in (str(n), _identity(doc), cell_text(doc.day), subject,
                          str(doc.first_page + offset) if offset else ""):
                row.cell(value)
    return bytes(pdf.output())


def _note_pages(env: Env, docs: list[_Doc]) -> tuple[bytes, dict[tuple[int, int], int]]:
    """One page per non-PDF part; returns the PDF and (doc index, part index) -> page."""
    pdf = new_pdf(env.config.get("PDF_FONT") or "", portrait=True, page_numbers=False)
    index: dict[tuple[int, int], int] = {}
    for i, doc in enumerate(docs):
        for j, (kind, part) in enumerate(doc.parts):
            if kind != "note":
                continue
            pdf.add_page()
            index[(i, j)] = pdf.page_no() - 1
            pdf.set_font("vn", "B", size=12)
            pdf.multi_cell(0, 7, f"{_identity(doc)} — {(doc.row.meta or {}).get('subject', '')}",
                           **_LINE)
            pdf.set_font("vn", size=10)
            pdf.multi_cell(0, 6, f"Mã văn bản: {doc.row.doc_code}; ngày {cell_text(doc.day)}",
                           **_LINE)
            pdf.ln(4)
            for line in part:
                pdf.multi_cell(0, 6, line, align="L", **_LINE)
    return (bytes(pdf.output()) if index else b""), index


def dossier_pdf(env: Env, viewer: Actor, dossier_id: str) -> bytes:
    """The dossier as one PDF (see the module docstring)."""
    import pypdfium2 as pdfium

    dossier, organ, docs = _documents(env, viewer, dossier_id)
    _plan_pages(env, viewer, docs)
    page = 1
    for doc in docs:
        doc.first_page = page
        page += doc.pages
    probe = pdfium.PdfDocument(_front(env, dossier, organ, docs, 0))
    front_pages = len(probe)
    probe.close()
    front = pdfium.PdfDocument(_front(env, dossier, organ, docs, front_pages))
    notes_bytes, note_index = _note_pages(env, docs)
    notes = pdfium.PdfDocument(notes_bytes) if notes_bytes else None
    out = pdfium.PdfDocument.new()
    out.import_pages(front)
    opened = []
    for i, doc in enumerate(docs):
        for j, (kind, part) in enumerate(doc.parts):
            if kind == "pdf":
                src = pdfium.PdfDocument(str(part[0]))
                opened.append(src)
                out.import_pages(src)
            else:
                out.import_pages(notes, [note_index[(i, j)]])
    buffer = io.BytesIO()
    out.save(buffer)
    for pdf in (*opened, front, *(p for p in (notes,) if p)):
        pdf.close()
    out.close()
    return buffer.getvalue()


def dossier_xml(env: Env, viewer: Actor, dossier_id: str) -> bytes:
    """The dossier's TT 05 file metadata with the document metadata of every document the
    reader may see, in the same chronological order as the PDF."""
    dossier, _, docs = _documents(env, viewer, dossier_id)
    record = env.store.read_json(object_id(dossier_id), DOSSIER_FILE)
    root = ET.Element("dossierExport", {"standard": STANDARD, "fileCode": dossier.file_code})
    root.append(ET.fromstring(file_xml(record, doc_total=len(docs),
                                       version=dossier.head_version)))
    holder = ET.SubElement(root, "docs")
    for doc in docs:
        doc_record = env.store.read_json(object_id(doc.row.id), DOCUMENT_FILE)
        element = ET.fromstring(doc_xml(doc_record, file_code=doc_record.get("doc_code", "")
                                        .rsplit(".", 1)[0], version=doc.row.head_version))
        if doc.linked_from:
            element.set("linkedFrom", doc.linked_from)
        holder.append(element)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
