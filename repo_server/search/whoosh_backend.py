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

Sections: schema and records; fast writer; segment reading; query plan; the backend.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import io
import logging
import math
import os
import pickle
import shutil
import struct
import threading
import time
import zlib
from array import array
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from itertools import accumulate, compress, islice, repeat
from operator import sub
from pathlib import Path

from whoosh import fields, formats, index
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.reading import SegmentReader, TermNotFound
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import CLEAR, NO_MERGE, SegmentWriter

from . import query as ql
from .analysis import (
    FIELD_SEPARATOR,
    DocumentAnalyzer,
    Highlighter,
    NumberField,
    VietField,
    canonical,
    fold,
    number_parts,
    text_terms,
)
from .backend import (
    FACETS,
    IndexRecord,
    IndexUnavailable,
    QuerySyntaxError,
    SearchHit,
    SearchRequest,
    SearchResult,
)

# text fields: exact syllables, folded syllables, exact bigrams, folded bigrams
log = logging.getLogger(__name__)
TEXT_FIELDS = ("tx", "tf", "bx", "bf")
PRELOAD_MIN_DOCS = 5000  # segments smaller than this answer a first query fast anyway
PRELOAD_CACHE_SHARE = 8  # preloading fills at most this part of the posting cache
PRELOAD_TERMS_PER_FIELD = 500
PAIR_FIELDS = frozenset({"bx", "bf"})
KEYWORD_FIELDS = ("kind", "fonds_code", "state", "access_mode", "type_code", "direction", "year")
TITLE_WEIGHT = 2  # the title is indexed this many times: a title match weighs more


SCHEMA_VERSION = 2  # raise when the analysis changes: an index of another version is rebuilt
# the subject alone (exact, folded; syllables, bigrams): for ranking, not scored
TITLE_FIELDS = ("sx", "sf", "sbx", "sbf")


def make_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        dossier_id=fields.ID(stored=True),
        day=fields.ID(),  # yyyymmdd, for date ranges and date sorting
        **{name: fields.ID(stored=name == "kind") for name in KEYWORD_FIELDS},
        tx=VietField(folded=False),
        tf=VietField(folded=True),
        bx=VietField(folded=False, pairs=True),
        bf=VietField(folded=True, pairs=True),
        sx=VietField(folded=False, scorable=False),
        sf=VietField(folded=True, scorable=False),
        sbx=VietField(folded=False, pairs=True, scorable=False),
        sbf=VietField(folded=True, pairs=True, scorable=False),
        nx=NumberField(folded=False),
        nf=NumberField(folded=True),
        kx=NumberField(folded=False),  # the record's codes ("code:")
        kf=NumberField(folded=True),
        fx=VietField(folded=False, scorable=False),  # its file names ("file:")
        ff=VietField(folded=True, scorable=False),
        src=fields.STORED(),  # compressed original text, for snippets
        # no data: its name tells check() which version of the analysis built the index
        **{f"v{SCHEMA_VERSION}": fields.STORED()},
    )


def record_text(r: IndexRecord) -> str:
    # FIELD_SEPARATOR ends a phrase: no bigram joins the end of one field to the start of the
    # next (nor two values of fields_text, one per line)
    sep = f" {FIELD_SEPARATOR} "
    return sep.join([*([r.title] * TITLE_WEIGHT), r.number or "",
                     r.fields_text.replace("\n", sep), r.body])


def record_title_terms(r: IndexRecord) -> dict[str, Counter]:
    t = r.title
    return {"sx": Counter(text_terms(t, False, False)), "sf": Counter(text_terms(t, True, False)),
            "sbx": Counter(text_terms(t, False, True)), "sbf": Counter(text_terms(t, True, True))}


def record_files(r: IndexRecord) -> dict[str, Counter]:
    names = " ".join(r.files)
    return {"fx": Counter(text_terms(names, False, False)),
            "ff": Counter(text_terms(names, True, False))}


def record_codes(r: IndexRecord) -> tuple[list[str], list[str]]:
    codes = canonical(" ".join(r.codes))
    return number_parts(codes), number_parts(fold(codes))


def record_stored(r: IndexRecord) -> dict:
    # whoosh compresses each document's stored fields (zlib): src is kept as plain text
    src = (r.title, r.number or "", r.fields_text, r.body)
    return {"id": r.id, "kind": r.kind, "dossier_id": r.dossier_id, "src": src}


def record_keywords(r: IndexRecord) -> dict[str, str]:
    return {
        "id": r.id,
        "dossier_id": r.dossier_id,
        "kind": r.kind,
        "fonds_code": r.fonds_code,
        "state": r.state or "",
        "access_mode": r.access_mode or "",
        "type_code": r.type_code or "",
        "direction": r.direction or "",
        "year": str(r.date.year) if r.date else "",
        "day": r.date.strftime("%Y%m%d") if r.date else "",
    }


def record_numbers(r: IndexRecord) -> tuple[list[str], list[str]]:
    number = canonical(r.number or "")
    return number_parts(number), number_parts(fold(number))


# --- fast segment writer -------------------------------------------------------------------
#
# whoosh's own writer handles every posting several times in Python (a sort pool pickled to
# disk, a per-posting length lookup that stats a file): about 90 documents/s here for this
# schema. The writer below keeps the inverted lists in memory (one array per term) and writes
# whole posting blocks in the W3 codec's format, so the segments it makes are ordinary whoosh
# segments. Merges of older segments still go through whoosh's add_reader().

_BLOCK = 1024  # postings per block


