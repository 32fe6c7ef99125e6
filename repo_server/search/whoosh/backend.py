"""The whoosh backend: opening, refreshing, checking, writing and searching an index."""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from whoosh import index
from whoosh.reading import SegmentReader
from whoosh.writing import CLEAR, NO_MERGE

from ..analysis import (
    DocumentAnalyzer,
)
from ..backend import (
    IndexRecord,
    IndexUnavailable,
    QuerySyntaxError,
    SearchRequest,
    SearchResult,
)
from ..query import parse
from .plan import Planner
from .schema import KEYWORD_FIELDS, TEXT_FIELDS, make_schema
from .search import Searching
from .segments import Ordinals, Segment, SegmentData, State, TermCache
from .writer import FastSegmentWriter, merge_tiers

log = logging.getLogger(__name__)
PRELOAD_MIN_DOCS = 5000  # segments smaller than this answer a first query fast anyway
PRELOAD_CACHE_SHARE = 8  # preloading fills at most this part of the posting cache
PRELOAD_TERMS_PER_FIELD = 500

# --- the backend ----------------------------------------------------------------------------

# what reading a damaged segment raises
READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    struct.error,
    zlib.error,
    pickle.UnpicklingError,
)


class BulkWriter:
    """Adds records for a full reindex; starts a new segment when memory runs over limitmb."""

    def __init__(self, backend: WhooshBackend, limitmb: int):
        self.backend = backend
        self.limit = limitmb * 1024 * 1024
        self.analyzer = DocumentAnalyzer()
        self.replace = backend._open_index().doc_count_all() > 0
        self.added = 0
        self.segments = 0
        self._writer: FastSegmentWriter | None = None
        self._searcher = None

    def add(self, record: IndexRecord) -> None:
        w = self._writer
        if w is None:
            w = self._writer = FastSegmentWriter(
                self.backend._open_index(), self.analyzer, timeout=self.backend.lock_timeout
            )
            if self.replace:
                self._searcher = w.searcher()
        if self._searcher is not None:
            w.delete_by_term("id", record.id, searcher=self._searcher)
        w.add_record(record)
        self.added += 1
        if self.added % 2000 == 0 and self._pool_bytes() > self.limit:
            self._commit()

    def _pool_bytes(self) -> int:
        pool = self._writer.pool
        return pool.postings * 10 + sum(len(d) for d in pool.inv.values()) * 160

    def _commit(self) -> None:
        if self._writer is not None:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            self._writer.commit(mergetype=NO_MERGE)
            self._writer = None
            self.segments += 1

    def cancel(self) -> None:
        if self._writer is not None:
            if self._searcher is not None:
                self._searcher.close()
            self._writer.cancel()
            self._writer = None


