"""scripts/bench.py section ``search-pg``: search on PostgreSQL over HTTP (issue 16).

    .venv/bin/python scripts/bench.py --only search-pg \\
        --search-pg-url 'postgresql+psycopg://postgres@/bench?host=/tmp/pg' \\
        --search-pg-docs 200000 [--search-pg-reuse] [--search-pg-whoosh]

Generates ``--search-pg-docs`` documents (tests/search/corpus.py, about 1,300 characters of
text each, plus a dossier per ~25) straight into the PostgreSQL backend's tables of the given
(empty, throwaway) database with ``bulk()`` (COPY, GIN indexes built at the end): build rate
and size on disk. Then starts gunicorn (2 workers) on an instance whose catalog is that
database with SEARCH_BACKEND=postgresql, and times GET /api/v1/search with the API's
defaults (facets and highlights on, page_size 20) for the query classes of
scripts/bench_search.py (1-3 syllables, common or rare, with and without a fonds filter),
each query once to warm and once measured: median and p95 per class (targets: median <= 20 ms,
p95 <= 100 ms), the share of answers flagged ``total_is_estimate``. The documents are only in
the index, not in the catalog: the answer lists no items (the catalog lookup of the page's ids
still runs), so the times are the search's, not the serialisation of 20 items (about 0.1 ms an
item, issue 13). ``--search-pg-reuse`` keeps a table built for the same size.
``--search-pg-whoosh`` runs the same classes on a whoosh index of the same corpus.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import requests
from bench import Bench, BenchError, Row, Server, at_least, at_most, free_port
from bench_sections import progress

REPO = Path(__file__).resolve().parent.parent
SERVERLESS = frozenset({"search-pg"})  # starts its own server, on the PostgreSQL catalog
TARGET_MEDIAN_MS = 20.0
TARGET_P95_MS = 100.0


def _bench_search():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("bench_search", REPO / "scripts" /
                                                  "bench_search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def build(url: str, records: list, reuse: bool) -> dict[str, Any]:
    from sqlalchemy import text

    from repo_server.search.postgres import PostgresBackend

    backend = PostgresBackend(url, writer=True)
    try:
        out: dict[str, Any] = {"records": len(records)}
        if reuse and backend.check() is None and backend.count() == len(records):
            out["reused"] = True
        else:
            backend.clear()
            t0 = time.perf_counter()
            with backend.bulk() as w:
                for i, r in enumerate(records, 1):
                    w.add(r)
                    if i % 20_000 == 0:
                        progress(f"search-pg: {i:,} records in {time.perf_counter() - t0:.0f} s")
            out["seconds"] = round(time.perf_counter() - t0, 1)
            out["records_per_s"] = round(len(records) / out["seconds"])
        with backend.engine.connect() as conn:
            sizes = conn.execute(text(
                "SELECT pg_total_relation_size('search_records'), "
                "pg_relation_size('search_records_tsv'), "
                "pg_relation_size('search_records_title'), "
                "pg_indexes_size('search_records')")).one()
        out["total_mb"] = round(sizes[0] / 1e6)
        out["gin_tsv_mb"] = round(sizes[1] / 1e6)
        out["gin_title_mb"] = round(sizes[2] / 1e6)
        out["indexes_mb"] = round(sizes[3] / 1e6)
        return out
    finally:
        backend.close()


def time_http(base: str, key: str, classes: dict, fonds: str) -> list[dict[str, Any]]:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    rows = []
    for (n, kind), queries in classes.items():
        for filtered in (False, True):
            params = [{"q": q, **({"fonds_code": fonds} if filtered else {})} for q in queries]
            for p in params:  # warm: the first query of a word reads its pages from disk
                s.get(f"{base}/api/v1/search", params=p, timeout=120)
            times, estimates, totals = [], 0, []
            for p in params:
                t0 = time.perf_counter()
                r = s.get(f"{base}/api/v1/search", params=p, timeout=120)
                times.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise BenchError(f"search {p} answered {r.status_code}: {r.text[:300]}")
                body = r.json()
                estimates += bool(body["total_is_estimate"])
                totals.append(body["total"])
            rows.append({"class": f"{n}-syllable {kind}" + (" +filter" if filtered else ""),
                         "queries": len(queries), "example": queries[0],
                         "median_ms": round(statistics.median(times), 1),
                         "p95_ms": round(_pct(times, 0.95), 1),
                         "median_total": statistics.median(totals),
                         "estimated": estimates})
            progress(f"search-pg: {rows[-1]}")
    return rows


def time_others(base: str, key: str, classes: dict, fonds: str) -> dict[str, Any]:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    common2 = classes[(2, "common")][:20]
    out = {}
    for name, params in {
        "empty q, fonds filter, by date": [{"q": "", "fonds_code": fonds}] * 10,
        "2-syllable common, by date": [{"q": q, "sort": "date_desc"} for q in common2],
        "2-syllable common, quoted phrase": [{"q": f'"{q}"'} for q in common2],
        "2-syllable common, exact": [{"q": q, "exact": "true"} for q in common2],
        "2-syllable common, kind=dossier": [{"q": q, "kind": "dossier"} for q in common2[:5]],
    }.items():
        times = []
        for p in params:
            s.get(f"{base}/api/v1/search", params=p, timeout=300)
            t0 = time.perf_counter()
            r = s.get(f"{base}/api/v1/search", params=p, timeout=300)
            times.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise BenchError(f"search {p} answered {r.status_code}: {r.text[:300]}")
        out[name] = {"median_ms": round(statistics.median(times), 1),
                     "p95_ms": round(_pct(times, 0.95), 1)}
        progress(f"search-pg: {name}: {out[name]}")
    return out


def whoosh_http(bench: Bench, records: list, classes: dict, fonds: str) -> dict[str, Any]:
    """The same classes on whoosh (SQLite catalog), the index built with its bulk writer."""
    from repo_server.search.whoosh import WhooshBackend

    instance = bench.server.instance / "search-pg-whoosh"
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir(parents=True)
    server = Server(instance, free_port(), extra_env={"REPO_EMBEDDED_WORKER": "false"})
    server.with_worker = False
    key = server.init()
    backend = WhooshBackend(instance / "index", writer=True)
    backend.clear()
    t0 = time.perf_counter()
    with backend.bulk() as w:
        for r in records:
            w.add(r)
    out: dict[str, Any] = {"seconds": round(time.perf_counter() - t0, 1)}
    out["records_per_s"] = round(len(records) / out["seconds"])
    out["size_mb"] = round(sum(f.stat().st_size for f in (instance / "index").iterdir()) / 1e6)
    backend.close()
    server.start()
    try:
        out["classes"] = time_http(server.base, key, classes, fonds)
    finally:
        server.stop()
    return out


def _init(server: Server) -> str:
    """`repo-server init` on the database; on one already initialised (a reused build) it
    gives no key: make one with `create-key`."""
    import subprocess

    from bench import BIN

    try:
        return server.init()
    except BenchError:
        proc = subprocess.run([str(BIN / "repo-server"), "--instance", str(server.instance),
                               "create-key", "--name", "bench-search-pg"], env=server.env,
                              capture_output=True, text=True, timeout=120, check=True)
        return proc.stdout.strip().splitlines()[-1]


def section(bench: Bench) -> tuple[list[Row], dict[str, Any]]:
    args = bench.args
    url = args.search_pg_url or os.environ.get("TEST_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        raise BenchError("search-pg needs --search-pg-url postgresql+psycopg://… (an empty, "
                         "throwaway database)")
    sys.path.insert(0, str(REPO))
    from tests.search.corpus import FONDS, generate

    docs = args.search_pg_docs
    t0 = time.perf_counter()
    records = list(generate(docs))
    out: dict[str, Any] = {"docs": docs, "records": len(records),
                           "corpus_s": round(time.perf_counter() - t0, 1)}
    progress(f"search-pg: corpus of {len(records):,} records; building ...")
    out["build"] = build(url, records, args.search_pg_reuse)
    progress(f"search-pg: built {out['build']}")
    classes = _bench_search().make_queries(records, random.Random(7))
    fonds = FONDS[0][0]
    instance = bench.server.instance / "search-pg"
    instance.mkdir(parents=True, exist_ok=True)
    server = Server(instance, args.port or free_port(),
                    extra_env={"REPO_DATABASE_URL": url, "REPO_SEARCH_BACKEND": "postgresql",
                               "REPO_EMBEDDED_WORKER": "false"})
    server.with_worker = False
    key = _init(server)
    server.start()
    try:
        out["load_average_before"] = os.getloadavg()
        out["classes"] = time_http(server.base, key, classes, fonds)
        out["others"] = time_others(server.base, key, classes, fonds)
        out["load_average_after"] = os.getloadavg()
    finally:
        server.stop()
    if args.search_pg_whoosh:
        out["whoosh"] = whoosh_http(bench, records, classes, fonds)
    rows = []
    b = out["build"]
    if "records_per_s" in b:
        rows.append(at_least(f"search-pg: build ({len(records):,} records)",
                             b["records_per_s"], 0, "records/s"))
    rows.append(Row("search-pg: table + indexes on disk", b["total_mb"], "MB"))
    for c in out["classes"]:
        rows.append(at_most(f"search-pg [{c['class']}] median", c["median_ms"],
                            TARGET_MEDIAN_MS, "ms"))
        rows.append(at_most(f"search-pg [{c['class']}] p95", c["p95_ms"], TARGET_P95_MS, "ms"))
    for name, s in out["others"].items():
        rows.append(Row(f"search-pg [{name}] median / p95", s["median_ms"], "ms",
                        f"p95 {s['p95_ms']}"))
    for c in out.get("whoosh", {}).get("classes", []):
        rows.append(Row(f"search-pg: whoosh [{c['class']}] median / p95", c["median_ms"], "ms",
                        f"p95 {c['p95_ms']}"))
    return rows, out


SECTIONS = {"search-pg": section}


def add_arguments(p) -> None:  # noqa: ANN001
    g = p.add_argument_group("search-pg (search on PostgreSQL over HTTP, issue 16)")
    g.add_argument("--search-pg-url", default=None,
                   help="an empty, throwaway PostgreSQL database (its tables are replaced)")
    g.add_argument("--search-pg-docs", type=int, default=200_000,
                   help="documents generated into the index (default 200000)")
    g.add_argument("--search-pg-reuse", action="store_true",
                   help="keep the search table when it already holds this corpus")
    g.add_argument("--search-pg-whoosh", action="store_true",
                   help="also time the same classes on whoosh at the same size")