class _InvertedPool:
    """In-memory inverted lists: field -> term key -> array [doc, freq, doc, freq, ...]."""

    def __init__(self, schema: fields.Schema, analyzer: DocumentAnalyzer):
        self.schema = schema
        self.analyzer = analyzer
        self.inv: dict[str, defaultdict] = {}
        self.postings = 0

    def field(self, name: str) -> defaultdict:
        d = self.inv.get(name)
        if d is None:
            d = self.inv[name] = defaultdict(partial(array, "I"))
        return d

    def add_counts(self, fieldname: str, docnum: int, counts: dict) -> None:
        lists = list(map(self.field(fieldname).__getitem__, counts))
        deque(map(array.append, lists, repeat(docnum, len(lists))), 0)
        deque(map(array.append, lists, counts.values()), 0)
        self.postings += len(lists)

    def add(self, item) -> None:
        """whoosh's path (add_reader during a merge): (field, bytes term, doc, weight, value)."""
        fieldname, btext, docnum, weight, _value = item
        term = btext.decode("utf-8")
        if fieldname in TEXT_FIELDS:
            an = self.analyzer
            key = an.pair_id(term) if fieldname in PAIR_FIELDS else an.syllable_id(term)
        else:
            key = term
        a = self.field(fieldname)[key]
        a.append(docnum)
        a.append(int(weight))
        self.postings += 1

    def cleanup(self) -> None:
        self.inv = {}

    def sorted_terms(self, fieldname: str) -> list[tuple[str, array]]:
        d = self.inv[fieldname]
        if fieldname in TEXT_FIELDS:
            term = partial(self.analyzer.term, pair=fieldname in PAIR_FIELDS)
            items = [(term(k), v) for k, v in d.items()]
        else:
            items = list(d.items())
        items.sort(key=lambda kv: kv[0])  # code point order == UTF-8 byte order
        return items


def _compact(values) -> array:
    """The smallest unsigned array type that holds the values (pickles as raw bytes)."""
    top = max(values)
    return array("B" if top < 256 else "H" if top < 65536 else "I", values)


def _write_postings(fieldwriter, schema, pool: _InvertedPool, doc_lengths) -> None:
    """Write every inverted list as W3 posting blocks plus its term info.

    Blocks hold up to 1024 postings (whoosh's own writer: 128) and store the document-number
    deltas and the weights as compact arrays instead of tuples: whoosh reads them the same
    way (it only iterates and indexes them), and they load much faster.
    """
    postfile = fieldwriter._postfile
    tindex = fieldwriter._tindex
    for fieldname in sorted(pool.inv):
        fieldobj = schema[fieldname]
        fmt = fieldobj.format
        if type(fmt) not in (formats.Existence, formats.Frequency):
            raise TypeError(f"fast writer cannot write {fmt!r}")
        with_values = fmt.fixed_value_size() == 4  # Frequency: the frequency as a uint
        fieldwriter.start_field(fieldname, fieldobj)
        prefix = pack_ushort(fieldwriter._fieldid)
        lengths = doc_lengths(fieldname) if fieldobj.scorable else None
        for term, arr in pool.sorted_terms(fieldname):
            ids = arr[0::2]
            freqs = arr[1::2]
            n = len(ids)
            start = postfile.tell()
            postfile.write(WHOOSH3_HEADER_MAGIC)
            total = 0
            maxw = 0
            minlen = None
            maxlen = 0
            for b in range(0, n, _BLOCK):
                bids = ids[b : b + _BLOCK]
                bfreq = freqs[b : b + _BLOCK]
                k = len(bids)
                deltas = [bids[0]]
                deltas += map(sub, bids[1:], bids)
                mx = max(bfreq)
                small = k <= 16  # a short tuple pickles smaller than an array
                if mx == 1:
                    weights = None
                elif min(bfreq) == mx:
                    weights = float(mx)
                else:
                    weights = tuple(bfreq) if small else _compact(bfreq)
                values = struct.pack(f"!{k}I", *bfreq) if with_values else None
                data = pickle.dumps(
                    (tuple(deltas) if small else _compact(deltas), weights, values), 4
                )
                if lengths is not None:
                    bl = [lengths[i] for i in bids]
                    bmin, bmax = min(bl) or None, max(bl)
                else:
                    bmin, bmax = None, 0
                # compression 0: stored as is (the block header says so)
                info = pickle.dumps(
                    (k, bids[-1], float(mx), 0, length_to_byte(bmin), length_to_byte(bmax)), 2
                )
                size = len(info) + len(data)
                postfile.write_int(-size if b + _BLOCK >= n else size)
                postfile.write(info)
                postfile.write(data)
                total += sum(bfreq)
                maxw = max(maxw, mx)
                if bmin is not None and (minlen is None or bmin < minlen):
                    minlen = bmin
                maxlen = max(maxlen, bmax)
            ti = W3TermInfo()
            ti._weight = float(total)
            ti._df = n
            ti._minlength = minlen
            ti._maxlength = maxlen
            ti._maxweight = float(maxw)
            ti._minid = ids[0]
            ti._maxid = ids[-1]
            ti.set_extent(start, postfile.tell() - start)
            tindex.add(prefix + term.encode("utf-8"), ti.to_bytes())
        fieldwriter.finish_field()


def merge_tiers(writer, segments):
    """Merge policy: when ten segments have sizes of the same order of magnitude (by live
    documents: <10, <100, <1000, ...), merge them into one. Each merge is bounded by its
    tier, segments stay few (about ten per tier), and deleted documents are dropped as the
    segments holding them are merged. (whoosh's MERGE_SMALL would, once there are about 25
    segments, merge everything, a 100k-document segment included, inside a worker commit.)"""
    tiers: dict[int, list] = defaultdict(list)
    for segment in segments:
        live = segment.doc_count_all() - segment.deleted_count()
        tiers[len(str(max(live, 1)))].append(segment)
    keep = []
    for group in tiers.values():
        if len(group) < 10:
            keep += group
            continue
        for segment in group:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            writer.add_reader(reader)
            reader.close()
    return keep


