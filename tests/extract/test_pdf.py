import threading
import unicodedata

from repo_server.extract import extract_text

from .helpers import AGENCY, PAGE2, SUBJECT, TITLE, make_pdf


def test_two_page_vietnamese_pdf(two_page_pdf):
    r = extract_text(two_page_pdf)
    assert (r.status, r.method, r.pages, r.reason) == ("ok", "pdf-text", 2, None)
    assert unicodedata.is_normalized("NFC", r.text)
    for phrase in (TITLE, SUBJECT, AGENCY, PAGE2):
        assert phrase in r.text
    page1, page2 = r.text.split("\f")
    assert AGENCY in page1 and "Nguyễn Văn Đức" in page2
    assert r.text == f"{TITLE}\n{SUBJECT}\n{AGENCY}\n\f\n{PAGE2}"


def test_pdf_with_decomposed_text_comes_out_nfc(tmp_path, vn_font):
    nfd = unicodedata.normalize("NFD", f"{TITLE} {AGENCY}")
    path = make_pdf(tmp_path / "nfd.pdf", [nfd], vn_font)
    r = extract_text(path)
    assert r.status == "ok"
    assert r.text == f"{TITLE} {AGENCY}"
    assert unicodedata.is_normalized("NFC", r.text)


def test_pdf_with_wrong_extension_is_still_read(two_page_pdf, tmp_path):
    wrong = tmp_path / "upload.docx"
    wrong.write_bytes(two_page_pdf.read_bytes())
    r = extract_text(wrong, media_type="application/vnd.oasis.opendocument.text")
    assert r.status == "ok" and r.method == "pdf-text" and AGENCY in r.text


def test_password_protected_pdf(tmp_path, vn_font):
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    pdf.add_font("vn", "", vn_font)
    pdf.set_font("vn", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, AGENCY)
    pdf.set_encryption(
        owner_password="chu", user_password="mat-khau", encryption_method=EncryptionMethod.RC4
    )
    path = tmp_path / "secret.pdf"
    pdf.output(str(path))
    r = extract_text(path)
    assert r.status == "failed" and r.text == ""
    assert "password" in r.reason


def test_blank_pdf_is_empty(tmp_path, vn_font):
    path = make_pdf(tmp_path / "blank.pdf", [""], vn_font)
    r = extract_text(path)
    assert (r.status, r.text, r.pages) == ("empty", "", 1)
    assert r.reason


def test_max_chars_truncates_and_says_so(two_page_pdf):
    r = extract_text(two_page_pdf, max_chars=30)
    assert r.status == "ok"
    assert len(r.text) <= 30 and r.text.startswith(TITLE)
    assert "cut at 30" in r.reason


def test_concurrent_pdf_extraction_is_safe(two_page_pdf):
    expected = extract_text(two_page_pdf).text
    results = []

    def work():
        for _ in range(5):
            results.append(extract_text(two_page_pdf).text)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 20


def test_pdf_with_only_an_owner_password_is_read(tmp_path, vn_font):
    """Permissions-only protection (no password to open) does not stop reading."""
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    pdf.add_font("vn", "", vn_font)
    pdf.set_font("vn", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, AGENCY)
    pdf.set_encryption(owner_password="chu", encryption_method=EncryptionMethod.RC4)
    path = tmp_path / "restricted.pdf"
    pdf.output(str(path))
    assert extract_text(path).text == AGENCY
