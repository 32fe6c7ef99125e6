"""Page quality against the standard, and the batch report (JSON, XLSX, PDF).

TT 05/2025 Art. 8: ≥ 200 dpi for administrative documents, 300 dpi for maps and drawings
(types 30 and 31), ≥ 24-bit colour. The thresholds are settings (SCAN_*), so an agency can
follow a stricter or a corrected rule without a code change. Blank pages, strong skew and
low OCR confidence are not in the circular; they are flagged so that a clerk looks at them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..catalog import DigitisationBatch, DigitisationDossier, DigitisationItem
from .context import Env
from .destruction import find_font
from .digitisation_status import batch_view
from .errors import NotFound

_LINE = {"new_x": "LMARGIN", "new_y": "NEXT"}  # each multi_cell starts a new line


def standard(env: Env) -> dict[str, Any]:
    """The thresholds in force (settings), as stated in every report."""
    by_type: dict[str, int] = {}
    for part in str(env.config.get("SCAN_MIN_DPI_BY_TYPE") or "").split(","):
        code, _, dpi = part.partition("=")
        if code.strip() and dpi.strip().isdigit():
            by_type[code.strip()] = int(dpi)
    return {"min_dpi": int(env.config.get("SCAN_MIN_DPI", 200)), "min_dpi_by_type": by_type,
            "min_colour_bits": int(env.config.get("SCAN_MIN_COLOUR_BITS", 24)),
            "max_skew_degrees": float(env.config.get("SCAN_MAX_SKEW_DEGREES", 3.0)),
            "blank_ink_ratio": float(env.config.get("SCAN_BLANK_INK_RATIO", 0.001)),
            "min_ocr_confidence": float(env.config.get("SCAN_MIN_OCR_CONFIDENCE", 60))}


def _depth_words(bits: int) -> str:
    return {1: "black and white (1-bit)", 8: "greyscale (8-bit)"}.get(bits, f"{bits}-bit")


def judge(pages: list[dict[str, Any]], type_code: str | None, rules: dict[str, Any]
          ) -> list[dict[str, Any]]:
    """Each page with its `problems` (empty when it meets the standard)."""
    min_dpi = rules["min_dpi_by_type"].get(type_code or "", rules["min_dpi"])
    out = []
    for page in pages:
        problems = []
        dpi, bits = page.get("dpi"), page.get("colour_bits")
        if dpi is None:
            problems.append({"check": "resolution", "message": "The resolution of the page "
                             "image is unknown."})
        elif dpi < min_dpi:
            what = "maps and drawings" if min_dpi > rules["min_dpi"] else "documents"
            problems.append({"check": "resolution", "message": f"{dpi} dpi, below the "
                             f"{min_dpi} dpi required for {what}."})
        if bits is not None and bits < rules["min_colour_bits"]:
            problems.append({"check": "colour_depth", "message": f"{_depth_words(bits)}, below "
                             f"{rules['min_colour_bits']}-bit colour."})
        ink = page.get("ink_ratio")
        # almost no ink and no word read: a page where OCR reads words (even poorly) is not
        # blank, however faint
        blank = ink is not None and ink < rules["blank_ink_ratio"] and not page.get("words")
        if blank:
            problems.append({"check": "blank", "message": "The page looks blank (check whether "
                             "it should be in the document, or was scanned wrongly)."})
        skew = page.get("skew_degrees")
        if skew is not None and skew > rules["max_skew_degrees"]:
            problems.append({"check": "skew", "message": f"The text is tilted {skew:g}°; scan "
                             "the page straight."})
        conf = page.get("ocr_confidence")
        if not blank and conf is not None and conf < rules["min_ocr_confidence"]:
            problems.append({"check": "ocr_confidence", "message": f"OCR confidence {conf:g} "
                             f"(below {rules['min_ocr_confidence']:g}): the text layer may be "
                             "poor; check the scan."})
        out.append({**page, "problems": problems})
    return out


# ----------------------------------------------------------------------------- the report

def build_report(env: Env, batch_id: str) -> dict[str, Any]:
    with env.db.read() as session:
        batch = session.get(DigitisationBatch, batch_id)
        view = batch_view(session, env, batch)
        dossiers = session.scalars(select(DigitisationDossier).where(
            DigitisationDossier.batch_id == batch_id).order_by(
            DigitisationDossier.position)).all()
        items = session.scalars(select(DigitisationItem).where(
            DigitisationItem.batch_id == batch_id).order_by(
            DigitisationItem.dossier_position, DigitisationItem.serial)).all()
    by_dossier: dict[int, list[DigitisationItem]] = {}
    for item in items:
        by_dossier.setdefault(item.dossier_position, []).append(item)
    flagged, out = [], []
    for d in dossiers:
        docs = []
        for item in by_dossier.get(d.position, []):
            doc_code = f"{d.file_code}.{item.serial:07d}"
            pages = item.quality or []
            for page in pages:
                if page.get("problems"):
                    flagged.append({"file_code": d.file_code, "doc_code": doc_code,
                                    "document_id": item.document_id, "row": item.row,
                                    "page": page["page"], "scan": page.get("scan"),
                                    "scan_page": page.get("scan_page"),
                                    "problems": [p["message"] for p in page["problems"]],
                                    "checks": [p["check"] for p in page["problems"]]})
            docs.append({"row": item.row, "serial": item.serial, "doc_code": doc_code,
                         "document_id": item.document_id, "subject": item.data.get("subject"),
                         "type_code": item.data.get("type_code"), "state": item.state,
                         "error": item.error, "pages": item.pages, "scans": item.scans,
                         "cpu_seconds": round(item.cpu_seconds or 0.0, 2),
                         "page_quality": pages})
        out.append({"row": d.row, "label": d.label, "file_code": d.file_code,
                    "paper_file_code": d.data.get("paper_file_code"),
                    "title": d.data.get("title"), "dossier_id": d.dossier_id,
                    "state": d.state, "error": d.error, "documents": docs})
    return {"batch": view, "standard": standard(env), "flagged_pages": flagged,
            "dossiers": out, "left_out": view["left_out"]}


def write_report(env: Env, batch_id: str, fmt: str, folder: Path) -> Path:
    """Write the report in `fmt` (json, xlsx, pdf) into the batch folder; returns its path."""
    report = build_report(env, batch_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"report.{fmt}"
    if fmt == "json":
        data = json.dumps(report, ensure_ascii=False, indent=1, default=str).encode()
    elif fmt == "xlsx":
        data = _xlsx(report)
    elif fmt == "pdf":
        font = find_font(env.config.get("PDF_FONT") or "")
        if not font:
            raise NotFound("No font with Vietnamese letters was found for the PDF report; "
                           "install fonts-dejavu-core or set PDF_FONT, or use the XLSX report.")
        data = _pdf(report, font)
    else:
        raise ValueError(fmt)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


_PAGE_HEAD = ("Mã hồ sơ", "Mã văn bản", "Dòng", "Trang", "Tệp quét", "Trang trong tệp",
              "Vấn đề")


def _xlsx(report: dict[str, Any]) -> bytes:
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    ws = book.active
    ws.title = "Trang chưa đạt"
    ws.append(_PAGE_HEAD)
    for f in report["flagged_pages"]:
        ws.append((f["file_code"], f["doc_code"], f["row"], f["page"], f["scan"],
                   f["scan_page"], "; ".join(f["problems"])))
    docs = book.create_sheet("Văn bản")
    docs.append(("Mã hồ sơ", "Mã văn bản", "Dòng", "Trích yếu", "Số trang", "Trạng thái",
                 "Lỗi", "Trang chưa đạt"))
    for d in report["dossiers"]:
        for doc in d["documents"]:
            bad = [str(p["page"]) for p in doc["page_quality"] if p.get("problems")]
            docs.append((d["file_code"], doc["doc_code"], doc["row"], doc["subject"],
                         doc["pages"], doc["state"], doc["error"], ", ".join(bad)))
    left = book.create_sheet("Dòng bị loại")
    left.append(("Bảng", "Dòng", "Cột", "Giá trị", "Vấn đề"))
    for p in report["left_out"]:
        left.append((p["sheet"], p["row"], p["column"], p["value"], p["message"]))
    for sheet in (ws, docs, left):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pdf(report: dict[str, Any], font: str) -> bytes:
    from fpdf import FPDF

    batch, rules = report["batch"], report["standard"]
    pdf = FPDF(format="A4")
    pdf.add_font("vn", "", font)
    pdf.set_auto_page_break(True, 15)
    pdf.add_page()
    pdf.set_font("vn", size=14)
    pdf.multi_cell(0, 8, "BÁO CÁO SỐ HÓA — Digitisation batch report", align="C", **_LINE)
    pdf.set_font("vn", size=9)
    lines = [
        f"Batch {batch['id']} · phông {batch['fonds_code']} · {batch['state']}",
        f"Created {batch['created_at']} by {batch['created_by']}; finished {batch['finished_at']}",
        f"Dossiers {batch['dossiers']['done']}/{batch['dossiers']['total']} filed, "
        f"{batch['dossiers']['failed']} failed; documents {batch['documents']['done']}/"
        f"{batch['documents']['total']}; pages {batch['pages']['converted']}/"
        f"{batch['pages']['total']}",
        f"Standard: ≥ {rules['min_dpi']} dpi ({', '.join(f'type {k}: {v}' for k, v in rules['min_dpi_by_type'].items())}), "
        f"≥ {rules['min_colour_bits']}-bit colour, skew ≤ {rules['max_skew_degrees']:g}°, "
        f"OCR confidence ≥ {rules['min_ocr_confidence']:g}, blank pages flagged.",
    ]
    for line in lines:
        pdf.multi_cell(0, 5, line, **_LINE)
    pdf.ln(2)
    pdf.set_font("vn", size=11)
    pdf.multi_cell(0, 7, f"Pages below the standard: {len(report['flagged_pages'])}", **_LINE)
    pdf.set_font("vn", size=8)
    for f in report["flagged_pages"]:
        where = f" ({f['scan']}, p. {f['scan_page']})" if f.get("scan") else ""
        pdf.multi_cell(0, 4.5, f"{f['doc_code']} page {f['page']}{where}: "
                               + "; ".join(f["problems"]), **_LINE)
    failed = [(d, doc) for d in report["dossiers"] for doc in d["documents"] if doc["error"]]
    if failed:
        pdf.ln(2)
        pdf.set_font("vn", size=11)
        pdf.multi_cell(0, 7, f"Documents that failed: {len(failed)}", **_LINE)
        pdf.set_font("vn", size=8)
        for d, doc in failed:
            pdf.multi_cell(0, 4.5, f"{d['file_code']} row {doc['row']}: {doc['error']}", **_LINE)
    if report["left_out"]:
        pdf.ln(2)
        pdf.set_font("vn", size=11)
        pdf.multi_cell(0, 7, f"Rows left out of the batch: {len(report['left_out'])}", **_LINE)
        pdf.set_font("vn", size=8)
        for p in report["left_out"]:
            pdf.multi_cell(0, 4.5, f"{p['sheet']}, row {p['row']}, {p['column']}: "
                                   f"{p['message']}", **_LINE)
    return bytes(pdf.output())
