"""The query language and the text analysis underneath it."""

from __future__ import annotations

import pytest

from repo_server.search.analysis import Highlighter, number_parts, phrases, text_terms
from repo_server.search.backend import QuerySyntaxError
from repo_server.search.query import OR, Field, Number, Phrase, Run, Word, parse


def test_plain_words_phrases_exclusions_and_or():
    p = parse('Ủy ban "phê duyệt" -nháp -"dự thảo" quyết định OR chỉ thị 15/QĐ-UBND')
    number = Number("15/qđ-ubnd", ("15", "qđ", "ubnd"))
    assert p.items == [
        Run(("ủy", "ban")),
        Phrase(("phê", "duyệt")),
        Run(("quyết", "định")),
        OR,
        Run(("chỉ", "thị")),
        number,
    ]
    assert p.excluded == [Run(("nháp",)), Phrase(("dự", "thảo"))]
    groups, neighbours = p.words()
    assert groups == [
        [Word(("ủy",))],
        [Word(("ban",))],
        [Phrase(("phê", "duyệt"))],
        [Run(("quyết", "định")), Run(("chỉ", "thị"))],
        [number],
    ]
    assert neighbours == [("ủy", "ban"), ("quyết", "định"), ("chỉ", "thị")]


def test_unquoted_words_are_each_required_whatever_the_corpus():
    groups, neighbours = parse("on dinh").words()
    assert groups == [[Word(("on",))], [Word(("dinh",))]]
    assert neighbours == [("on", "dinh")]  # a ranking bonus only


def test_or_joins_the_runs_next_to_it():
    groups, neighbours = parse("quyết định OR công văn, năm 2024").words()
    assert groups == [
        [Run(("quyết", "định")), Run(("công", "văn", "năm", "2024"))],
    ]
    assert neighbours == [("quyết", "định"), ("công", "văn"), ("văn", "năm"), ("năm", "2024")]
    groups, _ = parse("quyết định OR công văn. Năm 2024").words()
    assert groups == [
        [Run(("quyết", "định")), Run(("công", "văn"))],
        [Word(("năm",))],
        [Word(("2024",))],
    ]
    groups, _ = parse('"ủy ban" OR "hội đồng" OR sở').words()
    assert groups == [[Phrase(("ủy", "ban")), Phrase(("hội", "đồng")), Run(("sở",))]]


def test_punctuation_inside_a_phrase_is_ignored_but_a_sentence_end_cuts_it():
    assert parse('"Tài chính – Kế hoạch"').items == [Phrase(("tài", "chính", "kế", "hoạch"))]
    assert parse('"tài chính, kế hoạch"').items == parse('"tài chính kế hoạch"').items
    assert parse('"trên địa bàn. Giao sở"').items == [
        Phrase(("trên", "địa", "bàn", "giao", "sở"), cuts=(3,))
    ]
    assert Phrase(("a", "b", "c"), cuts=(1,)).pairs() == [("b", "c")]


def test_field_prefixes():
    p = parse('file:pdf code:H57.2026 number:15/QĐ-UBND -file:"tờ trình" FILE:Docx quyết')
    assert p.items == [
        Field("file", "pdf", ("pdf",)),
        Field("code", "h57.2026", ("h57", "2026")),
        Field("number", "15/qđ-ubnd", ("15", "qđ", "ubnd")),
        Field("file", "docx", ("docx",)),
        Run(("quyết",)),
    ]
    assert p.excluded == [Field("file", "tờ trình", ("tờ", "trình"))]
    assert parse("http://x Số: 15").items == [Run(("http", "x", "số", "15"))]  # no prefix


def test_an_exclusion_or_a_sentence_end_ends_a_run_but_a_comma_does_not():
    assert parse("ủy -x ban").items == [Run(("ủy",)), Run(("ban",))]
    assert parse("ủy. ban").items == [Run(("ủy",)), Run(("ban",))]
    assert parse("ủy, ban").items == [Run(("ủy", "ban"))]


