"""Scanned images (PNG, JPEG, TIFF incl. multi-page): OCR with Tesseract."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ._common import FAILED, OCR_UNAVAILABLE, PAGE_BREAK, Deadline, ExtractFailure
from .ocr import OcrError, ocr_problem, run_tesseract


def extract_image(
    path: Path, *, ocr: bool, ocr_lang: str, deadline: Deadline
) -> tuple[str, int | None]:
    problem = "OCR was turned off for this request" if not ocr else ocr_problem(ocr_lang)
    if problem:
        raise ExtractFailure(
            OCR_UNAVAILABLE,
            f"This is a scanned image; reading it needs OCR, but {problem}.",
            method="image-ocr",
        )
    try:
        text = run_tesseract(path, lang=ocr_lang, timeout=deadline.remaining())
    except subprocess.TimeoutExpired as exc:
        raise ExtractFailure(
            FAILED,
            f"OCR of the image did not finish within the time limit ({deadline.seconds:g} s).",
            method="image-ocr",
        ) from exc
    except OcrError as exc:
        raise ExtractFailure(
            FAILED,
            "The image could not be read (damaged file or unusual image format).",
            method="image-ocr",
        ) from exc
    # Tesseract puts a form feed between the pages of a multi-page TIFF
    text = text.rstrip(PAGE_BREAK + "\n")
    return text, text.count(PAGE_BREAK) + 1
