"""A generated finding aid (XLSX or CSV) with its scans (PDF, multi-page TIFF, JPEG, PNG).

Pages are small (4 × 2.5 inches) so OCR is quick, at 200 dpi and 24-bit colour so they meet
the standard — except the pages made bad on purpose, which `Batch.bad_pages` lists as
(file number, document serial, page): low resolution, greyscale, blank, skewed, blurred
(low OCR confidence), and a map scanned at 200 dpi where 300 is required.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DOSSIER_HEAD = ["Số và ký hiệu hồ sơ", "Mã hồ sơ giấy", "Tiêu đề hồ sơ", "Thời gian",
                "Thời hạn bảo quản", "Số tờ", "Ghi chú"]
DOCUMENT_HEAD = ["Số và ký hiệu hồ sơ", "STT", "Tên loại văn bản", "Số, ký hiệu văn bản",
                 "Ngày tháng văn bản", "Tác giả văn bản", "Trích yếu nội dung", "Số trang",
                 "Tệp quét"]
BAD_KINDS = ("low_dpi", "grey", "blank", "skew", "blur", "map")
EXPECTED_CHECK = {"low_dpi": "resolution", "grey": "colour_depth", "blank": "blank",
                  "skew": "skew", "blur": "ocr_confidence", "map": "resolution"}


def page_image(words: str, *, dpi: int = 200, kind: str | None = None) -> Image.Image:
    if kind == "low_dpi":
        dpi = 100
    width, height = int(4 * dpi), int(2.5 * dpi)
    img = Image.new("RGB", (width, height), "white")
    if kind != "blank":
        draw = ImageDraw.Draw(img)
        font = ImageFont.truetype(FONT, int(11 * dpi / 72))
        lines = ["Ủy ban nhân dân phường An Cựu", "Quyết định về việc cấp giấy phép",
                 f"Hồ sơ lưu trữ số {words}", "Chủ tịch ký tên đóng dấu"]
        for i, line in enumerate(lines):
            draw.text((int(dpi * 0.25), int(dpi * (0.25 + i * 0.45))), line, fill="black",
                      font=font)
    if kind == "skew":
        img = img.rotate(7, expand=False, fillcolor="white", resample=Image.BICUBIC)
    if kind == "blur":
        img = img.filter(ImageFilter.GaussianBlur(4))
    if kind == "grey":
        img = img.convert("L")
    img.info["dpi"] = (dpi, dpi)
    return img


def _save(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    dpi = img.info.get("dpi", (200, 200))
    if fmt == "JPEG":
        img.save(out, format="JPEG", dpi=dpi, quality=90)
    else:
        img.save(out, format=fmt, dpi=dpi)
    return out.getvalue()


def _tiff(images: list[Image.Image]) -> bytes:
    out = io.BytesIO()
    images[0].save(out, format="TIFF", save_all=True, append_images=images[1:],
                   dpi=images[0].info.get("dpi", (200, 200)), compression="tiff_deflate")
    return out.getvalue()


def _pdf(images: list[Image.Image]) -> bytes:
    import img2pdf

    return img2pdf.convert([_save(i, "PNG") for i in images])


@dataclass
class Batch:
    finding_aid: list[Path]
    scans: Path
    dossiers: int
    pages: int
    bad_pages: dict[tuple[str, int, int], str] = field(default_factory=dict)
    words: dict[tuple[str, int], str] = field(default_factory=dict)  # a number on each doc


def make_batch(folder: Path, *, dossiers: int = 3, docs_per_dossier: int = 2,
               pages_per_doc: int = 2, bad: bool = True, zip_scans: bool = True,
               fmt: str = "xlsx", year: int = 1998) -> Batch:
    """Dossiers numbered 01, 02, …; every document's scans in one format (cycling PDF,
    TIFF, PNG pages, JPEG pages); with `bad`, one page of each BAD_KINDS."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    dossier_rows, document_rows = [], []
    batch = Batch([], folder / ("scans.zip" if zip_scans else "scans"), dossiers, 0)
    bad_left = list(BAD_KINDS) if bad else []
    doc_index = 0
    for d in range(1, dossiers + 1):
        label = f"{d:02d}"
        dossier_rows.append([label, f"H49.K1.{d:03d}", f"Hồ sơ lưu trữ số {d} năm {year}",
                             f"01/{year} - 12/{year}", "Vĩnh viễn" if d % 3 == 0 else "20 năm",
                             None, "Số hóa thử nghiệm"])
        for s in range(1, docs_per_dossier + 1):
            doc_index += 1
            kind = bad_left.pop(0) if bad_left and s == docs_per_dossier else None
            type_code = "30" if kind == "map" else "02"
            word = f"{7 + d % 2}{d:03d}{s:02d}"  # a number found on this document only
            batch.words[(label, s)] = word
            images = []
            for p in range(1, pages_per_doc + 1):
                page_kind = kind if (kind and p == pages_per_doc) else None
                images.append(page_image(f"{word} trang {p}",
                                         kind=None if page_kind == "map" else page_kind))
                if page_kind or kind == "map":
                    batch.bad_pages[(label, s, p)] = EXPECTED_CHECK[kind]
            fmt_cycle = doc_index % 4
            base = f"hop-{d:02d}/vb-{s:02d}"
            if fmt_cycle == 0:
                names = [f"{base}.pdf"]
                files[names[0]] = _pdf(images)
            elif fmt_cycle == 1:
                names = [f"{base}.tif"]
                files[names[0]] = _tiff(images)
            elif fmt_cycle == 2:
                names = [f"{base}-{p:02d}.png" for p in range(1, len(images) + 1)]
                for name, img in zip(names, images, strict=True):
                    files[name] = _save(img, "PNG")
            else:
                names = [f"{base}-{p:02d}.jpg" for p in range(1, len(images) + 1)]
                for name, img in zip(names, images, strict=True):
                    files[name] = _save(img.convert("RGB") if img.mode != "L" else img, "JPEG")
            batch.pages += len(images)
            document_rows.append([label, s, type_code, f"{s}/QĐ-UBND", f"15/0{1 + s % 9}/{year}",
                                  "UBND phường An Cựu", f"Quyết định {word} về việc cấp phép",
                                  len(images), "; ".join(names)])
    if zip_scans:
        with zipfile.ZipFile(batch.scans, "w", zipfile.ZIP_STORED) as z:
            for name, data in files.items():
                z.writestr(name, data)
    else:
        for name, data in files.items():
            target = batch.scans / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    if fmt == "xlsx":
        batch.finding_aid = [write_xlsx(folder / "muc-luc.xlsx", dossier_rows, document_rows)]
    else:
        batch.finding_aid = [write_csv(folder / "ho-so.csv", DOSSIER_HEAD, dossier_rows),
                             write_csv(folder / "van-ban.csv", DOCUMENT_HEAD, document_rows)]
    return batch


def write_xlsx(path: Path, dossier_rows: list, document_rows: list, *,
               dossier_head: list[str] | None = None,
               document_head: list[str] | None = None) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = "Mục lục hồ sơ"
    ws.append(["MỤC LỤC HỒ SƠ — Phông UBND phường An Cựu"])  # a title row above the header
    ws.append(dossier_head or DOSSIER_HEAD)
    for row in dossier_rows:
        ws.append(row)
    docs = book.create_sheet("Mục lục văn bản")
    docs.append(document_head or DOCUMENT_HEAD)
    for row in document_rows:
        docs.append(row)
    book.save(path)
    return path


def write_csv(path: Path, head: list[str], rows: list) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(head)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return path
