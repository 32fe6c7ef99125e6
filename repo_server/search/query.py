"""The query language a clerk types, parsed into an engine-neutral form.

    uy ban nhan dan            words: every word must match (AND is the default)
    "phê duyệt kế hoạch"       a phrase: the syllables in this order, next to each other
    -"dự thảo"  -nháp           exclusions (a word or a phrase)
    quyết định OR công văn     either word (OR joins the words on each side of it)
    15/QĐ-UBND  123/2024/NĐ-CP document numbers: the whole number or any run of its parts

Vietnamese writes one syllable per space, and most words have two syllables. A run of plain
syllables is therefore split into words by ``segment``: two neighbouring syllables are read as
one word when the index says they mostly occur together (``quyet dinh``, ``phe duyet``); such
a word must appear as written, its syllables adjacent; the other syllables must each appear
anywhere. OR joins the word just before it and the word just after it (a word, a phrase or a
number): ``quyết định OR công văn năm 2024`` is (quyết định OR công văn) AND năm AND 2024.
Parentheses and other punctuation are not operators: they separate syllables like a space.
A "-" only excludes when it starts a term ("Lao động - Thương binh" is three words and a dash).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .analysis import NUMBER_RE, SYLLABLE_RE, canonical, token_syllables
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


OR = "OR"  # between two items of ParsedQuery.items

Item = Run | Phrase | Number


@dataclass
class ParsedQuery:
    """What was typed: plain runs, phrases and numbers in order, with OR markers between some
    of them; and what is excluded. ``words()`` turns the items into required word groups."""

    items: list[Item | str] = field(default_factory=list)
    excluded: list[Item] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.items and not self.excluded

    def words(
        self, cohesion: Callable[[str, str], float]
    ) -> tuple[list[list[Word | Phrase | Number]], list[tuple[str, str]]]:
        """(groups, neighbours): every group must match (any one of its alternatives);
        ``neighbours`` are the syllable pairs typed next to each other that were not made a
        word (worth a ranking bonus when found next to each other)."""
        flat: list[Word | Phrase | Number | str] = []
        neighbours: list[tuple[str, str]] = []
        for item in self.items:
            if isinstance(item, Run):
                words = segment(item.syllables, cohesion)
                flat += [Word(w) for w in words]
                paired = {w for w in words if len(w) == 2}
                neighbours += [
                    p
                    for p in zip(item.syllables, item.syllables[1:], strict=False)
                    if p not in paired
                ]
            else:
                flat.append(item)
        groups: list[list[Word | Phrase | Number]] = []
        joined = False
        for x in flat:
            if x == OR:
                joined = True
            elif joined and groups:
                if x not in groups[-1]:
                    groups[-1].append(x)
                joined = False
            else:
                groups.append([x])
        return groups, neighbours


@dataclass(frozen=True)
class Word:
    """One syllable, or two that must be adjacent."""

    syllables: tuple[str, ...]


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
    """A phrase or an excluded token as one item; None if it holds no syllable."""
    text = canonical(token.text)
    if token.kind == "word":
        stripped = text.strip("()[]{},;:.!?'`*")
        if NUMBER_RE.fullmatch(stripped):
            return Number(stripped, tuple(SYLLABLE_RE.findall(stripped)))
    sylls = tuple(SYLLABLE_RE.findall(text))
    if not sylls:
        return None
    return Phrase(sylls) if token.kind == "phrase" else Run(sylls)


def _word_items(token: _Token) -> list[Run | Number | None]:
    """A plain word token as items; None where punctuation cuts (as in the index)."""
    stripped = canonical(token.text).strip("()[]{},;:.!?'`*")
    if NUMBER_RE.fullmatch(stripped):
        number = Number(stripped, tuple(SYLLABLE_RE.findall(stripped)))
        return [None, number, None] if stripped != canonical(token.text) else [number]
    out: list[Run | Number | None] = []
    for s in token_syllables(token.text):
        if s is None:
            out.append(None)
        elif out and isinstance(out[-1], Run):
            out[-1] = Run((*out[-1].syllables, s))
        else:
            out.append(Run((s,)))
    return out


def parse(q: str) -> ParsedQuery:
    """Parse a query; raises QuerySyntaxError with a message for the person who typed it."""
    tokens = _lex(q or "")
    parsed = ParsedQuery()
    items = parsed.items
    joinable = False  # the last item is a run the next plain word may continue
    for i, tok in enumerate(tokens):
        if tok.kind == "or":
            before = tokens[i - 1] if i else None
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            if before is None or before.kind == "or":
                raise QuerySyntaxError(f"OR needs a term before it in: {q.strip()}")
            if after is None or after.kind == "or":
                raise QuerySyntaxError(f"OR needs a term after it in: {q.strip()}")
            if before.negated or after.negated:
                raise QuerySyntaxError(f"Cannot exclude a term inside OR in: {q.strip()}")
            if items and items[-1] != OR:
                items.append(OR)
            joinable = False
            continue
        if tok.negated or tok.kind == "phrase":
            term = _term(tok)
            if term is not None:
                (parsed.excluded if tok.negated else items).append(term)
            joinable = False
            continue
        for part in _word_items(tok):
            if part is None:  # punctuation: the run of plain syllables ends here
                joinable = False
            elif isinstance(part, Run) and joinable:
                items[-1] = Run(items[-1].syllables + part.syllables)
            else:
                items.append(part)
                joinable = isinstance(part, Run)
    if items and items[-1] == OR:
        items.pop()
    count = sum(len(x.syllables) for x in [*items, *parsed.excluded] if x != OR)
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
