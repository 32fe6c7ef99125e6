"""Writing segments: whoosh's format, written a block at a time (see the package doc)."""

from __future__ import annotations

import gc
import pickle
import struct
from array import array
from collections import defaultdict, deque
from functools import partial
from itertools import repeat
from operator import sub

from whoosh import fields, formats
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.reading import SegmentReader
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from ..analysis import (
    DocumentAnalyzer,
)
from ..backend import (
    IndexRecord,
)
from .schema import (
    PAIR_FIELDS,
    TEXT_FIELDS,
    record_codes,
    record_files,
    record_keywords,
    record_numbers,
    record_stored,
    record_text,
    record_title_terms,
)

# --- fast segment writer -------------------------------------------------------------------
#
# whoosh's own writer handles every posting several times in Python (a sort pool pickled to
# disk, a per-posting length lookup that stats a file): about 90 documents/s here for this
# schema. The writer below keeps the inverted lists in memory (one array per term) and writes
# whole posting blocks in the W3 codec's format, so the segments it makes are ordinary whoosh
# segments. Merges of older segments still go through whoosh's add_reader().

_BLOCK = 1024  # postings per block


class InvertedPool:
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


def write_postings(fieldwriter, schema, pool: InvertedPool, doc_lengths) -> None:
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
        self.pool = InvertedPool(self.schema, self.analyzer)
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
            write_postings(
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
