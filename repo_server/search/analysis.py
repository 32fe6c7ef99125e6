"""Vietnamese text analysis: normalisation, diacritic folding, syllables, bigrams, numbers.

Two forms of every text are indexed:

* exact: NFC, lower case, tone marks in one canonical place (``canonical``);
* folded: the exact form without any diacritic, đ → d (``fold``).

Tone placement: ``hoà/hòa``, ``khoẻ/khỏe``, ``thuỷ/thủy``, ``Uỷ/Ủy`` are the same word written
in the "new" and the "old" style. The canonical form puts the mark on the first vowel of an
open ``oa``/``oe``/``uy`` (hòa, khỏe, thủy, ủy), the spelling used in most administrative
text; with a final consonant both styles agree (hoàng, thuyết) and a misplaced mark is moved
(hòang → hoàng). ``qu`` is a consonant, so ``quý``, ``quỳ`` are left alone.

Syllables are runs of letters and digits; spaces and punctuation separate them. A bigram is
two adjacent syllables joined by a space ("ủy ban"); bigrams are indexed in their own fields
so that a two-syllable word is one posting list instead of the intersection of two long ones.

Indexing is the hot path of a full reindex, so the fields below compute their terms with a
few C-implemented string operations per document instead of whoosh's token-at-a-time
analyzer chain; the ``analyzer`` kept on each field (same result) serves whoosh's own tools.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from functools import partial
from itertools import chain, repeat
from operator import add, lt, mul

from whoosh import analysis, fields, formats

TONE_MARKS = {
    "\u0300": "grave",
    "\u0301": "acute",
    "\u0309": "hook",
    "\u0303": "tilde",
    "\u0323": "dot",
}
# The twelve vowel letters (base + quality mark) of Vietnamese.
VOWEL_BASES = ["a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y"]


def toned(base: str, mark: str) -> str:
    """The precomposed letter for a vowel base and a tone mark (a combining character)."""
    return unicodedata.normalize("NFC", base + mark)


def all_vowel_forms() -> list[str]:
    """The 132 precomposed Vietnamese vowels with a diacritic, lower and upper case.

    12 bases × 6 tones = 72 lower-case forms, 6 of them plain ASCII (a e i o u y): 66 × 2.
    """
    forms = []
    for base in VOWEL_BASES:
        for mark in ("", *TONE_MARKS):
            ch = toned(base, mark)
            if not ch.isascii():
                forms.extend([ch, ch.upper()])
    return forms


def all_letters_with_diacritics() -> list[str]:
    """The 134 letters the folding must handle: the 132 vowel forms plus đ and Đ."""
    return [*all_vowel_forms(), "đ", "Đ"]


# --- tone placement -----------------------------------------------------------------------

_LETTER = r"[^\W\d_]"


def _tone_of(ch: str) -> str:
    for c in unicodedata.normalize("NFD", ch):
        if c in TONE_MARKS:
            return c
    return ""


def _toned_class(base: str) -> str:
    return "".join(toned(base, m) for m in TONE_MARKS)


_A, _E, _Y, _O, _U = (_toned_class(v) for v in "aeyou")
_TONE_RE = re.compile(
    # open oa / oe / uy (not after q): mark goes on the first vowel (hoà → hòa, uỷ → ủy)
    rf"o(?P<oa>[{_A}{_E}])(?!{_LETTER})"
    rf"|(?<!q)u(?P<uy>[{_Y}])(?!{_LETTER})"
    # oa / oe / uy followed by a final consonant or vowel: mark on the second vowel
    rf"|(?P<o>[{_O}])(?P<ae>[ae])(?={_LETTER})"
    rf"|(?<!q)(?P<u>[{_U}])y(?=(?:nh|ch|n|t)(?!{_LETTER}))"
    # qu is a consonant: the mark is on the vowel after it (qủy → quỷ)
    rf"|q(?P<qu>[{_U}])y"
)


def _move_tone(m: re.Match) -> str:
    g = m.groupdict()
    if g["oa"]:
        return toned("o", _tone_of(g["oa"])) + unicodedata.normalize("NFD", g["oa"])[0]
    if g["uy"]:
        return toned("u", _tone_of(g["uy"])) + "y"
    if g["o"]:
        return "o" + toned(g["ae"], _tone_of(g["o"]))
    if g["u"]:
        return "u" + toned("y", _tone_of(g["u"]))
    return "qu" + toned("y", _tone_of(g["qu"]))


def canonical(text: str) -> str:
    """The exact form: NFC, lower case, canonical tone placement."""
    text = unicodedata.normalize("NFC", text).lower()
    return _TONE_RE.sub(_move_tone, text)


# --- folding ------------------------------------------------------------------------------


def _fold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        ch = chr(cp)
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        if base != ch and base.isascii() and base.isalpha():
            table[cp] = base
    table.update({ord("đ"): "d", ord("Đ"): "D", ord("ð"): "d", ord("Ð"): "D"})
    for cp in range(0x300, 0x370):  # stray combining marks (text that NFC could not compose)
        table[cp] = None
    return table


FOLD_TABLE = _fold_table()


def fold(text: str) -> str:
    """Remove every diacritic (all Vietnamese vowel forms, đ → d); expects canonical()."""
    return text.translate(FOLD_TABLE)


def has_diacritics(word: str) -> bool:
    return fold(word) != word


# --- tokens -------------------------------------------------------------------------------

# letters and digits (and combining marks NFC could not compose); "_" separates
SYLLABLE_RE = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")
NUMBER_RE = re.compile(r"[^\W_]+(?:[/.\-][^\W_]+)+")
_NUMBER_SPLIT = re.compile(r"([/.\-])")


def syllables(text: str, folded: bool = False) -> list[str]:
    """The syllables of any text, in exact (or folded) form."""
    text = canonical(text)
    return SYLLABLE_RE.findall(fold(text) if folded else text)


# Punctuation inside a field does not end a phrase: "Phòng Tài chính – Kế hoạch" holds the
# bigram "chính kế", "Lao động, Thương binh" the bigram "động thương", "Sở KH/ĐT" "kh đt".
# Only the end of a sentence (". ", "! ", "? ", "; ", "…") and the separator between two fields
# (FIELD_SEPARATOR) end one: "Trên địa bàn. Giao Sở" does not say "bàn giao". Between two
# syllables of one token ("1.500", "000.00.12.H57", "15/QĐ-UBND") nothing breaks.
FIELD_SEPARATOR = "¶"
_BREAKERS = frozenset(".!?;…" + FIELD_SEPARATOR)
BREAK = None


def _breaks(gap: str) -> bool:
    return not _BREAKERS.isdisjoint(gap)


def token_syllables(raw: str, folded: bool = False) -> list[str | None]:
    """Syllables of one whitespace-separated token, with BREAK where a sentence ends."""
    text = canonical(raw)
    if folded:
        text = fold(text)
    out: list[str | None] = []
    pos = 0
    for m in SYLLABLE_RE.finditer(text):
        if pos == 0 and m.start() and _breaks(text[: m.start()]):
            out.append(BREAK)
        out.append(m.group())
        pos = m.end()
    if _breaks(text[pos:]):
        out.append(BREAK)
    return out


def phrases(text: str, folded: bool = False) -> list[list[str]]:
    """Text as runs of syllables that no sentence end (or field separator) separates."""
    runs: list[list[str]] = [[]]
    for raw in text.split():
        for s in token_syllables(raw, folded):
            if s is BREAK:
                if runs[-1]:
                    runs.append([])
            else:
                runs[-1].append(s)
    return [r for r in runs if r]


def bigrams(sylls: list[str]) -> list[str]:
    return [f"{a} {b}" for a, b in zip(sylls, sylls[1:], strict=False)]


def text_terms(text: str, folded: bool, pairs: bool) -> list[str]:
    """The terms a VietField indexes for ``text`` (what DocumentAnalyzer.counts counts)."""
    runs = phrases(text, folded)
    if pairs:
        return [b for run in runs for b in bigrams(run)]
    return [s for run in runs for s in run]


def number_parts(number: str) -> list[str]:
    """A document number and every run of its parts, in normalised form.

    "15/qđ-ubnd" → 15, 15/qđ, 15/qđ-ubnd, qđ, qđ-ubnd, ubnd (every contiguous run of the
    parts between "/", "-" and "."), so the whole number and any part of it match.
    """
    out: list[str] = []
    for chunk in NUMBER_RE.findall(number) or SYLLABLE_RE.findall(number):
        pieces = _NUMBER_SPLIT.split(chunk)  # part, sep, part, sep, part ...
        parts = pieces[0::2]
        for i in range(len(parts)):
            for j in range(i, len(parts)):
                out.append("".join(pieces[2 * i : 2 * j + 1]))
    return list(dict.fromkeys(out))


def looks_like_number(word: str) -> bool:
    return NUMBER_RE.fullmatch(word) is not None


PAIR_BASE = 1 << 32  # bigram key = first syllable id * PAIR_BASE + second syllable id
BREAK_ID = -(PAIR_BASE**2)  # any pair with a break in it gets a negative key


class _TokenCache(dict):
    """raw whitespace-separated token -> syllable ids (exact or folded), BREAK_ID at breaks."""

    def __init__(self, analyzer: DocumentAnalyzer, folded: bool):
        super().__init__()
        self.analyzer = analyzer
        self.folded = folded

    def __missing__(self, raw: str) -> tuple[int, ...]:
        sid = self.analyzer.syllable_id
        ids = tuple(BREAK_ID if s is BREAK else sid(s) for s in token_syllables(raw, self.folded))
        if len(self) < 2_000_000:
            self[raw] = ids
        return ids


_POSITIVE = partial(lt, 0)


class DocumentAnalyzer:
    """Term counts of a record's text for the four text fields, fast enough for a reindex.

    Text is split on white space and each distinct raw token is analysed once (cached), so a
    document costs a handful of C-level passes. Terms come out as integer keys (a syllable id,
    or a pair of ids for a bigram) to keep the in-memory inverted lists
    small; ``term()`` turns a key back into its text. One instance per writer session.
    """

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {"": 0}  # ids start at 1
        self.words: list[str] = [""]
        self._exact = _TokenCache(self, folded=False)
        self._folded = _TokenCache(self, folded=True)

    def syllable_id(self, syllable: str) -> int:
        i = self.vocab.get(syllable)
        if i is None:
            i = self.vocab[syllable] = len(self.words)
            self.words.append(syllable)
        return i

    def pair_id(self, bigram: str) -> int:
        a, b = bigram.split(" ")
        return self.syllable_id(a) * PAIR_BASE + self.syllable_id(b)

    def term(self, key: int, pair: bool) -> str:
        if pair:
            a, b = divmod(key, PAIR_BASE)
            return f"{self.words[a]} {self.words[b]}"
        return self.words[key]

    @staticmethod
    def _pairs(ids: list[int]) -> Counter:
        keys = map(add, map(mul, ids, repeat(PAIR_BASE)), ids[1:])
        return Counter(filter(_POSITIVE, keys))  # pairs across a break are negative

    def counts(self, text: str) -> tuple[Counter, Counter, Counter, Counter]:
        """(exact syllables, folded syllables, exact bigrams, folded bigrams) -> frequency."""
        raw = text.split()
        sx = list(chain.from_iterable(map(self._exact.__getitem__, raw)))
        sf = list(chain.from_iterable(map(self._folded.__getitem__, raw)))
        cx, cf = Counter(sx), Counter(sf)
        cx.pop(BREAK_ID, None)
        cf.pop(BREAK_ID, None)
        return cx, cf, self._pairs(sx), self._pairs(sf)


# --- whoosh fields --------------------------------------------------------------------------


class SyllableTokenizer(analysis.Tokenizer):
    """Whoosh tokenizer giving the same terms as a VietField (for whoosh's own tools)."""

    def __init__(self, folded: bool = False, pairs: bool = False):
        self.folded = folded
        self.pairs = pairs

    def __eq__(self, other):
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __call__(self, value, positions=False, chars=False, start_pos=0, **kwargs):
        t = analysis.Token(positions, chars, **kwargs)
        for pos, text in enumerate(text_terms(value, self.folded, self.pairs)):
            t.text = text
            t.boost = 1.0
            if positions:
                t.pos = start_pos + pos
            yield t


class VietField(fields.FieldType):
    """Syllables (or syllable bigrams) of Vietnamese text, exact or folded.

    A posting's weight is the term frequency (for BM25); no positions are kept (phrases use
    the bigram fields, see query.py) and no separate frequency value (it would repeat the
    weight).
    """

    def __init__(self, folded: bool, pairs: bool = False, scorable: bool = True):
        self.folded = folded
        self.pairs = pairs
        self.format = formats.Existence()
        self.analyzer = analysis.CompositeAnalyzer(SyllableTokenizer(folded, pairs))
        self.scorable = scorable  # False: no field lengths kept (a field only filtered on)
        self.stored = False
        self.unique = False
        self.vector = None
        self.column_type = None

    def index(self, value, **kwargs):
        for term, freq in Counter(text_terms(value, self.folded, self.pairs)).items():
            yield term.encode("utf-8"), freq, float(freq), b""


class NumberField(fields.FieldType):
    """Document numbers and file codes: the whole number and every run of its parts."""

    def __init__(self, folded: bool):
        self.folded = folded
        self.format = formats.Existence()
        self.analyzer = analysis.IDTokenizer()
        self.scorable = False
        self.stored = False
        self.unique = False
        self.vector = None
        self.column_type = None

    def terms(self, value: str) -> list[str]:
        text = canonical(value)
        return number_parts(fold(text) if self.folded else text)

    def index(self, value, **kwargs):
        for term in self.terms(value):
            yield term.encode("utf-8"), 1, 1.0, b""


# --- highlighting -------------------------------------------------------------------------

_VARIANTS: dict[str, str] = {}
for _cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
    _ch = chr(_cp)
    _base = FOLD_TABLE.get(_cp)
    if isinstance(_base, str) and len(_base) == 1 and _ch.islower():
        _VARIANTS[_base] = _VARIANTS.get(_base, _base) + _ch
_VARIANTS["d"] = _VARIANTS.get("d", "d") + "đ"


def _syllable_pattern(folded: str) -> str:
    """A regex matching a folded syllable written with any diacritics (case-insensitive)."""
    out = []
    for c in folded:
        variants = _VARIANTS.get(c)
        out.append(f"[{variants}]" if variants else re.escape(c))
    return "".join(out)


# between two syllables of a word: anything but a sentence end (a connector inside a token)
_WORD_GAP = r"(?:[^\w.!?;…¶]+|[/.\-])"


class Highlighter:
    """Marks the query's words in stored text: ``<mark>`` around matches, the rest escaped.

    A word is one syllable or several that must be adjacent ("phê duyệt"). Default mode marks
    every spelling (bàn, bán, ban for "ban"); exact mode marks only the exact spelling (in any
    tone placement and case).
    """

    def __init__(self, words: list[tuple[str, ...]], exact: bool):
        words = [tuple(canonical(s) for s in w) for w in words if w]
        self.exact_forms = {" ".join(w) for w in words} if exact else None
        # every query syllable, folded (a window holding them all is complete); split as the
        # text is (a syllable typed "15/qđ" is "15" and "qđ" in a match)
        self.syllables = {p for w in words for s in w for p in SYLLABLE_RE.findall(fold(s))}
        alternatives = sorted(
            {_WORD_GAP.join(_syllable_pattern(fold(s)) for s in w) for w in words},
            key=len,
            reverse=True,
        )
        # Matched on the lower-cased text, without IGNORECASE and without a leading
        # look-behind: both kept the regex engine from skipping ahead to a possible first
        # letter, and scanning long texts cost most of a result page (decision 0024). The
        # start of a word is checked by hand (_iter_spans).
        self.pattern = (
            re.compile(r"(?:" + "|".join(alternatives) + r")(?![^\W_])")
            if alternatives
            else None
        )

    def _iter_spans(self, text: str) -> Iterator[tuple[int, int]]:
        if self.pattern is None:
            return
        lower = text.lower()
        if len(lower) != len(text):  # a letter whose lower case is longer (İ): rare, slow path
            lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        search = self.pattern.search
        pos = 0
        while (m := search(lower, pos)) is not None:
            a, b = m.span()
            if a > 0 and text[a - 1].isalnum():  # inside a word: try again one letter on
                pos = a + 1
                continue
            pos = b if b > a else a + 1
            if self.exact_forms is None or (
                re.sub(_WORD_GAP, " ", canonical(text[a:b])) in self.exact_forms
            ):
                yield a, b

    def spans(self, text: str) -> list[tuple[int, int]]:
        return list(self._iter_spans(text))

    def _window_spans(self, text: str, width: int) -> list[tuple[int, int]]:
        """The matches of ``text`` up to the first window of ``width`` holding every query
        syllable (no later window can hold more), and those a window there may still show:
        a long text with an early complete window is not scanned to its end."""
        spans: list[tuple[int, int]] = []
        keys: list[set[str]] = []
        first = 0  # the first match inside the window ending at the last one
        # how many matches of the window hold each query syllable, and how many query
        # syllables the window holds (kept as the window slides: no union per match)
        inside: dict[str, int] = {}
        held = 0
        wanted = self.syllables
        stop = None
        for a, b in self._iter_spans(text):
            if stop is not None:
                if a > stop:
                    break
                spans.append((a, b))
                continue
            spans.append((a, b))
            key = set(SYLLABLE_RE.findall(fold(text[a:b].lower()))) & wanted  # text is NFC
            keys.append(key)
            for s in key:
                inside[s] = inside.get(s, 0) + 1
                held += inside[s] == 1
            while first < len(spans) - 1 and spans[first][0] < b - width:
                for s in keys[first]:
                    inside[s] -= 1
                    held -= inside[s] == 0
                first += 1
            if wanted and held == len(wanted):
                stop = spans[first][0] + width + 20
        return spans

    def mark(
        self, text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None
    ) -> str:
        end = len(text) if end is None else end
        parts = []
        pos = start
        for a, b in spans:
            if a < start or b > end:
                continue
            parts.append(html.escape(text[pos:a], quote=False))
            parts.append("<mark>" + html.escape(text[a:b], quote=False) + "</mark>")
            pos = b
        parts.append(html.escape(text[pos:end], quote=False))
        return "".join(parts)

    def whole(self, text: str) -> str | None:
        """The whole (short) text marked, or None if nothing matches."""
        text = unicodedata.normalize("NFC", text)
        spans = self.spans(text)
        return self.mark(text, spans) if spans else None

    def snippet(self, text: str, width: int = 240) -> str | None:
        """The window of about ``width`` characters with the most matches, or None."""
        text = unicodedata.normalize("NFC", text)
        spans = self._window_spans(text, width)
        if not spans:
            return None
        best, best_count, j = 0, 0, 0
        for i, (a, _) in enumerate(spans):  # window starting at each match
            while j < len(spans) and spans[j][1] <= a + width:
                j += 1
            distinct = len({text[s:e].lower() for s, e in spans[i:j]}) if j - i > 1 else 1
            if distinct > best_count:
                best, best_count = i, distinct
        a = spans[best][0]
        start = max(0, a - width // 4)
        if start > 0:
            space = text.rfind(" ", 0, start)
            start = space + 1 if space >= 0 and start - space < 20 else start
        end = min(len(text), start + width)
        if end < len(text):
            space = text.find(" ", end)
            end = space if 0 <= space < end + 20 else end
        marked = self.mark(text, spans, start, end)
        return ("…" if start > 0 else "") + marked.strip() + ("…" if end < len(text) else "")
