"""A parsed query as ``tsquery`` texts over the lexemes of ``schema.py``.

The same units as the whoosh plan (``whoosh/plan.py``): every group of the query is one
required unit (a word, a phrase as its bigrams, a number whole or by its parts, a field term,
or an OR of these); exclusions are negated units. For ranking each unit also has its form with
the exact spelling (default mode) and its form in the subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..analysis import NUMBER_RE, fold
from ..query import Field, Number, ParsedQuery, Phrase, Run
from .schema import exact_key, quote


@dataclass(frozen=True)
class Q:
    """A tsquery expression: a lexeme, or "&" / "|" of children."""

    op: str  # "lex", "&", "|"
    lexeme: str = ""
    children: tuple[Q, ...] = ()

    def text(self) -> str:
        if self.op == "lex":
            return quote(self.lexeme)
        return "(" + f" {self.op} ".join(c.text() for c in self.children) + ")"


def lex(lexeme: str) -> Q:
    return Q("lex", lexeme)


def all_of(children) -> Q:  # noqa: ANN001
    children = tuple(dict.fromkeys(children))
    return children[0] if len(children) == 1 else Q("&", children=children)


def any_of(children) -> Q:  # noqa: ANN001
    children = tuple(dict.fromkeys(children))
    return children[0] if len(children) == 1 else Q("|", children=children)


@dataclass
class Unit:
    match: Q
    exact: Q | None  # default mode: the same with the exact spelling (a ranking tier)
    title: Q | None  # the same in the subject (None: not a subject word)
    lexemes: list[str]  # what ts_rank weighs
    words: list[tuple[str, ...]]  # what to highlight


@dataclass
class Plan:
    units: list[Unit] = field(default_factory=list)
    excluded: list[Q] = field(default_factory=list)
    words: list[tuple[str, ...]] = field(default_factory=list)
    title_pairs: list[Q] = field(default_factory=list)  # typed neighbours, in the subject
    text_pairs: list[Q] = field(default_factory=list)  # ... anywhere

    def match(self) -> str | None:
        """The whole query as one tsquery (None: no words, only filters or exclusions)."""
        if not self.units:
            return None
        parts = [u.match.text() for u in self.units]
        parts += ["!" + x.text() for x in self.excluded]
        return " & ".join(parts)

    def excluded_any(self) -> str | None:
        return " | ".join(x.text() for x in self.excluded) if self.excluded else None

    def title_all(self) -> str | None:
        titles = [u.title for u in self.units if u.title is not None]
        return all_of(titles).text() if titles else None

    def title_phrase(self) -> str | None:
        titles = [u.title for u in self.units if u.title is not None]
        if not titles:
            return None
        return all_of([*titles, *self.title_pairs]).text()  # no typed neighbours: every word

    def text_phrase(self) -> str | None:
        return all_of(self.text_pairs).text() if self.text_pairs else None

    def exacts(self) -> list[str]:
        return [u.exact.text() for u in self.units if u.exact is not None]

    def rank_query(self) -> str | None:
        lexemes = list(dict.fromkeys(x for u in self.units for x in u.lexemes))
        return " | ".join(quote(x) for x in lexemes) if lexemes else None


class Planner:
    def __init__(self, exact: bool):
        self.exact = exact

    def key(self, term: str) -> str:
        """A syllable or bigram (canonical) as the lexeme this mode searches."""
        return exact_key(term) if self.exact else fold(term)

    def word(self, sylls: tuple[str, ...], cuts: tuple[int, ...] = ()) -> Unit:
        """One syllable, or adjacent syllables (a phrase; not adjacent at ``cuts``)."""
        pairs = [f"{sylls[i - 1]} {sylls[i]}" for i in range(1, len(sylls)) if i not in cuts]
        covered = {i for i in range(1, len(sylls)) if i not in cuts}
        covered |= {i - 1 for i in covered}
        terms = [s for i, s in enumerate(sylls) if i not in covered] + pairs
        match = all_of(lex(self.key(t)) for t in terms)
        exact = None if self.exact else all_of(lex(exact_key(t)) for t in terms)
        return Unit(match, exact, match, [self.key(t) for t in terms], [sylls])

    def combine(self, units: list[Unit], how) -> Unit:  # noqa: ANN001
        if len(units) == 1:
            return units[0]
        titles = [u.title for u in units if u.title is not None]
        return Unit(
            how(u.match for u in units),
            None if any(u.exact is None for u in units) else how(u.exact for u in units),
            how(titles) if len(titles) == len(units) else None,
            [x for u in units for x in u.lexemes],
            [w for u in units for w in u.words],
        )

    def number(self, num: Number) -> Unit:
        own = lex(("n=" if self.exact else "n:") + (num.text if self.exact else fold(num.text)))
        if not num.syllables:
            return Unit(own, None if self.exact else lex("n=" + num.text), None, [], [])
        parts = self.word(num.syllables)
        exact = None if self.exact else any_of([lex("n=" + num.text), parts.exact])
        return Unit(any_of([own, parts.match]), exact, parts.title, parts.lexemes,
                    [num.syllables])

    def field(self, term: Field) -> Unit:
        """``number:``/``code:`` (whole or each part) or ``file:`` (each syllable): a filter."""
        prefix = {"number": "n", "code": "k", "file": "f"}[term.name]
        if term.name != "file" and NUMBER_RE.fullmatch(term.text):
            values = [term.text]
        else:
            values = list(dict.fromkeys(term.syllables))
        sep = "=" if self.exact else ":"
        match = all_of(lex(prefix + sep + (v if self.exact else fold(v))) for v in values)
        words = [term.syllables] if term.name == "number" else []
        return Unit(match, None, None, [], words)

    def alternative(self, item) -> Unit:  # noqa: ANN001
        if isinstance(item, Number):
            return self.number(item)
        if isinstance(item, Field):
            return self.field(item)
        if isinstance(item, Run) and len(item.syllables) > 1:
            return self.combine([self.word((s,)) for s in dict.fromkeys(item.syllables)],
                                all_of)
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
        pairs = [self.key(f"{a} {b}") for a, b in dict.fromkeys(neighbours)]
        plan.words += list(dict.fromkeys(neighbours))
        plan.title_pairs = [lex(p) for p in pairs]
        plan.text_pairs = [lex(p) for p in pairs]
        excluded = [Phrase(x.syllables) if isinstance(x, Run) else x for x in parsed.excluded]
        plan.excluded = [self.alternative(x).match for x in excluded]
        return plan
