"""Diacritics, generated from the alphabet rather than hand-picked.

For every Vietnamese vowel (12 bases) with every tone (6), in upper and lower case, in NFC
and NFD, a document holding a syllable that begins with that letter is found by the query
typed without accents; exact mode finds exactly the right spelling; old and new tone placement
are the same word.
"""

from __future__ import annotations

import unicodedata
from itertools import product

import pytest

from repo_server.search import SearchRequest
from repo_server.search.analysis import (
    TONE_MARKS,
    VOWEL_BASES,
    all_letters_with_diacritics,
    all_vowel_forms,
    canonical,
    fold,
    toned,
)

from .conftest import ENGINES, dossier, drop_backend, ids, new_backend, record

TONES = ["", *TONE_MARKS]  # no mark, grave, acute, hook, tilde, dot below
CASES = (str.lower, str.upper)
FORMS = ("NFC", "NFD")


def _letters():
    """(base, tone, case, form, letter) for the whole vowel alphabet, 12 × 6 × 2 × 2 = 288."""
    for base, tone, case, form in product(VOWEL_BASES, TONES, CASES, FORMS):
        yield base, tone, case.__name__, form, unicodedata.normalize(form, case(toned(base, tone)))


def test_the_alphabet_has_134_letters_with_diacritics_and_all_fold_to_ascii():
    letters = all_letters_with_diacritics()
    assert len(letters) == 134 == len(set(letters))
    assert len(all_vowel_forms()) == 132  # (12 bases × 6 tones − 6 plain ASCII vowels) × 2
    for letter in letters:
        folded = fold(canonical(letter))
        assert folded.isascii() and folded.isalpha() and len(folded) == 1, letter
    assert fold(canonical("ĐƯỜNG ĐỒNG")) == "duong dong"


@pytest.fixture(scope="module", params=ENGINES)
def alphabet_index(request, tmp_path_factory):  # noqa: ANN001
    """One document per letter: "Mã <n>: <letter>ng khác" (a syllable starting with it)."""
    backend = new_backend(request.param, tmp_path_factory.mktemp("alphabet"))
    docs = {}
    records = [dossier("d-1", "Hồ sơ chữ cái")]
    for i, (base, tone, case, form, letter) in enumerate(_letters()):
        rid = f"v{i}"
        docs[rid] = (base, tone, case, form, letter)
        records.append(record(rid, title=f"Mã {i}", body=f"Văn bản có âm tiết {letter}ng ở đây"))
    for i, (case, form) in enumerate(product(CASES, FORMS)):
        rid = f"dd{i}"
        letter = unicodedata.normalize(form, case("đ"))
        docs[rid] = ("đ", "", case.__name__, form, letter)
        records.append(record(rid, body=f"Đơn vị {letter}ồng ý"))
    backend.upsert(records)
    yield backend, docs
    drop_backend(backend)


def test_every_vowel_tone_case_and_normal_form_is_found_without_accents(alphabet_index):
    backend, docs = alphabet_index
    missing = []
    for rid, (base, _tone, case, form, letter) in docs.items():
        if base == "đ":
            continue
        q = fold(base) + "ng"  # what a clerk types on a phone: no accents at all
        if rid not in ids(backend, q):
            missing.append((letter, case, form))
    assert not missing


def test_d_with_stroke_is_found_as_d(alphabet_index):
    backend, docs = alphabet_index
    found = set(ids(backend, "dong y"))
    assert {rid for rid, d in docs.items() if d[0] == "đ"} <= found


def test_exact_mode_finds_exactly_one_spelling_in_any_case_and_form(alphabet_index):
    backend, docs = alphabet_index
    for base, tone in product(VOWEL_BASES, TONES):
        q = toned(base, tone) + "ng"
        expected = {rid for rid, d in docs.items() if d[0] == base and d[1] == tone}
        assert len(expected) == 4  # lower/upper × NFC/NFD
        assert set(ids(backend, q, exact=True)) == expected, q
        assert set(ids(backend, q.upper(), exact=True)) == expected, q


