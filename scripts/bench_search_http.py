"""Search over HTTP at scale, one or more code trees side by side in one run (issue 13 §5).

    .venv/bin/python scripts/bench_search_http.py --docs 100000 --workdir /tmp/s100k \\
        --tree main=/tmp/main-tree --tree branch=. --port 18160 --out result.json

Builds once (kept in ``--workdir``, reused on the next run): an instance made with
`repo-server init`, the corpus of scripts/bench_search.py (tests/search/corpus.py) written
straight into the catalog (fonds, dossiers, documents: Core bulk inserts) and into the index
(the backend's bulk writer, as a reindex does). Then starts gunicorn for each ``--tree`` on the
same instance (read only, no worker) and runs the query classes of bench_search.py over HTTP
with the API's defaults (facets and highlights on, page_size 20), admin key, the trees
interleaved query by query so machine noise falls on all alike. Each class runs twice: the
first pass ("first") is the first time each query is asked, the second ("warm") a repeat. Then
the cost of each extra returned item: the 2-syllable common queries at page_size 1, 20 and 100,
(median(100) - median(1)) / 99. Beside the client's wall-clock times, the CPU the server's
processes used per request (from /proc): on a machine shared with other work the wall-clock
times mostly measure the others, the CPU times much less. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench  # noqa: E402  (Server: gunicorn on an instance)
import bench_search  # noqa: E402  (query classes)

TARGET_MEDIAN_MS = 10.0
TARGET_P95_MS = 30.0
TARGET_PER_ITEM_MS = 0.1


def build(instance: Path, docs: int) -> dict:
    """A fresh instance holding ``docs`` documents (and their dossiers) in catalog and index."""
    from sqlalchemy import insert

    from repo_server import build_env
    from repo_server.catalog import Document, Dossier, Fonds
    from repo_server.config import load_config
    from repo_server.services.search import open_writer
    from tests.search.corpus import FONDS, generate

    instance.mkdir(parents=True)
    key = bench.Server(instance, 0).init()
    env = build_env(load_config(instance, {"INSTANCE_PATH": str(instance)}))
    now = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    records = list(generate(docs))
    fonds = [{"id": f"f0000000-0000-4000-8000-{i:012d}", "code": code, "name": name,
              "status": "open", "meta": {"code": code, "name": name}, "head_version": 1,
              "created_at": now, "updated_at": now} for i, (code, name, _) in enumerate(FONDS)]
    dossiers, documents = [], []
    serial: dict[str, int] = {}
    for i, r in enumerate(records):
        if r.kind == "dossier":
            dossiers.append({
                "id": r.id, "fonds_code": r.fonds_code, "file_code": f"{r.number}.{i}",
                "title": r.title, "state": r.state, "year": r.date.year, "start_date": r.date,
                "end_date": None, "retention": "10", "retention_years": None,
                "access_mode": r.access_mode, "external_ref": None, "retention_rule": None,
                "retention_due_on": None, "archive_code": None, "archived_on": None,
                "doc_total": 0, "doc_seq": 0, "meta": {"title": r.title}, "head_version": 1,
                "created_at": now, "updated_at": now})
        else:
            serial[r.dossier_id] = n = serial.get(r.dossier_id, 0) + 1
            number, _, notation = (r.number or "").partition("/")
            documents.append({
                "id": r.id, "dossier_id": r.dossier_id, "fonds_code": r.fonds_code,
                "doc_code": f"D{i:09d}", "serial": n, "type_code": r.type_code,
                "direction": r.direction, "code_number": number[:11] or None,
                "code_notation": notation[:30] or None, "organ_name": None,
                "issued_date": r.date, "subject": r.title[:500], "access_mode": r.access_mode,
                "text_status": "done", "text_reason": None, "meta": {"subject": r.title[:500]},
                "head_version": 1, "created_at": now, "updated_at": now})
    with env.db.engine.begin() as conn:
        conn.execute(insert(Fonds.__table__), fonds)
        for i in range(0, len(dossiers), 5000):
            conn.execute(insert(Dossier.__table__), dossiers[i:i + 5000])
        for i in range(0, len(documents), 5000):
            conn.execute(insert(Document.__table__), documents[i:i + 5000])
    catalog_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    backend = open_writer(env)
    with backend.bulk() as w:
        for r in records:
            w.add(r)
    backend.close()
    info = {"documents": len(documents), "dossiers": len(dossiers),
            "catalog_s": round(catalog_s, 1), "index_s": round(time.perf_counter() - t0, 1)}
    classes = bench_search.make_queries(records, random.Random(7))
    (instance.parent / "queries.json").write_text(json.dumps(
        [[n, kind, qs] for (n, kind), qs in classes.items()], ensure_ascii=False))
    (instance.parent / "key").write_text(key)
    (instance.parent / "build.json").write_text(json.dumps(info))
    return info


def stats(times: list[float]) -> dict:
    return {"n": len(times), "median_ms": round(statistics.median(times), 2),
            "p95_ms": round(bench_search._pct(times, 0.95), 2)}


class Target:
    def __init__(self, name: str, base: str, key: str, pids: list[int] | None = None):
        self.name, self.base = name, base
        self.pids = pids or []
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {key}"

    def search(self, params: dict) -> tuple[float, dict]:
        t = time.perf_counter()
        r = self.s.get(self.base + "/api/v1/search", params=params)
        dt_ms = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"{self.name}: {r.status_code} {r.text[:300]}")
        return dt_ms, r.json()


    def cpu(self) -> float:
        """CPU seconds used so far by the server's processes (gunicorn master and workers)."""
        return sum(bench.proc_cpu_seconds(p) for p in self.pids)


