"""Search behaviour: numbers, phrases, operators, filters, facets, snippets, paging, dossiers."""

from __future__ import annotations

from datetime import date

import pytest

from repo_server.search.backend import QuerySyntaxError, SearchRequest

from .conftest import dossier, ids, record


@pytest.fixture
def office(backend):
    """Two fonds, three dossiers, a handful of documents."""
    backend.upsert(
        [
            dossier("d-1", "Hồ sơ cấp giấy phép xây dựng", date=date(2023, 2, 1)),
            dossier("d-2", "Hồ sơ đất đai phường An Cựu", date=date(2024, 3, 1)),
            dossier(
                "d-3",
                "Hồ sơ tuyển dụng",
                fonds_code="000.00.00.H50",
                access_mode="03",
                date=date(2022, 5, 1),
            ),
            record(
                "qd15",
                "Quyết định về việc phê duyệt kế hoạch cải cách hành chính",
                "ỦY BAN NHÂN DÂN PHƯỜNG AN CỰU. Số: 15/QĐ-UBND. Phê duyệt kế hoạch cải cách "
                "hành chính năm 2024 của Ủy ban nhân dân phường An Cựu.",
                number="15/QĐ-UBND",
                dossier_id="d-2",
                date=date(2024, 3, 15),
                fields_text="Ủy ban nhân dân phường An Cựu Chủ tịch Nguyễn Văn An",
            ),
            record(
                "nd123",
                "Nghị định quy định về xử phạt vi phạm hành chính trong lĩnh vực đất đai",
                "Căn cứ Nghị định số 123/2024/NĐ-CP của Chính phủ; kế hoạch năm sau sẽ được "
                "phê duyệt.",
                number="123/2024/NĐ-CP",
                dossier_id="d-2",
                type_code="01",
                direction="incoming",
                date=date(2024, 10, 4),
            ),
            record(
                "cv7",
                "Công văn về việc bàn giao hồ sơ",
                "Bàn giao hồ sơ lưu trữ cho Trung tâm Lưu trữ lịch sử. Trên địa bàn. Giao Sở "
                "Nội vụ theo dõi.",
                number="07/UBND-VP",
                dossier_id="d-1",
                type_code="22",
                date=date(2023, 2, 10),
            ),
            record(
                "tb9",
                "Thông báo tuyển dụng công chức",
                "Thông báo tuyển dụng công chức năm 2022. Hồ sơ dự tuyển nộp tại Sở Nội vụ.",
                number="09/TB-SNV",
                dossier_id="d-3",
                fonds_code="000.00.00.H50",
                type_code="07",
                access_mode="03",
                state="closed",
                date=date(2022, 5, 20),
            ),
            record(
                "gm2",
                "Giấy mời họp",
                "Kính mời đại diện Sở Kế hoạch và Đầu tư dự họp về <kế hoạch> & dự toán.",
                number="02/GM-UBND",
                dossier_id="d-1",
                type_code="26",
                direction="incoming",
                date=date(2023, 6, 1),
            ),
        ]
    )
    return backend


# --- document numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    ["15/QĐ-UBND", "15/qd-ubnd", "QĐ-UBND", "qd-ubnd", "15/QĐ", '"15/QĐ-UBND"', "Số: 15/QĐ-UBND,"],
)
def test_a_document_number_is_found_whole_and_by_parts(office, q):
    assert ids(office, q)[0] == "qd15"


@pytest.mark.parametrize(
    "q", ["123/2024/NĐ-CP", "123/2024/nd-cp", "2024/NĐ-CP", "nd-cp", "123/2024"]
)
def test_a_decree_number_is_found_whole_and_by_parts(office, q):
    assert ids(office, q)[0] == "nd123"


def test_number_parts_must_be_adjacent(office):
    assert ids(office, "15/NĐ-CP") == []


# --- words, phrases, operators ---------------------------------------------------------------


