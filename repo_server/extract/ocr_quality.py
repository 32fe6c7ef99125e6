"""An OCRmyPDF plugin: Tesseract as usual, plus what the hOCR says about each page.

OCRmyPDF hands every page image to the OCR engine and gets hOCR back; this engine keeps
the built-in Tesseract engine and, after each page, writes a small JSON next to nothing but
the folder named by REPO_SCAN_QUALITY_DIR: the words' mean confidence, the tilt of the text
lines (from their baselines) and the share of dark pixels (a blank page has almost none).
The measures cost no second OCR pass. Loaded with `plugins=["repo_server.extract.ocr_quality"]`.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from pathlib import Path

from ocrmypdf import hookimpl
from ocrmypdf.builtin_plugins.tesseract_ocr import TesseractOcrEngine

QUALITY_DIR_ENV = "REPO_SCAN_QUALITY_DIR"
DARK_LEVEL = 128  # grey level (0-255) below which a pixel counts as ink

_WORD = re.compile(r"<span class=['\"]ocrx_word['\"][^>]*title=['\"][^'\"]*x_wconf (\d+)"
                   r"[^>]*>(.*?)</span>", re.S)
_LINE_BASELINE = re.compile(r"class=['\"]ocr_(?:line|textfloat|header|caption)['\"][^>]*"
                            r"title=['\"][^'\"]*baseline (-?[\d.]+) (-?[\d.]+)")
_TAG = re.compile(r"<[^>]+>")


def ink_ratio(image_path: Path) -> float:
    """Share of dark pixels in the page image (0.0 for an empty white page)."""
    from PIL import Image

    with Image.open(image_path) as img:
        hist = img.convert("L").histogram()
    total = sum(hist) or 1
    return sum(hist[:DARK_LEVEL]) / total


def measure_hocr(hocr: str) -> dict[str, float | int | None]:
    """Words, their mean confidence (0-100) and the median tilt of the text lines in degrees."""
    confidences = [int(conf) for conf, text in _WORD.findall(hocr)
                   if _TAG.sub("", text).strip()]
    slopes = [float(slope) for slope, _ in _LINE_BASELINE.findall(hocr)]
    skew = math.degrees(math.atan(abs(statistics.median(slopes)))) if slopes else None
    return {"words": len(confidences),
            "ocr_confidence": round(statistics.fmean(confidences), 1) if confidences else None,
            "skew_degrees": round(skew, 2) if skew is not None else None}


def _page_number(input_file: Path) -> int | None:
    match = re.match(r"(\d+)", Path(input_file).name)
    return int(match.group(1)) if match else None


class MeasuringTesseract(TesseractOcrEngine):
    """The built-in Tesseract engine, which also records each page's measures."""

    @staticmethod
    def generate_hocr(input_file, output_hocr, output_text, options):  # noqa: ANN001, ANN205
        TesseractOcrEngine.generate_hocr(input_file, output_hocr, output_text, options)
        folder = os.environ.get(QUALITY_DIR_ENV)
        page = _page_number(input_file)
        if not folder or page is None:
            return
        measures = measure_hocr(Path(output_hocr).read_text(encoding="utf-8", errors="replace"))
        measures["ink_ratio"] = round(ink_ratio(Path(input_file)), 5)
        target = Path(folder) / f"page-{page:06d}.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(measures), encoding="utf-8")
        os.replace(tmp, target)


@hookimpl
def get_ocr_engine(options):  # noqa: ANN001, ANN201
    return MeasuringTesseract()
