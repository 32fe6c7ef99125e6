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

A folded syllable carries one or two positions (once, or more than once in the record), the
first weighted by the best place it occurs in (A subject, B number, C other metadata, D text):
``ts_rank`` reads them as field weight and a little term frequency; the other lexemes carry
none (positions are most of a tsvector's size). Positions are not places in the text: phrases
are the bigram lexemes (decision 0022), so ``<->`` is not used and a long text has no
position limit (16,383) to lose phrases beyond. ``title_tsv`` holds the subject's syllables and bigrams alone (ranking places, and the
candidates "every word in the subject").
"""

from __future__ import annotations

from ..analysis import (
    FIELD_SEPARATOR,
    PAIR_BASE,
    DocumentAnalyzer,
    canonical,
    fold,
    number_parts,
    text_terms,
)
from ..backend import FILTERS, IndexRecord

SCHEMA_VERSION = "pg-1"  # with the filter columns: a different value means "rebuild"
FILTER_COLUMNS = tuple(f.name for f in FILTERS)
COLUMNS = ("id", "kind", "dossier_id", *FILTER_COLUMNS, "day", "year", "title", "number",
           "fields_text", "body", "tsv", "title_tsv")


def schema_version() -> str:
    return f"{SCHEMA_VERSION}:{','.join(FILTER_COLUMNS)}"


def ddl(schema: str, lz4: bool = False) -> list[str]:
    """CREATE statements (idempotent) for the tables; GIN indexes separately (``index_ddl``)
    so that a bulk load can build them once at the end. ``lz4``: the server has it (faster
    than pglz to write and to read the tsvectors and texts kept out of line)."""
    filters = "".join(f"{c} text, " for c in FILTER_COLUMNS)
    z = " COMPRESSION lz4" if lz4 else ""
    return [
        f'CREATE SCHEMA IF NOT EXISTS "{schema}"',
        f'CREATE TABLE IF NOT EXISTS "{schema}".search_meta (key text PRIMARY KEY, value text)',
        f'CREATE TABLE IF NOT EXISTS "{schema}".search_records (id text PRIMARY KEY, '
        f"kind text NOT NULL, dossier_id text NOT NULL, {filters}day date, year text, "
        f"title text NOT NULL, number text NOT NULL, fields_text text{z} NOT NULL, "
        f"body text{z} NOT NULL, tsv tsvector{z} NOT NULL, title_tsv tsvector NOT NULL)",
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


class RowBuilder:
    """IndexRecord -> a row of ``search_records`` (one analyzer per writer session).

    Lexemes are made of letters, digits and ``/ . - = :`` and spaces (SYLLABLE_RE,
    NUMBER_RE, the prefixes), so they are written between quotes without escaping."""

    def __init__(self) -> None:
        self.analyzer = DocumentAnalyzer()

    def _tsv(self, r: IndexRecord) -> str:
        a = self.analyzer
        words = a.words
        sep = f" {FIELD_SEPARATOR} "
        fields_text = r.fields_text.replace("\n", sep)
        cx, cf, bx, bf = a.counts(sep.join([r.title, r.number or "", fields_text, r.body]))
        # the best place of each folded syllable: its first position's weight
        best: dict[int, str] = {}
        for text, weight in ((fields_text, "C"), (r.number or "", "B"), (r.title, "A")):
            if text:
                best.update(dict.fromkeys(a.counts(text)[1], weight))
        parts = []
        for key, n in cf.items():
            pos = "1" + best.get(key, "") + (",2" if n > 1 else "")
            parts.append(f"'{words[key]}':{pos}")
        parts += [f"'={words[key]}'" for key in cx]
        base = PAIR_BASE
        parts += [f"'{words[k // base]} {words[k % base]}'" for k in bf]
        parts += [f"'={words[k // base]} {words[k % base]}'" for k in bx]
        plain: list[str] = []
        number = canonical(r.number or "")
        plain += ["n=" + p for p in number_parts(number)]
        plain += ["n:" + p for p in number_parts(fold(number))]
        codes = canonical(" ".join(r.codes))
        plain += ["k=" + p for p in number_parts(codes)]
        plain += ["k:" + p for p in number_parts(fold(codes))]
        names = " ".join(r.files)
        plain += ["f=" + s for s in dict.fromkeys(text_terms(names, False, False))]
        plain += ["f:" + s for s in dict.fromkeys(text_terms(names, True, False))]
        parts += [f"'{x}'" for x in dict.fromkeys(plain)]
        return " ".join(parts)

    def row(self, r: IndexRecord) -> dict:
        title: dict[str, None] = {}
        for folded in (False, True):
            for pairs in (False, True):
                terms = text_terms(r.title, folded, pairs)
                title.update(dict.fromkeys(terms if folded else map(exact_key, terms)))
        return {
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
            "tsv": self._tsv(r),
            "title_tsv": " ".join(f"'{t}'" for t in title),
        }


def _clean(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text  # PostgreSQL text has no NUL
