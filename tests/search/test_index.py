"""The index as a store: writes, deletes, health checks, readers seeing new commits."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from whoosh import index as windex
from whoosh import query as wquery
from whoosh.writing import NO_MERGE

from repo_server.search.backend import IndexUnavailable, SearchRequest
from repo_server.search.whoosh import WhooshBackend
from repo_server.search.whoosh.schema import (
    SCHEMA_VERSION,
    TEXT_FIELDS,
    make_schema,
    record_keywords,
    record_stored,
    record_text,
)
from repo_server.search.whoosh.writer import FastSegmentWriter

from .conftest import dossier, ids, new_backend, record
from .corpus import generate


@pytest.fixture
def whoosh_backend(tmp_path):  # noqa: ANN001, ANN201
    """For the tests of the whoosh engine's own files (the others run on every engine)."""
    b = new_backend("whoosh", tmp_path)
    yield b
    b.close()


def test_upsert_replaces_a_record_by_id(backend):
    backend.upsert([record("a", "Kế hoạch cũ", "nội dung cũ")])
    backend.upsert([record("a", "Kế hoạch mới", "nội dung mới"), record("b", "Khác")])
    assert backend.count() == 2
    assert ids(backend, "moi") == ["a"]
    assert ids(backend, "cu") == []
    # the last version of an id in one batch wins
    backend.upsert([record("c", body="một"), record("c", body="hai")])
    assert ids(backend, "hai") == ["c"] and ids(backend, "mot") == []


def test_delete_and_delete_dossier(backend):
    backend.upsert(
        [
            dossier("d-1", "Hồ sơ hủy"),
            record("a", body="tài liệu hủy", dossier_id="d-1"),
            record("b", body="tài liệu hủy", dossier_id="d-1"),
            dossier("d-2", "Hồ sơ giữ"),
            record("c", body="tài liệu giữ", dossier_id="d-2"),
        ]
    )
    backend.delete(["c", "no-such-id"])
    assert ids(backend, "tai lieu") == ["a", "b"] or set(ids(backend, "tai lieu")) == {"a", "b"}
    backend.delete_dossier("d-1")
    assert backend.count() == 1
    assert ids(backend, "", dossier_id="d-1") == []
    assert ids(backend, "huy", kind="dossier") == []
    assert ids(backend, "", kind="dossier") == ["d-2"]


def test_clear_and_bulk_reindex(backend):
    records = list(generate(120, seed=3))
    backend.upsert(records[:10])
    backend.clear()
    assert backend.count() == 0
    with backend.bulk() as w:
        for r in records:
            w.add(r)
    assert backend.count() == len(records)
    # a bulk load over existing records replaces them instead of doubling them
    with backend.bulk() as w:
        for r in records[:30]:
            w.add(r)
    assert backend.count() == len(records)
    assert backend.search(SearchRequest(q="uy ban")).total > 0


def test_corpus_is_deterministic():
    a = [(r.id, r.body) for r in generate(60, seed=5)]
    b = [(r.id, r.body) for r in generate(60, seed=5)]
    assert a == b and len({r[0] for r in a}) == len(a)
    assert a != [(r.id, r.body) for r in generate(60, seed=6)]


def test_many_small_commits_are_merged_and_stay_correct(whoosh_backend):
    backend = whoosh_backend
    records = list(generate(150, seed=4))
    for i in range(0, len(records), 5):
        backend.upsert(records[i : i + 5])
    ix = windex.open_dir(str(backend.index_dir))
    assert len(ix._read_toc().segments) < 15  # merged ten at a time by size
    expected = backend.search(SearchRequest(q="phe duyet", page_size=100))
    backend.optimize()  # merge everything through whoosh's add_reader path
    assert len(ix._read_toc().segments) == 1
    backend.refresh()
    merged = backend.search(SearchRequest(q="phe duyet", page_size=100))
    assert merged.total == expected.total == len({h.id for h in merged.hits}) or merged.total > 100
    assert {h.id for h in merged.hits} == {h.id for h in expected.hits}
    assert backend.count() == len(records)