class WhooshBackend(Searching):
    """Search backend on a whoosh index directory.

    ``writer=True`` for the one process that writes (the worker); web processes open it with
    ``writer=False`` and only read. Each instance caches one view of the index and refreshes it
    when a new commit appears (``refresh()``; ``search()`` also checks, at most once per
    ``auto_refresh`` seconds). Safe for concurrent searches from several threads.
    """

    def __init__(
        self,
        index_dir: Path | str,
        *,
        writer: bool,
        cache_mb: int = 256,
        auto_refresh: float = 1.0,
        lock_timeout: float = 30.0,
        preload_min_docs: int | None = PRELOAD_MIN_DOCS,
    ):
        self.index_dir = Path(index_dir)
        self.writer = writer
        # A reader decodes the most frequent terms' posting lists of each large new segment
        # in a background thread (None: never), so that the first queries after a start or a
        # merge do not pay for them (see preload()).
        self.preload_min_docs = None if writer else preload_min_docs
        self._preloading: threading.Thread | None = None
        self._preload_queue: list[Segment] = []
        self._preload_lock = threading.Lock()
        self.auto_refresh = auto_refresh
        self.lock_timeout = lock_timeout
        self._cache = TermCache(cache_mb * 1024 * 1024)
        self._ix = None
        self._state: State | None = None
        self._segment_data: dict[str, SegmentData] = {}
        self._ordinals = Ordinals()
        self._state_lock = threading.Lock()
        self._checked_at = 0.0
        self._health: tuple[tuple, str | None] | None = None  # (index version, check() result)
        self._verified: set[str] = set()  # segment ids that passed check()

    # --- opening and refreshing ------------------------------------------------------------

    def _create(self) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self._ix = index.create_in(str(self.index_dir), make_schema())

    def _open_index(self):
        if self._ix is None:
            if not index.exists_in(str(self.index_dir)):
                raise IndexUnavailable("missing")
            self._ix = index.open_dir(str(self.index_dir))
        return self._ix

    def _load_state(self) -> State:
        ix = self._open_index()
        version = self._version()
        toc = ix._read_toc()
        old = {s.segid: s for s in self._state.segments} if self._state else {}
        segments = []
        for segment in toc.segments:
            segid = segment.segment_id()
            prev = old.get(segid)
            if prev is not None and prev.deleted_count == segment.deleted_count():
                segments.append(prev)
                continue
            data = self._segment_data.get(segid) or SegmentData()
            reader = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
            seg = Segment(reader, data, self._cache)
            self._warm(seg)
            segments.append(seg)
            if self.preload_min_docs is not None and seg.n >= self.preload_min_docs:
                self._queue_preload(seg)
        self._segment_data = {s.segid: s.data for s in segments}
        return State(version, segments)

    # --- preloading posting lists ------------------------------------------------------------

    def _queue_preload(self, seg: Segment) -> None:
        with self._preload_lock:
            self._preload_queue.append(seg)
            if self._preloading is None or not self._preloading.is_alive():
                self._preloading = threading.Thread(target=self._preload_queued,
                                                    name="search-preload", daemon=True)
                self._preloading.start()

    def _preload_queued(self) -> None:
        while True:
            with self._preload_lock:
                if not self._preload_queue:
                    self._preloading = None
                    return
                segments, self._preload_queue = self._preload_queue, []
            try:
                self.preload(segments)
            except Exception:  # noqa: BLE001 - a merge may remove a segment meanwhile
                log.debug("preloading posting lists stopped", exc_info=True)

    def wait_preloaded(self, timeout: float = 60) -> None:
        """Block until the background preloading (if any) is done (benchmarks, tests)."""
        thread = self._preloading
        if thread is not None:
            thread.join(timeout)

    def preload(self, segments: Sequence[Segment], budget_bytes: int | None = None
                ) -> dict[str, float]:
        """Decode into the posting cache the lists of the most frequent terms of ``segments``,
        most frequent first, within ``budget_bytes`` (default: an eighth of the cache).

        A term in a third of 100,000 documents takes some 20 ms to decode the first time it
        is searched; the rare terms are cheap. A few hundred of the most frequent syllables
        and syllable pairs cover the expensive part of almost every first query."""
        t0 = time.perf_counter()
        budget = self._cache.max_bytes // PRELOAD_CACHE_SHARE if budget_bytes is None \
            else budget_bytes
        candidates: list[tuple[float, int, Segment, str, str]] = []
        for k, seg in enumerate(segments):
            for fieldname in TEXT_FIELDS:
                with seg.lock:
                    top = seg.reader.most_frequent_terms(fieldname, PRELOAD_TERMS_PER_FIELD)
                candidates += [(freq, k, seg, fieldname, term.decode("utf-8"))
                               for freq, term in top]
        candidates.sort(key=lambda c: (-c[0], c[1]))
        used = terms = 0
        for _, _, seg, fieldname, text in candidates:
            if used >= budget:
                break
            used += seg.postings(fieldname, text).nbytes
            terms += 1
        return {"terms": terms, "bytes": used, "seconds": time.perf_counter() - t0}

    def _warm(self, seg: Segment) -> None:
        """Build what every search needs now, not in the first request."""
        for fieldname in KEYWORD_FIELDS:
            seg.values(fieldname)
        seg.norms()
        seg.dates()
        seg.dossiers(self._ordinals)
        if seg.n:
            with seg.lock:
                seg.reader.stored_fields(0)  # loads the stored-fields offsets

    def _version(self) -> tuple:
        """Identifies the latest commit: generation plus the TOC file's size and time (a
        rebuilt index starts counting generations again)."""
        ix = self._open_index()
        generation = ix.latest_generation()
        if generation < 0:
            raise IndexUnavailable("missing")
        try:
            st = os.stat(self.index_dir / f"_{ix.indexname}_{generation}.toc")
        except FileNotFoundError:
            return (generation,)
        return (generation, st.st_size, st.st_mtime_ns)

    def refresh(self) -> None:
        """See the latest commit; cheap when nothing changed."""
        try:
            version = self._version()
        except IndexUnavailable:
            self._ix = None
            raise
        if self._state is None or version != self._state.version:
            with self._state_lock:
                for attempt in range(3):
                    if self._state is not None and self._version() == self._state.version:
                        break
                    try:
                        self._state = self._load_state()
                        break
                    except (FileNotFoundError, TypeError):
                        # a merge removed a segment meanwhile (whoosh then fails on a file it
                        # could not open, with a TypeError): read the new TOC again
                        if attempt == 2:
                            raise
        self._checked_at = time.monotonic()

    def _current(self) -> State:
        if self._state is None or time.monotonic() - self._checked_at >= self.auto_refresh:
            try:
                self.refresh()
            except IndexUnavailable:
                raise
            except Exception as exc:  # unreadable TOC or segment
                raise IndexUnavailable(f"corrupt: {type(exc).__name__}: {exc}") from exc
        return self._state

    def count(self) -> int:
        return self._current().doc_count

    def drop_caches(self) -> None:
        """Forget the cached posting lists (benchmarks use it to measure cold searches)."""
        self._cache.clear()

    def close(self) -> None:
        self._state = None
        self._segment_data = {}
        self._ix = None

    # --- health ------------------------------------------------------------------------------

    def check(self) -> str | None:
        """None if the index is usable, else "missing", "outdated schema: ..." or "corrupt: ...".

        Each segment is checked once (opened; some postings, the lengths and stored fields
        read), each commit's TOC and schema once; then the answer is cached, so calling it per
        request is cheap. A read error during a search clears the cache.
        """
        if self._health is not None and self._ix is not None:
            # the usual case, once per request: nothing committed since the last check. A
            # listing and a stat answer it; whoosh's exists_in() reads and unpickles the TOC
            # (schema and analyzers), which cost more than many searches (decision 0024)
            try:
                version = self._version()
            except Exception:  # noqa: BLE001 - missing or unreadable: the full check says
                version = None
            if version is not None and self._health[0] == version:
                return self._health[1]
        for attempt in range(5):
            try:
                exists = index.exists_in(str(self.index_dir))
                break
            except FileNotFoundError:  # a commit replaced the TOC between listing and opening
                if attempt == 4:
                    raise
        if not exists:
            self._ix = None
            return "missing"
        try:
            version = self._version()
        except Exception as exc:
            return f"corrupt: {type(exc).__name__}: {exc}"
        if self._health is not None and self._health[0] == version:
            return self._health[1]
        problem = self._check_segments()
        self._health = (version, problem)
        return problem

    def _check_segments(self) -> str | None:
        try:
            ix = index.open_dir(str(self.index_dir))
            toc = ix._read_toc()
            expected = make_schema()
            if sorted(toc.schema.names()) != sorted(expected.names()) or any(
                type(toc.schema[n]) is not type(expected[n]) for n in expected.names()
            ):
                return "outdated schema: rebuild the index"
            for segment in toc.segments:
                if segment.segment_id() in self._verified:
                    continue  # segment files never change; deletions live in the TOC
                reader = SegmentReader(ix.storage, toc.schema, segment)
                try:
                    seg = Segment(reader, SegmentData(), TermCache(0))
                    # posting lists are written field by field in name order: the first
                    # terms, and the last term of the last field, sit at both ends of the file
                    for fieldname in ("access_mode", "id", "tf", "bf", "year"):
                        terms = [t.decode("utf-8") for t in reader.lexicon(fieldname)]
                        for text in terms[:1] + terms[-1:] if fieldname == "year" else terms[:1]:
                            seg.ids(fieldname, text)
                    seg.norms()
                    for docnum in {0, seg.n - 1} if seg.n else ():
                        reader.stored_fields(docnum)
                finally:
                    reader.close()
                self._verified.add(segment.segment_id())
        except Exception as exc:
            return f"corrupt: {type(exc).__name__}: {exc}"
        return None

    # --- writing -----------------------------------------------------------------------------

    def _require_writer(self):
        if not self.writer:
            raise PermissionError("this search backend was opened read-only")
        try:
            return self._open_index()
        except IndexUnavailable:
            self._create()
            return self._ix

    def _write(self, records: Sequence[IndexRecord], delete_terms: Sequence[tuple[str, str]]):
        ix = self._require_writer()
        w = FastSegmentWriter(ix, timeout=self.lock_timeout)
        try:
            for docnum in self._docnums(w, delete_terms):
                w.delete_document(docnum)
            for r in records:
                w.add_record(r)
            w.commit(mergetype=merge_tiers)
        except BaseException:
            w.cancel()
            raise
        self._checked_at = 0.0

    def _docnums(self, w: FastSegmentWriter, terms: Sequence[tuple[str, str]]) -> list[int]:
        """Live documents holding any of the terms, numbered as the writer numbers them.

        Uses this instance's readers (refreshed to the commit the writer has locked) rather
        than opening a searcher over every segment for each commit.
        """
        if not terms or not w.segments:
            return []
        self.refresh()
        state = self._state
        if [s.segid for s in state.segments] != [s.segment_id() for s in w.segments]:
            raise RuntimeError("index changed while its write lock was held")
        found = []
        offset = 0
        for seg, segment in zip(state.segments, w.segments, strict=True):
            for fieldname, text in terms:
                for d in seg.ids(fieldname, text):
                    if not segment.is_deleted(d):
                        found.append(offset + d)
            offset += segment.doc_count_all()
        return found

    def upsert(self, records: Sequence[IndexRecord]) -> None:
        """Add or replace records (by id) in one commit."""
        latest = {r.id: r for r in records}  # the last version of an id in the batch wins
        if latest:
            self._write(list(latest.values()), [("id", i) for i in latest])

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._write([], [("id", i) for i in dict.fromkeys(ids)])

    def delete_dossier(self, dossier_id: str) -> None:
        """Remove a dossier record and every document in it."""
        self._write([], [("dossier_id", dossier_id), ("id", dossier_id)])

    def optimize(self) -> None:
        """Merge every segment into one (drops deleted documents; can take minutes)."""
        w = FastSegmentWriter(self._require_writer(), timeout=self.lock_timeout)
        try:
            w.commit(optimize=True)
        except BaseException:
            w.cancel()
            raise
        self._checked_at = 0.0

    def clear(self) -> None:
        """Remove everything (before a full reindex); recreates a missing or corrupt index."""
        try:
            ix = self._require_writer()
            w = ix.writer(timeout=self.lock_timeout)
            w.commit(mergetype=CLEAR)
        except PermissionError:
            raise
        except Exception:  # noqa: BLE001 - an unreadable TOC: start a new index
            self.close()
            shutil.rmtree(self.index_dir, ignore_errors=True)
            self._create()
        self._checked_at = 0.0

    @contextmanager
    def bulk(self, limitmb: int = 2048) -> Iterator[BulkWriter]:
        """A writer for a full reindex: ``with backend.bulk() as w: w.add(record)``.

        Records are inverted in memory and written as one segment (a new segment each time the
        pool passes ``limitmb``), committed at the end. Records already in the index are
        replaced. Not atomic: if it fails, the segments already written stay (run it again).
        """
        self._require_writer()
        bw = BulkWriter(self, limitmb)
        try:
            yield bw
        except BaseException:
            bw.cancel()
            raise
        bw._commit()
        self._checked_at = 0.0

    # --- searching ---------------------------------------------------------------------------

    def search(self, req: SearchRequest) -> SearchResult:
        parsed = parse(req.q)
        req.check()
        state = self._current()
        try:
            plan = Planner(state, req.exact).plan(parsed)
            search = self._search_dossiers if req.kind == "dossier" else self._search_documents
            result = search(state, req, plan)
        except QuerySyntaxError:
            raise
        except READ_ERRORS as exc:
            self._health = None
            self._verified.clear()
            problem = self.check()  # a damaged file, or a bug?
            if problem is None:
                raise
            raise IndexUnavailable(problem) from exc
        return result
