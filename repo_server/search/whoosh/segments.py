"""Reading a segment: posting lists as bitsets, and what is derived from a segment once."""

from __future__ import annotations

import bisect
import io
import math
import pickle
import struct
import threading
import zlib
from array import array
from collections import OrderedDict, deque
from collections.abc import Iterator
from datetime import date
from itertools import accumulate, compress, islice, repeat

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC
from whoosh.reading import SegmentReader, TermNotFound
from whoosh.util.numeric import byte_to_length

from .schema import TEXT_FIELDS

# --- segment reading: posting lists as bitsets ------------------------------------------------
#
# In a segment of n documents, document d is character d of format(bits, f"0{n}b"), i.e. bit
# n-1-d of the int. A set is built by writing "1"s into a bytearray of "0"s and parsing it with
# int(..., 2); it is listed with itertools.compress over the same string translated to 0/1.

K1, B = 1.2, 0.75  # BM25
_NONZERO_ASCII = bytes([48] + [49] * 255)  # frequency byte -> "0" / "1"
_ASCII_01 = bytes.maketrans(b"01", b"\x00\x01")
TIERS = (32, 16, 8, 4, 2)  # frequency thresholds for choosing ranking candidates
_GE_ASCII = {t: bytes([48] * t + [49] * (256 - t)) for t in TIERS}


class Postings:
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
        return 64 + len(self.tf) + (1 + len(TIERS)) * (len(self.tf) // 8)

    def tier(self, threshold: int) -> int:
        """Documents where the term occurs at least ``threshold`` times."""
        bits = self._tiers.get(threshold)
        if bits is None:
            bits = self._tiers[threshold] = (
                int(self.tf.translate(_GE_ASCII[threshold]), 2) if self.tf is not None else 0
            )
        return bits


NO_POSTINGS = Postings(0, None, 0)
ENTRY_BYTES = 64  # a cache entry that only points to postings held elsewhere (or to none)


class TermCache:
    """Least-recently-used cache of Postings, bounded in bytes, shared by threads."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            self._items.move_to_end(key)
            return entry[0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.size = 0

    def put(self, key, item: Postings, nbytes: int | None = None) -> None:
        """``nbytes``: what this entry costs (default the item's size; a second key for an
        item cached already costs only the entry)."""
        with self._lock:
            if key in self._items:
                return
            n = item.nbytes if nbytes is None else nbytes
            self._items[key] = (item, n)
            self.size += n
            while self.size > self.max_bytes and len(self._items) > 1:
                _, (_, old) = self._items.popitem(last=False)
                self.size -= old


def read_blocks(raw: bytes) -> Iterator[tuple[int, int, object, object]]:
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


def block_weights(count: int, weights):
    if weights is None:
        return repeat(1, count)
    if isinstance(weights, float):
        return repeat(int(weights), count)
    return weights


class SegmentData:
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


class Ordinals:
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


class Segment:
    """A segment as seen by one reader state: reader, live documents, cached derived data."""

    def __init__(self, reader: SegmentReader, data: SegmentData, cache: TermCache):
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
        for _, _, deltas, _ in read_blocks(raw):
            out.extend(accumulate(deltas))
        return out

    def postings(
        self, fieldname: str, text: str, alias: tuple[str, str] | None = None
    ) -> Postings:
        key = (self.segid, fieldname, text)
        p = self.cache.get(key)
        if p is not None:
            return p
        # a term that is missing, or that shares its alias's postings, is remembered too:
        # otherwise every search asked the term file again (decision 0024)
        if alias is not None and self.doc_frequency(fieldname, text) == self.doc_frequency(*alias):
            p = self.postings(*alias)
            self.cache.put(key, p, ENTRY_BYTES)
            return p
        raw = self._raw(fieldname, text)
        if raw is None:
            self.cache.put(key, NO_POSTINGS, ENTRY_BYTES)
            return NO_POSTINGS
        if fieldname not in TEXT_FIELDS:
            ids = self.ids(fieldname, text)
            p = Postings(self.bits_of(ids), None, len(ids))
        else:
            tf = bytearray(self.n)
            setter = tf.__setitem__
            if isinstance(raw, tuple):  # inlined: absolute ids
                ids, weights = raw
                deque(map(setter, ids, [min(w, 255) for w in weights]), 0)
                df = len(ids)
            else:
                df = 0
                for count, maxweight, deltas, weights in read_blocks(raw):
                    ws = block_weights(count, weights)
                    if maxweight > 255 or isinstance(weights, tuple):  # whoosh's: floats
                        ws = [min(int(w), 255) for w in ws]
                    deque(map(setter, accumulate(deltas), ws), 0)
                    df += count
            p = Postings(int(tf.translate(_NONZERO_ASCII), 2), tf, df)
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
            table = [K1 * (1 - B + B * byte_to_length(i) / avg) for i in range(256)]
            d.norms = (lb, table)
        return d.norms

    def dossiers(self, ordinals: Ordinals) -> tuple[array, dict[int, int]]:
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


class State:
    """A consistent view of one index generation: its segments and statistics."""

    def __init__(self, version: tuple, segments: list[Segment]):
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
