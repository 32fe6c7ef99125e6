"""The order a clerk expects for a multi-word query (issue 13 §6), on small fixtures:
phrase in the subject > every word in the subject > phrase in the text > words scattered;
diacritics as typed above a folded match; the more recent first on ties."""

from __future__ import annotations

from datetime import date

from repo_server.search.backend import SearchRequest

from .conftest import ids, record

# many repetitions give the lower places a higher BM25: only the place may decide
SCATTERED = "kế sách, hoạch toán; đầu tiên. Tư liệu. " * 20


def test_the_place_of_the_match_decides_before_bm25(backend):
    backend.upsert([
        record("scattered", "Văn bản khác", SCATTERED),
        record("text_phrase", "Thông báo", "Về kế hoạch đầu tư công năm 2025."),
        record("subject_words", "Đầu tư trang thiết bị theo kế hoạch"),
        record("subject_phrase", "Quyết định phê duyệt kế hoạch đầu tư công trung hạn "
                                 "giai đoạn 2021 - 2025 của tỉnh"),
    ])
    order = ["subject_phrase", "subject_words", "text_phrase", "scattered"]
    assert ids(backend, "kế hoạch đầu tư") == order
    assert ids(backend, "ke hoach dau tu") == order
    assert ids(backend, "kế hoạch đầu tư", exact=True) == order
    scores = [h.score for h in backend.search(SearchRequest(q="ke hoach dau tu")).hits]
    assert scores == sorted(scores, reverse=True)


def test_a_phrase_in_the_subject_ranks_above_the_phrase_in_the_text(backend):
    backend.upsert([
        record("text", "Công văn", "bàn giao hồ sơ " * 30),
        record("subject", "Biên bản bàn giao hồ sơ lưu trữ", "Nội dung biên bản."),
    ])
    assert ids(backend, '"bàn giao"') == ["subject", "text"]


def test_diacritics_as_typed_rank_above_a_folded_match(backend):
    backend.upsert([
        record("folded", "Bán giao hàng"),  # the words of the query, with other marks
        record("typed", "Công văn", "Bàn ghế cũ. Giao nhận hồ sơ."),
    ])
    assert ids(backend, "bàn giao") == ["typed", "folded"]
    assert ids(backend, "bán giao") == ["folded", "typed"]


def test_the_more_recent_first_on_ties(backend):
    backend.upsert([
        record("new", "Thông báo lịch họp", date=date(2025, 6, 1)),
        record("mid", "Thông báo lịch họp", date=date(2024, 6, 1)),
        record("old", "Thông báo lịch họp", date=date(2020, 6, 1)),
    ])
    assert ids(backend, "lich hop") == ["new", "mid", "old"]
    backend.upsert([record("newest", "Thông báo lịch họp", date=date(2026, 1, 5))])
    assert ids(backend, "lich hop")[0] == "newest"
