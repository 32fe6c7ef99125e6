"""The whoosh search backend.

whoosh stores the index (segments, posting lists, stored fields, the single-writer lock). Two
things are done here instead of by whoosh, because its pure-Python per-posting loops are too
slow at 100,000 documents on a 2-core machine (measured: ~100 documents/s to index this
schema; 180 ms to rank the top 20 of one common bigram, 0.5-1 s for 2-3 common syllables):

* Writing: ``FastSegmentWriter`` keeps the inverted lists in memory and writes whole W3
  posting blocks: ordinary whoosh segments (whoosh reads and merges them), ~7x faster.
* Searching: each posting list a query needs is read once, block by block, into a bitset (a
  Python int, one bit per document of a segment) plus one byte per document holding the term
  frequency, and kept in an LRU cache shared by the threads of the process. AND / OR / NOT,
  filters, totals and facet counts are then C-speed big-integer operations, so totals and
  facets are always exact (``total_is_estimate`` is False). BM25 ranking scores every match
  when there are at most MAX_SCORED, otherwise the CANDIDATES + page depth documents where the
  query's words are most frequent (an approximation only of the order inside the long tail).

Ranking: BM25 (title indexed twice) on the folded terms, plus EXACT_TIER for each word that
also matches with its exact spelling (so exact diacritics rank first), a smaller boost for
exact spelling and for query syllables found next to each other, and NUMBER_BOOST for a hit
in the document-number field.

Dossier search (kind="dossier"): a dossier matches through its own record or through any of
its documents; each matching document must pass the same filters as in a document search,
and the dossier record must pass them too (see ``_search_dossiers``), so nothing hidden
shows through a hit, a total or a facet. Its score is its best record's score.

Modules: ``schema`` (fields and what a record puts in them), ``writer`` (the fast segment
writer, merges), ``segments`` (posting lists as bitsets), ``plan`` (queries as bitset
expressions and BM25 terms), ``backend`` (the backend itself).
"""

from .backend import BulkWriter, WhooshBackend

__all__ = ["BulkWriter", "WhooshBackend"]
