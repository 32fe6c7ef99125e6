"""PDF text with pypdfium2, page by page; pages without a text layer go to OCR."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ._common import (
    FAILED,
    OCR_UNAVAILABLE,
    OK,
    PAGE_BREAK,
    Deadline,
    ExtractFailure,
    page_list,
)
from .ocr import OcrError, ocr_problem, run_tesseract

# PDFium is not thread-safe: every call into it is made under this lock (OCR runs outside).
PDFIUM_LOCK = threading.RLock()

MIN_PAGE_CHARS = 20  # a page with fewer non-space characters has "no text layer"
MIN_OUTLINE_PATHS = 50  # this many vector paths on a text-less page: text drawn as curves
OCR_DPI = 300
MAX_OCR_PIXELS = 60_000_000  # A4 at 300 dpi is 8.7 Mpx; bigger pages are rendered at lower dpi


@dataclass
class PdfText:
    text: str
    status: str
    method: str
    reason: str | None
    pages: int


def _open(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            reason = (
                "The PDF is protected by a password, so its text cannot be read. "
                "Ask the sender for a copy without a password."
            )
        elif code == pdfium_c.FPDF_ERR_SECURITY:
            reason = "The PDF uses a kind of protection (encryption) that cannot be opened."
        else:
            reason = "The PDF file is damaged or is not really a PDF, so it cannot be read."
        raise ExtractFailure(FAILED, reason) from exc


def _sparse(text: str) -> bool:
    """Fewer than MIN_PAGE_CHARS characters other than white space (split runs in C)."""
    return sum(map(len, text.split())) < MIN_PAGE_CHARS


def _looks_scanned(page: pdfium.PdfPage) -> bool:
    """A text-less page worth OCR: it shows an image, or many paths (text as curves)."""
    paths = 0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH]):
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            return True
        paths += 1
        if paths >= MIN_OUTLINE_PATHS:
            return True
    return False


def _render_pgm(page: pdfium.PdfPage) -> bytes:
    """Render a page in grey at 300 dpi (less for huge pages) as a binary PGM image."""
    scale = OCR_DPI / 72
    width, height = page.get_size()
    pixels = width * height * scale * scale
    if pixels > MAX_OCR_PIXELS:
        scale *= (MAX_OCR_PIXELS / pixels) ** 0.5
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        w, h, stride = bitmap.width, bitmap.height, bitmap.stride
        buf = memoryview(bitmap.buffer).cast("B")
        if stride == w:
            body = bytes(buf)
        else:
            body = b"".join(buf[row * stride : row * stride + w] for row in range(h))
        return b"P5\n%d %d\n255\n" % (w, h) + body
    finally:
        bitmap.close()


def _page_text(page: pdfium.PdfPage) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_range()
    finally:
        textpage.close()


def extract_pdf(
    path: Path, *, ocr: bool, ocr_lang: str, max_chars: int, deadline: Deadline
) -> PdfText:
    why_no_ocr = "OCR was turned off for this request" if not ocr else ocr_problem(ocr_lang)
    with PDFIUM_LOCK:
        doc = _open(path)
    texts: list[str] = []
    ocr_pages: list[int] = []
    unread_scans: list[int] = []
    bad_pages: list[int] = []
    notes: list[str] = []
    timed_out = False
    total = 0
    try:
        with PDFIUM_LOCK:
            n_pages = len(doc)
        for index in range(n_pages):
            number = index + 1
            if total > max_chars:
                break  # the caller truncates and says so
            if deadline.expired():
                timed_out = True
                notes.append(
                    f"Reading stopped after {index} of {n_pages} pages: the time limit "
                    f"({deadline.seconds:g} s) was reached."
                )
                break
            image = None
            try:
                with PDFIUM_LOCK:
                    page = doc[index]
                    try:
                        text = _page_text(page)
                        scanned = _sparse(text) and _looks_scanned(page)
                        if scanned and why_no_ocr is None:
                            image = _render_pgm(page)
                    finally:
                        page.close()
            except (pdfium.PdfiumError, ValueError, OSError, MemoryError):
                bad_pages.append(number)
                texts.append("")
                continue
            if scanned and image is None:
                unread_scans.append(number)
            elif scanned:
                try:
                    ocr_text = run_tesseract(
                        image, lang=ocr_lang, timeout=deadline.remaining(), dpi=OCR_DPI
                    )
                except subprocess.TimeoutExpired:
                    timed_out = True
                    texts.append(text)
                    notes.append(
                        f"Reading stopped at page {number} of {n_pages}: OCR did not finish "
                        f"within the time limit ({deadline.seconds:g} s)."
                    )
                    break
                except OcrError:
                    bad_pages.append(number)
                    ocr_text = ""
                if len(ocr_text.strip()) > len(text.strip()):
                    text = ocr_text
                    ocr_pages.append(number)
            texts.append(text)
            total += len(text)
    finally:
        with PDFIUM_LOCK:
            doc.close()

    text = f"\n{PAGE_BREAK}\n".join(texts)
    has_text = bool(text.strip())
    method = "pdf-ocr" if ocr_pages else "pdf-text"
    status = OK
    if unread_scans:
        if not has_text:
            status = OCR_UNAVAILABLE
            notes.insert(
                0, f"This PDF is a scan with no text layer; it needs OCR, but {why_no_ocr}."
            )
        else:
            notes.append(
                f"Page(s) {page_list(unread_scans)} are scans and were not read: {why_no_ocr}."
            )
    if bad_pages:
        notes.append(f"Page(s) {page_list(bad_pages)} could not be read (damaged).")
    if not has_text and status == OK and (bad_pages or timed_out):
        status = FAILED
    return PdfText(text, status, method, " ".join(notes) or None, n_pages)