def test_fast_writer_writes_what_whoosh_itself_writes(tmp_path):
    """Same postings (terms, documents, weights) as whoosh's own writer, readable by whoosh."""
    records = [
        replace(r, codes=(f"000.00.12.H57.2024.{i:02d}",), files=(f"Tờ trình {i}.pdf", "x.txt"))
        if i % 3 else r
        for i, r in enumerate(generate(40, seed=9))
    ]
    (tmp_path / "fast").mkdir()
    (tmp_path / "slow").mkdir()
    fast = windex.create_in(str(tmp_path / "fast"), make_schema())
    w = FastSegmentWriter(fast)
    for r in records:
        w.add_record(r)
    w.commit(mergetype=NO_MERGE)
    slow = windex.create_in(str(tmp_path / "slow"), make_schema())
    w = slow.writer()
    for r in records:
        text = record_text(r)
        fields = {k: v for k, v in record_keywords(r).items() if v}
        w.add_document(
            **fields,
            tx=text,
            tf=text,
            bx=text,
            bf=text,
            nx=r.number or "",
            nf=r.number or "",
            **dict.fromkeys(("sx", "sf", "sbx", "sbf"), r.title),
            **dict.fromkeys(("kx", "kf"), " ".join(r.codes)),
            **dict.fromkeys(("fx", "ff"), " ".join(r.files)),
            src=record_stored(r)["src"],
        )
    w.commit()

    def postings(ix):
        out = {}
        with ix.reader() as reader:
            for fieldname, term in reader.all_terms():
                m = reader.postings(fieldname, term)
                items = []
                while m.is_active():
                    items.append((m.id(), m.weight()))
                    m.next()
                out[(fieldname, term)] = items
        return out

    assert postings(fast) == postings(slow)
    with fast.searcher() as fs, slow.searcher() as ss:  # whoosh's own engine reads them too
        for q in (wquery.Term("tf", "uy"), wquery.Term("bf", "uy ban"), wquery.Term("nf", "ubnd")):
            assert [h.docnum for h in fs.search(q, limit=None)] == [
                h.docnum for h in ss.search(q, limit=None)
            ]
            assert len(fs.search(q, limit=None)) > 0


# --- health ----------------------------------------------------------------------------------


def test_check_reports_a_missing_index_and_a_fresh_writer_does_not_hide_it(tmp_path):
    b = WhooshBackend(tmp_path / "index", writer=True)
    assert b.check() == "missing"  # the worker must rebuild, not serve an empty index
    with pytest.raises(IndexUnavailable):
        b.search(SearchRequest(q="x"))
    b.clear()
    assert b.check() is None and b.count() == 0


def test_check_reports_a_corrupt_index(whoosh_backend):
    backend = whoosh_backend
    backend.upsert(list(generate(30, seed=1)))
    assert backend.check() is None
    (postings,) = backend.index_dir.glob("*.pst")
    with open(postings, "r+b") as f:
        f.truncate(postings.stat().st_size - 100)
    fresh = WhooshBackend(backend.index_dir, writer=False)
    assert fresh.check().startswith("corrupt")
    with pytest.raises(IndexUnavailable):
        fresh.search(SearchRequest(q="uy ban"))
    backend.clear()  # the worker's reindex starts with clear(): it must cope
    assert backend.check() is None


def test_check_reports_an_index_built_with_another_schema(tmp_path):
    from whoosh import fields

    (tmp_path / "old").mkdir()
    windex.create_in(str(tmp_path / "old"), fields.Schema(id=fields.ID(stored=True)))
    assert WhooshBackend(tmp_path / "old", writer=False).check().startswith("outdated schema")


def test_an_index_of_an_earlier_analysis_version_is_outdated(tmp_path):
    """The worker rebuilds an index whose check() is not None: a version marker in the schema
    makes an index built by an earlier analysis (same fields) one of those."""
    schema = make_schema()
    schema.remove(f"v{SCHEMA_VERSION}")
    schema.add(f"v{SCHEMA_VERSION - 1}", make_schema()[f"v{SCHEMA_VERSION}"])
    (tmp_path / "old").mkdir()
    windex.create_in(str(tmp_path / "old"), schema)
    assert WhooshBackend(tmp_path / "old", writer=False).check().startswith("outdated schema")


def test_a_reader_sees_the_writers_commits_after_refresh(tmp_path):
    writer = WhooshBackend(tmp_path / "index", writer=True)
    writer.upsert([record("a", body="kế hoạch")])
    reader = WhooshBackend(tmp_path / "index", writer=False, auto_refresh=3600)
    assert ids(reader, "ke hoach") == ["a"]
    writer.upsert([record("b", body="kế hoạch năm sau")])
    assert ids(reader, "ke hoach") == ["a"]  # its view is fixed until it refreshes
    reader.refresh()
    assert set(ids(reader, "ke hoach")) == {"a", "b"}
    writer.delete(["a"])
    reader.refresh()
    assert ids(reader, "ke hoach") == ["b"]
    with pytest.raises(PermissionError):
        reader.upsert([record("c")])


