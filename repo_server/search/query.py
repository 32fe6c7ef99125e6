"""The query language a clerk types, parsed into an engine-neutral form.

    uy ban nhan dan            words: every word must match (AND is the default)
    "phê duyệt kế hoạch"       a phrase: the syllables in this order, next to each other
    -"dự thảo"  -nháp           exclusions (a word or a phrase)
    quyết định OR chỉ thị      OR between two single terms (a word, a phrase or a number);
                               to OR longer expressions, quote them: "ủy ban" OR "hội đồng"
    15/QĐ-UBND  123/2024/NĐ-CP document numbers: the whole number or any run of its parts

OR binds tighter than the implicit AND: ``a b OR c d`` is a AND (b OR c) AND d. Parentheses
and other punctuation are not operators: they separate syllables like a space does. A "-"
only excludes when it starts a term ("Lao động - Thương binh" is three words and a dash).

Vietnamese writes one syllable per space, and most words have two syllables. A run of plain
words is therefore split into words by ``segment``: two neighbouring syllables are read as one
word when the index says they mostly occur together (``quyet dinh``, ``phe duyet``); such a
word must appear as written, its syllables adjacent. Other syllables must appear anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .analysis import NUMBER_RE, SYLLABLE_RE, canonical
from .backend import QuerySyntaxError

MAX_TERMS = 64  # more syllables than this is not a search but a pasted document


@dataclass(frozen=True)
class Run:
    """Consecutive plain syllables, split into words by ``segment`` at search time."""

    syllables: tuple[str, ...]


@dataclass(frozen=True)
class Phrase:
    syllables: tuple[str, ...]


@dataclass(frozen=True)
class Number:
    """A document number or code (15/QĐ-UBND); ``syllables`` are its parts."""

    text: str
    syllables: tuple[str, ...]


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Run | Phrase | Number, ...]


Clause = Run | Phrase | Number | AnyOf


@dataclass
class ParsedQuery:
    required: list[Clause] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.required and not self.excluded


# --- lexer ----------------------------------------------------------------------------------


@dataclass
class _Token:
    kind: str  # "word", "phrase", "or"
    text: str = ""
    negated: bool = False


def _lex(q: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
            continue
        negated = False
        if c == "-" and i + 1 < n and not q[i + 1].isspace() and q[i + 1] != "-":
            negated = True
            i += 1
            c = q[i]
        if c in '"“”':
            j = i + 1
            while j < n and q[j] not in '"“”':
                j += 1
            if j >= n:
                raise QuerySyntaxError(f"Unclosed quote in: {q[i:].strip()}")
            tokens.append(_Token("phrase", q[i + 1 : j], negated))
            i = j + 1
            continue
        j = i
        while j < n and not q[j].isspace() and q[j] not in '"“”':
            j += 1
        word = q[i:j]
        i = j
        if word == "OR" and not negated:
            tokens.append(_Token("or"))
        else:
            tokens.append(_Token("word", word, negated))
    return tokens


def _term(token: _Token) -> Run | Phrase | Number | None:
    """A word or phrase token as a clause; None if it holds no syllable (punctuation)."""
    text = canonical(token.text)
    if token.kind == "word":
        stripped = text.strip("()[]{},;:.!?'`*")
        if NUMBER_RE.fullmatch(stripped):
            return Number(stripped, tuple(SYLLABLE_RE.findall(stripped)))
    sylls = tuple(SYLLABLE_RE.findall(text))
    if not sylls:
        return None
    return Phrase(sylls) if token.kind == "phrase" else Run(sylls)


def parse(q: str) -> ParsedQuery:
    """Parse a query; raises QuerySyntaxError with a message for the person who typed it."""
    tokens = _lex(q or "")
    parsed = ParsedQuery()
    pending: list[Clause] = []  # plain terms in order; adjacent Runs are merged at the end

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "or":
            raise QuerySyntaxError(f"OR needs a term before it in: {q.strip()}")
        term = _term(tok)
        if tok.negated:
            if term is not None:
                parsed.excluded.append(term)
            i += 1
            continue
        if i + 1 < len(tokens) and tokens[i + 1].kind == "or":
            options = [term] if term is not None else []
            while i + 1 < len(tokens) and tokens[i + 1].kind == "or":
                if i + 2 >= len(tokens) or tokens[i + 2].kind == "or":
                    raise QuerySyntaxError(f"OR needs a term after it in: {q.strip()}")
                nxt = tokens[i + 2]
                if nxt.negated:
                    raise QuerySyntaxError(f"Cannot exclude a term inside OR in: {q.strip()}")
                opt = _term(nxt)
                if opt is not None:
                    options.append(opt)
                i += 2
            if len(options) == 1:
                pending.append(options[0])
            elif options:
                pending.append(AnyOf(tuple(dict.fromkeys(options))))
            pending.append(None)  # an OR group ends a run of plain words
            i += 1
            continue
        if term is not None:
            pending.append(term)
        i += 1

    run: list[str] = []
    for clause in [*pending, None]:
        if isinstance(clause, Run):
            run.extend(clause.syllables)
            continue
        if run:
            parsed.required.append(Run(tuple(run)))
            run = []
        if clause is not None:
            parsed.required.append(clause)

    count = sum(
        len(o.syllables)
        for c in parsed.required + parsed.excluded
        for o in (c.options if isinstance(c, AnyOf) else (c,))
    )
    if count > MAX_TERMS:
        raise QuerySyntaxError(f"Too many words ({count}); at most {MAX_TERMS}")
    return parsed


# --- segmentation ---------------------------------------------------------------------------

COHESION_MIN = 0.3


def segment(
    syllables: tuple[str, ...], cohesion: Callable[[str, str], float]
) -> list[tuple[str, ...]]:
    """Split a run of syllables into words of one or two syllables.

    ``cohesion(a, b)`` is how strongly a and b belong together, 0..1 (the search backend uses
    documents with "a b" / documents with the rarer of a and b). Pairs scoring at least
    COHESION_MIN are candidates; the split maximises the sum of the chosen pairs' scores (on a
    tie, pairing from the left, as the words are read).
    """
    n = len(syllables)
    if n < 2:
        return [tuple(syllables)] if n else []
    scores = [cohesion(syllables[i], syllables[i + 1]) for i in range(n - 1)]
    best = [0.0] * (n + 1)  # best[i]: best total for syllables[i:]
    take = [False] * (n + 1)
    for i in range(n - 2, -1, -1):
        best[i] = best[i + 1]
        s = scores[i]
        if s >= COHESION_MIN and s + best[i + 2] >= best[i]:
            best[i] = s + best[i + 2]
            take[i] = True
    words: list[tuple[str, ...]] = []
    i = 0
    while i < n:
        if i < n - 1 and take[i]:
            words.append((syllables[i], syllables[i + 1]))
            i += 2
        else:
            words.append((syllables[i],))
            i += 1
    return words
