"""Media type detection: the file's bytes first, then the caller's hint, then the name."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePath

from .text import looks_binary

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
HTML = "text/html"
XHTML = "application/xhtml+xml"
TEXT = "text/plain"
CSV = "text/csv"
MARKDOWN = "text/markdown"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
OCTET = "application/octet-stream"
ZIP = "application/zip"

TEXT_TYPES = frozenset({TEXT, CSV, MARKDOWN})
HTML_TYPES = frozenset({HTML, XHTML})
IMAGE_TYPES = frozenset({PNG, JPEG, TIFF})
SUPPORTED_MEDIA_TYPES: frozenset[str] = frozenset(
    {PDF, DOCX, ODT} | HTML_TYPES | TEXT_TYPES | IMAGE_TYPES
)

_EXTENSIONS = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".odt": ODT,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": XHTML,
    ".txt": TEXT,
    ".text": TEXT,
    ".log": TEXT,
    ".csv": CSV,
    ".md": MARKDOWN,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".jpe": JPEG,
    ".tif": TIFF,
    ".tiff": TIFF,
    # known but not read
    ".doc": "application/msword",
    ".dot": "application/msword",
    ".rtf": "application/rtf",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".zip": ZIP,
    ".rar": "application/vnd.rar",
    ".7z": "application/x-7z-compressed",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".webp": "image/webp",
    ".xml": "application/xml",
    ".json": "application/json",
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
}

# Media types that are aliases of ones we know
_ALIASES = {
    "application/x-pdf": PDF,
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/x-png": PNG,
    "image/tif": TIFF,
    "image/x-tiff": TIFF,
    "application/x-zip-compressed": ZIP,
}

_HTML_START = re.compile(
    rb"^\s*(<!--.*?-->\s*)*(<\?xml[^>]*>\s*)?(<!doctype\s+html|<html|<head|<body|<meta|<title|<p[\s>]|<div|<table)",
    re.I | re.S,
)


def normalise_media_type(media_type: str | None) -> str | None:
    if not media_type:
        return None
    value = media_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(value, value) or None


def by_extension(filename: str | PurePath | None) -> str | None:
    if not filename:
        return None
    return _EXTENSIONS.get(PurePath(str(filename)).suffix.lower())


def _zip_type(path: Path) -> str | None:
    """Look inside a ZIP container; None when it cannot be opened."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                declared = zf.read("mimetype")[:100].decode("ascii", errors="replace").strip()
                if declared.startswith("application/"):
                    return declared
            if "word/document.xml" in names:
                return DOCX
            if "xl/workbook.xml" in names:
                return _EXTENSIONS[".xlsx"]
            if "ppt/presentation.xml" in names:
                return _EXTENSIONS[".pptx"]
            if "content.xml" in names and "META-INF/manifest.xml" in names:
                return ODT  # an ODT written without the (mandatory) mimetype entry
            return ZIP
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, RuntimeError):
        return None


def sniff(path: Path) -> str | None:
    """The media type that the first bytes prove, or None when they prove nothing."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head:
        return None
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_type(path) or _DAMAGED_ZIP
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"BM") and len(head) > 14 and head[6:10] == b"\0\0\0\0":
        return "image/bmp"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _OLE  # .doc/.xls/.ppt: refined by the extension
    if head.startswith(b"{\\rtf"):
        return "application/rtf"
    if head.startswith((b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b")):
        return OCTET
    text_head = head
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if head.startswith(bom):
            text_head = head[len(bom) :]
            if bom != b"\xef\xbb\xbf":
                text_head = text_head.replace(b"\x00", b"")
            break
    if _HTML_START.match(text_head):
        return HTML
    return None


def detect_media_type(path: str | Path, filename: str | None = None) -> str:
    """Media type of a file: magic bytes first (PDF, DOCX/ODT by their inner files,
    PNG/JPEG/TIFF, HTML...), then the extension of `filename` (or of the path), then a
    text check. Returns "application/octet-stream" when nothing fits. Never raises
    for unreadable files (they are octet-stream)."""
    return _detect(Path(path), filename, None)


_ZIP_BASED = frozenset(
    {DOCX, ODT, ZIP} | {_EXTENSIONS[e] for e in (".xlsx", ".pptx", ".ods", ".odp")}
)
_DAMAGED_ZIP = "x-damaged-zip"
_OLE = "application/x-ole-storage"
_OLE_BASED = frozenset(_EXTENSIONS[e] for e in (".doc", ".xls", ".ppt"))


def _detect(path: Path, filename: str | None, hint: str | None) -> str:
    try:
        sniffed = sniff(path)
    except OSError:
        return OCTET
    from_name = by_extension(filename) or by_extension(path.name)
    hint = normalise_media_type(hint)
    if hint == OCTET:
        hint = None
    if sniffed == _DAMAGED_ZIP:
        # keep the claimed type so that its reader reports the damage in plain words
        for claimed in (hint, from_name):
            if claimed in _ZIP_BASED:
                return claimed
        return ZIP
    if sniffed == _OLE:
        for claimed in (hint, from_name):
            if claimed in _OLE_BASED:
                return claimed
        return "application/msword"
    if sniffed:
        return sniffed
    # The bytes prove nothing: trust the caller's hint, then the name, then look for text.
    if hint or from_name:
        return hint or from_name
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError:
        return OCTET
    if head and not looks_binary(head):
        return TEXT
    return OCTET
