"""The `city` section of scripts/bench.py (issue 16, docs/city.md): several web nodes.

    DATABASE_URL=postgresql+psycopg://... .venv/bin/python scripts/bench.py --only city
    ... --only city --city-seconds 20 --city-clients 8          # shorter

Starts scripts/loadtest.py's City on this machine: 2 web node groups (gunicorn, each its own
port, instance folder and caches) plus an active and a standby `repo-server worker`, on the
PostgreSQL of DATABASE_URL (its schema is replaced) and one storage root. Then:

  load      - --city-clients threads for --city-seconds, the load test's mix (creates,
              uploads, If-Match updates, reads, downloads, searches), each request sent to a
              node picked at random (a client reads and updates on B what it wrote on A).
              Afterwards: every acknowledged write is there exactly once (loadtest's
              check_writes, through the other node), the outbox is drained with nothing
              parked, and each sampled document's token finds exactly that one document.
  freshness - only with SEARCH_BACKEND=postgresql (every node searches the catalog): steady
              ingest of --city-freshness-rate documents/s on node A for
              --city-freshness-seconds; a watcher on node B searches each new token until it
              is found: p50/p95/max from the 201 on A to the hit on B (target p95 <= 2 s).
              With whoosh only the worker's node has an index, so it is not measured; a
              reference is: written on node B, found on node A (beside the worker).

Searches go to node A with whoosh (the node sharing the worker's index folder: node B has
none and answers 503), to any node with postgresql.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from bench import Bench, BenchError, Row, at_most, percentile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadtest  # noqa: E402

FRESHNESS_TARGET_S = 2.0


def progress(msg: str) -> None:
    print(msg, flush=True)


class CityClient(loadtest.Client):
    """A load client that sends each request to a node picked at random (searches: to a
    node with an index, as the reverse proxy of docs/city.md routes them with whoosh).

    A connection the node closed while idle (gunicorn's keep-alive, 2 s: a client that
    spreads its requests over nodes leaves each connection idle longer than one that
    stays on one node) is reset when reused; such a request is sent once more, a POST with
    the same Idempotency-Key (so it cannot be applied twice), a PATCH with the same
    If-Match, and counted in ``retried``."""

    def __init__(self, bases: list[str], search_bases: list[str], *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.bases, self.search_bases = bases, search_bases
        self.retried = 0

    def _call(self, op: str, method: str, url: str, ok: tuple[int, ...], **kw: Any
              ) -> requests.Response | None:
        self.base = self.rng.choice(self.search_bases if op == "search" else self.bases)
        if method == "POST":
            kw["headers"] = {**kw.get("headers", {}), "Idempotency-Key": uuid.uuid4().hex}
        send = self.s.request

        def once_more(method: str, full_url: str, **kw: Any) -> requests.Response:
            try:
                return send(method, full_url, **kw)
            except requests.ConnectionError:
                self.retried += 1
                return send(method, full_url, **kw)

        self.s.request = once_more  # type: ignore[method-assign]
        try:
            return super()._call(op, method, url, ok, **kw)
        finally:
            self.s.request = send  # type: ignore[method-assign]


def _outbox(url: str) -> tuple[int, int, int]:
    """(events, not processed, parked) in the whole outbox."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT count(*), count(*) FILTER (WHERE processed_at IS NULL), "
                "count(*) FILTER (WHERE parked_at IS NOT NULL) FROM outbox")).one()
    finally:
        engine.dispose()
    return int(row[0]), int(row[1]), int(row[2])