def test_default_mode_ranks_the_exact_spelling_first(alphabet_index):
    backend, docs = alphabet_index
    for base, tone in [("a", "\u0301"), ("ư", "\u0303"), ("y", "\u0309"), ("e", "")]:
        q = toned(base, tone) + "ng"
        hits = ids(backend, q)
        exact = {rid for rid, d in docs.items() if d[0] == base and d[1] == tone}
        assert set(hits[: len(exact)]) == exact, q
        assert len(hits) > len(exact)  # the other spellings follow


# --- tone placement --------------------------------------------------------------------------

PAIRS = [
    ("hoà", "hòa"),
    ("Hoà", "Hòa"),
    ("khoẻ", "khỏe"),
    ("thuỷ", "thủy"),
    ("Uỷ ban", "Ủy ban"),
    ("UỶ BAN", "ỦY BAN"),
    ("luỹ", "lũy"),
    ("tuỳ", "tùy"),
    ("hoạ", "họa"),
    ("xoè", "xòe"),
]


@pytest.mark.parametrize("old,new", PAIRS)
def test_old_and_new_tone_placement_are_one_word(old, new):
    assert canonical(old) == canonical(new)
    assert canonical(unicodedata.normalize("NFD", old)) == canonical(new)


@pytest.mark.parametrize("word", ["quý", "quỳnh", "hoàng", "thuyết", "khuya", "hoài", "quả"])
def test_syllables_with_one_spelling_are_left_alone(word):
    assert canonical(word) == word


def test_misplaced_marks_before_a_final_consonant_are_moved():
    assert canonical("hòang") == "hoàng"
    assert canonical("hùynh") == "huỳnh"
    assert canonical("qủy") == "quỷ"


def test_old_and_new_placement_find_each_other_in_both_modes(backend):
    backend.upsert([record(f"old{i}", body=f"văn bản {old}") for i, (old, _) in enumerate(PAIRS)])
    backend.upsert([record(f"new{i}", body=f"văn bản {new}") for i, (_, new) in enumerate(PAIRS)])
    for i, (old, new) in enumerate(PAIRS):
        for q in (old, new):
            for exact in (False, True):
                found = set(ids(backend, q, exact=exact))
                assert {f"old{i}", f"new{i}"} <= found, (q, exact)


# --- exact mode ------------------------------------------------------------------------------

MARKS = {"ban": "ban", "bán": "bán", "bàn": "bàn", "bản": "bản", "bạn": "bạn"}


def test_exact_mode_separates_ban_ban_ban(backend):
    backend.upsert([record(f"r-{w}", body=f"Biên bản {w} giao tài sản") for w in MARKS])
    for word in MARKS:
        if word == "bản":  # every document says "Biên bản"
            assert set(ids(backend, word, exact=True)) == {f"r-{w}" for w in MARKS}
            continue
        assert ids(backend, word, exact=True) == [f"r-{word}"], word
        assert ids(backend, f"{word} giao", exact=True) == [f"r-{word}"], word
    assert set(ids(backend, "ban giao")) == {f"r-{w}" for w in MARKS}
    # the phrase "bàn giao" must not match "bán giao" or "bản giao"
    assert ids(backend, '"bàn giao"', exact=True) == ["r-bàn"]


def test_default_mode_ranks_exact_diacritics_above_folded_matches(backend):
    backend.upsert(
        [
            record("a", title="Bán đấu giá tài sản", body="bán đấu giá bán đấu giá bán đấu giá"),
            record("b", title="Bàn giao tài sản", body="bàn giao"),
            record("c", title="Bản sao", body="bản sao y"),
        ]
    )
    hits = backend.search(SearchRequest(q="bàn")).hits
    assert [h.id for h in hits][0] == "b"
    assert {h.id for h in hits} == {"a", "b", "c"}
    assert [h.id for h in backend.search(SearchRequest(q="bán")).hits][0] == "a"
    assert [h.id for h in backend.search(SearchRequest(q="bản")).hits][0] == "c"
