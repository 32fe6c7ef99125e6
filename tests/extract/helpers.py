"""Vietnamese sample text and fixture builders shared by the extraction tests."""

from __future__ import annotations

import glob
import os
import re
import unicodedata
from pathlib import Path

TITLE = "QUYẾT ĐỊNH"
SUBJECT = "Về việc phê duyệt kế hoạch cải cách hành chính năm 2024"
AGENCY = "Ủy ban nhân dân phường An Cựu"
PAGE2 = "Điều 1. Phê duyệt kế hoạch. Nơi nhận: Như Điều 3; Lưu: VT. Nguyễn Văn Đức"

# A longer passage for OCR accuracy (all tones, đ/ơ/ư/ă, upper and lower case)
OCR_TEXT = [
    "ỦY BAN NHÂN DÂN PHƯỜNG AN CỰU",
    "QUYẾT ĐỊNH",
    "Về việc phê duyệt kế hoạch cải cách hành chính năm 2024",
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;",
    "Xét đề nghị của Trưởng phòng Văn hóa và Thông tin,",
    "Điều 1. Phê duyệt kế hoạch kèm theo Quyết định này.",
    "Điều 2. Quyết định có hiệu lực kể từ ngày ký.",
    "Nơi nhận: Như Điều 3; Lưu trữ hồ sơ; Ông Nguyễn Văn Đức.",
    "Chánh Văn phòng, thủ trưởng các đơn vị chịu trách nhiệm thi hành.",
]

_FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
]


def find_vietnamese_font() -> str | None:
    """A TTF font with Vietnamese glyphs, or None."""
    for path in _FONT_CANDIDATES:
        if os.path.isfile(path):
            return path
    for pattern in ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf"):
        hits = glob.glob(f"/usr/share/fonts/**/{pattern}", recursive=True)
        if hits:
            return hits[0]
    return None


def words(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFC", text).lower())


def word_recall(expected: str, found: str) -> float:
    """Share of the expected words found in the output (multiset)."""
    pool: dict[str, int] = {}
    for w in words(found):
        pool[w] = pool.get(w, 0) + 1
    hit = 0
    exp = words(expected)
    for w in exp:
        if pool.get(w, 0) > 0:
            pool[w] -= 1
            hit += 1
    return hit / len(exp) if exp else 1.0


def make_pdf(path: Path, pages: list[str], font: str) -> Path:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("vn", "", font)
    pdf.set_font("vn", size=12)
    for page in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, page)
    pdf.output(str(path))
    return path


def render_page_image(lines: list[str], font: str, dpi: int = 300):
    """A white A4 page (PIL image, greyscale) with the lines in 12 pt type."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = round(8.27 * dpi), round(11.69 * dpi)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    face = ImageFont.truetype(font, round(12 / 72 * dpi))
    y = round(dpi * 0.8)
    for line in lines:
        draw.text((round(dpi * 0.8), y), line, font=face, fill=0)
        y += round(12 / 72 * dpi * 1.8)
    return img
