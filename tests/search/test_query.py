"""The query language and the text analysis underneath it."""

from __future__ import annotations

import pytest

from repo_server.search.analysis import Highlighter, number_parts, phrases, text_terms
from repo_server.search.backend import QuerySyntaxError
from repo_server.search.query import OR, Number, Phrase, Run, Word, parse, segment

WORDS = {("ủy", "ban"), ("quyết", "định"), ("chỉ", "thị"), ("công", "văn")}


def cohesion(a, b):
    return 0.9 if (a, b) in WORDS else 0.0


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
    groups, neighbours = p.words(cohesion)
    assert groups == [
        [Word(("ủy", "ban"))],
        [Phrase(("phê", "duyệt"))],
        [Word(("quyết", "định")), Word(("chỉ", "thị"))],
        [number],
    ]
    assert neighbours == []


def test_or_joins_the_words_next_to_it():
    groups, neighbours = parse("quyết định OR công văn năm 2024").words(cohesion)
    assert groups == [
        [Word(("quyết", "định")), Word(("công", "văn"))],
        [Word(("năm",))],
        [Word(("2024",))],
    ]
    assert neighbours == [("văn", "năm"), ("năm", "2024")]
    groups, _ = parse('"ủy ban" OR "hội đồng" OR sở').words(cohesion)
    assert groups == [[Phrase(("ủy", "ban")), Phrase(("hội", "đồng")), Word(("sở",))]]


def test_an_exclusion_or_punctuation_ends_a_run():
    assert parse("ủy -x ban").items == [Run(("ủy",)), Run(("ban",))]
    assert parse("ủy, ban").items == [Run(("ủy",)), Run(("ban",))]


def test_a_dash_only_excludes_at_the_start_of_a_term():
    p = parse("Sở Lao động - Thương binh và Xã hội")
    assert p.excluded == []
    assert p.items == [Run(("sở", "lao", "động")), Run(("thương", "binh", "và", "xã", "hội"))]


def test_typographic_quotes_work_and_empty_input_is_empty():
    assert parse("“bàn giao”").items == [Phrase(("bàn", "giao"))]
    assert parse("").is_empty and parse("  ,;( ) ").is_empty


@pytest.mark.parametrize("q", ['"ủy ban', 'a "b" "c', "uy ban OR", "OR x", "a OR OR b", "x OR -y"])
def test_unreadable_queries_raise_with_a_message(q):
    with pytest.raises(QuerySyntaxError) as err:
        parse(q)
    assert str(err.value)


def test_too_long_a_query_is_refused():
    with pytest.raises(QuerySyntaxError):
        parse(" ".join(["ban"] * 100))


def test_segment_pairs_cohesive_syllables():
    cohesive = {
        ("so", "ke"): 0.2,
        ("ke", "hoach"): 0.95,
        ("hoach", "dau"): 0.35,
        ("dau", "tu"): 0.9,
    }

    def cohesion(a, b):
        return cohesive.get((a, b), 0.0)

    assert segment(("so", "ke", "hoach", "dau", "tu"), cohesion) == [
        ("so",),
        ("ke", "hoach"),
        ("dau", "tu"),
    ]
    assert segment(("ban",), cohesion) == [("ban",)]
    assert segment((), cohesion) == []


def test_number_parts():
    assert number_parts("15/qđ-ubnd") == ["15", "15/qđ", "15/qđ-ubnd", "qđ", "qđ-ubnd", "ubnd"]
    assert "2024/nđ-cp" in number_parts("123/2024/nđ-cp")
    assert "000.00.12.h57" in number_parts("000.00.12.h57.2021.05.th")


def test_punctuation_separates_phrases_but_not_number_parts():
    assert phrases("Trên địa bàn. Giao Sở; số 15/QĐ-UBND (x)") == [
        ["trên", "địa", "bàn"],
        ["giao", "sở"],
        ["số", "15", "qđ", "ubnd"],
        ["x"],
    ]
    assert text_terms("Ủy ban, nhân dân", folded=True, pairs=True) == ["uy ban", "nhan dan"]


def test_highlighter_marks_words_and_escapes_html():
    h = Highlighter([("uy", "ban")], exact=False)
    assert (
        h.whole("<b>ỦY BAN</b> & Uỷ ban")
        == "&lt;b&gt;<mark>ỦY BAN</mark>&lt;/b&gt; &amp; <mark>Uỷ ban</mark>"
    )
    assert h.whole("ủy. Ban") is None  # punctuation between: not the word
    exact = Highlighter([("bàn",)], exact=True)
    assert exact.whole("bàn bán BÀN bản") == "<mark>bàn</mark> bán <mark>BÀN</mark> bản"
    long_text = "mở đầu " * 100 + "ủy ban nhân dân" + " kết thúc" * 100
    snippet = h.snippet(long_text, width=60)
    assert snippet.startswith("…") and snippet.endswith("…") and "<mark>ủy ban</mark>" in snippet
    assert len(snippet) < 120
