"""Printable outputs of the records office: registers, file plans, hand-over inventories and
records, as PDF (fpdf2, the Vietnamese font embedded) and XLSX (openpyxl), on A4 landscape.

A `Sheet` is what every output has: a title, lines above the table, the columns, the rows,
lines and signature blocks below. Rendering knows nothing of the domain.
"""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from .errors import ServiceError

_FONT_NAMES = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf",
               "FreeSans.ttf")


@lru_cache(maxsize=4)
def find_font(configured: str = "") -> str | None:
    """A TTF font with Vietnamese letters: the configured one, or a common system font."""
    if configured:
        return configured if os.path.isfile(configured) else None
    for name in _FONT_NAMES:
        hits = glob.glob(f"/usr/share/fonts/**/{name}", recursive=True)
        if hits:
            return sorted(hits)[0]
    return None


class OutputUnavailable(ServiceError):
    """A PDF cannot be made on this server (no font with Vietnamese letters)."""

    status = 503


@dataclass
class Column:
    key: str
    title: str
    width: float = 20


@dataclass
class Sheet:
    title: str
    columns: list[Column] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    above: list[str] = field(default_factory=list)  # lines between the title and the table
    below: list[str] = field(default_factory=list)  # lines after the table
    signatures: list[tuple[str, str]] = field(default_factory=list)  # (role, name) side by side
    heading: list[str] = field(default_factory=list)  # top left (organ) lines
    name: str = "Sheet"  # XLSX sheet name
    portrait: bool = False
    bold_rows: set[int] = field(default_factory=set)  # row indexes printed bold (headings)