def test_words_without_diacritics_find_the_document(office):
    assert ids(office, "uy ban nhan dan phuong an cuu") == ["qd15"]


def test_phrase_needs_the_words_in_order_and_adjacent(office):
    assert set(ids(office, "ke hoach phe duyet")) == {"qd15", "nd123"}  # words anywhere
    assert ids(office, '"phê duyệt kế hoạch"') == ["qd15"]
    assert ids(office, '"phe duyet ke hoach cai cach"') == ["qd15"]


def test_a_sentence_end_ends_a_phrase(office):
    # "Trên địa bàn. Giao Sở" must not read as "bàn giao"; cv7 also says "Bàn giao" itself
    office.upsert([record("x", "Báo cáo", "Trên địa bàn. Giao Sở Nội vụ theo dõi.")])
    assert ids(office, '"ban giao"') == ["cv7"]
    assert ids(office, "ban giao") == ["cv7", "x"]  # both words are there; the phrase first
    assert set(ids(office, '"địa bàn. Giao sở"')) == {"cv7", "x"}  # typed as written


def test_dashes_commas_and_slashes_do_not_break_a_phrase(backend):
    backend.upsert([
        record("tckh", "Báo cáo của Phòng Tài chính – Kế hoạch"),
        record("ldtb", "Tờ trình", "Gửi Sở Lao động, Thương binh và Xã hội; Sở KH/ĐT."),
        record("other", "Kế hoạch tài chính năm 2024"),
    ])
    for q in ('"tài chính kế hoạch"', '"Tài chính – Kế hoạch"', '"tai chinh - ke hoach"',
              '"tài chính, kế hoạch"'):
        assert ids(backend, q) == ["tckh"], q
        assert ids(backend, q, exact=True) == ([] if q.isascii() else ["tckh"]), q
    assert ids(backend, '"lao động thương binh"') == ["ldtb"]
    assert ids(backend, '"sở kh đt"') == ["ldtb"]
    assert ids(backend, '"Sở KH/ĐT"') == ["ldtb"]
    assert ids(backend, '"thương binh xã hội sở"') == []  # "; " ends the sentence


def test_unquoted_words_match_anywhere_in_any_order_whatever_stands_next_to_them(backend):
    # "ổn định" is a common word of the index: the words must still not be asked to be adjacent
    backend.upsert(
        [record(f"od{i}", "Quyết định ổn định tổ chức") for i in range(5)]
        + [
            record("ong", "Thông báo", "Ông Trương Văn Ổn, cán bộ. Căn cứ quyết định này."),
            record("ban", "Biên bản", "Bàn ghế đã nhận. Giao hàng vào thứ hai."),
        ]
    )
    for q in ("on dinh", "dinh on", "ổn định", "định ổn"):
        assert "ong" in ids(backend, q), q
        assert "ong" in ids(backend, q, exact=q.isascii() is False), q
    assert ids(backend, "bàn giao", exact=True) == ["ban"]
    assert ids(backend, "giao bàn", exact=True) == ["ban"]
    assert ids(backend, '"bàn giao"', exact=True) == []  # quotes: adjacent only
    assert ids(backend, "on dinh")[-1] == "ong"  # adjacency ranks; it does not filter


def test_exclusions(office):
    assert set(ids(office, "ho so")) == {"cv7", "tb9"}
    assert ids(office, "ho so -luu") == ["tb9"]
    assert ids(office, 'ho so -"nội vụ"') == []
    assert ids(office, "ho so -tuyen") == ["cv7"]


def test_or_joins_the_words_on_each_side(office):
    assert set(ids(office, "thong bao OR giay moi")) == {"tb9", "gm2"}
    assert set(ids(office, '"thong bao" OR "giay moi"')) == {"tb9", "gm2"}
    assert set(ids(office, "ban giao OR tuyen dung")) == {"cv7", "tb9"}
    assert set(ids(office, "ho so ban giao OR tuyen dung")) == {"cv7", "tb9"}
    assert ids(office, "giay moi OR 15/QĐ-UBND", sort="date_asc") == ["gm2", "qd15"]