def interleaved(targets: list[Target], params: list[dict]) -> dict[str, list[float]]:
    """Wall-clock ms of each request by target; under "<name> cpu" the server's CPU ms per
    request (what other load on the machine barely changes)."""
    out: dict[str, list[float]] = {t.name: [] for t in targets}
    cpu0 = {t.name: t.cpu() for t in targets}
    for i, p in enumerate(params):
        for t in targets if i % 2 == 0 else targets[::-1]:
            out[t.name].append(t.search(p)[0])
    for t in targets:
        out[f"{t.name} cpu"] = [(t.cpu() - cpu0[t.name]) * 1000 / max(1, len(params))]
    return out


def measure(targets: list[Target], workdir: Path) -> dict:
    from tests.search.corpus import FONDS

    saved = json.loads((workdir / "queries.json").read_text())
    classes = {(n, kind): qs for n, kind, qs in saved}
    fonds = FONDS[0][0]
    # let each server's background preload finish, and check the trees agree on the totals
    for (n, kind), queries in classes.items():
        for q in queries[:5]:
            totals = {t.name: t.search({"q": q})[1]["total"] for t in targets}
            if len(set(totals.values())) != 1:
                print(f"totals differ for {q!r}: {totals}", flush=True)
    rows = []
    for (n, kind), queries in classes.items():
        for filtered in (False, True):
            params = [{"q": q, **({"fonds_code": fonds} if filtered else {})} for q in queries]
            first = interleaved(targets, params)
            warm = interleaved(targets, params)
            row = {"class": f"{n}-syllable {kind}" + (" +filter" if filtered else ""),
                   "queries": len(params), "example": queries[0]}
            for t in targets:
                row[t.name] = {"first": stats(first[t.name]), "warm": stats(warm[t.name]),
                               "cpu_ms_per_request": round((first[f"{t.name} cpu"][0]
                                                            + warm[f"{t.name} cpu"][0]) / 2, 2)}
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    per_item = {}
    common2 = classes[(2, "common")]
    for page_size in (1, 20, 100):
        params = [{"q": q, "page_size": page_size} for q in common2]
        interleaved(targets, params)  # warm
        times = interleaved(targets, params + params)
        for t in targets:
            per_item.setdefault(t.name, {})[f"page_size {page_size}"] = {
                **stats(times[t.name]), "cpu_ms_per_request": round(times[f"{t.name} cpu"][0], 2)}
    for t in targets:
        p = per_item[t.name]
        p["per_item_ms"] = round((p["page_size 100"]["median_ms"]
                                  - p["page_size 1"]["median_ms"]) / 99, 3)
        p["per_item_cpu_ms"] = round((p["page_size 100"]["cpu_ms_per_request"]
                                      - p["page_size 1"]["cpu_ms_per_request"]) / 99, 3)
    print(json.dumps(per_item), flush=True)
    return {"queries": rows, "per_item": per_item}


