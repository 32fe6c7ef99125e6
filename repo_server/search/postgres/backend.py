"""The PostgreSQL backend: writing rows, checking the tables, answering searches in SQL."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from ..analysis import Highlighter
from ..backend import (
    FACETS,
    FILTERS,
    IndexRecord,
    IndexUnavailable,
    SearchHit,
    SearchRequest,
    SearchResult,
)
from ..query import parse
from .plan import Plan, Planner
from .schema import COLUMNS, RowBuilder, ddl, drop_index_ddl, index_ddl, schema_version

log = logging.getLogger(__name__)

EXACT_TIER = 100_000  # the score's tiers, as in the whoosh backend (SearchHit.score)
PLACE_TIER = 10_000
RANK_SCALE = 9_999  # ts_rank (0..1) scaled below one place tier
CHECK_SECONDS = 1.0  # a good check() is trusted this long (it is asked twice per request)
BULK_COMMIT_ROWS = 50_000


class _Params(dict):
    """Bind parameters named as they are added: ``p.add(v)`` -> ":p0"."""

    def add(self, value: Any) -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f":{name}"

    def tsq(self, query: str) -> str:
        return f"CAST({self.add(query)} AS tsquery)"


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


class BulkWriter:
    """Adds records for a full reindex. Into an empty table: COPY, then the GIN indexes are
    built once at the end (committed every BULK_COMMIT_ROWS rows, so a failure keeps what was
    written, as the whoosh bulk writer does); into a filled one: upserts in batches."""

    def __init__(self, backend: PostgresBackend):
        self.backend = backend
        self.builder = RowBuilder()
        self.added = 0
        self._batch: list[IndexRecord] = []
        self._conn = None
        self._copy_cm = None
        self._copy = None
        with backend.engine.connect() as conn:
            self.empty = conn.execute(text(f"SELECT NOT EXISTS (SELECT 1 FROM {backend.t})")
                                      ).scalar()

    def _start_copy(self) -> None:
        b = self.backend
        if self._conn is None:
            with b.engine.begin() as conn:
                for stmt in drop_index_ddl(b.schema):
                    conn.execute(text(stmt))
            self._conn = b.engine.raw_connection()
        cur = self._conn.cursor()
        self._copy_cm = cur.copy(f"COPY {b.t} ({', '.join(COLUMNS)}) FROM STDIN")
        self._copy = self._copy_cm.__enter__()

    def _end_copy(self) -> None:
        if self._copy_cm is not None:
            self._copy_cm.__exit__(None, None, None)
            self._copy_cm = self._copy = None
            self._conn.commit()

    def add(self, record: IndexRecord) -> None:
        self.added += 1
        if not self.empty:
            self._batch.append(record)
            if len(self._batch) >= 1000:
                self.backend._upsert(self._batch, self.builder)
                self._batch = []
            return
        if self._copy is None:
            self._start_copy()
        row = self.builder.row(record)
        self._copy.write_row([row[c] for c in COLUMNS])
        if self.added % BULK_COMMIT_ROWS == 0:
            self._end_copy()

    def finish(self) -> None:
        if self._batch:
            self.backend._upsert(self._batch, self.builder)
            self._batch = []
        self._end_copy()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            b = self.backend
            with b.engine.begin() as conn:
                conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
                for stmt in index_ddl(b.schema):
                    conn.execute(text(stmt))
            with b.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"ANALYZE {b.t}"))

    def cancel(self) -> None:
        try:
            if self._copy_cm is not None:
                self._copy_cm.__exit__(RuntimeError, RuntimeError("cancelled"), None)
        except Exception:  # noqa: BLE001 - the copy is abandoned anyway
            pass
        if self._conn is not None:
            self._conn.rollback()
            self._conn.close()
            self._conn = None
            with self.backend.engine.begin() as conn:  # the rows already committed stay
                for stmt in index_ddl(self.backend.schema):
                    conn.execute(text(stmt))


class PostgresBackend:
    """Search backend in tables of the catalog's PostgreSQL database (any number of web
    nodes read it; the worker writes it, from the outbox). ``schema``: the PostgreSQL schema
    holding the tables (tests give each backend its own)."""

    def __init__(self, database_url: str, *, writer: bool, schema: str = "public",
                 exact_limit: int = 2_000, rank_limit: int = 100, pool_size: int = 5):
        if not is_postgresql(database_url):
            raise ValueError(
                "SEARCH_BACKEND=postgresql keeps the search index in the catalog database, "
                "which must then be PostgreSQL; DATABASE_URL is "
                f"{make_url(database_url).get_backend_name()}. Use SEARCH_BACKEND=whoosh.")
        url = make_url(database_url)
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        self.writer = writer
        self.schema = schema
        self.t = f'"{schema}".search_records'
        self.meta = f'"{schema}".search_meta'
        self.exact_limit = exact_limit
        self.rank_limit = rank_limit
        # no server-side prepared statements: a generic plan would not know how common the
        # words of a tsquery are (the plan for a rare word and a common one differ)
        self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2,
                                    pool_pre_ping=True,
                                    connect_args={"prepare_threshold": None})
        self._checked_at = 0.0
        self._ready = False

    @classmethod
    def open(cls, index_dir: Path, *, writer: bool, database_url: str | None,
             config: dict) -> PostgresBackend:
        """What ``open_backend`` calls: the settings come from the configuration."""
        return cls(database_url or "", writer=writer,
                   exact_limit=int(config.get("SEARCH_PG_EXACT_LIMIT", 2_000)),
                   rank_limit=int(config.get("SEARCH_PG_RANK_LIMIT", 100)))

    # --- health ----------------------------------------------------------------------------

    def check(self) -> str | None:
        if time.monotonic() - self._checked_at < CHECK_SECONDS:
            return None
        try:
            with self.engine.connect() as conn:
                version = conn.execute(
                    text(f"SELECT value FROM {self.meta} WHERE key = 'version'")).scalar()
        except ProgrammingError:  # no table
            return "missing"
        except DBAPIError as exc:
            return f"unavailable: {type(exc.orig).__name__}"
        if version is None:
            return "missing"
        if version != schema_version():
            return f"outdated schema: {version}"
        self._checked_at = time.monotonic()
        return None

    def refresh(self) -> None:
        """Nothing to do: every committed change is seen by the next query."""

    def count(self) -> int:
        with self._reading() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {self.t}")).scalar()

    def close(self) -> None:
        self.engine.dispose()
        self._checked_at = 0.0

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except ProgrammingError as exc:
            if getattr(exc.orig, "sqlstate", "") == "42P01":  # undefined table
                self._checked_at = 0.0
                raise IndexUnavailable("missing") from exc
            raise
        except OperationalError as exc:
            self._checked_at = 0.0
            raise IndexUnavailable(f"unavailable: {type(exc.orig).__name__}") from exc

    # --- writing -----------------------------------------------------------------------------

    def _require_writer(self) -> None:
        if not self.writer:
            raise PermissionError("this search backend was opened read-only")
        if not self._ready:
            with self.engine.begin() as conn:
                for stmt in [*ddl(self.schema, self._lz4(conn)), *index_ddl(self.schema)]:
                    conn.execute(text(stmt))
                conn.execute(text(f"INSERT INTO {self.meta} VALUES ('version', :v) "
                                  "ON CONFLICT (key) DO NOTHING"), {"v": schema_version()})
            self._ready = True

    @staticmethod
    def _lz4(conn: Connection) -> bool:
        return bool(conn.execute(text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'")).scalar())

    def _upsert(self, records: Sequence[IndexRecord], builder: RowBuilder) -> None:
        latest = {r.id: r for r in records}  # the last version of an id in the batch wins
        rows = [builder.row(r) for r in latest.values()]
        cols = ", ".join(COLUMNS)
        values = ", ".join(f"CAST(:{c} AS tsvector)" if c in ("tsv", "title_tsv") else f":{c}"
                           for c in COLUMNS)
        update = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "id")
        with self.engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {self.t} ({cols}) VALUES ({values}) "
                              f"ON CONFLICT (id) DO UPDATE SET {update}"), rows)

    def upsert(self, records: Sequence[IndexRecord]) -> None:
        """Add or replace records (by id), in one transaction."""
        if records:
            self._require_writer()
            self._upsert(records, RowBuilder())

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._require_writer()
            with self.engine.begin() as conn:
                conn.execute(text(f"DELETE FROM {self.t} WHERE id = ANY(:ids)"),
                             {"ids": list(dict.fromkeys(ids))})

    def delete_dossier(self, dossier_id: str) -> None:
        self._require_writer()
        with self.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {self.t} WHERE dossier_id = :d OR id = :d"),
                         {"d": dossier_id})

    def clear(self) -> None:
        """Remove everything (before a full reindex): the tables are made again, so a changed
        schema (a new filter) takes effect."""
        if not self.writer:
            raise PermissionError("this search backend was opened read-only")
        with self.engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {self.t}"))
            for stmt in [*ddl(self.schema, self._lz4(conn)), *index_ddl(self.schema)]:
                conn.execute(text(stmt))
            conn.execute(text(f"INSERT INTO {self.meta} VALUES ('version', :v) "
                              "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"),
                         {"v": schema_version()})
        self._ready = True
        self._checked_at = 0.0

    @contextmanager
    def bulk(self) -> Iterator[BulkWriter]:
        """A writer for a full reindex: ``with backend.bulk() as w: w.add(record)``."""
        self._require_writer()
        bw = BulkWriter(self)
        try:
            yield bw
        except BaseException:
            bw.cancel()
            raise
        bw.finish()

    # --- searching ---------------------------------------------------------------------------

    def search(self, req: SearchRequest) -> SearchResult:
        parsed = parse(req.q)
        req.check()
        plan = Planner(req.exact).plan(parsed)
        with self._reading() as conn, conn.begin():
            # a seq scan would read (detoast) every row's tsvector; the planner does not count
            # that cost: the GIN and date indexes answer without reading them
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            if req.kind == "dossier":
                return self._search_dossiers(conn, req, plan)
            return self._search_documents(conn, req, plan)

    # the parts of a query

    def _where(self, req: SearchRequest, p: _Params, kind: str, doc_only: bool = True,
               a: str = "") -> list[str]:
        conds = [f"{a}kind = {p.add(kind)}"]
        for f in FILTERS:
            if f.documents_only and not doc_only:
                continue
            allowed = getattr(req, f.request)
            if allowed is not None:
                if not allowed:
                    return ["false"]
                conds.append(f"{a}{f.name} = ANY({p.add(list(allowed))})")
        if req.dossier_id is not None:
            conds.append(f"{a}dossier_id = {p.add(req.dossier_id)}")
        if req.date_from:
            conds.append(f"{a}day >= {p.add(req.date_from)}")
        if req.date_to:
            conds.append(f"{a}day <= {p.add(req.date_to)}")
        return conds

    @staticmethod
    def _matching(plan: Plan, p: _Params, a: str = "") -> list[str]:
        q = plan.match()
        if q:
            return [f"{a}tsv @@ {p.tsq(q)}"]
        x = plan.excluded_any()
        return [f"NOT ({a}tsv @@ {p.tsq(x)})"] if x else []

    @staticmethod
    def _score(plan: Plan, p: _Params, a: str = "", tsv: str = "tsv",
               title: str = "title_tsv") -> str:
        """issue 13 §6: per word with its exact spelling; then the place (phrase in the
        subject, every word in the subject, the typed neighbours together in the text); then
        ts_rank (frequency, weighted by field)."""
        parts = [f"(CASE WHEN {a}{tsv} @@ {p.tsq(e)} THEN {EXACT_TIER} ELSE 0 END)"
                 for e in plan.exacts()]
        places = []
        title_phrase, title_all = plan.title_phrase(), plan.title_all()
        if title_phrase:
            places.append(f"WHEN {a}{title} @@ {p.tsq(title_phrase)} THEN 3")
        if title_all and title_all != title_phrase:
            places.append(f"WHEN {a}{title} @@ {p.tsq(title_all)} THEN 2")
        text_phrase = plan.text_phrase()
        if text_phrase:
            places.append(f"WHEN {a}{tsv} @@ {p.tsq(text_phrase)} THEN 1")
        if places:
            parts.append(f"(CASE {' '.join(places)} ELSE {0 if text_phrase else 1} END) "
                         f"* {PLACE_TIER}")
        rank = plan.rank_query()
        if rank:
            parts.append(f"least(ts_rank({a}{tsv}, {p.tsq(rank)}), 1) * {RANK_SCALE}")
        return " + ".join(parts) or "0"

    def _totals(self, conn: Connection, where: str, p: _Params, facets: Sequence[str]
                ) -> tuple[int, bool, dict[str, dict[str, int]]]:
        """(total, is it an estimate, facet counts) of the rows matching ``where``, in one pass
        over at most exact_limit + 1 of them (heap visits, no tsvector read: the GIN index
        answers the words). Above exact_limit: the total is the planner's estimate (from the
        words' frequencies in the column statistics; at least exact_limit + 1) and the facets
        are those of the first exact_limit + 1 matches scaled to it, both flagged."""
        cap = self.exact_limit + 1
        cols = ", ".join(facets)
        inner = f"SELECT {cols or '1 AS one'} FROM {self.t} WHERE {where} LIMIT {cap}"
        if facets:
            sets = ", ".join(f"({f})" for f in facets)
            rows = conn.execute(text(
                f"SELECT {cols}, GROUPING({cols}) AS g, count(*) AS n FROM ({inner}) s "
                f"GROUP BY GROUPING SETS ({sets}, ())"), p).all()
        else:
            rows = conn.execute(text(f"SELECT 0 AS g, count(*) AS n FROM ({inner}) s"), p).all()
        full = (1 << len(facets)) - 1 if facets else 0
        count = next((r.n for r in rows if r.g == full), 0)
        total, estimate = count, False
        if count >= cap:
            plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {self.t} "
                                     f"WHERE {where}"), p).scalar()
            total, estimate = max(cap, int(plan[0]["Plan"]["Plan Rows"])), True
        scale = total / count if count else 1.0
        out: dict[str, dict[str, int]] = {f: {} for f in facets}
        for row in rows:
            if row.g == full:
                continue
            for i, f in enumerate(facets):
                if not row.g & (1 << (len(facets) - 1 - i)):
                    value = getattr(row, f)
                    if value:
                        out[f][value] = round(row.n * scale)
        return total, estimate, {f: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
                                 for f, c in out.items()}

    # documents

    def _search_documents(self, conn: Connection, req: SearchRequest, plan: Plan
                          ) -> SearchResult:
        p = _Params()
        where = " AND ".join([*self._where(req, p, "document"), *self._matching(plan, p)])
        total, estimate, facets = self._totals(conn, where, p, FACETS if req.facets else ())
        need = req.page * req.page_size
        offset = need - req.page_size
        by_relevance = req.sort == "relevance" and bool(plan.units)
        if not total or offset >= total:
            rows = []
        elif by_relevance:
            rows = conn.execute(text(self._ranked(req, plan, p, where, total, offset)), p).all()
        else:
            direction = "ASC" if req.sort == "date_asc" else "DESC"
            rows = conn.execute(text(
                f"SELECT id, kind, dossier_id, NULL AS score FROM {self.t} WHERE {where} "
                f"ORDER BY kind, day {direction} NULLS LAST, id {direction} "
                f"LIMIT {req.page_size} OFFSET {offset}"), p).all()
        hits = self._hits(conn, req, plan, [(r.id, r.kind, r.dossier_id, r.score, None)
                                            for r in rows])
        return SearchResult(hits=hits, total=total, total_is_estimate=estimate, facets=facets)

    def _ranked(self, req: SearchRequest, plan: Plan, p: _Params, where: str, total: int,
                offset: int) -> str:
        """The page by relevance. Candidates: every match up to rank_limit; above, the
        rank_limit most recent matches and the rank_limit most recent with every word in the
        subject (decision 0022). Each candidate's tsvector is read once (materialised), then
        scored."""
        if total <= self.rank_limit:
            candidates = f"SELECT id FROM {self.t} WHERE {where}"
        else:
            recent = f"ORDER BY kind, day DESC NULLS LAST, id DESC LIMIT {self.rank_limit}"
            branches = [f"(SELECT id FROM {self.t} WHERE {where} {recent})"]
            title_all = plan.title_all()
            if title_all:
                # every word in the subject is a match of every word (no tsvector read), unless
                # something is excluded or a unit has no subject form (a field prefix)
                own = all(u.title is not None for u in plan.units) and not plan.excluded
                filters = where.split(" AND tsv @@ ")[0] if own else where
                branches.append(f"(SELECT id FROM {self.t} WHERE {filters} AND title_tsv @@ "
                                f"{p.tsq(title_all)} {recent})")
            candidates = " UNION ".join(branches)
        score = self._score(plan, p, tsv="v", title="tv")
        return (f"WITH c AS ({candidates}), m AS MATERIALIZED (SELECT r.id, r.kind, "
                "r.dossier_id, r.day, r.tsv || ''::tsvector AS v, r.title_tsv AS tv "
                f"FROM c JOIN {self.t} r ON r.id = c.id) "
                f"SELECT id, kind, dossier_id, {score} AS score FROM m "
                "ORDER BY score DESC, day DESC NULLS LAST, id DESC "
                f"LIMIT {req.page_size} OFFSET {offset}")

    # dossiers

    def _search_dossiers(self, conn: Connection, req: SearchRequest, plan: Plan
                         ) -> SearchResult:
        """Dossiers whose own record matches, or with a matching document. Filters apply to
        the dossier record; a document only counts as evidence if it passes the same filters
        as in a document search (nothing hidden shows through a hit, a total or a facet)."""
        p = _Params()
        own_allowed = all(getattr(req, f.request) is None for f in FILTERS if f.documents_only)
        by_relevance = req.sort == "relevance" and bool(plan.units)
        matching = self._matching(plan, p)
        score = self._score(plan, p) if by_relevance else "NULL::float"
        branches = []
        if matching or not own_allowed:
            doc_where = " AND ".join([*self._where(req, p, "document"), *matching])
            branches.append(f"SELECT dossier_id AS did, id, {score} AS score FROM {self.t} "
                            f"WHERE {doc_where}")
        if own_allowed:
            own_where = " AND ".join([*self._where(req, p, "dossier", doc_only=False),
                                      *matching])
            branches.append(f"SELECT id AS did, id, {score} AS score FROM {self.t} "
                            f"WHERE {own_where}")
        dossier_where = " AND ".join(self._where(req, p, "dossier", doc_only=False, a="d."))
        rows = conn.execute(text(
            f"WITH ev AS ({' UNION ALL '.join(branches)}), "
            "best AS (SELECT DISTINCT ON (did) did, id, score FROM ev "
            "ORDER BY did, score DESC NULLS LAST) "
            "SELECT d.id, d.kind, d.dossier_id, d.day, d.year, d.fonds_code, b.score, "
            f"b.id AS best FROM best b JOIN {self.t} d ON d.id = b.did WHERE {dossier_where}"),
            p).all()
        facets: dict[str, dict[str, int]] = {}
        if req.facets:
            for name in ("type_code", "year", "fonds_code"):
                counts: dict[str, int] = {}
                for r in rows:
                    value = getattr(r, name, None)
                    if value:
                        counts[value] = counts.get(value, 0) + 1
                facets[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        if by_relevance:
            rows.sort(key=lambda r: (r.score or 0.0, r.day.toordinal() if r.day else 0, r.id),
                      reverse=True)
        else:
            sign = -1 if req.sort == "date_asc" else 1
            rows.sort(key=lambda r: (r.day is not None,
                                     sign * r.day.toordinal() if r.day else 0, r.id),
                      reverse=True)
        need = req.page * req.page_size
        page = rows[need - req.page_size : need]
        hits = self._hits(conn, req, plan, [
            (r.id, r.kind, r.dossier_id, r.score if by_relevance else None,
             r.best if r.best != r.id else None) for r in page])
        return SearchResult(hits=hits, total=len(rows), total_is_estimate=False, facets=facets)

    # hits and snippets

    def _hits(self, conn: Connection, req: SearchRequest, plan: Plan,
              picks: list[tuple[str, str, str, float | None, str | None]]) -> list[SearchHit]:
        hits = [SearchHit(id=i, kind=k, dossier_id=d,
                          score=None if s is None else round(float(s), 4))
                for i, k, d, s, _ in picks]
        if not (req.snippets and plan.words and picks):
            return hits
        wanted = list(dict.fromkeys([i for i, *_ in picks] + [e for *_, e in picks if e]))
        stored = {r.id: r for r in conn.execute(text(
            f"SELECT id, title, number, fields_text, body FROM {self.t} WHERE id = ANY(:ids)"),
            {"ids": wanted})}
        highlighter = Highlighter(plan.words, req.exact)
        for hit, (*_, evidence) in zip(hits, picks, strict=True):
            own = stored.get(hit.id)
            if own is not None:
                hit.highlights = _highlights(highlighter, own)
            doc = stored.get(evidence) if evidence else None
            if doc is not None:
                snippet = _highlights(highlighter, doc)
                marked = snippet.get("body") or snippet.get("title")
                if marked:
                    hit.highlights["document"] = marked
        return hits


def _highlights(highlighter: Highlighter, row: Any) -> dict[str, str]:
    out = {}
    for name, whole in (("title", True), ("number", True), ("fields_text", False),
                        ("body", False)):
        value = getattr(row, name)
        if value:
            marked = highlighter.whole(value) if whole else highlighter.snippet(value)
            if marked:
                out[name] = marked
    return out
