"""The PostgreSQL search backend (``SEARCH_BACKEND=postgresql``): for several web nodes on one
PostgreSQL catalog (issue 16, decision 0022).

The index is two tables in the catalog's database (``search_records``, ``search_meta``),
made by the worker the first time it writes (derived data, like the whoosh index folder; no
migration). Records are analysed in Python exactly as for whoosh (``analysis.py``) and stored
as ``tsvector`` lexemes with a GIN index (``schema.py``); a query is a ``tsquery`` over them
(``plan.py``): words and bigrams (phrases), exclusions, OR, field prefixes. Filters, totals,
facets and ranking are SQL (``backend.py``). The worker writes it from the outbox, so every
node sees a change once it is committed.

Big hit sets (decision 0022): totals and facets are counted exactly up to
SEARCH_PG_EXACT_LIMIT matches; above it the total is the planner's estimate and the facets
those of the first matches scaled to it, flagged (``total_is_estimate``). Relevance scores every match up to SEARCH_PG_RANK_LIMIT matches;
above it, the SEARCH_PG_RANK_LIMIT most recent matches and the as many most recent with every
word in the subject.
"""

from .backend import BulkWriter, PostgresBackend

__all__ = ["BulkWriter", "PostgresBackend"]
