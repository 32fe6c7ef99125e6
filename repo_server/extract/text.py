"""Plain text files and byte decoding.

Decoding order (deterministic, no statistics needed for the encodings agencies use):
BOM (UTF-8, UTF-16 LE/BE, UTF-32) -> strict UTF-8 -> UTF-16 without BOM (NUL-byte
pattern) -> UTF-8 with a few damaged bytes -> cp1258 (Vietnamese Windows code page, uses
combining tone marks, hence the NFC step) -> latin-1, which never fails.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from ._common import UNSUPPORTED, ExtractFailure

MAX_TEXT_BYTES = 64 * 1024 * 1024  # plain text larger than this is refused (not a record)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _bom(data: bytes) -> tuple[str, int] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when the NUL bytes fall on one side, as in mostly-Latin text."""
    sample = data[:8192]
    if len(sample) < 4:
        return None
    sample = sample[: len(sample) // 2 * 2]
    even_nul = sample[0::2].count(0)
    odd_nul = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_nul > 0.3 * half and even_nul < 0.05 * half:
        return "utf-16-le"
    if even_nul > 0.3 * half and odd_nul < 0.05 * half:
        return "utf-16-be"
    return None


def looks_binary(data: bytes) -> bool:
    """True when a sample of bytes is unlikely to be text in any encoding we read."""
    sample = data[:8192]
    if not sample or _bom(sample) or _utf16_without_bom(sample):
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > len(sample) * 0.05


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode bytes to str; returns (text, encoding used). Never raises."""
    found = _bom(data)
    if found:
        encoding, skip = found
        return data[skip:].decode(encoding, errors="replace"), encoding + " (BOM)"
    try:  # valid UTF-8 is almost never anything else, whatever a page declares
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if declared and not declared.lower().replace("_", "-").startswith(("utf-16", "utf-32")):
        try:
            return data.decode(declared), declared
        except (LookupError, UnicodeDecodeError):
            pass
    utf16 = _utf16_without_bom(data)
    if utf16:
        return data.decode(utf16, errors="replace"), utf16
    # Mostly valid UTF-8 with a few damaged bytes (a cut-off download, a bad copy)
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    non_ascii = sum(1 for ch in lenient if ord(ch) > 127)
    if non_ascii and bad * 20 < non_ascii:
        return lenient, "utf-8 (with damaged bytes)"
    try:
        return data.decode("cp1258"), "cp1258"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def extract_plain(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise ExtractFailure(
            UNSUPPORTED,
            f"The text file is too large to index ({size // (1024 * 1024)} MB; "
            f"the limit is {MAX_TEXT_BYTES // (1024 * 1024)} MB).",
        )
    data = path.read_bytes()
    text, _encoding = decode_bytes(data)
    return text
