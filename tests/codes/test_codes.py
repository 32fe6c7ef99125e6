"""Tests of the code lists (repo_server.codes) and the default retention schedule."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

import repo_server.codes as codes_module
from repo_server.codes import (
    CodeEntry,
    CodeList,
    CodeListError,
    CodeLists,
    load_code_lists,
    load_retention_schedule,
)

EXPECTED_LISTS = {
    "retention",
    "access_mode",
    "language",
    "document_type",
    "secrecy",
    "urgency",
    "confidence_level",
    "physical_state",
    "backup_status",
    "direction",
    "copy_type",
    "number_book",
    "handover_rule",
    "register_column",
}


@pytest.fixture(scope="module")
def codes() -> CodeLists:
    return load_code_lists()


def _write(dirpath: Path, name: str, data: object) -> Path:
    path = dirpath / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# ------------------------------------------------------------------ packaged lists


def test_every_list_loads(codes: CodeLists) -> None:
    assert EXPECTED_LISTS <= set(codes.names())
    for name in codes.names():
        lst = codes[name]
        assert isinstance(lst, CodeList)
        assert lst.name == name
        assert lst.title_vi and lst.source
        assert lst.confidence in {"V", "S", "B"}
        assert lst.entries and all(isinstance(e, CodeEntry) for e in lst.entries)
        assert len(set(lst.codes())) == len(lst.codes())
        for e in lst.entries:
            assert isinstance(e.code, str) and e.name_vi
            assert unicodedata.is_normalized("NFC", e.name_vi)


def test_packaged_files_match_list_names() -> None:
    pkg = Path(codes_module.__file__).parent
    names = {p.stem for p in pkg.glob("*.json")}
    assert names == EXPECTED_LISTS


def test_document_types(codes: CodeLists) -> None:
    types = codes["document_type"]
    assert types.codes() == [f"{i:02d}" for i in range(1, 33)]
    assert types.get("02").name_vi == "Quyết định"
    assert codes.abbreviation("02") == "QĐ"
    assert types.get("05").name_vi == "Quy định"
    assert codes.abbreviation("05") == "QyĐ"
    assert types.get("15").name_vi == "Tờ trình"
    assert codes.abbreviation("15") == "TTr"
    assert codes.abbreviation("09") == "CTr"
    assert types.get("20").name_vi == "Biên bản" and codes.abbreviation("20") == "BB"
    assert types.get("32").name_vi == "Khác"
    for code in ("22", "29", "30", "31", "32"):  # Công văn, Thư công, Bản đồ, Bản vẽ, Khác
        assert codes.abbreviation(code) is None
    abbrs = [codes.abbreviation(c) for c in types.codes()]
    assert sum(a is not None for a in abbrs) == 27
    assert len({a for a in abbrs if a}) == 27
    with pytest.raises(ValueError, match="not a document type code"):
        codes.abbreviation("33")


def test_small_lists(codes: CodeLists) -> None:
    assert codes["language"].codes() == [f"{i:02d}" for i in range(1, 12)]
    assert codes["language"].get("09").name_vi == "Hán Nôm"
    assert codes["retention"].codes() == [f"{i:02d}" for i in range(1, 8)]
    assert codes["access_mode"].get("03").name_vi == "Mật"
    assert codes["confidence_level"].get("02").name_vi == "Số hóa"
    assert codes["physical_state"].codes() == ["01", "02", "03"]
    assert codes["backup_status"].codes() == ["01", "02"]
    assert set(codes["direction"].codes()) == {"incoming", "outgoing", "internal"}
    assert codes["copy_type"].codes() == ["SY", "TrS", "SL"]
    secrecy = {e.code: e.extra["level"] for e in codes["secrecy"].entries}
    assert secrecy == {"mat": 1, "toi_mat": 2, "tuyet_mat": 3}
    urgency = {e.code: e.extra["level"] for e in codes["urgency"].entries}
    assert urgency == {"khan": 1, "thuong_khan": 2, "hoa_toc": 3}


def test_membership_and_validity(codes: CodeLists) -> None:
    assert "01" in codes["retention"]
    assert "08" not in codes["retention"]
    assert 1 not in codes["retention"]
    assert codes.is_valid("language", "11")
    assert not codes.is_valid("language", "12")
    assert not codes.is_valid("language", None)
    assert codes.get("nope") is None
    with pytest.raises(KeyError, match="known lists"):
        codes["nope"]
    with pytest.raises(KeyError):
        codes.is_valid("nope", "01")


def test_entries_are_immutable(codes: CodeLists) -> None:
    entry = codes["document_type"].get("02")
    with pytest.raises(AttributeError):
        entry.code = "03"  # type: ignore[misc]
    with pytest.raises(TypeError):
        entry.extra["abbreviation"] = "X"  # type: ignore[index]


def test_to_dict_is_json_ready(codes: CodeLists) -> None:
    d = codes["document_type"].to_dict()
    assert set(d) == {"name", "title_vi", "title_en", "source", "confidence", "entries"}
    assert d["entries"][1] == {
        "code": "02",
        "name_vi": "Quyết định",
        "name_en": "Decision",
        "abbreviation": "QĐ",
    }
    json.dumps(codes.to_dict(), ensure_ascii=False)
    ret = codes["retention"].to_dict()["entries"]
    assert ret[0]["permanent"] is True and ret[0]["years"] is None
    assert ret[6]["requires_years"] is True and ret[6]["min_years"] == 2


# ------------------------------------------------------------------ retention years


def test_retention_years(codes: CodeLists) -> None:
    assert codes.retention_years("01", None) is None
    assert codes.retention_years("02", None) == 70
    assert codes.retention_years("06", None) == 10
    assert codes.retention_years("05", 20) == 20
    assert codes.retention_years("07", 2) == 2
    assert codes.retention_years("07", 15) == 15
    assert codes.retention_years("07", 70) == 70


@pytest.mark.parametrize(
    ("code", "years", "message"),
    [
        ("07", None, "needs the number of years"),
        ("07", 1, "from 2 to 70"),
        ("07", 71, "from 2 to 70"),
        ("07", True, "whole number"),
        ("07", 5.5, "whole number"),
        ("01", 10, "permanent"),
        ("06", 20, "means 10 years"),
        ("08", None, "not a retention code"),
    ],
)
def test_retention_years_errors(codes: CodeLists, code: str, years: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        codes.retention_years(code, years)  # type: ignore[arg-type]


# ------------------------------------------------------------------ describe_invalid


def test_describe_invalid_short_list(codes: CodeLists) -> None:
    msg = codes.describe_invalid("retention", "08")
    assert msg.startswith("'08' is not a retention code; use one of: 01 (Vĩnh viễn), 02 (70 năm)")
    assert "07 (Khác)" in msg
    assert "…" not in msg


def test_describe_invalid_long_list_is_truncated(codes: CodeLists) -> None:
    msg = codes.describe_invalid("document_type", "99")
    assert "'99' is not a document type code" in msg
    assert "01 (Nghị quyết)" in msg and "12 (Đề án)" in msg
    assert "13 (Dự án)" not in msg
    assert msg.endswith("…")


def test_describe_invalid_hints(codes: CodeLists) -> None:
    assert "did you mean '08'" in codes.describe_invalid("language", "8")
    assert "did you mean '02'" in codes.describe_invalid("retention", 2)
    assert "did you mean 'SY'" in codes.describe_invalid("copy_type", "sy")
    assert codes.describe_invalid("access_mode", None).startswith("no access mode code")
    assert "not a known code list" in codes.describe_invalid("nope", "01")


# ------------------------------------------------------------------ overrides


def test_override_replaces_and_adds(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "language",
        {
            "name": "language",
            "title_vi": "Ngôn ngữ",
            "source": "agency correction",
            "confidence": "B",
            "entries": [
                {"code": "01", "name_vi": "Tiếng Việt", "name_en": "Vietnamese"},
                {"code": "12", "name_vi": "Tiếng Khmer", "name_en": None},
            ],
        },
    )
    _write(
        tmp_path,
        "storage_room",
        {
            "name": "storage_room",
            "title_vi": "Kho lưu trữ",
            "source": "agency",
            "confidence": "V",
            "entries": [{"code": "K1", "name_vi": "Kho 1", "floor": 2}],
        },
    )
    (tmp_path / "README.txt").write_text("ignored", encoding="utf-8")
    lists = load_code_lists(tmp_path)
    assert lists["language"].codes() == ["01", "12"]
    assert lists["language"].source == "agency correction"
    assert lists["language"].title_en is None
    assert "storage_room" in lists.names()
    assert lists["storage_room"].get("K1").extra["floor"] == 2
    assert lists["storage_room"].get("K1").name_en is None
    # untouched lists stay packaged; the packaged defaults are not modified
    assert lists["document_type"].codes() == load_code_lists()["document_type"].codes()
    assert len(load_code_lists()["language"]) == 11


def test_missing_override_dir_is_ignored(tmp_path: Path) -> None:
    lists = load_code_lists(tmp_path / "does-not-exist")
    assert EXPECTED_LISTS <= set(lists.names())


def test_override_path_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file.json"
    f.write_text("{}", encoding="utf-8")
    with pytest.raises(CodeListError, match="not a directory"):
        load_code_lists(f)


def test_broken_override_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "retention.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CodeListError, match="retention.json") as excinfo:
        load_code_lists(tmp_path)
    assert "not valid JSON" in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def _good(name: str, entries: list[dict]) -> dict:
    return {"name": name, "title_vi": "X", "source": "s", "confidence": "S", "entries": entries}


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("access_mode", [1, 2], "one JSON object"),
        ("access_mode", _good("other_name", [{"code": "01", "name_vi": "A"}]), "must match"),
        ("access_mode", {**_good("access_mode", []), "entries": []}, "non-empty list"),
        (
            "access_mode",
            {**_good("access_mode", [{"code": "01", "name_vi": "A"}]), "confidence": "X"},
            "confidence",
        ),
        ("access_mode", _good("access_mode", [{"code": 1, "name_vi": "A"}]), "'code' must be"),
        ("access_mode", _good("access_mode", [{"code": "01"}]), "name_vi"),
        (
            "access_mode",
            _good("access_mode", [{"code": "01", "name_vi": "A"}, {"code": "01", "name_vi": "B"}]),
            "duplicate code",
        ),
        (
            "retention",
            _good(
                "retention", [{"code": "02", "name_vi": "80 năm", "years": 80, "permanent": False}]
            ),
            "'years' from 2 to 70",
        ),
        ("retention", _good("retention", [{"code": "01", "name_vi": "Vĩnh viễn"}]), "permanent"),
    ],
)
def test_invalid_override_structure(tmp_path: Path, name: str, data: object, message: str) -> None:
    _write(tmp_path, name, data)
    with pytest.raises(CodeListError, match=message) as excinfo:
        load_code_lists(tmp_path)
    assert f"{name}.json" in str(excinfo.value)


def test_duplicate_codes_rejected_in_codelist() -> None:
    entry = CodeEntry("01", "A", None, {})
    with pytest.raises(CodeListError, match="twice"):
        CodeList("x", "X", None, "s", "S", [entry, entry])


def test_override_retention_changes_rules(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "retention",
        _good(
            "retention",
            [
                {"code": "01", "name_vi": "Vĩnh viễn", "years": None, "permanent": True},
                {
                    "code": "07",
                    "name_vi": "Khác",
                    "permanent": False,
                    "requires_years": True,
                    "min_years": 5,
                    "max_years": 60,
                },
            ],
        ),
    )
    lists = load_code_lists(tmp_path)
    assert lists.retention_years("07", 5) == 5
    with pytest.raises(ValueError, match="from 5 to 60"):
        lists.retention_years("07", 3)


# ------------------------------------------------------------------ retention schedule


def test_default_schedule() -> None:
    rows = load_retention_schedule()
    assert len(rows) >= 25
    codes = [r["code"] for r in rows]
    assert len(set(codes)) == len(codes)
    groups = {c.split(".")[0] for c in codes}
    assert groups == {f"{i:02d}" for i in range(1, 15)}
    for r in rows:
        assert set(r) == {"code", "group", "title", "years", "permanent", "legal_basis", "note"}
        assert r["title"] and r["group"]
        assert "TT 10/2022/TT-BNV" in r["legal_basis"] and "to verify" in r["legal_basis"]
        if r["permanent"]:
            assert r["years"] is None
        elif r["years"] is None:
            assert r["note"], f"{r['code']}: a row without years must explain why"
        else:
            assert 2 <= r["years"] <= 70
    by_title = {r["title"]: r for r in rows}
    assert by_title["Hồ sơ gốc cán bộ, công chức, viên chức"]["permanent"] is True
    assert by_title["Sổ đăng ký văn bản đến"]["years"] == 20
    assert by_title["Hồ sơ đảng viên"]["years"] == 70


CSV_HEADER = "code,group,title,years,permanent,legal_basis,note\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("01.01,G,T,80,false,L,\n", "line 2.*out of range"),
        ("01.01,G,T,1,false,L,\n", "out of range"),
        ("01.01,G,T,abc,false,L,\n", "whole number"),
        ("01.01,G,T,10,true,L,\n", "permanent row must leave 'years' empty"),
        ("01.01,G,T,10,maybe,L,\n", "true or false"),
        ("01.01,G,T,10,false,L,\n01.01,G,T2,10,false,L,\n", "line 3.*already used at line 2"),
        (",G,T,10,false,L,\n", "'code' is empty"),
        ("01.01,G,,10,false,L,\n", "'title' is empty"),
        ("01.01,G,T,10,false,L,n,extra\n", "more values"),
    ],
)
def test_bad_schedule_rows(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "schedule.csv"
    path.write_text(CSV_HEADER + body, encoding="utf-8")
    with pytest.raises(CodeListError, match=message) as excinfo:
        load_retention_schedule(path)
    assert "schedule.csv" in str(excinfo.value)


def test_schedule_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "\ufeff" + CSV_HEADER + "A.1,G,T,,true,L,\n\nA.2,G,T2,15,false,L,ghi chú\n",
        encoding="utf-8",
    )
    rows = load_retention_schedule(str(path))
    assert [(r["code"], r["years"], r["permanent"]) for r in rows] == [
        ("A.1", None, True),
        ("A.2", 15, False),
    ]


def test_schedule_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("code,title\n01,T\n", encoding="utf-8")
    with pytest.raises(CodeListError, match="missing column"):
        load_retention_schedule(path)