class FastSegmentWriter(SegmentWriter):
    """A whoosh SegmentWriter with an in-memory pool and block-at-a-time posting output."""

    def __init__(self, ix, analyzer: DocumentAnalyzer | None = None, **kwargs):
        # no compound file: whoosh reads a compound segment through io.BytesIO, which copies
        # every part of it into memory (500 MB for each reading process at 100k documents)
        kwargs.setdefault("compound", False)
        super().__init__(ix, **kwargs)
        self.analyzer = analyzer or DocumentAnalyzer()
        self.pool = _InvertedPool(self.schema, self.analyzer)
        self._lengths: dict[str, array] = {name: array("I") for name in TEXT_FIELDS}
        # the pool holds millions of small objects: cyclic GC passes would rescan them all
        self._gc_was_enabled = gc.isenabled()
        gc.disable()

    def add_record(self, r: IndexRecord) -> None:
        tx, tf, bx, bf = self.analyzer.counts(record_text(r))
        nx, nf = record_numbers(r)
        docnum = self.docnum
        pool = self.pool
        pdw = self.perdocwriter
        schema = self.schema
        stored = record_stored(r)
        pdw.start_doc(docnum)
        for name, value in record_keywords(r).items():
            if value:
                pool.add_counts(name, docnum, {value: 1})
            pdw.add_field(name, schema[name], stored.get(name), 0)
        for name, counts in (("tx", tx), ("tf", tf), ("bx", bx), ("bf", bf)):
            length = sum(counts.values())
            pool.add_counts(name, docnum, counts)
            self._lengths[name].append(length)
            pdw.add_field(name, schema[name], None, length)
        kx, kf = record_codes(r)
        for name, terms in (("nx", nx), ("nf", nf), ("kx", kx), ("kf", kf)):
            if terms:
                pool.add_counts(name, docnum, dict.fromkeys(terms, 1))
        for name, counts in (*record_title_terms(r).items(), *record_files(r).items()):
            if counts:
                pool.add_counts(name, docnum, counts)
        pdw.add_field("src", schema["src"], stored["src"], 0)
        pdw.finish_doc()
        self._added = True
        self.docnum += 1

    def add_document(self, **fields_):
        # only add_reader() (merges) may use whoosh's per-document path here
        raise TypeError("use add_record()")

    def _doc_lengths(self, pdr, fieldname: str):
        own = self._lengths.get(fieldname)
        if own is not None and len(own) == self.docnum - self.docbase and self.docbase == 0:
            return [byte_to_length(length_to_byte(n)) for n in own]
        return [pdr.doc_field_length(d, fieldname) for d in range(self.docnum)]

    def _flush_segment(self):
        self.perdocwriter.close()
        pdr = self.per_document_reader()
        try:
            _write_postings(
                self.fieldwriter, self.schema, self.pool, partial(self._doc_lengths, pdr)
            )
        finally:
            pdr.close()
        self.fieldwriter.close()

    def _restore_gc(self) -> None:
        self.pool.cleanup()
        if self._gc_was_enabled:
            gc.enable()

    def commit(self, *args, **kwargs):
        try:
            super().commit(*args, **kwargs)
        finally:
            self._restore_gc()

    def cancel(self):
        try:
            super().cancel()
        finally:
            self._restore_gc()


# --- segment reading: posting lists as bitsets ------------------------------------------------
#
# In a segment of n documents, document d is character d of format(bits, f"0{n}b"), i.e. bit
# n-1-d of the int. A set is built by writing "1"s into a bytearray of "0"s and parsing it with
# int(..., 2); it is listed with itertools.compress over the same string translated to 0/1.

_NONZERO_ASCII = bytes([48] + [49] * 255)  # frequency byte -> "0" / "1"
_ASCII_01 = bytes.maketrans(b"01", b"\x00\x01")
_TIERS = (32, 16, 8, 4, 2)  # frequency thresholds for choosing ranking candidates
_GE_ASCII = {t: bytes([48] * t + [49] * (256 - t)) for t in _TIERS}


class _Postings:
    """One term in one segment: the documents (bitset) and their term frequencies."""

    __slots__ = ("bits", "tf", "df", "_tiers")

    def __init__(self, bits: int, tf: bytearray | None, df: int):
        self.bits = bits
        self.tf = tf
        self.df = df
        self._tiers: dict[int, int] = {}

    @property
    def nbytes(self) -> int:
        """Memory, counting the frequency tiers it may build (one bitset each)."""
        bitset = self.bits.bit_length() // 8
        if self.tf is None:
            return 64 + bitset
        return 64 + len(self.tf) + (1 + len(_TIERS)) * (len(self.tf) // 8)

    def tier(self, threshold: int) -> int:
        """Documents where the term occurs at least ``threshold`` times."""
        bits = self._tiers.get(threshold)
        if bits is None:
            bits = self._tiers[threshold] = (
                int(self.tf.translate(_GE_ASCII[threshold]), 2) if self.tf is not None else 0
            )
        return bits


_NO_POSTINGS = _Postings(0, None, 0)


class _TermCache:
    """Least-recently-used cache of _Postings, bounded in bytes, shared by threads."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0

    def put(self, key, item: _Postings) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = item
            self.size += item.nbytes
            while self.size > self.max_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self.size -= old.nbytes


def _blocks(raw: bytes) -> Iterator[tuple[int, int, object, object]]:
    """(count, max weight, deltas, weights) of each block of one W3 posting list."""
    buf = io.BytesIO(raw)
    buf.seek(len(WHOOSH3_HEADER_MAGIC))
    while True:
        (size,) = struct.unpack("!i", buf.read(4))
        start = buf.tell()
        count, _, maxweight, comp, _, _ = pickle.load(buf)
        data = raw[buf.tell() : start + abs(size)]
        if comp:
            data = zlib.decompress(data)
        deltas, weights, _ = pickle.loads(data)
        yield count, maxweight, deltas, weights
        if size < 0:
            return
        buf.seek(start + abs(size))


def _block_weights(count: int, weights):
    if weights is None:
        return repeat(1, count)
    if isinstance(weights, float):
        return repeat(int(weights), count)
    return weights


class _SegmentData:
    """What is derived once from a segment (by id) and kept across refreshes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, dict[str, int]] = {}
        self.dates = None  # (days ascending, docs in that order, reversed docs, dated bits)
        self.day_of: array | None = None
        self.norms = None  # (length byte per doc, BM25 denominator part per length byte)
        self.dossier_of: array | None = None  # doc -> dossier ordinal
        self.dossier_record: dict[int, int] | None = None  # dossier ordinal -> its record's doc
        self.date_ranges: OrderedDict = OrderedDict()


