"""Text extraction: PDF, DOCX, ODT, HTML, plain text; OCR (Tesseract) for scans and images.

    from repo_server.extract import extract_text
    result = extract_text(path, filename="Quyết định 12.pdf")
    if result.status == "ok": index(result.text)

extract_text() never raises for a bad file: damaged, empty, mislabelled, password-protected
or unknown files come back with status "failed" or "unsupported" and a reason in plain
words. Output text is always NFC. PDF and TIFF pages are separated by a form feed ("\\f")
on its own line. PDFium calls are serialised by a lock (PDFium is not thread-safe);
OCR runs as a `tesseract` child process with a timeout.
"""

from __future__ import annotations

import logging
from pathlib import Path

from . import detect as _detect
from ._common import (
    EMPTY,
    FAILED,
    OK,
    PAGE_BREAK,
    UNSUPPORTED,
    Deadline,
    ExtractFailure,
    ExtractionResult,
    tidy_text,
    truncate,
)
from .detect import SUPPORTED_MEDIA_TYPES, detect_media_type
from .ocr import ocr_available

__all__ = [
    "SUPPORTED_MEDIA_TYPES",
    "ExtractionResult",
    "detect_media_type",
    "extract_text",
    "ocr_available",
]

log = logging.getLogger(__name__)

_UNSUPPORTED_REASONS = {
    "application/msword": "This is an old Word file (.doc), which is not read. "
    "Save it as .docx or PDF and upload it again.",
    "application/rtf": "RTF files are not read. Save the document as .docx or PDF.",
    "application/vnd.ms-excel": "Spreadsheets (.xls) are not read for text.",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Spreadsheets (.xlsx) "
    "are not read for text.",
    "application/vnd.oasis.opendocument.spreadsheet": "Spreadsheets (.ods) are not read for text.",
    "application/vnd.ms-powerpoint": "Presentations (.ppt) are not read for text.",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "Presentations "
    "(.pptx) are not read for text.",
    "application/vnd.oasis.opendocument.presentation": "Presentations (.odp) are not read "
    "for text.",
    _detect.ZIP: "This is a ZIP archive (or a ZIP that only claims to be a document); "
    "archives are not opened. Upload the documents inside it one by one.",
    "image/gif": "GIF images are not read. Save the scan as PNG, JPEG, TIFF or PDF.",
    "image/bmp": "BMP images are not read. Save the scan as PNG, JPEG, TIFF or PDF.",
    "image/webp": "WebP images are not read. Save the scan as PNG, JPEG, TIFF or PDF.",
}


def extract_text(
    path: str | Path,
    *,
    media_type: str | None = None,
    filename: str | None = None,
    ocr: bool = True,
    ocr_lang: str = "vie",
    max_chars: int = 2_000_000,
    timeout_s: float = 120,
) -> ExtractionResult:
    """Extract the text of the file at `path`.

    media_type  the type the uploader claimed; used only when the bytes prove nothing
    filename    the original name (the stored path may have none); used for its extension
    ocr         False: never run OCR (scans come back as "ocr_unavailable")
    ocr_lang    Tesseract languages, e.g. "vie" or "vie+eng"
    max_chars   longer text is cut (status stays "ok", reason says so)
    timeout_s   overall limit; OCR is stopped when it is reached (text so far is kept)
    """
    try:
        return _extract(
            Path(path),
            media_type=media_type,
            filename=filename,
            ocr=ocr,
            ocr_lang=ocr_lang,
            max_chars=max_chars,
            timeout_s=timeout_s,
        )
    except Exception as exc:  # last line of defence: a bad file must never crash a caller
        log.exception("text extraction failed for %s", path)
        return ExtractionResult(
            "", FAILED, "none", f"The file could not be read ({type(exc).__name__}).", None
        )


def _extract(
    path: Path,
    *,
    media_type: str | None,
    filename: str | None,
    ocr: bool,
    ocr_lang: str,
    max_chars: int,
    timeout_s: float,
) -> ExtractionResult:
    deadline = Deadline(timeout_s)
    try:
        size = path.stat().st_size
    except OSError:
        return ExtractionResult("", FAILED, "none", "The file was not found on the server.")
    if not path.is_file():
        return ExtractionResult("", FAILED, "none", "The path is not a file.")
    if size == 0:
        return ExtractionResult(
            "", FAILED, "none", "The file is empty (0 bytes); the upload may have failed."
        )
    mt = _detect._detect(path, filename, media_type)

    method = "none"
    pages = None
    notes: list[str] = []
    status = OK
    try:
        if mt == _detect.PDF:
            from .pdf import extract_pdf

            method = "pdf-text"
            res = extract_pdf(
                path, ocr=ocr, ocr_lang=ocr_lang, max_chars=max_chars, deadline=deadline
            )
            raw, status, method, pages = res.text, res.status, res.method, res.pages
            if res.reason:
                notes.append(res.reason)
        elif mt == _detect.DOCX:
            from .office import extract_docx

            method = "docx"
            raw = extract_docx(path)
        elif mt == _detect.ODT:
            from .office import extract_odt

            method = "odt"
            raw = extract_odt(path)
        elif mt in _detect.HTML_TYPES:
            from .html import extract_html

            method = "html"
            raw = extract_html(path)
        elif mt in _detect.TEXT_TYPES:
            from .text import extract_plain

            method = "text"
            raw = extract_plain(path)
        elif mt in _detect.IMAGE_TYPES:
            from .image import extract_image

            method = "image-ocr"
            raw, pages = extract_image(path, ocr=ocr, ocr_lang=ocr_lang, deadline=deadline)
        else:
            reason = _UNSUPPORTED_REASONS.get(mt, f"This kind of file ({mt}) is not read for text.")
            return ExtractionResult("", UNSUPPORTED, "none", reason)
    except ExtractFailure as failure:
        return ExtractionResult(
            "",
            failure.status,
            failure.method if failure.method != "none" else method,
            failure.reason,
            failure.pages if failure.pages is not None else pages,
        )

    text = tidy_text(raw)
    if not text.replace(PAGE_BREAK, "").strip():
        if status == OK:
            status = EMPTY
            notes.insert(0, "The file can be read but contains no text.")
        return ExtractionResult("", status, method, " ".join(notes) or None, pages)
    text, cut = truncate(text, max_chars)
    if cut:
        notes.append(f"The text was cut at {max_chars:,} characters; the rest was not indexed.")
    return ExtractionResult(text, status, method, " ".join(notes) or None, pages)