def test_a_dash_only_excludes_at_the_start_of_a_term():
    p = parse("Sở Lao động - Thương binh và Xã hội")
    assert p.excluded == []
    assert p.items == [Run(("sở", "lao", "động", "thương", "binh", "và", "xã", "hội"))]


def test_typographic_quotes_work_and_empty_input_is_empty():
    assert parse("“bàn giao”").items == [Phrase(("bàn", "giao"))]
    assert parse("").is_empty and parse("  ,;( ) ").is_empty


@pytest.mark.parametrize(
    "q", ['"ủy ban', 'a "b" "c', "uy ban OR", "OR x", "a OR OR b", "x OR -y", "file:", 'code:"'])
def test_unreadable_queries_raise_with_a_message(q):
    with pytest.raises(QuerySyntaxError) as err:
        parse(q)
    assert str(err.value)


def test_too_long_a_query_is_refused():
    with pytest.raises(QuerySyntaxError):
        parse(" ".join(["ban"] * 100))


def test_number_parts():
    assert number_parts("15/qđ-ubnd") == ["15", "15/qđ", "15/qđ-ubnd", "qđ", "qđ-ubnd", "ubnd"]
    assert "2024/nđ-cp" in number_parts("123/2024/nđ-cp")
    assert "000.00.12.h57" in number_parts("000.00.12.h57.2021.05.th")


def test_only_a_sentence_end_separates_phrases():
    assert phrases("Trên địa bàn. Giao Sở; số 15/QĐ-UBND (x) Tài chính – Kế hoạch, Đầu tư") == [
        ["trên", "địa", "bàn"],
        ["giao", "sở"],
        ["số", "15", "qđ", "ubnd", "x", "tài", "chính", "kế", "hoạch", "đầu", "tư"],
    ]
    assert text_terms("Ủy ban, nhân dân", folded=True, pairs=True) == [
        "uy ban", "ban nhan", "nhan dan"]
    assert text_terms("Ủy ban. Nhân dân ¶ x", folded=True, pairs=True) == ["uy ban", "nhan dan"]


def test_highlighter_marks_words_and_escapes_html():
    h = Highlighter([("uy", "ban")], exact=False)
    assert (
        h.whole("<b>ỦY BAN</b> & Uỷ ban")
        == "&lt;b&gt;<mark>ỦY BAN</mark>&lt;/b&gt; &amp; <mark>Uỷ ban</mark>"
    )
    assert h.whole("ủy. Ban") is None  # a sentence end between: not the word
    assert h.whole("Ủy – ban") == "<mark>Ủy – ban</mark>"
    exact = Highlighter([("bàn",)], exact=True)
    assert exact.whole("bàn bán BÀN bản") == "<mark>bàn</mark> bán <mark>BÀN</mark> bản"
    long_text = "mở đầu " * 100 + "ủy ban nhân dân" + " kết thúc" * 100
    snippet = h.snippet(long_text, width=60)
    assert snippet.startswith("…") and snippet.endswith("…") and "<mark>ủy ban</mark>" in snippet
    assert len(snippet) < 120


def test_highlighter_word_starts_and_letters_whose_lower_case_is_longer():
    h = Highlighter([("ban",)], exact=False)
    # not inside a word, also when a longer word's match would overlap a real one
    assert h.whole("Ủyban bàn") == "Ủyban <mark>bàn</mark>"
    assert h.whole("banh BAN_x ban") == "banh <mark>BAN</mark>_x <mark>ban</mark>"
    # İ lower-cases to two characters: the marks stay where they belong in the text
    assert h.whole("İİ Bản İ ban") == "İİ <mark>Bản</mark> İ <mark>ban</mark>"
    pair = Highlighter([("an", "an")], exact=False)
    assert pair.whole("ban an an") == "ban <mark>an an</mark>"
