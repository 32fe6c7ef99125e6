"""Full-text search: Vietnamese analysis, the query language, the backend interface and its
implementations (``whoosh/``).

The index is derived data (fed by the outbox, rebuilt by ``reindex``). Code outside this
package uses only the names below and opens a backend with ``open_backend`` (the
``SEARCH_BACKEND`` setting names it); a new engine is a subpackage implementing
``SearchBackend`` plus a line in ``BACKENDS``, run against the same tests (``tests/search``,
whose ``backend`` fixture yields a fresh one).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from .backend import (
    FACETS,
    FILTERS,
    IndexRecord,
    IndexUnavailable,
    QuerySyntaxError,
    SearchBackend,
    SearchHit,
    SearchRequest,
    SearchResult,
)
from .query import parse

# SEARCH_BACKEND value -> "module:class"; imported only when chosen
BACKENDS = {"whoosh": "repo_server.search.whoosh:WhooshBackend",
            "postgresql": "repo_server.search.postgres:PostgresBackend"}


def open_backend(name: str, index_dir: Path | str, *, writer: bool,
                 database_url: str | None = None, config: dict | None = None) -> SearchBackend:
    """The backend called ``name`` on ``index_dir``; ``writer`` for the one writing process.
    A backend with an ``open`` class method (one in the catalog database) gets the catalog's
    ``database_url`` and the ``config`` for its settings."""
    try:
        module, _, cls_name = BACKENDS[name].partition(":")
    except KeyError:
        raise ValueError(f"Unknown SEARCH_BACKEND {name!r}; known: {', '.join(BACKENDS)}") from None
    cls = getattr(import_module(module), cls_name)
    if hasattr(cls, "open"):
        return cls.open(Path(index_dir), writer=writer, database_url=database_url,
                        config=config or {})
    return cls(Path(index_dir), writer=writer)


__all__ = [
    "BACKENDS",
    "FACETS",
    "FILTERS",
    "IndexRecord",
    "IndexUnavailable",
    "QuerySyntaxError",
    "SearchBackend",
    "SearchHit",
    "SearchRequest",
    "SearchResult",
    "open_backend",
    "parse",
]
