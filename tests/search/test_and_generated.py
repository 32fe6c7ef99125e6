"""Unquoted words are AND, anywhere (issue 13 §1), checked on generated records.

For any set of syllables from the alphabet (any onset, any of the 72 vowel forms, any final),
placed anywhere in a record (subject, number, other metadata, text, between any punctuation,
in any case and normal form) and typed in any order, the unquoted query finds the record: in
the default mode typed with or without diacritics, in exact mode typed as written. The index
also holds, for each of these syllables, common pairs with others, so that nothing the corpus
says about which syllables "go together" can change the answer.
"""

from __future__ import annotations

import os
import random
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repo_server.search.analysis import TONE_MARKS, VOWEL_BASES, canonical, fold, toned

from .conftest import ENGINES, drop_backend, ids, new_backend, record

ONSETS = ["", "b", "c", "ch", "d", "đ", "g", "gi", "h", "k", "kh", "l", "m", "n", "ng", "nh",
          "p", "ph", "r", "s", "t", "th", "tr", "v", "x"]
FINALS = ["", "c", "ch", "m", "n", "ng", "nh", "p", "t"]
VOWELS = [toned(base, mark) for base in VOWEL_BASES for mark in ("", *TONE_MARKS)]
SEPARATORS = [" ", ", ", " – ", " - ", "/", " (", ") ", ": ", "; ", ". ", "\n", " … "]
PLACES = ("title", "fields_text", "body")

syllable = st.builds(lambda o, v, f: o + v + f, st.sampled_from(ONSETS), st.sampled_from(VOWELS),
                     st.sampled_from(FINALS))
filler = st.lists(syllable, min_size=0, max_size=6)


@st.composite
def placed(draw):
    """(the syllables, the record's texts by place) with the syllables spread over them."""
    words = draw(st.lists(syllable, min_size=1, max_size=5, unique_by=lambda s: canonical(s)))
    texts: dict[str, list[str]] = {p: draw(filler) for p in PLACES}
    for w in words:
        place = draw(st.sampled_from(PLACES))
        at = draw(st.integers(0, len(texts[place])))
        form = draw(st.sampled_from(["NFC", "NFD"]))
        case = draw(st.sampled_from([str.lower, str.upper, str.title]))
        texts[place].insert(at, unicodedata.normalize(form, case(w)))
    out = {}
    for place, parts in texts.items():
        text = ""
        for i, part in enumerate(parts):
            text += (draw(st.sampled_from(SEPARATORS)) if i else "") + part
        out[place] = text
    order = draw(st.permutations(words))
    return list(order), out


@pytest.fixture(scope="module", params=ENGINES)
def generated(request, tmp_path_factory):  # noqa: ANN001
    backend = new_backend(request.param, tmp_path_factory.mktemp("and"))
    yield backend
    drop_backend(backend)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(st.tuples(placed(), st.lists(syllable, min_size=2, max_size=4)),
                      min_size=6, max_size=6))
def test_every_word_anywhere_in_any_order_is_found_in_both_modes(generated, cases):
    # hypothesis seeds the global random generator the same way for every example, and whoosh
    # names new segments with it: without this, two commits would write the same file names
    random.seed(os.urandom(16))
    records = []
    for c, ((words, texts), neighbours) in enumerate(cases):  # six cases a commit
        # other records put the query's syllables next to each other, often: a corpus that
        # "knows" them as words must not make adjacency required
        records += [record(f"o{c}-{i}", " ".join(words[i:] + words[:i]), " ".join(neighbours))
                    for i in range(len(words))]
        records.append(record(f"target{c}", texts["title"], texts["body"],
                              fields_text=texts["fields_text"]))
    generated.upsert(records)
    for c, ((words, texts), _) in enumerate(cases):
        target = f"target{c}"
        q = " ".join(w.lower() for w in words)
        assert target in ids(generated, q), (q, texts)
        assert target in ids(generated, fold(canonical(q))), (q, texts)
        assert target in ids(generated, q, exact=True), (q, texts)
        assert target in ids(generated, q.upper(), exact=True), (q, texts)
