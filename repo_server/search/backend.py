"""The search backend interface: what the indexer writes and what the API asks.

Engine-neutral on purpose (whoosh now, another engine later): plain dataclasses in and out,
no engine types leak through. The query language is described in ``query.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

KINDS = ("document", "dossier")
SORTS = ("relevance", "date_desc", "date_asc")
FACETS = ("type_code", "year", "fonds_code")


@dataclass(frozen=True)
class Filter:
    """A value filter: the query parameter, the IndexRecord attribute and the index field all
    have ``name``; the allowed values arrive in ``SearchRequest.<request>``. A new filter is
    a line in FILTERS plus the IndexRecord attribute (and the indexer filling it)."""

    name: str
    request: str
    documents_only: bool = False  # dossiers have no value: a dossier record never passes it
    max_length: int | None = None
    choices: tuple[str, ...] | None = None
    description: str = ""


FILTERS = (
    Filter("fonds_code", "fonds_codes", max_length=13, description="Fonds (repeatable); "
           "narrowed to the caller's fonds scope."),
    Filter("type_code", "type_codes", documents_only=True, max_length=2,
           description="Document type code (repeatable)."),
    Filter("direction", "directions", documents_only=True,
           choices=("incoming", "outgoing", "internal"), description="Repeatable."),
    Filter("state", "states", max_length=20, description="Dossier state (repeatable)."),
    Filter("access_mode", "access_modes", max_length=2, description="Access mode (repeatable); "
           "narrowed to the modes open to the caller."),
)


@dataclass
class IndexRecord:
    """One searchable record: a document or a dossier."""

    id: str
    kind: str  # "document" or "dossier"
    dossier_id: str  # a dossier's own id for kind="dossier"
    fonds_code: str
    state: str | None
    access_mode: str | None
    type_code: str | None
    direction: str | None
    date: date | None  # issued_date for documents, start_date for dossiers
    title: str  # dossier title or document subject
    number: str | None  # "15/QĐ-UBND" (code_number/code_notation); None for a dossier
    fields_text: str  # other metadata flattened: organ_name, signer, keywords, description, ...
    body: str  # full extracted text (documents); "" for dossiers
    updated: datetime
    # the record's own codes (file_code, doc_code, archive_code, ...): found with "code:" only
    codes: tuple[str, ...] = ()
    # the names of its files: found with "file:" only
    files: tuple[str, ...] = ()


MAX_DEPTH = 10_000  # deepest result a page may reach, on every engine


@dataclass
class SearchRequest:
    """A search. Filters are allowed sets: None means no restriction, [] matches nothing."""

    q: str = ""
    exact: bool = False  # match diacritics exactly (bàn ≠ bán ≠ ban)
    kind: Literal["document", "dossier"] = "document"
    fonds_codes: Sequence[str] | None = None  # access control passes the caller's scope
    dossier_id: str | None = None
    type_codes: Sequence[str] | None = None
    directions: Sequence[str] | None = None
    states: Sequence[str] | None = None
    access_modes: Sequence[str] | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: Literal["relevance", "date_desc", "date_asc"] = "relevance"
    page: int = 1
    page_size: int = 20
    facets: bool = True
    snippets: bool = True

    def check(self) -> None:
        """The kind and paging every engine accepts (QuerySyntaxError otherwise)."""
        if self.kind not in ("document", "dossier"):
            raise QuerySyntaxError(f"Unknown kind: {self.kind}")
        if self.page < 1 or self.page_size < 1:
            raise QuerySyntaxError("page and page_size must be at least 1")
        if self.page * self.page_size > MAX_DEPTH:
            raise QuerySyntaxError(f"Results beyond the first {MAX_DEPTH} cannot be paged to")


@dataclass
class SearchHit:
    id: str
    kind: str
    dossier_id: str
    # relevance: BM25 (below 10,000), plus 10,000 per step of the match's place (1 the words'
    # phrase in the text, 2 every word in the subject, 3 the phrase in the subject), plus
    # 100,000 for each query word matched with its exact spelling (exact diacritics first);
    # None when sorted by date
    score: float | None
    # field ("title", "number", "fields_text", "body") -> HTML snippet: the text is escaped and
    # matched words are wrapped in <mark>…</mark>
    highlights: dict[str, str] = field(default_factory=dict)


@dataclass
class SearchResult:
    hits: list[SearchHit]
    total: int
    # True when total (and then the facet counts) were estimated instead of counted; the whoosh
    # backend always counts exactly, another engine may not
    total_is_estimate: bool
    facets: dict[str, dict[str, int]] = field(default_factory=dict)  # FACETS -> value -> count


class QuerySyntaxError(ValueError):
    """The query cannot be read; the message is meant for the person who typed it."""


class IndexUnavailable(RuntimeError):
    """The index is missing or unreadable; ``check()`` says why (the app should rebuild it)."""


class IndexWriter(Protocol):
    def add(self, record: IndexRecord) -> None: ...


class SearchBackend(Protocol):
    """A search index. One process writes (the worker); any number of processes read."""

    def upsert(self, records: Sequence[IndexRecord]) -> None:
        """Add or replace records (by id), in one commit."""

    def delete(self, ids: Sequence[str]) -> None:
        """Remove records by id; unknown ids are ignored."""

    def delete_dossier(self, dossier_id: str) -> None:
        """Remove a dossier record and all its documents (disposal)."""

    def bulk(self) -> AbstractContextManager[IndexWriter]:
        """A writer for a full reindex of an empty index: ``with b.bulk() as w: w.add(r)``."""

    def search(self, req: SearchRequest) -> SearchResult:
        """Run a search; raises QuerySyntaxError for a query that cannot be read."""

    def count(self) -> int:
        """Number of records in the index."""

    def clear(self) -> None:
        """Remove everything (before a full reindex)."""

    def check(self) -> str | None:
        """None if the index can be used, else why not ("missing", "corrupt: ...")."""

    def refresh(self) -> None:
        """Reader side: see the latest commit (cheap when nothing changed)."""

    def close(self) -> None: ...


def iter_chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
