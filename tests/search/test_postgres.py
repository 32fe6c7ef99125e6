"""The PostgreSQL engine's own machinery (its behaviour is the contract of this folder):
its tables and health, the bulk load, big hit sets (estimates flagged, relevance among a
bounded candidate set), and the refusal to run on SQLite."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from repo_server.config import load_config
from repo_server.search import IndexUnavailable, SearchRequest, open_backend

from .conftest import ENGINES, drop_backend, ids, new_backend, record

needs_postgresql = pytest.mark.skipif(
    "postgresql" not in ENGINES,
    reason="needs TEST_DATABASE_URL=postgresql…; the PostgreSQL leg of .ci/run sets it")


@pytest.fixture
def pg(tmp_path):  # noqa: ANN001, ANN201
    b = new_backend("postgresql", tmp_path)
    yield b
    drop_backend(b)


@needs_postgresql
def test_a_new_schema_is_missing_until_the_writer_makes_it_and_a_reader_may_not_write(pg):
    reader = open_backend("postgresql", "unused", writer=False,
                          database_url=os.environ["TEST_DATABASE_URL"], config={})
    reader.close()
    assert pg.check() == "missing"
    with pytest.raises(IndexUnavailable):
        pg.search(SearchRequest(q="kế hoạch"))
    pg.upsert([record("a", "Kế hoạch năm")])
    assert pg.check() is None and pg.count() == 1
    from repo_server.search.postgres import PostgresBackend

    ro = PostgresBackend(os.environ["TEST_DATABASE_URL"], writer=False, schema=pg.schema)
    try:
        assert ids(ro, "ke hoach") == ["a"]  # a committed write is seen at once
        with pytest.raises(PermissionError):
            ro.upsert([record("b")])
    finally:
        ro.close()


@needs_postgresql
def test_a_changed_schema_is_outdated_and_clear_rebuilds_it(pg):
    pg.upsert([record("a", "Kế hoạch")])
    with pg.engine.begin() as conn:
        conn.execute(text(f"UPDATE {pg.meta} SET value = 'pg-0' WHERE key = 'version'"))
    pg._checked_at = 0.0
    assert pg.check() == "outdated schema: pg-0"
    pg.clear()
    assert pg.check() is None and pg.count() == 0


@needs_postgresql
def test_bulk_load_into_an_empty_table_and_into_a_filled_one(pg, monkeypatch):
    from repo_server.search.postgres import backend as module

    monkeypatch.setattr(module, "BULK_COMMIT_ROWS", 7)  # several COPY transactions
    pg.clear()
    with pg.bulk() as w:
        for i in range(20):
            w.add(record(f"r{i}", f"Quyết định số {i}", "phê duyệt kế hoạch"))
    assert pg.count() == 20
    assert len(ids(pg, '"phe duyet"')) == 20
    with pg.engine.connect() as conn:  # the GIN indexes are back
        names = set(conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = :s"), {"s": pg.schema}).scalars())
    assert {"search_records_tsv", "search_records_title"} <= names
    with pg.bulk() as w:  # replaces by id
        w.add(record("r1", "Công văn khác"))
        w.add(record("new", "Công văn mới"))
    assert pg.count() == 21 and sorted(ids(pg, "cong van")) == ["new", "r1"]


def _many(n: int) -> list:
    start = date(2020, 1, 1)
    return [record(f"r{i:03d}", "Thông báo lịch công tác", "Nội dung thông báo.",
                   date=start + timedelta(days=i), type_code="01" if i % 3 else "02")
            for i in range(n)]


@needs_postgresql
def test_totals_and_facets_above_the_exact_limit_are_estimates_and_say_so(tmp_path):
    b = new_backend("postgresql", tmp_path, exact_limit=50)
    try:
        b.upsert(_many(120))
        with b.engine.begin() as conn:  # the planner's statistics, as autovacuum keeps them
            conn.execute(text(f"ANALYZE {b.t}"))
        r = b.search(SearchRequest(q="thong bao"))
        assert r.total_is_estimate and 51 <= r.total <= 240
        # the first 51 matches' shares, scaled to the estimate
        assert set(r.facets["type_code"]) == {"01", "02"}
        assert abs(sum(r.facets["type_code"].values()) - r.total) <= 2
        assert r.facets["type_code"]["01"] > r.facets["type_code"]["02"]
        small = b.search(SearchRequest(q="thong bao", type_codes=["02"], date_to=date(2020, 3, 1)))
        assert not small.total_is_estimate and small.total == 21  # days 0, 3, … 60
    finally:
        drop_backend(b)


@needs_postgresql
def test_above_the_rank_limit_a_subject_match_still_ranks_first(tmp_path):
    b = new_backend("postgresql", tmp_path, rank_limit=10)
    try:
        records = [record(f"r{i:03d}", "Công văn", "Lịch tiếp dân của lãnh đạo.",
                          date=date(2024, 1, 1) + timedelta(days=i)) for i in range(60)]
        records.append(record("old-subject", "Lịch tiếp dân tháng 1", date=date(2001, 1, 1)))
        b.upsert(records)
        r = b.search(SearchRequest(q="lịch tiếp dân", page_size=5))
        assert r.total == 61 and not r.total_is_estimate
        assert r.hits[0].id == "old-subject"
        assert [h.id for h in r.hits[1:]] == ["r059", "r058", "r057", "r056"]
    finally:
        drop_backend(b)


def test_sqlite_with_the_postgresql_backend_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match="SEARCH_BACKEND=postgresql.*PostgreSQL"):
        load_config(tmp_path, {"SEARCH_BACKEND": "postgresql",
                               "DATABASE_URL": f"sqlite:///{tmp_path}/repo.db"})
    from repo_server.search.postgres import PostgresBackend

    with pytest.raises(ValueError, match="must then be PostgreSQL"):
        PostgresBackend(f"sqlite:///{tmp_path}/repo.db", writer=True)
