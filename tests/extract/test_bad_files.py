import io
import random
import zipfile

import pytest

from repo_server.extract import SUPPORTED_MEDIA_TYPES, detect_media_type, extract_text

from .helpers import make_pdf


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


RANDOM = random.Random(1258).randbytes(20_000)


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    "name, data, status",
    [
        ("corrupt.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n%%EOF garbage", "failed"),
        ("header-only.pdf", b"%PDF-1.4\n", "failed"),
        ("not-a-pdf.pdf", b"Hello, this is not a PDF at all\n" * 5, "failed"),
        ("empty.pdf", b"", "failed"),
        ("empty.txt", b"", "failed"),
        ("empty.docx", b"", "failed"),
        ("random.bin", RANDOM, "unsupported"),
        ("random.pdf", RANDOM, "failed"),
        ("random.docx", RANDOM, "failed"),
        ("random.png", RANDOM, None),  # failed with OCR, ocr_unavailable without
        ("random", RANDOM, "unsupported"),
        ("archive.docx", _zip({"a.txt": b"hello", "b/c.xml": b"<x/>"}), "unsupported"),
        ("archive.zip", _zip({"a.txt": b"hello"}), "unsupported"),
        ("fake.odt", _zip({"mimetype": b"application/vnd.oasis.opendocument.text"}), "failed"),
        ("truncated.docx", _zip({"word/document.xml": b"<w/>" * 1000})[:300], "failed"),
        (
            "half.docx",
            _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<"}),
            "failed",
        ),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + RANDOM[:600], "unsupported"),
        ("letter.rtf", b"{\\rtf1\\ansi Hello}", "unsupported"),
        ("image.gif", b"GIF89a" + RANDOM[:100], "unsupported"),
        ("sheet.xlsx", _zip({"xl/workbook.xml": b"<workbook/>"}), "unsupported"),
    ],
)
def test_bad_files_never_raise(tmp_path, name, data, status):
    r = extract_text(write(tmp_path, name, data))
    expected = {status} if status else {"failed", "ocr_unavailable"}
    assert r.status in expected, (name, r)
    assert r.text == ""
    assert r.reason and len(r.reason) > 20  # a sentence, not an exception name


def test_truncated_real_pdf(tmp_path, vn_font):
    data = make_pdf(tmp_path / "ok.pdf", ["Nội dung trang một"] * 3, vn_font).read_bytes()
    r = extract_text(write(tmp_path, "cut.pdf", data[: len(data) // 3]))
    assert r.status == "failed", r  # the first third of a PDF: no page tree to recover
    assert r.text == "" and r.reason and len(r.reason) > 20


def test_missing_file_and_directory(tmp_path):
    assert extract_text(tmp_path / "nope.pdf").status == "failed"
    assert extract_text(tmp_path).status == "failed"


@pytest.mark.parametrize(
    "name, data, filename, expected",
    [
        ("a.bin", b"%PDF-1.5\n...", None, "application/pdf"),
        ("a.txt", b"\x89PNG\r\n\x1a\n" + RANDOM[:50], None, "image/png"),
        ("a", b"\xff\xd8\xff\xe0" + RANDOM[:50], None, "image/jpeg"),
        ("a", b"II*\x00" + RANDOM[:50], None, "image/tiff"),
        ("a", b"MM\x00*" + RANDOM[:50], None, "image/tiff"),
        ("a", b"<!doctype html><p>x", None, "text/html"),
        ("a", "\ufeff<html><body>x".encode(), None, "text/html"),
        ("a", "Văn bản thường".encode(), None, "text/plain"),
        ("a", "Văn bản".encode("utf-16"), None, "text/plain"),
        ("a", RANDOM, None, "application/octet-stream"),
        ("upload.tmp", b"plain words", "Bao cao.CSV", "text/csv"),
        ("a.docx", _zip({"a.txt": b"x"}), None, "application/zip"),
        ("x.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + RANDOM[:100], None, "application/msword"),
        (
            "x.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + RANDOM[:100],
            None,
            "application/vnd.ms-excel",
        ),
    ],
)
def test_detect_media_type(tmp_path, name, data, filename, expected):
    assert detect_media_type(write(tmp_path, name, data), filename) == expected


def test_supported_media_types():
    assert isinstance(SUPPORTED_MEDIA_TYPES, frozenset)
    for mt in (
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "text/html",
        "text/plain",
        "image/png",
        "image/jpeg",
        "image/tiff",
    ):
        assert mt in SUPPORTED_MEDIA_TYPES
    assert "application/msword" not in SUPPORTED_MEDIA_TYPES
