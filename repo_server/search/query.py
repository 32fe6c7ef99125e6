"""The query language a clerk types, parsed into an engine-neutral form.

    uy ban nhan dan            words: every word must match, anywhere in the record (AND)
    "phê duyệt kế hoạch"       a phrase: the syllables in this order, next to each other
    -"dự thảo"  -nháp           exclusions (a word or a phrase)
    quyết định OR công văn     either side (OR joins the run of words on each side of it)
    15/QĐ-UBND  123/2024/NĐ-CP document numbers: the whole number or any run of its parts
    number:15/QĐ-UBND          only in the document number (số, ký hiệu)
    code:H57.2026.01           only in the record's codes (file_code, doc_code, archive_code…)
    file:pdf  file:"tờ trình"  only in the names of its files

Unquoted words are each required, anywhere in the searchable fields (subject, number, other
metadata, text), in any order: ``on dinh`` finds "ông Ổn … quyết định" as well as "ổn định".
Where they stand next to each other, in the order typed, the document ranks higher; they never
filter. Quotes are the only way to ask for a phrase. Punctuation inside a phrase or a field
(dashes, commas, slashes, parentheses) does not break it: ``"tài chính kế hoạch"`` and
``"Tài chính – Kế hoạch"`` both find "Phòng Tài chính – Kế hoạch"; only a sentence end
(". ; ! ?") does, in the text as in the query. Codes and file names are not matched by plain
words (a year or a serial would match every record of a dossier); the document number is.

OR joins the run of plain words just before it and the run just after it (a run ends at a
sentence end, a phrase, a number or another OR; each side needs all of its words):
``quyết định OR công văn, 2024`` is (quyết định OR công văn) AND 2024.
A "-" only excludes when it starts a term ("Lao động - Thương binh" is three words and a dash).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .analysis import BREAK, NUMBER_RE, SYLLABLE_RE, canonical, token_syllables
from .backend import QuerySyntaxError

MAX_TERMS = 64  # more syllables than this is not a search but a pasted document
FIELD_PREFIXES = ("number", "code", "file")  # "<prefix>:value" searches that field only


@dataclass(frozen=True)
class Run:
    """Consecutive plain syllables (typed with no sentence end between them)."""

    syllables: tuple[str, ...]


@dataclass(frozen=True)
class Phrase:
    """Syllables that must stand next to each other, in order. ``cuts``: positions i where
    a sentence end was typed between syllable i-1 and i (no adjacency asked there)."""

    syllables: tuple[str, ...]
    cuts: tuple[int, ...] = ()

    def pairs(self) -> list[tuple[str, str]]:
        s = self.syllables
        return [(s[i - 1], s[i]) for i in range(1, len(s)) if i not in self.cuts]


@dataclass(frozen=True)
class Number:
    """A document number or code (15/QĐ-UBND); ``syllables`` are its parts."""

    text: str
    syllables: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    """``number:``, ``code:`` or ``file:`` and its value: searched in that field only."""

    name: str
    text: str  # canonical form of the value
    syllables: tuple[str, ...]


@dataclass(frozen=True)
class Word:
    """One syllable, required anywhere."""

    syllables: tuple[str, ...]


OR = "OR"  # between two items of ParsedQuery.items

Item = Run | Phrase | Number | Field


@dataclass
class ParsedQuery:
    """What was typed: plain runs, phrases, numbers and field terms in order, with OR markers
    between some of them; and what is excluded. ``words()`` turns the items into required
    groups."""

    items: list[Item | str] = field(default_factory=list)
    excluded: list[Item] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.items and not self.excluded

    def words(self) -> tuple[list[list[Word | Run | Phrase | Number | Field]], list[tuple[str, str]]]:
        """(groups, neighbours): every group must match (any one of its alternatives); a run
        outside OR gives one group per syllable (each required anywhere), a run inside OR is
        one alternative needing all its syllables. ``neighbours``: the syllable pairs typed
        next to each other in plain runs (a ranking bonus where found next to each other)."""
        items = self.items
        groups: list[list[Word | Run | Phrase | Number | Field]] = []
        neighbours: list[tuple[str, str]] = []
        for k, item in enumerate(items):
            if item == OR:
                continue
            if isinstance(item, Run):
                neighbours += list(zip(item.syllables, item.syllables[1:], strict=False))
            joined = k > 0 and items[k - 1] == OR
            in_or = joined or (k + 1 < len(items) and items[k + 1] == OR)
            if joined and groups:
                if item not in groups[-1]:
                    groups[-1].append(item)
            elif in_or:
                groups.append([item])
            elif isinstance(item, Run):
                groups += [[Word((s,))] for s in dict.fromkeys(item.syllables)]
            else:
                groups.append([item])
        return groups, neighbours


# --- lexer ----------------------------------------------------------------------------------

_QUOTES = '"“”'
_PREFIX_RE = re.compile(r"(" + "|".join(FIELD_PREFIXES) + r"):", re.IGNORECASE)
_STRIP = "()[]{},;:.!?'`*"


@dataclass
class _Token:
    kind: str  # "word", "phrase", "or", "field"
    text: str = ""
    negated: bool = False
    field: str = ""


def _quoted(q: str, i: int) -> int:
    """Index of the quote closing the one at i."""
    j = i + 1
    while j < len(q) and q[j] not in _QUOTES:
        j += 1
    if j >= len(q):
        raise QuerySyntaxError(f"Unclosed quote in: {q[i:].strip()}")
    return j


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
        prefix = _PREFIX_RE.match(q, i)
        if prefix:
            name = prefix.group(1).lower()
            i = prefix.end()
            if i < n and q[i] in _QUOTES:
                j = _quoted(q, i)
                value, i = q[i + 1 : j], j + 1
            else:
                j = i
                while j < n and not q[j].isspace():
                    j += 1
                value, i = q[i:j], j
            if not SYLLABLE_RE.search(value):
                raise QuerySyntaxError(f"{name}: needs a value, as in {name}:{_EXAMPLES[name]}")
            tokens.append(_Token("field", value, negated, name))
            continue
        if c in _QUOTES:
            j = _quoted(q, i)
            tokens.append(_Token("phrase", q[i + 1 : j], negated))
            i = j + 1
            continue
        j = i
        while j < n and not q[j].isspace() and q[j] not in _QUOTES:
            j += 1
        word = q[i:j]
        i = j
        if word == "OR" and not negated:
            tokens.append(_Token("or"))
        else:
            tokens.append(_Token("word", word, negated))
    return tokens


_EXAMPLES = {"number": "15/QĐ-UBND", "code": "H57.2026.01", "file": "pdf"}


def _phrase(text: str) -> Phrase | None:
    """A quoted text, analysed as the index analyses text: a sentence end cuts it."""
    sylls: list[str] = []
    cuts: list[int] = []
    for raw in text.split():
        for s in token_syllables(raw):
            if s is BREAK:
                if sylls and (not cuts or cuts[-1] != len(sylls)):
                    cuts.append(len(sylls))
            else:
                sylls.append(s)
    if not sylls:
        return None
    return Phrase(tuple(sylls), tuple(c for c in cuts if 0 < c < len(sylls)))


def _number(token_text: str) -> Number | None:
    stripped = canonical(token_text).strip(_STRIP)
    if NUMBER_RE.fullmatch(stripped):
        return Number(stripped, tuple(SYLLABLE_RE.findall(stripped)))
    return None


def _term(token: _Token) -> Item | None:
    """A phrase, a field term or an excluded token as one item; None if it holds no syllable."""
    if token.kind == "field":
        text = canonical(token.text).strip(_STRIP)
        return Field(token.field, text, tuple(SYLLABLE_RE.findall(text)))
    if token.kind == "word":
        number = _number(token.text)
        if number is not None:
            return number
    if token.kind == "phrase":
        return _phrase(token.text)
    sylls = tuple(SYLLABLE_RE.findall(canonical(token.text)))
    return Run(sylls) if sylls else None


def _word_items(token: _Token) -> list[Run | Number | None]:
    """A plain word token as items; None where a sentence ends (as in the index)."""
    number = _number(token.text)
    if number is not None:
        return [None, number, None] if number.text != canonical(token.text) else [number]
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
        if tok.negated or tok.kind in ("phrase", "field"):
            term = _term(tok)
            if term is not None:
                (parsed.excluded if tok.negated else items).append(term)
            joinable = False
            continue
        for part in _word_items(tok):
            if part is None:  # a sentence end: the run of plain syllables ends here
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