def test_concurrent_searches_while_the_writer_commits(tmp_path):
    writer = WhooshBackend(tmp_path / "index", writer=True)
    writer.upsert(list(generate(200, seed=2)))
    reader = WhooshBackend(tmp_path / "index", writer=False, auto_refresh=0)
    errors = []
    stop = threading.Event()

    def search_loop():
        try:
            while not stop.is_set():
                for q in ("uy ban", "phe duyet ke hoach", "", "quyet dinh -cong"):
                    r = reader.search(SearchRequest(q=q))
                    assert r.total >= 0
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=search_loop) for _ in range(3)]
    for t in threads:
        t.start()
    for i, r in enumerate(generate(60, seed=8)):
        if i % 20 == 0:
            writer.upsert([r])
    stop.set()
    for t in threads:
        t.join()
    assert not errors


def test_a_reader_preloads_the_most_frequent_posting_lists_of_a_large_segment(tmp_path):
    """After a start (or a merge) a reader decodes the posting lists of the most frequent
    terms in the background, within its budget, so the first queries need not."""
    writer = WhooshBackend(tmp_path / "ix", writer=True)
    with writer.bulk() as w:
        for r in generate(300):
            w.add(r)
    writer.close()

    def cached(backend: WhooshBackend) -> set[tuple[str, str]]:
        return {(f, t) for (_, f, t) in backend._cache._items}

    small = WhooshBackend(tmp_path / "ix", writer=False, preload_min_docs=10_000)
    small.search(SearchRequest(q=""))
    small.wait_preloaded()
    assert not cached(small) & {(f, "uy") for f in TEXT_FIELDS}  # too small to bother

    reader = WhooshBackend(tmp_path / "ix", writer=False, preload_min_docs=100)
    reader.search(SearchRequest(q=""))
    reader.wait_preloaded()
    seg = reader._current().segments[0]
    with seg.lock:
        top = [t.decode() for _, t in seg.reader.most_frequent_terms("tf", 3)]
    assert {("tf", t) for t in top} <= cached(reader)
    budget = reader._cache.max_bytes // 8
    assert 0 < reader._cache.size <= budget + seg.n * 2  # one list past the line at most
    # an explicit budget is kept to as well, most frequent first
    fresh = WhooshBackend(tmp_path / "ix", writer=False, preload_min_docs=None)
    fresh.search(SearchRequest(q=""))
    done = fresh.preload(fresh._current().segments, budget_bytes=1)
    assert done["terms"] == 1 and len(cached(fresh) & {(f, t) for f in TEXT_FIELDS
                                                      for t in top}) == 1


def test_a_repeated_search_reads_nothing_from_the_term_files_nor_the_toc(tmp_path, monkeypatch):
    """Terms missing from a segment, and exact terms sharing their folded postings, are
    remembered like any posting list; check() on an unchanged index reads no TOC."""
    from whoosh import index as whoosh_index

    from repo_server.search.whoosh.segments import Segment

    writer = WhooshBackend(tmp_path / "ix", writer=True)
    records = list(generate(120))
    for i in range(0, len(records), 40):  # several segments: most terms miss in some
        writer.upsert(records[i:i + 40])
    writer.close()
    reader = WhooshBackend(tmp_path / "ix", writer=False, preload_min_docs=None)
    assert reader.check() is None
    assert len(reader._current().segments) > 1
    requests = [SearchRequest(q=q) for q in ("ke hoach", "Ủy ban nhân dân", "xqzw quyết",
                                            '"phê duyệt" -bán')]
    first = [reader.search(r) for r in requests]
    reads: list[str] = []
    for name in ("_raw", "doc_frequency"):
        original = getattr(Segment, name)
        monkeypatch.setattr(Segment, name, lambda self, *a, _o=original, _n=name, **k: (
            reads.append(_n), _o(self, *a, **k))[1])
    monkeypatch.setattr(whoosh_index, "exists_in", lambda *a, **k: reads.append("toc") or True)
    assert reader.check() is None
    again = [reader.search(r) for r in requests]
    assert reads == []
    assert [[(h.id, h.score) for h in r.hits] for r in again] == [
        [(h.id, h.score) for h in r.hits] for r in first]
