import unicodedata

from repo_server.extract import detect_media_type, extract_text

from .helpers import AGENCY, SUBJECT, TITLE

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT_TYPE = "application/vnd.oasis.opendocument.text"


def make_docx(path, *, nfd=False):
    import docx

    def t(s):
        return unicodedata.normalize("NFD", s) if nfd else s

    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = t("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    d.sections[0].footer.paragraphs[0].text = t("Trang chân: Văn phòng UBND")
    d.add_heading(t(TITLE), level=1)
    p = d.add_paragraph(t("Về việc "))
    p.add_run(t("phê duyệt kế hoạch")).bold = True
    p.add_run(t(" cải cách hành chính năm 2024"))
    table = d.add_table(rows=2, cols=3)
    for r, row in enumerate(
        [("Số", "Họ và tên", "Chức vụ"), ("1", "Trần Thị Hương", "Phó Chủ tịch")]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = t(value)
    d.add_paragraph(t(AGENCY))
    d.save(str(path))
    return path


def test_docx_paragraphs_tables_headers_footers(tmp_path):
    path = make_docx(tmp_path / "qd.docx")
    assert detect_media_type(path) == DOCX_TYPE
    r = extract_text(path)
    assert (r.status, r.method, r.reason, r.pages) == ("ok", "docx", None, None)
    lines = r.text.split("\n")
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in lines
    assert TITLE in lines and SUBJECT in lines and AGENCY in lines
    assert "Số\tHọ và tên\tChức vụ" in lines
    assert "1\tTrần Thị Hương\tPhó Chủ tịch" in lines
    assert "Trang chân: Văn phòng UBND" in lines
    assert r.text.index(TITLE) < r.text.index("Trần Thị Hương") < r.text.index(AGENCY)


def test_docx_decomposed_text_comes_out_nfc(tmp_path):
    r = extract_text(make_docx(tmp_path / "nfd.docx", nfd=True))
    assert r.status == "ok"
    assert unicodedata.is_normalized("NFC", r.text)
    assert AGENCY in r.text and "Trần Thị Hương" in r.text


def test_docx_without_extension_is_detected(tmp_path):
    path = make_docx(tmp_path / "blob")
    r = extract_text(path, media_type="application/octet-stream")
    assert r.status == "ok" and r.method == "docx"


def test_empty_docx(tmp_path):
    import docx

    path = tmp_path / "trong.docx"
    docx.Document().save(str(path))
    r = extract_text(path)
    assert (r.status, r.method, r.text) == ("empty", "docx", "")


def make_odt(path):
    from odf.opendocument import OpenDocumentText
    from odf.style import Footer, Header, MasterPage, PageLayout
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import H, LineBreak, P, S, Span, Tab

    doc = OpenDocumentText()
    layout = PageLayout(name="pm1")
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="Standard", pagelayoutname=layout)
    header = Header()
    header.addElement(P(text="Độc lập - Tự do - Hạnh phúc"))
    master.addElement(header)
    footer = Footer()
    footer.addElement(P(text="Lưu: VT"))
    master.addElement(footer)
    doc.masterstyles.addElement(master)

    doc.text.addElement(H(outlinelevel=1, text=TITLE))
    p = P(text="Về việc")
    p.addElement(S(c=3))
    p.addElement(Span(text="phê duyệt kế hoạch"))
    p.addText(" cải cách hành chính năm 2024")
    p.addElement(LineBreak())
    p.addText("Số:")
    p.addElement(Tab())
    p.addText("12/QĐ-UBND")
    doc.text.addElement(p)
    table = Table(name="Bang1")
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    for row_values in (("Họ và tên", "Chức vụ"), ("Lê Văn Tám", "Chủ tịch")):
        row = TableRow()
        for value in row_values:
            cell = TableCell()
            cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    doc.text.addElement(table)
    doc.text.addElement(P(text=AGENCY))
    doc.save(str(path))
    return path


def test_odt_headings_paragraphs_tables(tmp_path):
    path = make_odt(tmp_path / "qd.odt")
    assert detect_media_type(path) == ODT_TYPE
    r = extract_text(path)
    assert (r.status, r.method, r.reason) == ("ok", "odt", None)
    assert unicodedata.is_normalized("NFC", r.text)
    lines = r.text.split("\n")
    assert TITLE in lines and AGENCY in lines
    assert SUBJECT in lines  # text:s spaces collapse to one
    assert "Số:\t12/QĐ-UBND" in lines  # line-break and tab kept
    assert "Họ và tên\tChức vụ" in lines and "Lê Văn Tám\tChủ tịch" in lines
    assert "Độc lập - Tự do - Hạnh phúc" in lines and "Lưu: VT" in lines


def test_truncated_docx_and_odt_fail_cleanly(tmp_path):
    for maker, name in ((make_docx, "a.docx"), (make_odt, "a.odt")):
        data = maker(tmp_path / name).read_bytes()
        cut = tmp_path / f"cut-{name}"
        cut.write_bytes(data[: len(data) // 2])
        r = extract_text(cut)
        assert r.status == "failed" and r.text == "", name
        assert "damaged" in r.reason