class _Ordinals:
    """A number (from 1) for each dossier id, the same in every segment of this process."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, dossier_id: str) -> int:
        n = self._ids.get(dossier_id)
        if n is None:
            with self._lock:
                n = self._ids.setdefault(dossier_id, len(self._ids) + 1)
        return n


class _Segment:
    """A segment as seen by one reader state: reader, live documents, cached derived data."""

    def __init__(self, reader: SegmentReader, data: _SegmentData, cache: _TermCache):
        self.reader = reader
        self.segid = reader.segment().segment_id()
        self.n = reader.doc_count_all()
        self.data = data
        self.cache = cache
        self.lock = threading.Lock()  # whoosh readers are not thread-safe
        self.full = (1 << self.n) - 1
        deleted = list(reader.segment().deleted_docs())
        self.deleted_count = len(deleted)
        self.live = self.bits_of(deleted, invert=True) if deleted else self.full
        self.live_count = self.n - self.deleted_count

    # sets ---------------------------------------------------------------------------------

    def bits_of(self, docs, invert: bool = False) -> int:
        fill, mark = (b"1", 48) if invert else (b"0", 49)
        ba = bytearray(fill) * self.n
        deque(map(ba.__setitem__, docs, repeat(mark)), 0)
        return int(ba, 2) if self.n else 0

    def bytemap(self, bits: int) -> bytes:
        """0/1 byte per document."""
        return format(bits, f"0{self.n}b").encode("ascii").translate(_ASCII_01)

    def docs(self, bits: int, limit: int | None = None) -> list[int]:
        """The documents of a set, in order (the first ``limit`` of them)."""
        if not bits:
            return []
        count = bits.bit_count()
        if limit is not None:
            count = min(count, limit)
        if count * 32 < self.n:  # sparse: jump from one "1" to the next
            s = format(bits, f"0{self.n}b")
            out = []
            i = s.find("1")
            while i >= 0 and len(out) < count:
                out.append(i)
                i = s.find("1", i + 1)
            return out
        it = compress(range(self.n), self.bytemap(bits))
        return list(it if limit is None else islice(it, limit))

    # postings -----------------------------------------------------------------------------

    def _raw(self, fieldname: str, text: str):
        """The posting list bytes of a term, its inlined (ids, weights), or None."""
        with self.lock:
            terms = self.reader._terms
            try:
                ti = terms.term_info(fieldname, text.encode("utf-8"))
            except TermNotFound:
                return None
            if ti.is_inlined():
                ids, weights, _ = ti.inlined_postings()
                return list(ids), [int(w) for w in weights]
            offset, length = ti.extent()
            if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves it a 1-tuple
                (length,) = length
            raw = terms._postfile.get(offset, length)
        if len(raw) != length:
            raise EOFError(f"posting list of {fieldname}:{text} cut short")
        return raw

    def ids(self, fieldname: str, text: str) -> list[int]:
        raw = self._raw(fieldname, text)
        if raw is None:
            return []
        if isinstance(raw, tuple):
            return raw[0]
        out: list[int] = []
        for _, _, deltas, _ in _blocks(raw):
            out.extend(accumulate(deltas))
        return out

    def postings(
        self, fieldname: str, text: str, alias: tuple[str, str] | None = None
    ) -> _Postings:
        key = (self.segid, fieldname, text)
        p = self.cache.get(key)
        if p is not None:
            return p
        if alias is not None and self.doc_frequency(fieldname, text) == self.doc_frequency(*alias):
            return self.postings(*alias)
        raw = self._raw(fieldname, text)
        if raw is None:
            return _NO_POSTINGS
        if fieldname not in TEXT_FIELDS:
            ids = self.ids(fieldname, text)
            p = _Postings(self.bits_of(ids), None, len(ids))
        else:
            tf = bytearray(self.n)
            setter = tf.__setitem__
            if isinstance(raw, tuple):  # inlined: absolute ids
                ids, weights = raw
                deque(map(setter, ids, [min(w, 255) for w in weights]), 0)
                df = len(ids)
            else:
                df = 0
                for count, maxweight, deltas, weights in _blocks(raw):
                    ws = _block_weights(count, weights)
                    if maxweight > 255 or isinstance(weights, tuple):  # whoosh's: floats
                        ws = [min(int(w), 255) for w in ws]
                    deque(map(setter, accumulate(deltas), ws), 0)
                    df += count
            p = _Postings(int(tf.translate(_NONZERO_ASCII), 2), tf, df)
        self.cache.put(key, p)
        return p

    def doc_frequency(self, fieldname: str, text: str) -> int:
        with self.lock:
            try:
                return self.reader._terms.term_info(fieldname, text.encode("utf-8")).doc_frequency()
            except TermNotFound:
                return 0

    # derived data -------------------------------------------------------------------------

    def _lexicon(self, fieldname: str) -> list[str]:
        with self.lock:
            return [t.decode("utf-8") for t in self.reader.lexicon(fieldname)]

    def values(self, fieldname: str) -> dict[str, int]:
        """Keyword field value -> documents."""
        d = self.data
        vals = d.values.get(fieldname)
        if vals is None:
            vals = {v: self.postings(fieldname, v).bits for v in self._lexicon(fieldname)}
            d.values[fieldname] = vals
        return vals

    def dates(self):
        d = self.data
        with d.lock:
            if d.dates is None:
                days: list[int] = []
                order: list[int] = []
                day_of = array("I", bytes(4 * self.n))
                for day in self._lexicon("day"):  # yyyymmdd sorts as dates do
                    ids = self.ids("day", day)
                    value = int(day)
                    days.extend(repeat(value, len(ids)))
                    order.extend(ids)
                    for i in ids:
                        day_of[i] = value
                d.day_of = day_of
                d.dates = (days, order, order[::-1], self.bits_of(order))
            return d.dates

    def date_range(self, start: date | None, end: date | None) -> int:
        key = (start, end)
        d = self.data
        with d.lock:
            bits = d.date_ranges.get(key)
        if bits is not None:
            return bits
        days, order, _, _ = self.dates()
        lo = bisect.bisect_left(days, int(start.strftime("%Y%m%d"))) if start else 0
        hi = bisect.bisect_right(days, int(end.strftime("%Y%m%d"))) if end else len(days)
        bits = self.bits_of(order[lo:hi])
        with d.lock:
            d.date_ranges[key] = bits
            if len(d.date_ranges) > 32:
                d.date_ranges.popitem(last=False)
        return bits

    def norms(self):
        """(length byte per document, K1*(1-B+B*len/avg) per length byte) for BM25."""
        d = self.data
        if d.norms is None:
            with self.lock:
                col = self.reader._perdoc._cached_reader("_tf_len", LENGTHS_COLUMN)
                raw = col._dbfile.get(col._basepos, col._count) if col is not None else b""
                if col is not None and len(raw) != col._count:
                    raise EOFError("field lengths cut short")
                total = self.reader._perdoc.field_length("tf")
            lb = bytes(raw) + bytes(self.n - len(raw))
            avg = max(1.0, total / max(1, self.n))
            table = [_K1 * (1 - _B + _B * byte_to_length(i) / avg) for i in range(256)]
            d.norms = (lb, table)
        return d.norms

    def dossiers(self, ordinals: _Ordinals) -> tuple[array, dict[int, int]]:
        """(dossier ordinal per document, ordinal -> the dossier record's document)."""
        d = self.data
        with d.lock:
            if d.dossier_of is None:
                kinds = self.values("kind")
                records = self.bytemap(kinds.get("dossier", 0))
                dossier_of = array("I", bytes(4 * self.n))
                record_of: dict[int, int] = {}
                for dossier_id in self._lexicon("dossier_id"):
                    ordinal = ordinals.get(dossier_id)
                    for i in self.ids("dossier_id", dossier_id):
                        dossier_of[i] = ordinal
                        if records[i]:
                            record_of[ordinal] = i
                d.dossier_of, d.dossier_record = dossier_of, record_of
            return d.dossier_of, d.dossier_record


# --- query plan -----------------------------------------------------------------------------

_K1, _B = 1.2, 0.75
EXACT_BOOST = 0.5  # weight of an exact-spelling match on top of the folded one
ADJACENT_BOOST = 0.5  # bonus for neighbouring query syllables found next to each other
NUMBER_BOOST = 3.0  # a hit in the document-number field
# the score's tiers, each above any difference of the tiers below it: per word matched with its
# exact spelling; then the place of the match (0 words scattered, 1 the typed neighbours next
# to each other in the text, 2 every word in the subject, 3 and next to each other there);
# then BM25; then the more recent date
EXACT_TIER = 100_000.0
PLACE_TIER = 10_000.0
MAX_SCORED = 2000  # up to this many matches (per segment) are all BM25-scored ...
CANDIDATES = 500  # ... above it, this many (plus the page depth) likely best ones are
MAX_DEPTH = 10_000  # deepest result a page may reach


@dataclass(frozen=True)
class _Expr:
    op: str  # "term", "and", "or"
    fieldname: str = ""
    text: str = ""
    children: tuple[_Expr, ...] = ()
    # an exact-spelling term's folded form: where both have as many documents, the sets are
    # the same (exact ⊆ folded), and the folded one (read anyway) stands in for it
    alias: tuple[str, str] | None = None


def _term(fieldname: str, text: str, alias: tuple[str, str] | None = None) -> _Expr:
    return _Expr("term", fieldname, text, alias=alias)


def _all(children) -> _Expr:
    children = tuple(children)
    return children[0] if len(children) == 1 else _Expr("and", children=children)


def _any(children) -> _Expr:
    children = tuple(dict.fromkeys(children))
    return children[0] if len(children) == 1 else _Expr("or", children=children)


@dataclass
class _Unit:
    """One required word, phrase, number, field term or OR group."""

    match: _Expr
    exact: _Expr | None  # default mode: the same with exact spelling (for ranking)
    scoring: list[tuple[str, str, float, tuple | None]]  # (field, term, weight, alias) BM25
    main: list[tuple[str, str]]  # the terms whose high frequencies choose candidates
    words: list[tuple[str, ...]]  # what to highlight
    title: _Expr | None = None  # the same in the subject (None: not a subject word)


@dataclass
class _Plan:
    units: list[_Unit] = field(default_factory=list)
    excluded: list[_Expr] = field(default_factory=list)
    bonus: list[tuple[str, str, float, tuple | None]] = field(default_factory=list)
    words: list[tuple[str, ...]] = field(default_factory=list)  # for highlighting
    # ranking places: every subject word; the typed neighbours next to each other in the
    # subject, in the text
    title: list[_Expr] = field(default_factory=list)
    title_pairs: list[_Expr] = field(default_factory=list)
    text_pairs: list[_Expr] = field(default_factory=list)


class _Planner:
    """Turns a parsed query into bitset expressions and scoring terms for one index state."""

    def __init__(self, state: _State, exact: bool):
        self.state = state
        self.exact = exact
        self.uni, self.bi, self.num = ("tx", "bx", "nx") if exact else ("tf", "bf", "nf")
        self.title_uni, self.title_bi = ("sx", "sbx") if exact else ("sf", "sbf")
        self.fields = {"number": self.num, "code": "kx" if exact else "kf",
                       "file": "fx" if exact else "ff"}

    def _f(self, syllable: str) -> str:
        return syllable if self.exact else fold(syllable)

    def word(self, sylls: tuple[str, ...], cuts: tuple[int, ...] = ()) -> _Unit:
        """A one-syllable word or an adjacent sequence (a phrase; not adjacent at ``cuts``)."""
        pairs = [(sylls[i - 1], sylls[i]) for i in range(1, len(sylls)) if i not in cuts]
        # syllables no pair covers (a one-syllable word, or one between two cuts)
        covered = {i for i in range(1, len(sylls)) if i not in cuts}
        covered |= {i - 1 for i in covered}
        singles = [s for i, s in enumerate(sylls) if i not in covered]
        terms = [(self.uni, self._f(s)) for s in singles]
        terms += [(self.bi, f"{self._f(a)} {self._f(b)}") for a, b in pairs]
        exact_terms = [("tx", s) for s in singles] + [("bx", f"{a} {b}") for a, b in pairs]
        title = [(self.title_uni, self._f(s)) for s in singles]
        title += [(self.title_bi, f"{self._f(a)} {self._f(b)}") for a, b in pairs]
        match = _all(_term(*t) for t in terms)
        scoring = [(f, t, 1.0, None) for f, t in terms]
        exact = None
        if not self.exact:
            exact = _all(_term(*x, alias=t) for x, t in zip(exact_terms, terms, strict=True))
            scoring += [(*x, EXACT_BOOST, t) for x, t in zip(exact_terms, terms, strict=True)]
        return _Unit(match, exact, scoring, terms, [sylls], _all(_term(*t) for t in title))

    def every(self, sylls: tuple[str, ...]) -> _Unit:
        """All the syllables, anywhere (a run of plain words on one side of OR)."""
        return self.combine([self.word((s,)) for s in dict.fromkeys(sylls)], _all)

    def combine(self, units: list[_Unit], how) -> _Unit:  # noqa: ANN001
        if len(units) == 1:
            return units[0]
        titles = [u.title for u in units if u.title is not None]
        return _Unit(
            how(u.match for u in units),
            None if self.exact or any(u.exact is None for u in units) else how(
                u.exact for u in units),
            [t for u in units for t in u.scoring],
            [t for u in units for t in u.main],
            [w for u in units for w in u.words],
            how(titles) if len(titles) == len(units) else None,
        )

    def number(self, num: ql.Number) -> _Unit:
        parts = self.word(num.syllables) if num.syllables else None
        own = _term(self.num, self._f(num.text))
        match = _any([own, parts.match]) if parts else own
        exact = None
        if not self.exact:
            own_x = _term("nx", num.text)
            exact = _any([own_x, parts.exact]) if parts else own_x
        scoring = [(self.num, self._f(num.text), NUMBER_BOOST, None)]
        scoring += parts.scoring if parts else []
        return _Unit(match, exact, scoring, parts.main if parts else [], [num.syllables],
                     parts.title if parts else None)

    def field(self, term: ql.Field) -> _Unit:
        """``number:``/``code:`` (the whole value or each of its parts) or ``file:`` (each
        syllable); a filter only: no score, no exact-spelling rank, no highlight."""
        fieldname = self.fields[term.name]
        if term.name != "file" and ql.NUMBER_RE.fullmatch(term.text):
            values = [term.text]
        else:
            values = list(dict.fromkeys(term.syllables))
        match = _all(_term(fieldname, self._f(v)) for v in values)
        words = [term.syllables] if term.name == "number" else []
        return _Unit(match, None, [], [], words, None)

    def alternative(self, item) -> _Unit:  # noqa: ANN001
        if isinstance(item, ql.Number):
            return self.number(item)
        if isinstance(item, ql.Field):
            return self.field(item)
        if isinstance(item, ql.Run) and len(item.syllables) > 1:
            return self.every(item.syllables)
        if isinstance(item, ql.Phrase):
            return self.word(item.syllables, item.cuts)
        return self.word(item.syllables)

    def plan(self, parsed: ql.ParsedQuery) -> _Plan:
        groups, neighbours = parsed.words()
        plan = _Plan()
        for group in groups:
            unit = self.combine([self.alternative(x) for x in group], _any)
            plan.units.append(unit)
            plan.words += unit.words
            if unit.title is not None:
                plan.title.append(unit.title)
        pairs = [(self._f(a), self._f(b)) for a, b in dict.fromkeys(neighbours)]
        plan.words += [p for p in dict.fromkeys(neighbours)]
        plan.title_pairs = [_term(self.title_bi, f"{a} {b}") for a, b in pairs]
        plan.text_pairs = [_term(self.bi, f"{a} {b}") for a, b in pairs]
        # a neighbour pair in most documents says little and costs a long posting list
        common = self.state.doc_count // 5
        plan.bonus = [
            (self.bi, pair, ADJACENT_BOOST, None)
            for pair in (f"{a} {b}" for a, b in pairs)
            if 0 < self.state.doc_frequency(self.bi, pair) <= common
        ]
        excluded = [
            ql.Phrase(x.syllables) if isinstance(x, ql.Run) else x for x in parsed.excluded
        ]
        plan.excluded = [self.alternative(x).match for x in excluded]
        return plan


def _eval(seg: _Segment, expr: _Expr) -> int:
    if expr.op == "term":
        return seg.postings(expr.fieldname, expr.text, expr.alias).bits
    if expr.op == "and":
        bits = seg.full
        for child in expr.children:
            bits &= _eval(seg, child)
            if not bits:
                break
        return bits
    bits = 0
    for child in expr.children:
        bits |= _eval(seg, child)
    return bits


# --- the backend ----------------------------------------------------------------------------

# what reading a damaged segment raises
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    struct.error,
    zlib.error,
    pickle.UnpicklingError,
)