def _reset_schema(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def _load(city: loadtest.City, seconds: float, clients: int) -> dict[str, Any]:
    a, b = (n.base for n in city.nodes[:2])
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {city.key}"
    r = admin.post(f"{a}/fonds", json={"code": loadtest.FONDS, "name": "UBND phường An Cựu"},
                   timeout=60)
    if r.status_code not in (201, 409):
        raise BenchError(f"cannot create the fonds: {r.status_code} {r.text[:300]}")
    stats, lock = loadtest.Stats(), threading.Lock()
    pdf = loadtest.make_pdf("Quyet dinh cap giay phep xay dung - Uy ban nhan dan phuong. " * 20)
    tag = f"CT{uuid.uuid4().hex[:6]}"
    bases = [n.base for n in city.nodes]
    search_bases = [a] if city.search_backend == "whoosh" else bases
    workers = [CityClient(bases, search_bases, n, a, city.key, pdf, stats, lock, tag)
               for n in range(clients)]
    progress(f"city: load, {clients} clients over {len(city.nodes)} nodes for {seconds:g} s ...")
    elapsed = loadtest.run_clients(workers, seconds)
    url = city.base_env["REPO_DATABASE_URL"]
    t1 = time.monotonic()
    while _outbox(url)[1] and time.monotonic() - t1 < 300:
        time.sleep(0.25)
    catch_up = time.monotonic() - t1
    search_node = a if city.search_backend == "whoosh" else b
    # read back through node B (the load wrote to both); search where an index is
    checks = loadtest.check_writes(b, city.key, workers, search_sample=0)
    docs = {d: rec for c in workers for d, rec in c.ledger.documents.items()}
    sample = random.Random(1).sample(sorted(docs), min(60, len(docs)))
    once = twice = missing = 0
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {city.key}"
    for doc_id in sample:
        body = s.get(f"{search_node}/search", params={"q": docs[doc_id]["token"]},
                     timeout=60).json()
        ids = [h.get("id") for h in body.get("items", [])]
        if ids == [doc_id] and body.get("total") == 1:
            once += 1
        elif doc_id in ids:
            twice += 1
        else:
            missing += 1
    events, pending, parked = _outbox(url)
    ops = {}
    total = 0
    for op in loadtest.OPS:
        lat = sorted(stats.latencies.get(op, []))
        total += len(lat)
        ops[op] = {"count": len(lat), "errors": stats.errors.get(op, 0),
                   "p50_ms": round(percentile(lat, 50) * 1000, 1) if lat else None,
                   "p95_ms": round(percentile(lat, 95) * 1000, 1) if lat else None}
    return {"seconds": round(elapsed, 1), "clients": clients, "requests": total,
            "retried_after_connection_reset": sum(c.retried for c in workers),
            "throughput_per_s": round(total / elapsed, 1), "status_5xx": stats.status_5xx,
            "errors": sum(stats.errors.values()), "error_samples": stats.samples[:10],
            "ops": ops, "index_catch_up_s": round(catch_up, 1), **checks,
            "outbox_events": events, "outbox_pending": pending, "outbox_parked": parked,
            "search_sample": len(sample), "search_once": once, "search_more_than_once": twice,
            "search_missing": missing, "search_node": search_node}


def _freshness(city: loadtest.City, seconds: float, rate: float, a: str, b: str
               ) -> dict[str, Any]:
    """Steady ingest on node ``a``; node ``b``'s search finds each token: delays from the
    201."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {city.key}"
    r = s.post(f"{a}/dossiers", json={"fonds_code": loadtest.FONDS, "title": "Hồ sơ đo độ mới",
                                      "retention": "05", "start_date": "2025-07-15"}, timeout=60)
    if r.status_code != 201:
        raise BenchError(f"cannot create a dossier: {r.status_code} {r.text[:300]}")
    dossier_id = r.json()["id"]
    pending: dict[str, float] = {}
    delays: list[float] = []
    lock = threading.Lock()
    done = threading.Event()
    errors: list[str] = []

    def watch() -> None:
        w = requests.Session()
        w.headers["Authorization"] = f"Bearer {city.key}"
        while not (done.is_set() and not pending):
            with lock:
                todo = list(pending.items())
            for token, created in todo:
                if time.monotonic() - created > 30:
                    with lock:
                        pending.pop(token, None)
                        errors.append(f"{token} not found on B within 30 s")
                    continue
                body = w.get(f"{b}/search", params={"q": token}, timeout=30).json()
                if body.get("total"):
                    seen = time.monotonic()
                    with lock:
                        pending.pop(token, None)
                        delays.append(seen - created)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    progress(f"city: freshness, {rate:g} documents/s on {a} for {seconds:g} s, "
             f"searched on {b} ...")
    n = max(1, round(rate * seconds))
    start = time.monotonic()
    for i in range(n):
        due = start + i / rate
        time.sleep(max(0.0, due - time.monotonic()))
        token = f"fr{uuid.uuid4().hex[:10]}"
        meta = json.dumps({"type_code": "02", "subject": f"Công văn {token}"}, ensure_ascii=False)
        r = s.post(f"{a}/dossiers/{dossier_id}/documents",
                   files={"metadata": (None, meta, "application/json"),
                          "file": ("cv.txt", f"Công văn {token}.\n".encode() * 50,
                                   "text/plain")}, timeout=60)
        if r.status_code != 201:
            errors.append(f"create: {r.status_code} {r.text[:200]}")
            continue
        with lock:
            pending[token] = time.monotonic()
    done.set()
    watcher.join(timeout=60)
    delays.sort()
    return {"documents": n, "seen": len(delays), "errors": errors[:10],
            "delay_s": {"p50": round(statistics.median(delays), 3) if delays else None,
                        "p95": round(percentile(delays, 95), 3) if delays else None,
                        "max": round(delays[-1], 3) if delays else None}}


def section_city(bench: Bench) -> tuple[list[Row], dict[str, Any]]:
    args = bench.args
    url = args.city_database_url or os.environ.get("DATABASE_URL") \
        or os.environ.get("REPO_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        raise BenchError("the city section needs PostgreSQL: set DATABASE_URL (or "
                         "--city-database-url) to a database whose schema may be replaced")
    backend = os.environ.get("SEARCH_BACKEND") or os.environ.get("REPO_SEARCH_BACKEND") \
        or "whoosh"
    _reset_schema(url)
    work = Path(tempfile.mkdtemp(prefix="repo-city-", dir=args.tmp_parent))
    city = loadtest.City(work, url, nodes=2, web_workers=args.city_web_workers,
                         search_backend=backend)
    city.init()
    data: dict[str, Any] = {"nodes": 2, "web_workers_per_node": args.city_web_workers,
                            "workers": "1 active + 1 standby", "search_backend": backend,
                            "workdir": str(work)}
    try:
        city.start()
        data["load"] = load = _load(city, args.city_seconds, args.city_clients)
        a, b = (n.base for n in city.nodes[:2])
        if backend == "postgresql":
            data["freshness"] = _freshness(city, args.city_freshness_seconds,
                                           args.city_freshness_rate, a, b)
        else:
            data["freshness"] = {"skipped": f"SEARCH_BACKEND={backend}: node B has no index "
                                            "of its own (needs 'postgresql')"}
            # a reference, not the target measure: written on B, found on A (the node that
            # shares the worker's whoosh index)
            data["freshness_whoosh_b_to_a"] = _freshness(
                city, args.city_freshness_seconds, args.city_freshness_rate, b, a)
    finally:
        city.stop()
    rows = [
        Row(f"city: {load['clients']} clients, {load['seconds']:g} s, 2 nodes: requests/s",
            load["throughput_per_s"], "req/s"),
        at_most("city: 5xx answers", load["status_5xx"], 0, ""),
        at_most("city: client errors (unexpected status)", load["errors"], 0, ""),
        at_most("city: acknowledged writes lost", load["lost"], 0, ""),
        at_most("city: acknowledged writes duplicated", load["duplicated"], 0, ""),
        at_most("city: outbox events left or parked",
                load["outbox_pending"] + load["outbox_parked"], 0, ""),
        at_most("city: sampled documents not found exactly once",
                load["search_missing"] + load["search_more_than_once"], 0, ""),
        Row("city: index caught up after the load", load["index_catch_up_s"], "s"),
        Row("city: requests sent again after a reset idle connection",
            load["retried_after_connection_reset"], ""),
    ]
    for op, o in load["ops"].items():
        rows.append(Row(f"city: {op} p95", o["p95_ms"], "ms"))
    fresh = data["freshness"]
    if "delay_s" in fresh:
        rows.append(at_most("city: freshness A->B p95", fresh["delay_s"]["p95"],
                            FRESHNESS_TARGET_S, "s"))
        rows.append(Row("city: freshness A->B median", fresh["delay_s"]["p50"], "s"))
        rows.append(at_most("city: freshness documents never seen on B",
                            fresh["documents"] - fresh["seen"], 0, ""))
    else:
        rows.append(Row("city: freshness A->B p95 (needs SEARCH_BACKEND=postgresql)", None,
                        "s", f"<= {FRESHNESS_TARGET_S:g} s"))
        ref = data.get("freshness_whoosh_b_to_a")
        if ref:
            rows.append(Row("city: reference, whoosh, 201 on B -> hit on A: p95",
                            ref["delay_s"]["p95"], "s"))
            rows.append(Row("city: reference, whoosh, 201 on B -> hit on A: median",
                            ref["delay_s"]["p50"], "s"))
            rows.append(Row("city: reference, whoosh: documents never seen",
                            ref["documents"] - ref["seen"], ""))
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return rows, data


SECTIONS = {"city": section_city}
SERVERLESS = frozenset({"city"})  # it starts its own processes


def add_arguments(p) -> None:  # noqa: ANN001
    g = p.add_argument_group("city (issue 16): 2 web nodes + worker pair on PostgreSQL")
    g.add_argument("--city-seconds", type=float, default=60, help="load time (default 60)")
    g.add_argument("--city-clients", type=int, default=16, help="load clients (default 16)")
    g.add_argument("--city-web-workers", type=int, default=2,
                   help="gunicorn workers per node (default 2)")
    g.add_argument("--city-freshness-seconds", type=float, default=30,
                   help="steady ingest time of the freshness phase (default 30)")
    g.add_argument("--city-freshness-rate", type=float, default=2,
                   help="documents per second in the freshness phase (default 2)")
    g.add_argument("--city-database-url", default=None,
                   help="PostgreSQL database (its schema is replaced); default DATABASE_URL")


def check_arguments(p, args) -> None:  # noqa: ANN001
    if args.city_seconds <= 0 or args.city_clients < 1 or args.city_web_workers < 1 \
            or args.city_freshness_seconds <= 0 or args.city_freshness_rate <= 0:
        p.error("the city sizes must be positive")