def print_table(result: dict, names: list[str]) -> None:
    print(f"\n{result['docs']} documents over HTTP, defaults (facets, highlights, page_size 20); "
          f"load average {result['load_average']}")
    head = f"{'class':30}" + "".join(f" {n + ' first med/p95':>22} {n + ' warm med/p95':>22}"
                                     f" {n + ' cpu/req':>14}" for n in names)
    print(head)
    for r in result["queries"]:
        line = f"{r['class']:30}"
        for n in names:
            f, w = r[n]["first"], r[n]["warm"]
            line += (f" {f['median_ms']:10.1f}/{f['p95_ms']:<11.1f}"
                     f" {w['median_ms']:10.1f}/{w['p95_ms']:<11.1f}"
                     f" {r[n]['cpu_ms_per_request']:14.2f}")
        print(line)
    for n in names:
        p = result["per_item"][n]
        print(f"{n}: page_size 1 / 20 / 100 median "
              f"{p['page_size 1']['median_ms']} / {p['page_size 20']['median_ms']} / "
              f"{p['page_size 100']['median_ms']} ms; per extra item {p['per_item_ms']} ms; "
              f"server CPU per request {p['page_size 1']['cpu_ms_per_request']} / "
              f"{p['page_size 20']['cpu_ms_per_request']} / "
              f"{p['page_size 100']['cpu_ms_per_request']} ms, per extra item "
              f"{p['per_item_cpu_ms']} ms")
    print("targets:", json.dumps(result["targets"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--tree", action="append", default=[],
                    help="name=path of a checkout to serve (repeatable; default: this one)")
    ap.add_argument("--port", type=int, default=18160, help="first port (one per tree)")
    ap.add_argument("--workers", type=int, default=bench.GUNICORN_WORKERS)
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    instance = args.workdir / "instance"
    if not (args.workdir / "build.json").exists():
        print(f"building {args.docs:,} documents in {instance} ...", flush=True)
        print(build(instance, args.docs), flush=True)
    info = json.loads((args.workdir / "build.json").read_text())
    if args.build_only:
        return
    key = (args.workdir / "key").read_text().strip()
    trees = [t.split("=", 1) for t in args.tree] or [["this", str(bench.REPO)]]
    servers = []
    try:
        for i, (name, path) in enumerate(trees):
            server = bench.Server(instance, args.port + i, workers=args.workers,
                                  source=Path(path).resolve())
            server.with_worker = False  # readers only: the index is already complete
            server.log_path = args.workdir / f"server-{name}.log"
            server.start()
            servers.append(server)
        targets = [Target(name, s.base, key, [s.gunicorn.pid, *s.worker_pids()])
                   for (name, _), s in zip(trees, servers, strict=True)]
        result = {"docs": info["documents"], "build": info,
                  "trees": {name: path for name, path in trees}}
        result.update(measure(targets, args.workdir))
        result["load_average"] = os.getloadavg()
        result["targets"] = {
            name: {"median<=10": all(r[name]["warm"]["median_ms"] <= TARGET_MEDIAN_MS
                                     for r in result["queries"]),
                   "p95<=30": all(r[name]["warm"]["p95_ms"] <= TARGET_P95_MS
                                  for r in result["queries"]),
                   "first median<=10": all(r[name]["first"]["median_ms"] <= TARGET_MEDIAN_MS
                                           for r in result["queries"]),
                   "first p95<=30": all(r[name]["first"]["p95_ms"] <= TARGET_P95_MS
                                        for r in result["queries"]),
                   "per_item<=0.1": result["per_item"][name]["per_item_ms"]
                   <= TARGET_PER_ITEM_MS,
                   "per_item_cpu<=0.1": result["per_item"][name]["per_item_cpu_ms"]
                   <= TARGET_PER_ITEM_MS}
            for name, _ in trees}
    finally:
        for s in servers:
            s.stop()
    print_table(result, [name for name, _ in trees])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
