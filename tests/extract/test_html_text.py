import codecs
import unicodedata

import pytest

from repo_server.extract import detect_media_type, extract_text

from .helpers import AGENCY, SUBJECT, TITLE

SAMPLE = f"{TITLE}\n{SUBJECT}\n\n{AGENCY}"


def encode_cp1258(text: str) -> bytes:
    """Encode like Vietnamese Windows does: precomposed letters where cp1258 has them
    (â ê ô ă ơ ư đ), tone marks as separate combining characters."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        rest = ""
        for mark in marks:
            composed = unicodedata.normalize("NFC", base + mark)
            try:
                if len(composed) != 1:
                    raise UnicodeEncodeError("cp1258", composed, 0, 1, "not one char")
                composed.encode("cp1258")
                base = composed
            except UnicodeEncodeError:
                rest += mark
        out += (base + rest).encode("cp1258")
    return bytes(out)


def test_cp1258_helper_uses_combining_tones():
    data = encode_cp1258("Cựu")
    assert data.decode("cp1258") != "Cựu"  # decomposed...
    assert unicodedata.normalize("NFC", data.decode("cp1258")) == "Cựu"  # ...until NFC


@pytest.mark.parametrize(
    "label, data",
    [
        ("utf-8", SAMPLE.encode("utf-8")),
        ("utf-8-sig", SAMPLE.encode("utf-8-sig")),
        ("utf-16", SAMPLE.encode("utf-16")),
        ("utf-16-be-bom", codecs.BOM_UTF16_BE + SAMPLE.encode("utf-16-be")),
        ("utf-16-le-no-bom", SAMPLE.encode("utf-16-le")),
        ("cp1258", encode_cp1258(SAMPLE)),
        ("nfd-utf-8", unicodedata.normalize("NFD", SAMPLE).encode("utf-8")),
        ("windows-newlines", SAMPLE.replace("\n", "\r\n").encode("utf-8")),
    ],
)
def test_text_encodings(tmp_path, label, data):
    path = tmp_path / f"{label}.txt"
    path.write_bytes(data)
    r = extract_text(path)
    assert (r.status, r.method, r.reason) == ("ok", "text", None), label
    assert r.text == SAMPLE, label


def test_latin1_fallback_and_damaged_utf8(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"Caf\xe9 \x81 na\xefve")  # 0x81 is undefined in cp1258
    assert extract_text(latin).text == "Café \x81 naïve".replace("\x81", "").replace("  ", " ")
    damaged = tmp_path / "damaged.txt"
    damaged.write_bytes((AGENCY + " ").encode() * 10 + b"\xff\xfe\xfd" + AGENCY.encode())
    r = extract_text(damaged)
    assert r.status == "ok" and r.text.endswith(AGENCY)


def test_whitespace_is_tidied(tmp_path):
    path = tmp_path / "messy.txt"
    path.write_text(
        "  Dòng   một\u00a0\u00a0có  khoảng trắng  \n\n\n\n\nDòng\u200b hai\x07\n", "utf-8"
    )
    assert extract_text(path).text == "Dòng một có khoảng trắng\n\nDòng hai"


def test_text_truncation(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text((AGENCY + "\n") * 1000, "utf-8")
    r = extract_text(path, max_chars=100)
    assert r.status == "ok" and len(r.text) <= 100 and r.text.startswith(AGENCY)
    assert "100" in r.reason


HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Cổng thông tin phường An Cựu</title>
<style>body { font-family: "Times New Roman"; } .an { display:none }</style>
<script>var thongBao = "Không được hiện ra"; if (a < b && c) {}</script></head>
<body><h1>QUYẾT&nbsp;ĐỊNH</h1>
<p>V&#7873; vi&#x1EC7;c ph&ecirc; duy&#7879;t k&#7871; ho&#7841;ch c&#7843;i c&aacute;ch
   h&agrave;nh ch&iacute;nh năm 2024</p>
<p>Tôm &amp; cá &lt;tươi&gt;<br>Dòng mới</p>
<table><tr><th>Số</th><th>Ngày</th></tr><tr><td>12/QĐ-UBND</td><td>01/02/2024</td></tr></table>
<noscript>Bật JavaScript</noscript>
<div>Ủy ban nhân dân phường An Cựu</div></body></html>"""


def test_html_entities_script_style(tmp_path):
    path = tmp_path / "trang.html"
    path.write_text(HTML, "utf-8")
    r = extract_text(path)
    assert (r.status, r.method) == ("ok", "html")
    lines = r.text.split("\n")
    assert lines[0] == "Cổng thông tin phường An Cựu"
    assert TITLE in lines and SUBJECT in lines and AGENCY in lines
    assert "Tôm & cá <tươi>" in lines and "Dòng mới" in lines
    assert "Số\tNgày" in lines and "12/QĐ-UBND\t01/02/2024" in lines
    for hidden in ("thongBao", "Không được", "font-family", "JavaScript"):
        assert hidden not in r.text


def test_html_detected_without_extension_and_cp1258_meta(tmp_path):
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1258">'
        f"</head><body><p>{AGENCY}</p></body></html>"
    )
    path = tmp_path / "page.bin"
    path.write_bytes(encode_cp1258(page))
    assert detect_media_type(path) == "text/html"
    r = extract_text(path)
    assert r.status == "ok" and r.text == AGENCY


def test_text_hint_used_when_bytes_prove_nothing(tmp_path):
    path = tmp_path / "no-name"
    path.write_text("<b>Đậm</b> và thường", "utf-8")
    assert extract_text(path).text == "<b>Đậm</b> và thường"
    assert extract_text(path, media_type="text/html; charset=utf-8").text == "Đậm và thường"
