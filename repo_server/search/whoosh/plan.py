"""The query plan: a parsed query as bitset expressions and BM25 terms."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..analysis import (
    NUMBER_RE,
    fold,
)
from ..query import Field, Number, ParsedQuery, Phrase, Run
from .segments import Segment, State

# --- query plan -----------------------------------------------------------------------------

EXACT_BOOST = 0.5  # weight of an exact-spelling match on top of the folded one
ADJACENT_BOOST = 0.5  # bonus for neighbouring query syllables found next to each other
NUMBER_BOOST = 3.0  # a hit in the document-number field
# the score's tiers, each above any difference of the tiers below it: per word matched with its
# exact spelling; then the place of the match (0 words scattered, 1 the typed neighbours next
# to each other in the text, 2 every word in the subject, 3 and next to each other there);
# then BM25; then the more recent date
EXACT_TIER = 100_000.0
PLACE_TIER = 10_000.0
MAX_SCORED = 2000  # up to this many matches (per segment) are all BM25-scored ...
CANDIDATES = 500  # ... above it, this many (plus the page depth) likely best ones are


@dataclass(frozen=True)
class Expr:
    op: str  # "term", "and", "or"
    fieldname: str = ""
    text: str = ""
    children: tuple[Expr, ...] = ()
    # an exact-spelling term's folded form: where both have as many documents, the sets are
    # the same (exact ⊆ folded), and the folded one (read anyway) stands in for it
    alias: tuple[str, str] | None = None


def term_expr(fieldname: str, text: str, alias: tuple[str, str] | None = None) -> Expr:
    return Expr("term", fieldname, text, alias=alias)


def all_of(children) -> Expr:
    children = tuple(children)
    return children[0] if len(children) == 1 else Expr("and", children=children)


def any_of(children) -> Expr:
    children = tuple(dict.fromkeys(children))
    return children[0] if len(children) == 1 else Expr("or", children=children)


@dataclass
class Unit:
    """One required word, phrase, number, field term or OR group."""

    match: Expr
    exact: Expr | None  # default mode: the same with exact spelling (for ranking)
    scoring: list[tuple[str, str, float, tuple | None]]  # (field, term, weight, alias) BM25
    main: list[tuple[str, str]]  # the terms whose high frequencies choose candidates
    words: list[tuple[str, ...]]  # what to highlight
    title: Expr | None = None  # the same in the subject (None: not a subject word)


@dataclass
class Plan:
    units: list[Unit] = field(default_factory=list)
    excluded: list[Expr] = field(default_factory=list)
    bonus: list[tuple[str, str, float, tuple | None]] = field(default_factory=list)
    words: list[tuple[str, ...]] = field(default_factory=list)  # for highlighting
    # ranking places: every subject word; the typed neighbours next to each other in the
    # subject, in the text
    title: list[Expr] = field(default_factory=list)
    title_pairs: list[Expr] = field(default_factory=list)
    text_pairs: list[Expr] = field(default_factory=list)


class Planner:
    """Turns a parsed query into bitset expressions and scoring terms for one index state."""

    def __init__(self, state: State, exact: bool):
        self.state = state
        self.exact = exact
        self.uni, self.bi, self.num = ("tx", "bx", "nx") if exact else ("tf", "bf", "nf")
        self.title_uni, self.title_bi = ("sx", "sbx") if exact else ("sf", "sbf")
        self.fields = {"number": self.num, "code": "kx" if exact else "kf",
                       "file": "fx" if exact else "ff"}

    def _f(self, syllable: str) -> str:
        return syllable if self.exact else fold(syllable)

    def word(self, sylls: tuple[str, ...], cuts: tuple[int, ...] = ()) -> Unit:
        """A one-syllable word or an adjacent sequence (a phrase; not adjacent at ``cuts``)."""
        pairs = [(sylls[i - 1], sylls[i]) for i in range(1, len(sylls)) if i not in cuts]
        # syllables no pair covers (a one-syllable word, or one between two cuts)
        covered = {i for i in range(1, len(sylls)) if i not in cuts}
        covered |= {i - 1 for i in covered}
        singles = [s for i, s in enumerate(sylls) if i not in covered]
        terms = [(self.uni, self._f(s)) for s in singles]
        terms += [(self.bi, f"{self._f(a)} {self._f(b)}") for a, b in pairs]
        exact_terms = [("tx", s) for s in singles] + [("bx", f"{a} {b}") for a, b in pairs]
        title = [(self.title_uni, self._f(s)) for s in singles]
        title += [(self.title_bi, f"{self._f(a)} {self._f(b)}") for a, b in pairs]
        match = all_of(term_expr(*t) for t in terms)
        scoring = [(f, t, 1.0, None) for f, t in terms]
        exact = None
        if not self.exact:
            exact = all_of(term_expr(*x, alias=t) for x, t in zip(exact_terms, terms, strict=True))
            scoring += [(*x, EXACT_BOOST, t) for x, t in zip(exact_terms, terms, strict=True)]
        return Unit(match, exact, scoring, terms, [sylls], all_of(term_expr(*t) for t in title))

    def every(self, sylls: tuple[str, ...]) -> Unit:
        """All the syllables, anywhere (a run of plain words on one side of OR)."""
        return self.combine([self.word((s,)) for s in dict.fromkeys(sylls)], all_of)

    def combine(self, units: list[Unit], how) -> Unit:  # noqa: ANN001
        if len(units) == 1:
            return units[0]
        titles = [u.title for u in units if u.title is not None]
        return Unit(
            how(u.match for u in units),
            None if self.exact or any(u.exact is None for u in units) else how(
                u.exact for u in units),
            [t for u in units for t in u.scoring],
            [t for u in units for t in u.main],
            [w for u in units for w in u.words],
            how(titles) if len(titles) == len(units) else None,
        )

    def number(self, num: Number) -> Unit:
        parts = self.word(num.syllables) if num.syllables else None
        own = term_expr(self.num, self._f(num.text))
        match = any_of([own, parts.match]) if parts else own
        exact = None
        if not self.exact:
            own_x = term_expr("nx", num.text)
            exact = any_of([own_x, parts.exact]) if parts else own_x
        scoring = [(self.num, self._f(num.text), NUMBER_BOOST, None)]
        scoring += parts.scoring if parts else []
        return Unit(match, exact, scoring, parts.main if parts else [], [num.syllables],
                     parts.title if parts else None)

    def field(self, term: Field) -> Unit:
        """``number:``/``code:`` (the whole value or each of its parts) or ``file:`` (each
        syllable); a filter only: no score, no exact-spelling rank, no highlight."""
        fieldname = self.fields[term.name]
        if term.name != "file" and NUMBER_RE.fullmatch(term.text):
            values = [term.text]
        else:
            values = list(dict.fromkeys(term.syllables))
        match = all_of(term_expr(fieldname, self._f(v)) for v in values)
        words = [term.syllables] if term.name == "number" else []
        return Unit(match, None, [], [], words, None)

    def alternative(self, item) -> Unit:  # noqa: ANN001
        if isinstance(item, Number):
            return self.number(item)
        if isinstance(item, Field):
            return self.field(item)
        if isinstance(item, Run) and len(item.syllables) > 1:
            return self.every(item.syllables)
        if isinstance(item, Phrase):
            return self.word(item.syllables, item.cuts)
        return self.word(item.syllables)

    def plan(self, parsed: ParsedQuery) -> Plan:
        groups, neighbours = parsed.words()
        plan = Plan()
        for group in groups:
            unit = self.combine([self.alternative(x) for x in group], any_of)
            plan.units.append(unit)
            plan.words += unit.words
            if unit.title is not None:
                plan.title.append(unit.title)
        pairs = [(self._f(a), self._f(b)) for a, b in dict.fromkeys(neighbours)]
        plan.words += [p for p in dict.fromkeys(neighbours)]
        plan.title_pairs = [term_expr(self.title_bi, f"{a} {b}") for a, b in pairs]
        plan.text_pairs = [term_expr(self.bi, f"{a} {b}") for a, b in pairs]
        # a neighbour pair in most documents says little and costs a long posting list
        common = self.state.doc_count // 5
        plan.bonus = [
            (self.bi, pair, ADJACENT_BOOST, None)
            for pair in (f"{a} {b}" for a, b in pairs)
            if 0 < self.state.doc_frequency(self.bi, pair) <= common
        ]
        excluded = [
            Phrase(x.syllables) if isinstance(x, Run) else x for x in parsed.excluded
        ]
        plan.excluded = [self.alternative(x).match for x in excluded]
        return plan


def evaluate(seg: Segment, expr: Expr) -> int:
    if expr.op == "term":
        return seg.postings(expr.fieldname, expr.text, expr.alias).bits
    if expr.op == "and":
        bits = seg.full
        for child in expr.children:
            bits &= evaluate(seg, child)
            if not bits:
                break
        return bits
    bits = 0
    for child in expr.children:
        bits |= evaluate(seg, child)
    return bits