def test_words_on_either_side_of_a_phrase_need_not_be_adjacent(office):
    assert "gm2" in ids(office, "so ke hoach dau tu")
    assert "gm2" in ids(office, "dau tu ke hoach so")


@pytest.mark.parametrize(
    "q,message",
    [
        ('"ủy ban', 'Unclosed quote in: "ủy ban'),
        ("uy ban OR", "OR needs a term after it"),
        ("OR uy ban", "OR needs a term before it"),
        ("a OR -b", "Cannot exclude a term inside OR"),
    ],
)
def test_a_query_that_cannot_be_read_is_an_error_with_a_message(office, q, message):
    with pytest.raises(QuerySyntaxError) as err:
        office.search(SearchRequest(q=q))
    assert message in str(err.value)


def test_punctuation_only_and_parentheses_are_harmless(office):
    assert ids(office, "(uy ban) - ;") == ids(office, "uy ban")
    assert office.search(SearchRequest(q=" - ")).total == 5  # no words: lists everything


# --- filters, facets, totals, paging ---------------------------------------------------------


def test_filters(office):
    assert set(ids(office, "", fonds_codes=["000.00.00.H50"])) == {"tb9"}
    assert ids(office, "", fonds_codes=[]) == []
    assert set(ids(office, "", type_codes=["01", "26"])) == {"nd123", "gm2"}
    assert set(ids(office, "", directions=["incoming"])) == {"nd123", "gm2"}
    assert set(ids(office, "", states=["closed"])) == {"tb9"}
    assert set(ids(office, "", access_modes=["01"])) == {"qd15", "nd123", "cv7", "gm2"}
    assert set(ids(office, "", dossier_id="d-1")) == {"cv7", "gm2"}
    assert set(ids(office, "", date_from=date(2023, 2, 10), date_to=date(2024, 3, 15))) == {
        "cv7",
        "gm2",
        "qd15",
    }
    assert ids(office, "", date_from=date(2025, 1, 1)) == []
    assert set(ids(office, "ho so", fonds_codes=["000.00.00.H49"])) == {"cv7"}


def test_facets_count_only_what_the_filters_allow(office):
    r = office.search(SearchRequest(q="", fonds_codes=["000.00.00.H49"]))
    assert r.total == 4 and not r.total_is_estimate
    assert r.facets["fonds_code"] == {"000.00.00.H49": 4}
    assert r.facets["type_code"] == {"02": 1, "01": 1, "22": 1, "26": 1}
    assert r.facets["year"] == {"2024": 2, "2023": 2}
    r = office.search(SearchRequest(q="ho so"))
    assert r.facets == {
        "type_code": {"22": 1, "07": 1},
        "year": {"2023": 1, "2022": 1},
        "fonds_code": {"000.00.00.H49": 1, "000.00.00.H50": 1},
    }
    assert office.search(SearchRequest(q="ho so", facets=False)).facets == {}


def test_empty_query_lists_by_date(office):
    assert ids(office) == ["nd123", "qd15", "gm2", "cv7", "tb9"]
    assert ids(office, sort="date_asc") == ["tb9", "cv7", "gm2", "qd15", "nd123"]
    assert all(h.score is None for h in office.search(SearchRequest()).hits)


def test_sort_by_date_with_words(office):
    assert ids(office, "ke hoach", sort="date_desc") == ["nd123", "qd15", "gm2"]
    assert ids(office, "ke hoach", sort="date_asc") == ["gm2", "qd15", "nd123"]


