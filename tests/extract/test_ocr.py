"""OCR tests. They run when Tesseract and its Vietnamese model are installed; the
'no OCR' paths are tested everywhere by pretending Tesseract is missing."""

import unicodedata

import pytest

from repo_server.extract import extract_text, ocr_available

from .helpers import AGENCY, OCR_TEXT, make_pdf, render_page_image, word_recall

EXPECTED = "\n".join(OCR_TEXT)
MIN_RECALL = 0.9  # Tesseract 'vie' reads about 99 % of words on a clean 300 dpi page


def test_ocr_available_is_bool_and_cached():
    import shutil
    import subprocess

    tesseract = shutil.which("tesseract")
    has_vie = tesseract is not None and "vie" in subprocess.run(
        [tesseract, "--list-langs"], capture_output=True, text=True).stdout.split()
    assert ocr_available("vie") is has_vie
    assert ocr_available("vie") is ocr_available("vie")
    assert ocr_available("xx-no-such-language") is False


def test_png_scan_is_ocred(need_ocr, scan_png):
    r = extract_text(scan_png)
    assert (r.status, r.method, r.pages) == ("ok", "image-ocr", 1)
    assert unicodedata.is_normalized("NFC", r.text)
    recall = word_recall(EXPECTED, r.text)
    print(f"PNG OCR word recall: {recall:.3f}")
    assert recall >= MIN_RECALL, r.text


def test_scanned_pdf_is_ocred(need_ocr, scanned_pdf):
    r = extract_text(scanned_pdf)
    assert (r.status, r.method, r.pages) == ("ok", "pdf-ocr", 1)
    recall = word_recall(EXPECTED, r.text)
    print(f"scanned PDF OCR word recall: {recall:.3f}")
    assert recall >= MIN_RECALL, r.text


def test_multipage_tiff(need_ocr, tmp_path, vn_font):
    pages = [render_page_image(OCR_TEXT[:3], vn_font), render_page_image(OCR_TEXT[3:], vn_font)]
    path = tmp_path / "scan.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:], dpi=(300, 300))
    r = extract_text(path)
    assert (r.status, r.pages) == ("ok", 2)
    first, second = r.text.split("\f")
    assert word_recall("\n".join(OCR_TEXT[:3]), first) >= MIN_RECALL
    assert word_recall("\n".join(OCR_TEXT[3:]), second) >= MIN_RECALL


def test_mixed_pdf_text_page_and_scan_page(need_ocr, tmp_path, vn_font, scan_png):
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("vn", "", vn_font)
    pdf.set_font("vn", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, f"Trang có lớp chữ: {AGENCY}")
    pdf.add_page()
    pdf.image(str(scan_png), x=0, y=0, w=210, h=297)
    path = tmp_path / "mixed.pdf"
    pdf.output(str(path))
    r = extract_text(path)
    assert (r.status, r.method, r.pages) == ("ok", "pdf-ocr", 2)
    page1, page2 = r.text.split("\f")
    assert AGENCY in page1
    assert word_recall(EXPECTED, page2) >= MIN_RECALL


def test_ocr_timeout_keeps_calm(need_ocr, scanned_pdf, scan_png):
    r = extract_text(scanned_pdf, timeout_s=0.05)
    assert r.status == "failed" and "time limit" in r.reason
    r = extract_text(scan_png, timeout_s=0.05)
    assert r.status == "failed" and "time limit" in r.reason


# --- without OCR -----------------------------------------------------------------------


def test_scanned_pdf_without_tesseract(no_ocr, scanned_pdf):
    assert ocr_available() is False
    r = extract_text(scanned_pdf)
    assert (r.status, r.method, r.text, r.pages) == ("ocr_unavailable", "pdf-text", "", 1)
    assert "Tesseract" in r.reason and "not installed" in r.reason


def test_image_without_tesseract(no_ocr, scan_png):
    r = extract_text(scan_png)
    assert (r.status, r.method, r.text) == ("ocr_unavailable", "image-ocr", "")
    assert "not installed" in r.reason


def test_ocr_switched_off(scanned_pdf, scan_png):
    for path in (scanned_pdf, scan_png):
        r = extract_text(path, ocr=False)
        assert r.status == "ocr_unavailable" and "turned off" in r.reason


def test_missing_language_pack_named(need_ocr, scanned_pdf):
    r = extract_text(scanned_pdf, ocr_lang="xx-no-such-language")
    assert r.status == "ocr_unavailable" and "xx-no-such-language" in r.reason


def test_text_pdf_with_a_scanned_page_but_no_tesseract(no_ocr, tmp_path, vn_font, scan_png):
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("vn", "", vn_font)
    pdf.set_font("vn", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, AGENCY)
    pdf.add_page()
    pdf.image(str(scan_png), x=0, y=0, w=210, h=297)
    path = tmp_path / "mixed.pdf"
    pdf.output(str(path))
    r = extract_text(path)
    assert r.status == "ok" and r.text.startswith(AGENCY)
    assert "Page(s) 2" in r.reason


def test_pdf_without_images_is_never_sent_to_ocr(tmp_path, vn_font, monkeypatch):
    import repo_server.extract.pdf as pdf_mod

    def boom(*args, **kwargs):
        raise AssertionError("OCR must not run for a page without images")

    monkeypatch.setattr(pdf_mod, "run_tesseract", boom)
    path = make_pdf(tmp_path / "short.pdf", ["Số 5", ""], vn_font)
    r = extract_text(path)
    assert r.status == "ok" and r.text.startswith("Số 5")


@pytest.mark.parametrize("lang", ["vie", "vie+eng"])
def test_ocr_available_languages(lang):
    assert isinstance(ocr_available(lang), bool)