def cell_text(value: Any) -> str:
    """One value as printed: dates as dd/mm/yyyy, lists joined, None as empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return "; ".join(cell_text(v) for v in value if v not in (None, ""))
    return str(value)


# ------------------------------------------------------------------------------------- XLSX

_SHEET_NAME_BAD = set("[]:*?/\\")


def to_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """One worksheet per sheet, set up to print on A4 landscape with the header repeated."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    for sheet in sheets:
        name = "".join(c for c in sheet.name if c not in _SHEET_NAME_BAD)[:31] or "Sheet"
        ws = book.create_sheet(name)
        width = max(len(sheet.columns), 1)
        row = 1
        for line in sheet.heading:
            ws.cell(row=row, column=1, value=line)
            row += 1
        ws.cell(row=row, column=1, value=sheet.title).font = Font(bold=True, size=13)
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        ws.cell(row=row, column=1).alignment = Alignment(horizontal="center")
        row += 1
        for line in sheet.above:
            ws.cell(row=row, column=1, value=line).alignment = Alignment(wrap_text=False)
            row += 1
        if sheet.columns:
            header_row = row
            for i, col in enumerate(sheet.columns, 1):
                c = ws.cell(row=row, column=i, value=col.title)
                c.font, c.alignment, c.border = Font(bold=True), Alignment(
                    wrap_text=True, horizontal="center", vertical="center"), border
                ws.column_dimensions[get_column_letter(i)].width = max(6, col.width * 0.9)
            row += 1
            for n, values in enumerate(sheet.rows):
                for i, value in enumerate(values, 1):
                    c = ws.cell(row=row, column=i, value=value)
                    c.alignment, c.border = wrap, border
                    if n in sheet.bold_rows:
                        c.font = Font(bold=True)
                row += 1
            ws.print_title_rows = f"{header_row}:{header_row}"
            ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        for line in sheet.below:
            ws.cell(row=row, column=1, value=line)
            row += 1
        if sheet.signatures:
            row += 1
            for i, (role, who) in enumerate(sheet.signatures):
                column = 1 + i * max(1, width // max(len(sheet.signatures), 1))
                ws.cell(row=row, column=column, value=role).font = Font(bold=True)
                ws.cell(row=row + 4, column=column, value=who)
        ws.page_setup.orientation = "portrait" if sheet.portrait else "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -------------------------------------------------------------------------------------- PDF

_LINE = {"new_x": "LMARGIN", "new_y": "NEXT"}


def _fonts(configured: str) -> tuple[str, str | None]:
    regular = find_font(configured or "")
    if not regular:
        raise OutputUnavailable("No font with Vietnamese letters was found on the server, so "
                                "no PDF can be made; install fonts-dejavu-core or set PDF_FONT. "
                                "The XLSX and JSON forms work meanwhile.")
    folder, name = os.path.split(regular)
    stem, ext = os.path.splitext(name)
    for candidate in (f"{stem.replace('-Regular', '')}-Bold{ext}", f"{stem}-Bold{ext}",
                      f"{stem}bd{ext}"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return regular, path
    return regular, None


def new_pdf(configured_font: str, *, portrait: bool = False,
            page_numbers: bool = True):  # noqa: ANN201
    """An fpdf2 document with the Vietnamese font as `vn` (and `vn` bold when available) and
    page numbers in the footer (not for parts merged into a larger PDF)."""
    from fpdf import FPDF

    regular, bold = _fonts(configured_font)

    class _Pdf(FPDF):
        def footer(self) -> None:
            if not page_numbers:
                return
            self.set_y(-10)
            self.set_font("vn", size=8)
            self.cell(0, 5, f"Trang {self.page_no()}/{{nb}}", align="C")

    pdf = _Pdf(orientation="P" if portrait else "L", format="A4")
    pdf.add_font("vn", "", regular)
    pdf.add_font("vn", "B", bold or regular)
    pdf.set_auto_page_break(True, margin=15)
    pdf.alias_nb_pages()
    return pdf


def render_sheet(pdf, sheet: Sheet) -> None:  # noqa: ANN001
    """Draw one sheet on new pages of `pdf`."""
    from fpdf.fonts import FontFace

    pdf.add_page(orientation="P" if sheet.portrait else "L")
    pdf.set_font("vn", size=10)
    for line in sheet.heading:
        pdf.multi_cell(0, 5, line, **_LINE)
    pdf.set_font("vn", "B", size=14)
    pdf.multi_cell(0, 8, sheet.title, align="C", **_LINE)
    pdf.set_font("vn", size=10)
    for line in sheet.above:
        pdf.multi_cell(0, 5.5, line, **_LINE)
    if sheet.columns:
        pdf.ln(2)
        pdf.set_font("vn", size=8.5)
        with pdf.table(col_widths=tuple(c.width for c in sheet.columns), line_height=4.5,
                       text_align="LEFT", repeat_headings=1,
                       headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
                       ) as table:
            head = table.row()
            for col in sheet.columns:
                head.cell(col.title, align="CENTER")
            for n, values in enumerate(sheet.rows):
                row = table.row(style=FontFace(emphasis="BOLD") if n in sheet.bold_rows
                                else None)
                for value in values:
                    row.cell(value)
        pdf.set_font("vn", size=10)
    if sheet.below:
        pdf.ln(2)
        for line in sheet.below:
            pdf.multi_cell(0, 5.5, line, **_LINE)
    if sheet.signatures:
        pdf.ln(6)
        width = pdf.epw / len(sheet.signatures)
        y = pdf.get_y()
        for i, (role, who) in enumerate(sheet.signatures):
            pdf.set_xy(pdf.l_margin + i * width, y)
            pdf.set_font("vn", "B", size=10)
            pdf.multi_cell(width, 5.5, role, align="C")
            pdf.set_xy(pdf.l_margin + i * width, y + 25)
            pdf.set_font("vn", size=10)
            pdf.multi_cell(width, 5.5, who, align="C")


def to_pdf(sheets: Sequence[Sheet], configured_font: str) -> bytes:
    pdf = new_pdf(configured_font, portrait=bool(sheets) and sheets[0].portrait)
    for sheet in sheets:
        render_sheet(pdf, sheet)
    return bytes(pdf.output())


def to_csv(sheet: Sheet) -> bytes:
    """The table of a sheet as CSV (UTF-8 with a byte-order mark, so spreadsheets read the
    Vietnamese letters right)."""
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.title for c in sheet.columns])
    writer.writerows(sheet.rows)
    return ("\ufeff" + out.getvalue()).encode()
