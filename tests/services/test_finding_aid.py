"""A finding aid is checked row by row before anything is written: each problem names the
sheet, the row, the column and what is wrong in words a clerk can act on."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from repo_server.services.context import Actor
from repo_server.services.digitisation import BatchRejected, check_batch, create_batch
from repo_server.services.errors import NotFound
from repo_server.services.finding_aid import parse_period, parse_retention

from .digitisation_data import DOCUMENT_HEAD, DOSSIER_HEAD, write_csv, write_xlsx

ADMIN = Actor("archivist-test", ("admin",), conditional=True, clearance=True)
FONDS = "000.00.00.H49"


def _cp1258(text: str) -> bytes:
    """As Excel on a Vietnamese Windows saves CSV: letters with their vowel marks, tone marks
    as separate characters."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
            out += (base + "".join(c for c in parts if c in tones)).encode("cp1258")
    return out


def _png(dpi: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 250), "white").save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def _scans(path: Path, names: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in names.items():
            z.writestr(name, data)
    return path


def _dossier(label: str = "01", **kw: object) -> list:
    row = dict(zip(DOSSIER_HEAD, [label, f"H49.K1.{label}", f"Hồ sơ {label}", "1998",
                                  "20 năm", None, None], strict=True))
    row.update(kw)
    return list(row.values())


def _document(label: str = "01", scans: str = "a.png", **kw: object) -> list:
    row = dict(zip(DOCUMENT_HEAD, [label, 1, "Quyết định", "15/QĐ-UBND", "15/07/1998",
                                   "UBND phường", "Quyết định cấp phép", 1, scans],
                   strict=True))
    row.update(kw)
    return list(row.values())


def check(env, tmp_path: Path, dossiers: list, documents: list,  # noqa: ANN001
          scans: dict[str, bytes] | None = None, actor: Actor = ADMIN) -> dict:
    aid = write_xlsx(tmp_path / "muc-luc.xlsx", dossiers, documents)
    zipped = _scans(tmp_path / "scans.zip", scans if scans is not None else {"a.png": _png()})
    found, _, _ = check_batch(env, actor, FONDS, [(aid, aid.name)], zipped)
    return {("D" if "hồ sơ" in p.sheet else "V", p.row,
             p.column.split(" ")[0] if p.column else None): p.message
            for p in found.all_problems()}


def test_a_clean_finding_aid_has_no_problems(env, fonds, tmp_path) -> None:  # noqa: ANN001
    assert check(env, tmp_path, [_dossier()], [_document()]) == {}


def test_each_bad_cell_is_named_by_row_and_column(env, fonds, tmp_path) -> None:  # noqa: ANN001
    dossiers = [_dossier("01"),
                _dossier("02", **{"Tiêu đề hồ sơ": None}),             # row 4: no title
                _dossier("03", **{"Thời hạn bảo quản": "mười năm"}),    # row 5
                _dossier("01")]                                        # row 6: number twice
    documents = [_document("01"),
                 _document("01", "b.png", **{"Ngày tháng văn bản": "31/02/1998"}),  # row 3
                 _document("01", "c.png", **{"Tên loại văn bản": "Quyết đinh lạ"}),  # row 4
                 _document("99", "d.png"),                                          # row 5
                 _document("03", scans="khong-co.png"),                             # row 6
                 _document("02", "e.png; f.png", **{"Số trang": 3}),                 # row 7
                 _document("03", "a.png")]                                          # row 8
    scans = {f"{c}.png": _png() for c in "abcdef"}
    problems = check(env, tmp_path, dossiers, documents, scans)
    assert "'Tiêu đề hồ sơ' is empty" in problems[("D", 4, "C")]
    assert "'mười năm' is not a retention period" in problems[("D", 5, "E")]
    assert "also on row 3" in problems[("D", 6, "A")]
    assert "'31/02/1998' is not a date; write it as dd/mm/yyyy" in problems[("V", 3, "E")]
    assert "'Quyết đinh lạ' is not a document type code" in problems[("V", 4, "C")]
    assert "There is no dossier '99' in the dossier list" in problems[("V", 5, "A")]
    assert "'khong-co.png' is not among the scans" in problems[("V", 6, "I")]
    assert "says 3 pages but its scans have 2" in problems[("V", 7, "H")]
    assert "'a.png' is also named on row 2" in problems[("V", 8, "I")]


def test_nothing_is_written_unless_the_valid_rows_are_chosen(env, fonds, tmp_path) -> None:  # noqa: ANN001
    from sqlalchemy import func, select

    from repo_server.catalog import DigitisationBatch, Dossier

    aid = write_xlsx(tmp_path / "a.xlsx", [_dossier("01"), _dossier("02")],
                     [_document("01"), _document("02", scans="thieu.png")])
    zipped = _scans(tmp_path / "s.zip", {"a.png": _png()})
    with pytest.raises(BatchRejected) as refused:
        create_batch(env, ADMIN, FONDS, [(aid, aid.name)], zipped, keep_files=False)
    assert refused.value.status == 422
    assert any("thieu.png" in line for line in refused.value.errors["finding_aid"])
    with env.db.read() as session:
        assert session.scalar(select(func.count()).select_from(DigitisationBatch)) == 0
        assert session.scalar(select(func.count()).select_from(Dossier)) == 0
    batch = create_batch(env, ADMIN, FONDS, [(aid, aid.name)], zipped, keep_files=False,
                         import_valid_rows=True)
    assert batch["dossiers"]["total"] == 1 and len(batch["left_out"]) == 1


def test_a_missing_column_blocks_the_batch_even_with_valid_rows(env, fonds, tmp_path) -> None:  # noqa: ANN001
    head = [h for h in DOSSIER_HEAD if h != "Mã hồ sơ giấy"]
    aid = write_xlsx(tmp_path / "a.xlsx", [[r for h, r in zip(DOSSIER_HEAD, _dossier(),
                                                             strict=True) if h in head]],
                     [_document()], dossier_head=head)
    zipped = _scans(tmp_path / "s.zip", {"a.png": _png()})
    with pytest.raises(BatchRejected) as refused:
        create_batch(env, ADMIN, FONDS, [(aid, aid.name)], zipped, keep_files=False,
                     import_valid_rows=True)
    assert any("has no column 'Mã hồ sơ giấy'" in line
               for line in refused.value.errors["finding_aid"])


def test_headers_without_diacritics_or_in_english_and_csv_in_the_windows_code_page(  # noqa: ANN001
        env, fonds, tmp_path) -> None:
    plain = ["So va ky hieu ho so", "MA HO SO GIAY", "tieu de ho so", "Thoi gian",
             "thoi han bao quan", "So to", "Ghi chu"]
    english = ["file_notation", "order", "type_code", "Số, ký hiệu văn bản", "issued_date",
               "organ_name", "subject", "page_count", "scans"]
    dossiers = write_csv(tmp_path / "ho-so.csv", plain, [_dossier()])
    documents = tmp_path / "van-ban.csv"
    documents.write_bytes(_cp1258(";".join(english)) + b"\r\n"
                          + _cp1258(";".join(str(v) for v in _document())) + b"\r\n")
    zipped = _scans(tmp_path / "s.zip", {"a.png": _png()})
    found, _, codes = check_batch(env, ADMIN, FONDS, [(dossiers, "ho-so.csv"),
                                                      (documents, "van-ban.csv")], zipped)
    assert found.all_problems() == []
    [dossier] = found.dossiers
    assert dossier.data["title"] == "Hồ sơ 01" and codes[0] == f"{FONDS}.1998.01"
    [doc] = dossier.documents
    assert doc.data["type_code"] == "02" and doc.data["code_notation"] == "QĐ-UBND"
    assert doc.data["subject"] == "Quyết định cấp phép"


def test_a_file_code_already_used_and_a_fonds_out_of_scope_are_problems(  # noqa: ANN001
        env, client, fonds, tmp_path) -> None:
    client.make_dossier(file_notation="01", start_date="1998-03-01")
    problems = check(env, tmp_path, [_dossier("01")], [_document("01")])
    assert "File code 000.00.00.H49.1998.01 is already used" in problems[("D", 3, "A")]
    outsider = Actor("clerk-elsewhere", ("clerk",), scope=("000.00.00.X01",))
    with pytest.raises(NotFound, match="There is no fonds with code '000.00.00.H49'"):
        check(env, tmp_path, [_dossier("02")], [_document("02")], actor=outsider)
    # a row naming another fonds (Mã phông) that does not exist or is not the clerk's
    head = [*DOSSIER_HEAD, "Mã phông"]
    aid = write_xlsx(tmp_path / "phong.xlsx", [[*_dossier("02"), "000.00.00.X01"]],
                     [_document("02")], dossier_head=head)
    zipped = _scans(tmp_path / "p.zip", {"a.png": _png()})
    found, _, _ = check_batch(env, ADMIN, FONDS, [(aid, aid.name)], zipped)
    [problem] = found.all_problems()
    assert problem.row == 3 and problem.column.startswith("H (Mã phông)")
    assert "There is no fonds '000.00.00.X01'" in problem.message


def test_an_old_excel_file_or_a_damaged_scan_is_explained(env, fonds, tmp_path) -> None:  # noqa: ANN001
    xls = tmp_path / "muc-luc.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    zipped = _scans(tmp_path / "s.zip", {"a.png": b"not an image"})
    found, _, _ = check_batch(env, ADMIN, FONDS, [(xls, xls.name)], zipped)
    assert "old Excel file (.xls); save it as .xlsx" in found.problems[0].message
    problems = check(env, tmp_path, [_dossier()], [_document()], scans={"a.png": b"garbage"})
    assert "not a PDF or an image that can be read" in problems[("V", 2, "I")]


def test_retention_and_periods_are_read_as_clerks_write_them(env) -> None:  # noqa: ANN001
    assert parse_retention(env.codes, "Vĩnh viễn") == ("01", None)
    assert parse_retention(env.codes, "vinh vien") == ("01", None)
    assert parse_retention(env.codes, "70 năm") == ("02", None)
    assert parse_retention(env.codes, "10") == ("06", None)
    assert parse_retention(env.codes, "15 năm") == ("07", 15)
    assert parse_retention(env.codes, "05") == ("05", None)
    assert parse_period("01/1998 - 12/1999") == (date(1998, 1, 1), date(1999, 12, 31))
    assert parse_period("1998") == (date(1998, 1, 1), date(1998, 12, 31))
    assert parse_period("15/01/1998 - 20/02/1998") == (date(1998, 1, 15), date(1998, 2, 20))


def test_a_server_without_ocr_says_so_before_anything_starts(env, fonds, tmp_path) -> None:  # noqa: ANN001
    env.config["DIGITISATION_OCR_LANGUAGES"] = "vie+xyz"  # a language pack not installed
    problems = check(env, tmp_path, [_dossier()], [_document()])
    assert any("Scans cannot be converted on this server" in m and "'xyz'" in m
               for m in problems.values()), problems
