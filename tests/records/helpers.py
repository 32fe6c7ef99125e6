"""Read generated PDFs and XLSX files back, so tests check their content, not their bytes."""

from __future__ import annotations

import io


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page (pypdfium2: exact on Vietnamese)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def pdf_page_sizes(data: bytes) -> list[tuple[float, float]]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return [tuple(round(x) for x in pdf[i].get_size()) for i in range(len(pdf))]
    finally:
        pdf.close()


def flat(text: str) -> str:
    """Text with line breaks folded to spaces (table cells wrap)."""
    return " ".join(text.split())


def xlsx_rows(data: bytes, sheet: int = 0) -> list[list]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    ws = book.worksheets[sheet]
    return [list(row) for row in ws.iter_rows(values_only=True)]


def xlsx_sheet(data: bytes, sheet: int = 0):  # noqa: ANN201
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(data)).worksheets[sheet]
