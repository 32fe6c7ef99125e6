"""Fixtures for the text-extraction tests. Every test file is generated in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_server.extract import ocr_available

from .helpers import (
    AGENCY,
    OCR_TEXT,
    PAGE2,
    SUBJECT,
    TITLE,
    find_vietnamese_font,
    make_pdf,
    render_page_image,
)


@pytest.fixture(scope="session")
def vn_font() -> str:
    font = find_vietnamese_font()
    if font is None:
        pytest.skip(
            "no TTF font with Vietnamese glyphs found (install fonts-dejavu-core) - "
            "cannot generate PDF/image fixtures"
        )
    return font


@pytest.fixture
def two_page_pdf(tmp_path, vn_font) -> Path:
    return make_pdf(tmp_path / "quyet-dinh.pdf", [f"{TITLE}\n{SUBJECT}\n{AGENCY}", PAGE2], vn_font)


@pytest.fixture
def scan_png(tmp_path, vn_font) -> Path:
    path = tmp_path / "scan.png"
    render_page_image(OCR_TEXT, vn_font).save(path, dpi=(300, 300))
    return path


@pytest.fixture
def scanned_pdf(tmp_path, scan_png) -> Path:
    """A PDF whose only page is the scan image: no text layer at all."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.image(str(scan_png), x=0, y=0, w=210, h=297)
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    return path


@pytest.fixture
def need_ocr():
    if not ocr_available("vie"):
        pytest.skip(
            "Tesseract with the Vietnamese model is not installed "
            "(apt-get install tesseract-ocr tesseract-ocr-vie)"
        )


@pytest.fixture
def no_ocr(monkeypatch):
    """Pretend Tesseract is not installed."""
    monkeypatch.setenv("REPO_TESSERACT_CMD", "/nonexistent/tesseract")
    ocr_available.cache_clear()
    yield
    ocr_available.cache_clear()  # the environment is restored by monkeypatch afterwards