def test_pages_and_totals(backend):
    backend.upsert(
        [
            record(f"r{i:02d}", f"Báo cáo số {i}", "báo cáo tình hình", date=date(2024, 1, 1 + i))
            for i in range(25)
        ]
    )
    seen = []
    for page in (1, 2, 3):
        r = backend.search(SearchRequest(q="bao cao", page=page, page_size=10, sort="date_desc"))
        assert r.total == 25 and not r.total_is_estimate
        seen += [h.id for h in r.hits]
    assert seen == [f"r{i:02d}" for i in range(24, -1, -1)]
    relevance = []
    for page in (1, 2, 3):
        relevance += ids(backend, "bao cao", page=page, page_size=10)
    assert sorted(relevance) == sorted(seen)
    with pytest.raises(QuerySyntaxError):
        backend.search(SearchRequest(q="bao cao", page=10_000, page_size=100))


# --- snippets --------------------------------------------------------------------------------


def test_snippets_mark_matched_words_and_escape_the_rest(office):
    (hit,) = office.search(SearchRequest(q="du toan")).hits
    assert hit.id == "gm2"
    body = hit.highlights["body"]
    assert "<mark>dự toán</mark>" in body
    assert "&lt;kế hoạch&gt; &amp;" in body
    assert "<kế" not in body
    (hit,) = office.search(SearchRequest(q="uy ban nhan dan phuong an cuu")).hits
    assert "<mark>ỦY BAN</mark> <mark>NHÂN DÂN</mark>" in hit.highlights["body"]
    assert "<mark>" in hit.highlights["fields_text"]
    (hit,) = office.search(SearchRequest(q="qd-ubnd")).hits
    assert hit.highlights["number"] == "15/<mark>QĐ-UBND</mark>"


def test_exact_mode_marks_only_the_exact_spelling(office):
    (hit,) = office.search(SearchRequest(q='"bàn giao"', exact=True)).hits
    assert "<mark>Bàn giao</mark>" in hit.highlights["body"]
    assert "địa <mark>" not in hit.highlights["body"]  # "bàn. Giao": not the phrase
    (hit,) = office.search(SearchRequest(q="hồ sơ", exact=True, type_codes=["22"])).hits
    assert "<mark>hồ sơ</mark>" in hit.highlights["title"]


def test_snippets_can_be_turned_off(office):
    assert all(
        not h.highlights for h in office.search(SearchRequest(q="ho so", snippets=False)).hits
    )


# --- dossiers --------------------------------------------------------------------------------


def test_a_dossier_is_found_by_its_own_metadata_and_by_its_documents_text(office):
    assert ids(office, "giay phep xay dung", kind="dossier") == ["d-1"]
    assert ids(office, "ban giao", kind="dossier") == ["d-1"]  # from document cv7
    hit = office.search(SearchRequest(q="ban giao", kind="dossier")).hits[0]
    assert hit.kind == "dossier" and "<mark>" in hit.highlights["document"]
    assert set(ids(office, '"cai cach" OR "tuyen dung"', kind="dossier")) == {"d-2", "d-3"}
    r = office.search(SearchRequest(q="ho so", kind="dossier"))
    assert r.total == 3 and r.facets["fonds_code"] == {"000.00.00.H49": 2, "000.00.00.H50": 1}


def test_dossier_search_leaks_nothing_hidden(office):
    # d-3 and its document are secret (03): a caller allowed only 01 sees neither
    assert ids(office, "tuyen dung", kind="dossier", access_modes=["01"]) == []
    assert ids(office, "tuyen dung", kind="dossier", fonds_codes=["000.00.00.H49"]) == []
    assert ids(office, "tuyen dung", kind="dossier", access_modes=["03"]) == ["d-3"]
    r = office.search(SearchRequest(q="", kind="dossier", fonds_codes=["000.00.00.H49"]))
    assert r.total == 2 and r.facets["fonds_code"] == {"000.00.00.H49": 2}


def test_dossier_search_with_document_filters_counts_only_documents(office):
    assert ids(office, "ho so", kind="dossier", type_codes=["22"]) == ["d-1"]
    assert ids(office, "", kind="dossier", type_codes=["01"]) == ["d-2"]
    assert ids(office, "", kind="dossier", sort="date_asc") == ["d-3", "d-1", "d-2"]
