"""Full-text search: Vietnamese analysis, the backend interface and its whoosh implementation.

The index is derived data (fed by the outbox, rebuilt by ``reindex``). Code outside this
package uses only the names below; ``WhooshBackend`` is the one implementation so far.
"""

from .backend import (
    FACETS,
    IndexRecord,
    IndexUnavailable,
    QuerySyntaxError,
    SearchBackend,
    SearchHit,
    SearchRequest,
    SearchResult,
)
from .query import parse
from .whoosh_backend import WhooshBackend

__all__ = [
    "FACETS",
    "IndexRecord",
    "IndexUnavailable",
    "QuerySyntaxError",
    "SearchBackend",
    "SearchHit",
    "SearchRequest",
    "SearchResult",
    "WhooshBackend",
    "parse",
]
