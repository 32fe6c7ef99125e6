"""Codes and file names are fields of their own (issue 13 §3): ``code:``, ``file:`` and
``number:`` find them; plain words do not, except the document number."""

from __future__ import annotations

import pytest

from .conftest import ids, record


@pytest.fixture
def coded(backend):
    backend.upsert([
        record("a", "Tờ trình xin kinh phí", "Nội dung năm nay.", number="15/TTr-UBND",
               codes=("000.00.12.H57.2026.01.X97", "000.00.12.H57.2026.01.0000001"),
               files=("to-trinh-2026.txt", "Phụ lục.pdf")),
        record("b", "Báo cáo tổng kết", "Báo cáo kết quả năm 2026.",
               codes=("000.00.12.H57.2025.03.0000002",), files=("bao-cao.docx",)),
    ])
    return backend


def test_plain_words_do_not_match_codes_or_file_names(coded):
    assert ids(coded, "x97") == []
    assert ids(coded, "txt") == []
    assert ids(coded, "pdf") == []
    assert ids(coded, "2026") == ["b"]  # in b's text; a only has it in its codes and files


def test_code_prefix_finds_a_code_whole_or_by_parts(coded):
    assert ids(coded, "code:x97") == ["a"]
    assert ids(coded, "code:000.00.12.H57.2026.01.X97") == ["a"]
    assert ids(coded, "code:H57.2026") == ["a"]
    assert set(ids(coded, "code:H57")) == {"a", "b"}
    assert ids(coded, "code:2026.03") == []
    assert ids(coded, "code:x97", exact=True) == ["a"]


def test_file_prefix_finds_file_names(coded):
    assert ids(coded, "file:txt") == ["a"]
    assert ids(coded, 'file:"phụ lục"') == ["a"]
    assert ids(coded, "file:phu") == ["a"]
    assert ids(coded, "file:docx OR file:pdf") == ["b", "a"] or set(
        ids(coded, "file:docx OR file:pdf")) == {"a", "b"}
    assert ids(coded, "bao cao -file:docx") == []


def test_number_stays_a_plain_word_and_has_a_prefix(coded):
    assert ids(coded, "15/TTr-UBND") == ["a"]
    assert ids(coded, "number:15/ttr-ubnd") == ["a"]
    assert ids(coded, "number:TTr") == ["a"]
    assert ids(coded, "number:kinh") == []
