"""Shared pieces of the extractors: the result type, text tidying, deadlines."""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass

# Status values of ExtractionResult.status
OK = "ok"
EMPTY = "empty"
FAILED = "failed"
UNSUPPORTED = "unsupported"
OCR_UNAVAILABLE = "ocr_unavailable"

PAGE_BREAK = "\f"  # separates PDF pages in ExtractionResult.text (pdftotext convention)


@dataclass(frozen=True)
class ExtractionResult:
    """What extract_text() found in a file.

    text    NFC-normalised, whitespace tidied (paragraphs separated by a blank line,
            table cells by a tab, PDF/TIFF pages by a form feed on its own line); never None.
    status  "ok" | "empty" | "failed" | "unsupported" | "ocr_unavailable"
    method  "pdf-text" | "pdf-ocr" | "image-ocr" | "docx" | "odt" | "html" | "text" | "none"
    reason  plain-words explanation; always set when status != "ok", and also set on "ok"
            when something is worth knowing (text cut at max_chars, some pages unread...).
    pages   page count for PDFs and images, None otherwise.
    """

    text: str
    status: str
    method: str
    reason: str | None = None
    pages: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK


class ExtractFailure(Exception):
    """Raised inside an extractor to end it with a given status and plain-words reason."""

    def __init__(self, status: str, reason: str, method: str = "none", pages: int | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.method = method
        self.pages = pages


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0


# --- text tidying -----------------------------------------------------------------------

# Characters removed outright: C0/C1 controls except \t \n \f, zero-width characters,
# soft hyphen, BOMs and non-characters.
_DROP = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b\u200c\u200d\u2060\ufeff\ufffe\uffff]")
# Unicode spaces that become a plain space.
_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_LINE_BREAKS = re.compile("\r\n|[\r\v\x85\u2028\u2029]")
_TAB_RUN = re.compile(r" *\t[ \t]*")
_SPACE_RUN = re.compile(r" {2,}")
_BLANK_LINES = re.compile(r"\n{3,}")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def tidy_text(text: str) -> str:
    """NFC-normalise and tidy whitespace, keeping paragraph, cell and page breaks."""
    if not text:
        return ""
    text = text.replace("\x02", "-")  # PDFium marks a line-end hyphen with U+0002
    text = _LINE_BREAKS.sub("\n", text)
    text = _DROP.sub("", text)
    text = _SPACES.sub(" ", text)
    text = nfc(text)
    pages = []
    for page in text.split(PAGE_BREAK):
        lines = []
        for line in page.split("\n"):
            line = _SPACE_RUN.sub(" ", _TAB_RUN.sub("\t", line)).strip(" \t")
            lines.append(line)
        pages.append(_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n"))
    if len(pages) == 1:
        return pages[0]
    # Keep empty pages so that page N is still after the (N-1)th form feed.
    return f"\n{PAGE_BREAK}\n".join(pages).strip("\n")


def truncate(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut text to at most max_chars, at a word boundary when one is near."""
    if max_chars is None or len(text) <= max_chars:
        return text, False
    cut = text[:max_chars]
    space = max(cut.rfind(" ", max_chars - 200), cut.rfind("\n", max_chars - 200))
    if space > 0:
        cut = cut[:space]
    return cut.rstrip(), True


def page_list(numbers: list[int], limit: int = 10) -> str:
    """'3, 5, 7' or '3, 5, 7, ... and 12 more'."""
    shown = ", ".join(str(n) for n in numbers[:limit])
    if len(numbers) > limit:
        shown += f" and {len(numbers) - limit} more"
    return shown