class _State:
    """A consistent view of one index generation: its segments and statistics."""

    def __init__(self, version: tuple, segments: list[_Segment]):
        self.version = version
        self.segments = segments
        self.doc_count = sum(s.live_count for s in segments)
        self._df: dict[tuple[str, str], int] = {}

    def doc_frequency(self, fieldname: str, text: str) -> int:
        key = (fieldname, text)
        df = self._df.get(key)
        if df is None:
            df = self._df[key] = sum(s.doc_frequency(fieldname, text) for s in self.segments)
        return df

    def idf(self, fieldname: str, text: str) -> float:
        df = self.doc_frequency(fieldname, text)
        n = max(self.doc_count, df)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


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


class WhooshBackend:
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
        self._preload_queue: list[_Segment] = []
        self._preload_lock = threading.Lock()
        self.auto_refresh = auto_refresh
        self.lock_timeout = lock_timeout
        self._cache = _TermCache(cache_mb * 1024 * 1024)
        self._ix = None
        self._state: _State | None = None
        self._segment_data: dict[str, _SegmentData] = {}
        self._ordinals = _Ordinals()
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

    def _load_state(self) -> _State:
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
            data = self._segment_data.get(segid) or _SegmentData()
            reader = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
            seg = _Segment(reader, data, self._cache)
            self._warm(seg)
            segments.append(seg)
            if self.preload_min_docs is not None and seg.n >= self.preload_min_docs:
                self._queue_preload(seg)
        self._segment_data = {s.segid: s.data for s in segments}
        return _State(version, segments)

    # --- preloading posting lists ------------------------------------------------------------

    def _queue_preload(self, seg: _Segment) -> None:
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

    def preload(self, segments: Sequence[_Segment], budget_bytes: int | None = None
                ) -> dict[str, float]:
        """Decode into the posting cache the lists of the most frequent terms of ``segments``,
        most frequent first, within ``budget_bytes`` (default: an eighth of the cache).

        A term in a third of 100,000 documents takes some 20 ms to decode the first time it
        is searched; the rare terms are cheap. A few hundred of the most frequent syllables
        and syllable pairs cover the expensive part of almost every first query."""
        t0 = time.perf_counter()
        budget = self._cache.max_bytes // PRELOAD_CACHE_SHARE if budget_bytes is None \
            else budget_bytes
        candidates: list[tuple[float, int, _Segment, str, str]] = []
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

    def _warm(self, seg: _Segment) -> None:
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

    def _current(self) -> _State:
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
                    seg = _Segment(reader, _SegmentData(), _TermCache(0))
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
        parsed = ql.parse(req.q)
        if req.kind not in ("document", "dossier"):
            raise QuerySyntaxError(f"Unknown kind: {req.kind}")
        if req.page < 1 or req.page_size < 1:
            raise QuerySyntaxError("page and page_size must be at least 1")
        if req.page * req.page_size > MAX_DEPTH:
            raise QuerySyntaxError(f"Results beyond the first {MAX_DEPTH} cannot be paged to")
        state = self._current()
        try:
            plan = _Planner(state, req.exact).plan(parsed)
            search = self._search_dossiers if req.kind == "dossier" else self._search_documents
            result = search(state, req, plan)
        except QuerySyntaxError:
            raise
        except _READ_ERRORS as exc:
            self._health = None
            self._verified.clear()
            problem = self.check()  # a damaged file, or a bug?
            if problem is None:
                raise
            raise IndexUnavailable(problem) from exc
        return result

    # filters

    def _filter(self, seg: _Segment, req: SearchRequest, kind: str, doc_only: bool = True) -> int:
        bits = seg.live & seg.values("kind").get(kind, 0)
        allowed_sets = [
            ("fonds_code", req.fonds_codes),
            ("state", req.states),
            ("access_mode", req.access_modes),
        ]
        if doc_only:
            allowed_sets += [("type_code", req.type_codes), ("direction", req.directions)]
        for fieldname, allowed in allowed_sets:
            if not bits:
                return 0
            if allowed is not None:
                values = seg.values(fieldname)
                any_of = 0
                for v in allowed:
                    any_of |= values.get(v, 0)
                bits &= any_of
        if bits and req.dossier_id is not None:
            bits &= seg.postings("dossier_id", req.dossier_id).bits
        if bits and (req.date_from or req.date_to):
            bits &= seg.date_range(req.date_from, req.date_to)
        return bits

    def _match(self, seg: _Segment, plan: _Plan, bits: int) -> int:
        for unit in plan.units:
            if not bits:
                return 0
            bits &= _eval(seg, unit.match)
        for expr in plan.excluded:
            if not bits:
                return 0
            bits &= ~_eval(seg, expr)
        return bits

    # ranking

    def _places(self, seg: _Segment, plan: _Plan, bits: int) -> tuple[int, int, int]:
        """(phrase in the subject, every word in the subject, phrase in the text) of ``bits``:
        the ranking places, best first."""
        if not plan.title:
            subject = 0
        else:
            subject = bits
            for expr in plan.title:
                subject &= _eval(seg, expr)
        phrase = subject
        for expr in plan.title_pairs:
            if not phrase:
                break
            phrase &= _eval(seg, expr)
        text = bits
        for expr in plan.text_pairs:
            if not text:
                break
            text &= _eval(seg, expr)
        return phrase, subject, text

    def _rank(self, state: _State, seg: _Segment, plan: _Plan, bits: int, need: int):
        """The best ``need`` documents of ``bits``: [(score, yyyymmdd, doc)], best first (on
        equal scores the more recent)."""
        count = bits.bit_count()
        exact_units = [u for u in plan.units if u.exact is not None]
        places = self._places(seg, plan, bits)
        forced = 0
        if count <= MAX_SCORED:
            candidates = seg.docs(bits)
        else:
            # take whole tiers, best first, while they fit in the page depth; the tier that
            # does not fit is where the likely best ones are picked
            all_exact = bits
            for u in exact_units:
                all_exact &= _eval(seg, u.exact)
            pool = bits
            for level in (*(all_exact & p for p in places), all_exact, *places, bits):
                level |= forced
                if level.bit_count() >= need:
                    pool = level & ~forced
                    break
                forced = level
            head = seg.docs(forced)
            candidates = head + self._candidates(seg, plan, pool, max(1, need - len(head)))
        lb, norm = seg.norms()
        terms = []
        for fieldname, text, weight, alias in [
            t for u in plan.units for t in u.scoring
        ] + plan.bonus:
            p = seg.postings(fieldname, text, alias)
            if p.tf is not None or p.df:
                w = weight * state.idf(fieldname, text) * (_K1 + 1)
                terms.append((p.tf if p.tf is not None else seg.bytemap(p.bits), w))
        exact_maps = []
        for u in exact_units:
            if u.exact.op == "term":
                p = seg.postings(u.exact.fieldname, u.exact.text, u.exact.alias)
                exact_maps.append(p.tf if p.tf is not None else seg.bytemap(p.bits))
            else:
                exact_maps.append(seg.bytemap(_eval(seg, u.exact)))
        phrase, subject, text = (seg.bytemap(p) for p in places)
        seg.dates()
        day_of = seg.data.day_of
        scored = []
        for d in candidates:
            nd = norm[lb[d]]
            s = 0.0
            for tf, w in terms:
                f = tf[d]
                if f:
                    s += w * f / (f + nd)
            for xm in exact_maps:
                if xm[d]:
                    s += EXACT_TIER
            if phrase[d]:
                s += 3 * PLACE_TIER
            elif subject[d]:
                s += 2 * PLACE_TIER
            elif text[d]:
                s += PLACE_TIER
            scored.append((round(s, 4), day_of[d], -d))
        return [(s, day, -nd) for s, day, nd in heapq.nlargest(need, scored)]

    def _candidates(self, seg: _Segment, plan: _Plan, pool: int, need: int) -> list[int]:
        """About CANDIDATES + need documents of ``pool`` likely to score best: those where the
        query's words occur most often (all of the highest frequency tier that has fewer than
        ``need`` documents, then the next tier in index order)."""
        mains = [seg.postings(f, t) for u in plan.units for f, t in u.main]
        mains = [p for p in mains if p.tf is not None]
        chosen = 0
        for threshold in _TIERS:
            tier = 0
            for p in mains:
                tier |= p.tier(threshold)
            tier &= pool
            if tier.bit_count() >= need:
                break
            chosen = tier
        else:
            tier = pool
        head = seg.docs(chosen)
        rest = seg.docs(tier & ~chosen, max(0, CANDIDATES + need - len(head)))
        return head + rest

    def _by_date(self, seg: _Segment, bits: int, need: int, descending: bool) -> list:
        """The first ``need`` documents of ``bits`` by date: [(yyyymmdd, doc)]; undated last."""
        days, order, reverse, dated = seg.dates()
        bm = seg.bytemap(bits)
        seq = reverse if descending else order
        picked = list(islice(compress(seq, map(bm.__getitem__, seq)), need))
        if len(picked) < need:
            picked += seg.docs(bits & ~dated, need - len(picked))
        day_of = seg.data.day_of
        return [(day_of[d], d) for d in picked]

    # documents

    def _search_documents(self, state: _State, req: SearchRequest, plan: _Plan) -> SearchResult:
        need = req.page * req.page_size
        by_relevance = req.sort == "relevance" and bool(plan.units)
        facets: dict[str, Counter] = {f: Counter() for f in FACETS} if req.facets else {}
        total = 0
        top = []
        for si, seg in enumerate(state.segments):
            bits = self._filter(seg, req, "document")
            if bits:
                bits = self._match(seg, plan, bits)
            if not bits:
                continue
            total += bits.bit_count()
            for fieldname, counter in facets.items():
                for value, vbits in seg.values(fieldname).items():
                    c = (bits & vbits).bit_count()
                    if c and value:
                        counter[value] += c
            if by_relevance:
                top += [
                    (score, day, -si, -d, si, d)
                    for score, day, d in self._rank(state, seg, plan, bits, need)
                ]
            else:
                desc = req.sort != "date_asc"
                for day, d in self._by_date(seg, bits, need, desc):
                    key = (day if desc else -day) if day else -(10**9)
                    top.append((key, 0, -si, -d, si, d))
        top = heapq.nlargest(need, top)[need - req.page_size :]
        hits = self._hits(
            state, req, plan, [(si, d, k[0] if by_relevance else None) for *k, si, d in top]
        )
        return SearchResult(
            hits=hits,
            total=total,
            total_is_estimate=False,
            facets={f: dict(c.most_common()) for f, c in facets.items()},
        )

    # dossiers

    def _search_dossiers(self, state: _State, req: SearchRequest, plan: _Plan) -> SearchResult:
        """Dossiers whose own metadata matches, or with a matching document.

        Filters apply to the dossier record; a document only counts as evidence if it passes
        the same filters a document search would apply (so nothing hidden leaks through). With
        type or direction filters only documents can match (dossiers have neither).
        """
        need = req.page * req.page_size
        own_allowed = req.type_codes is None and req.directions is None
        by_relevance = req.sort == "relevance" and bool(plan.units)
        scores: dict[int, float] = {}  # dossier ordinal -> best score
        best_doc: dict[int, tuple[int, int]] = {}  # dossier ordinal -> (segment, doc)
        matched: set[int] = set()
        records: dict[int, tuple[int, int]] = {}  # ordinal -> (segment, doc) of allowed records
        for si, seg in enumerate(state.segments):
            dossier_of, record_of = seg.dossiers(self._ordinals)
            allowed = self._filter(seg, req, "dossier", doc_only=False)
            allowed_map = seg.bytemap(allowed)  # includes: live, a dossier record
            for ordinal, d in record_of.items():
                if allowed_map[d]:
                    records[ordinal] = (si, d)
            if plan.units or plan.excluded:
                evidence = self._match(seg, plan, self._filter(seg, req, "document"))
                own = self._match(seg, plan, allowed) if own_allowed else 0
            else:  # no query: every allowed dossier (with a document passing the filters)
                evidence = 0 if own_allowed else self._filter(seg, req, "document")
                own = allowed if own_allowed else 0
            docs = seg.docs(evidence | own)
            matched.update(map(dossier_of.__getitem__, docs))
            if by_relevance and (evidence | own):
                # the best documents decide the order; 10 per dossier on the page is plenty
                for score, _day, d in self._rank(state, seg, plan, evidence | own, need * 10):
                    o = dossier_of[d]
                    if score > scores.get(o, -1.0):
                        scores[o], best_doc[o] = score, (si, d)
        result_ids = [o for o in matched if o in records]
        facets: dict[str, Counter] = {}
        if req.facets:
            facets = {"type_code": Counter(), "year": Counter(), "fonds_code": Counter()}
            per_seg: dict[int, list[int]] = defaultdict(list)
            for o in result_ids:
                si, d = records[o]
                per_seg[si].append(d)
            for si, ds in per_seg.items():
                seg = state.segments[si]
                rbits = seg.bits_of(ds)
                for fieldname in ("year", "fonds_code"):
                    for value, vbits in seg.values(fieldname).items():
                        c = (rbits & vbits).bit_count()
                        if c and value:
                            facets[fieldname][value] += c
        desc = req.sort != "date_asc"
        day_of = []
        for seg in state.segments:
            seg.dates()
            day_of.append(seg.data.day_of)
        if by_relevance:
            keyed = [
                ((scores.get(o, 0.0), day_of[records[o][0]][records[o][1]]), o) for o in result_ids
            ]
        else:
            sign = 1 if desc else -1
            keyed = [((sign * day_of[records[o][0]][records[o][1]], 0), o) for o in result_ids]
        top = heapq.nlargest(need, keyed)[need - req.page_size :]
        hits = self._hits(
            state,
            req,
            plan,
            [(*records[o], scores.get(o) if by_relevance else None) for _, o in top],
            evidence={o: best_doc[o] for _, o in top if o in best_doc},
            ordinals=[o for _, o in top],
        )
        return SearchResult(
            hits=hits,
            total=len(result_ids),
            total_is_estimate=False,
            facets={f: dict(c.most_common()) for f, c in facets.items()},
        )

    # hits and snippets

    def _hits(self, state, req, plan, picks, evidence=None, ordinals=None) -> list[SearchHit]:
        highlighter = Highlighter(plan.words, req.exact) if req.snippets and plan.words else None
        hits = []
        for i, (si, d, score) in enumerate(picks):
            seg = state.segments[si]
            with seg.lock:
                stored = seg.reader.stored_fields(d)
            hit = SearchHit(
                id=stored["id"],
                kind=stored["kind"],
                dossier_id=stored["dossier_id"],
                score=None if score is None else round(score, 4),
            )
            if highlighter is not None:
                hit.highlights = _highlights(highlighter, stored)
                if evidence and ordinals:
                    best = evidence.get(ordinals[i])
                    if best and best != (si, d):
                        eseg = state.segments[best[0]]
                        with eseg.lock:
                            doc = eseg.reader.stored_fields(best[1])
                        snippet = _highlights(highlighter, doc)
                        text = snippet.get("body") or snippet.get("title")
                        if text:
                            hit.highlights["document"] = text
            hits.append(hit)
        return hits


def _highlights(highlighter: Highlighter, stored: dict) -> dict[str, str]:
    title, number, fields_text, body = stored["src"]
    out = {}
    for name, text, whole in (
        ("title", title, True),
        ("number", number, True),
        ("fields_text", fields_text, False),
        ("body", body, False),
    ):
        if text:
            marked = highlighter.whole(text) if whole else highlighter.snippet(text)
            if marked:
                out[name] = marked
    return out
