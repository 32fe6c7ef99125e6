"""The tables and what a record puts in them.

One row per record in ``search_records``: the filter values, the date, the stored texts (for
highlights) and two ``tsvector`` columns built here, in Python, with the same analysis as the
whoosh index (``analysis.DocumentAnalyzer``: canonical and folded syllables, bigrams, sentence
ends, document numbers). PostgreSQL only stores and intersects them (``simple`` lexemes, no
PostgreSQL dictionary is involved). Lexemes of ``tsv`` (namespaces never collide: a syllable
has no ``=``, ``:`` or space):

    quyet            folded syllable           =quyết          exact syllable
    quyet dinh       folded bigram (phrases)   =quyết định     exact bigram
    n:15/qd-ubnd     document number (folded)  n=15/qđ-ubnd    ... exact (every run of parts)
    k:h57            the record's codes        k=h57
    f:pdf            its file names' syllables f=pdf

A syllable or bigram lexeme carries up to ``MAX_POSITIONS`` positions, weighted by where it
occurs (A subject, B number, C other metadata, D text): ``ts_rank`` reads them as term
frequency and field weight. Positions are counters, not places in the text: phrases are the
bigram lexemes (decision 0022), so ``<->`` is never needed and a long text has no position
limit. ``title_tsv`` holds the subject's syllables and bigrams alone (ranking places, and the
candidates "every word in the subject").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from ..analysis import FIELD_SEPARATOR, DocumentAnalyzer, canonical, fold, number_parts, text_terms
from ..backend import FILTERS, IndexRecord

SCHEMA_VERSION = "pg-1"  # with the filter columns: a different value means "rebuild"
MAX_POSITIONS = 3  # occurrences kept per lexeme (ts_rank weighs the first ones most)
WEIGHTS = ("A", "B", "C", "")  # subject, number, other metadata, text ("" is D)
FILTER_COLUMNS = tuple(f.name for f in FILTERS)
COLUMNS = ("id", "kind", "dossier_id", *FILTER_COLUMNS, "day", "year", "title", "number",
           "fields_text", "body", "tsv", "title_tsv")


def schema_version() -> str:
    return f"{SCHEMA_VERSION}:{','.join(FILTER_COLUMNS)}"


def ddl(schema: str) -> list[str]:
    """CREATE statements (idempotent) for the tables; GIN indexes separately (``index_ddl``)
    so that a bulk load can build them once at the end."""
    filters = "".join(f"{c} text, " for c in FILTER_COLUMNS)
    return [
        f'CREATE SCHEMA IF NOT EXISTS "{schema}"',
        f'CREATE TABLE IF NOT EXISTS "{schema}".search_meta (key text PRIMARY KEY, value text)',
        f'CREATE TABLE IF NOT EXISTS "{schema}".search_records (id text PRIMARY KEY, '
        f"kind text NOT NULL, dossier_id text NOT NULL, {filters}day date, year text, "
        "title text NOT NULL, number text NOT NULL, fields_text text NOT NULL, "
        "body text NOT NULL, tsv tsvector NOT NULL, title_tsv tsvector NOT NULL)",
        f'CREATE INDEX IF NOT EXISTS search_records_dossier ON "{schema}".search_records '
        "(dossier_id)",
        f'CREATE INDEX IF NOT EXISTS search_records_day ON "{schema}".search_records '
        "(kind, day DESC NULLS LAST, id DESC)",
    ]


def index_ddl(schema: str) -> list[str]:
    return [
        f'CREATE INDEX IF NOT EXISTS search_records_tsv ON "{schema}".search_records '
        "USING gin (tsv) WITH (fastupdate = on)",
        f'CREATE INDEX IF NOT EXISTS search_records_title ON "{schema}".search_records '
        "USING gin (title_tsv)",
    ]


def drop_index_ddl(schema: str) -> list[str]:
    return [f'DROP INDEX IF EXISTS "{schema}".search_records_tsv',
            f'DROP INDEX IF EXISTS "{schema}".search_records_title']


def quote(lexeme: str) -> str:
    """A lexeme in tsvector / tsquery input syntax."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def exact_key(term: str) -> str:
    return "=" + term


def tsvector_text(weighted: dict[str, list[str]], plain: Iterable[str] = ()) -> str:
    """tsvector input: ``weighted`` lexeme -> weights of its positions; ``plain`` without."""
    parts = []
    for lexeme, weights in weighted.items():
        pos = ",".join(f"{i}{w}" for i, w in enumerate(weights[:MAX_POSITIONS], 1))
        parts.append(f"{quote(lexeme)}:{pos}")
    parts += [quote(x) for x in dict.fromkeys(plain) if x not in weighted]
    return " ".join(parts)


class RowBuilder:
    """IndexRecord -> a row of ``search_records`` (one analyzer per writer session)."""

    def __init__(self) -> None:
        self.analyzer = DocumentAnalyzer()

    def _weighted(self, texts: list[str]) -> dict[str, list[str]]:
        a = self.analyzer
        out: dict[str, list[str]] = defaultdict(list)
        for text, weight in zip(texts, WEIGHTS, strict=True):
            if not text:
                continue
            cx, cf, bx, bf = a.counts(text)
            for counts, pair, exact in ((cf, False, False), (bf, True, False),
                                        (cx, False, True), (bx, True, True)):
                for key, n in counts.items():
                    term = a.term(key, pair)
                    lex = exact_key(term) if exact else term
                    have = out[lex]
                    if len(have) < MAX_POSITIONS:
                        have.extend([weight] * min(n, MAX_POSITIONS - len(have)))
        return out

    def row(self, r: IndexRecord) -> dict:
        sep = f" {FIELD_SEPARATOR} "
        weighted = self._weighted([r.title, r.number or "", r.fields_text.replace("\n", sep),
                                   r.body])
        plain: list[str] = []
        number = canonical(r.number or "")
        plain += ["n=" + p for p in number_parts(number)]
        plain += ["n:" + p for p in number_parts(fold(number))]
        codes = canonical(" ".join(r.codes))
        plain += ["k=" + p for p in number_parts(codes)]
        plain += ["k:" + p for p in number_parts(fold(codes))]
        names = " ".join(r.files)
        plain += ["f=" + s for s in text_terms(names, False, False)]
        plain += ["f:" + s for s in text_terms(names, True, False)]
        title: Counter = Counter()
        for folded in (False, True):
            for pairs in (False, True):
                terms = text_terms(r.title, folded, pairs)
                title.update(terms if folded else map(exact_key, terms))
        row = {
            "id": r.id,
            "kind": r.kind,
            "dossier_id": r.dossier_id,
            **{f.name: getattr(r, f.name) for f in FILTERS},
            "day": r.date,
            "year": str(r.date.year) if r.date else None,
            "title": _clean(r.title),
            "number": _clean(r.number or ""),
            "fields_text": _clean(r.fields_text),
            "body": _clean(r.body),
            "tsv": tsvector_text(weighted, plain),
            "title_tsv": " ".join(quote(t) for t in title),
        }
        return row


def _clean(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text  # PostgreSQL text has no NUL
