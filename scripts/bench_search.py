"""Benchmark of the search backend against a naive whoosh index of the same corpus.

    python scripts/bench_search.py --docs 100000 --out bench-results/search.json

Builds, in a temporary directory, our index (WhooshBackend.bulk) and a naive whoosh index
(one TEXT field with the default StandardAnalyzer, default writer settings, plus an ID field
for the filter) from the same generated corpus, then runs the same queries on both:
1-, 2- and 3-syllable queries made of common or of rare syllables, with and without a fonds
filter. Our backend runs each request as the API would (facets and snippets on), twice: the
first pass starts with an empty posting-list cache (every query reads its posting lists from
the index, as in a freshly started web worker), the second is warm (a long-running worker).
Queries are word sequences taken from the documents, with their diacritics (the naive index
cannot fold them); our backend also runs them typed without diacritics.

``run(docs, workdir)`` returns the results as a dict (scripts/bench.py merges it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from whoosh import fields as wfields  # noqa: E402
from whoosh import index as windex  # noqa: E402
from whoosh import query as wquery  # noqa: E402
from whoosh.qparser import QueryParser  # noqa: E402

from repo_server.search.analysis import canonical, fold, phrases  # noqa: E402
from repo_server.search.backend import SearchRequest  # noqa: E402
from repo_server.search.whoosh import WhooshBackend  # noqa: E402
from repo_server.search.whoosh.writer import FastSegmentWriter  # noqa: E402
from tests.search.corpus import FONDS, generate  # noqa: E402

QUERIES_PER_CLASS = 40
TARGET_MEDIAN_MS = 10.0
TARGET_P95_MS = 50.0
TARGET_DOCS_PER_S = 500.0


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def make_queries(records, rng: random.Random, per_class: int = QUERIES_PER_CLASS) -> dict:
    """Query classes from the corpus: {(n, "common"|"rare"): [query text with diacritics]}."""
    docs = [r for r in records if r.kind == "document"]
    sample = rng.sample(docs, min(len(docs), 5000))
    df: Counter = Counter()
    runs_per_doc = []
    for r in sample:
        runs = phrases(r.title + " ¶ " + r.body)
        runs_per_doc.append(runs)
        df.update({s for run in runs for s in run if not s.isdigit()})
    ranked = [s for s, _ in df.most_common()]
    common = set(ranked[:60])
    rare = {s for s, c in df.items() if c <= max(2, len(sample) // 1000)}
    classes: dict = {}
    for n in (1, 2, 3):
        for kind in ("common", "rare"):
            found: list[str] = []
            seen = set()
            for _ in range(200_000):
                if len(found) >= per_class:
                    break
                runs = rng.choice(runs_per_doc)
                run = rng.choice(runs)
                if len(run) < n:
                    continue
                i = rng.randrange(len(run) - n + 1)
                words = run[i : i + n]
                if any(w.isdigit() for w in words):
                    continue
                if kind == "common" and not all(w in common for w in words):
                    continue
                if kind == "rare" and not any(w in rare for w in words):
                    continue
                q = " ".join(words)
                if q not in seen:
                    seen.add(q)
                    found.append(q)
            classes[(n, kind)] = found
    return classes


def build_ours(records, path: Path) -> dict:
    backend = WhooshBackend(path, writer=True)
    t0 = time.perf_counter()
    with backend.bulk() as w:
        for r in records:
            w.add(r)
    elapsed = time.perf_counter() - t0
    return {
        "seconds": round(elapsed, 1),
        "records": len(records),
        "records_per_s": round(len(records) / elapsed),
        "segments": w.segments,
        "size_mb": round(_dir_size(path) / 1e6, 1),
    }


def naive_schema():
    return wfields.Schema(
        id=wfields.ID(stored=True, unique=True), fonds=wfields.ID(), text=wfields.TEXT()
    )


def build_naive(records, path: Path) -> dict:
    path.mkdir(parents=True, exist_ok=True)
    ix = windex.create_in(str(path), naive_schema())
    t0 = time.perf_counter()
    w = ix.writer()
    for r in records:
        text = " ".join([r.title, r.number or "", r.fields_text, r.body])
        w.add_document(id=r.id, fonds=r.fonds_code, text=text)
    w.commit()
    elapsed = time.perf_counter() - t0
    return {
        "seconds": round(elapsed, 1),
        "records": len(records),
        "records_per_s": round(len(records) / elapsed),
        "size_mb": round(_dir_size(path) / 1e6, 1),
    }


def compare_writers(records, workdir: Path) -> dict:
    """Indexing speed of our schema through whoosh's own writer settings, on a sample."""
    from whoosh.writing import NO_MERGE

    from repo_server.search.whoosh.schema import (
        make_schema,
        record_keywords,
        record_numbers,
        record_stored,
        record_text,
    )

    out = {}
    variants = [
        ("fast writer (ours)", None),
        ("whoosh limitmb=128", {"limitmb": 128}),
        ("whoosh limitmb=1024", {"limitmb": 1024}),
        ("whoosh procs=2 multisegment", {"procs": 2, "multisegment": True, "limitmb": 512}),
    ]
    for name, kwargs in variants:
        path = workdir / f"writer-{len(out)}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        ix = windex.create_in(str(path), make_schema())
        t0 = time.perf_counter()
        if kwargs is None:
            w = FastSegmentWriter(ix)
            for r in records:
                w.add_record(r)
            w.commit(mergetype=NO_MERGE)
        else:
            w = ix.writer(**kwargs)
            for r in records:
                text = record_text(r)
                nx, nf = record_numbers(r)
                kw = {k: v for k, v in record_keywords(r).items() if v}
                w.add_document(
                    **kw,
                    tx=text,
                    tf=text,
                    bx=text,
                    bf=text,
                    nx=r.number or "",
                    nf=r.number or "",
                    src=record_stored(r)["src"],
                )
            w.commit()
        out[name] = round(len(records) / (time.perf_counter() - t0))
    return out


def time_ours(backend: WhooshBackend, queries, *, fonds=None, fold_query=False) -> list[float]:
    times = []
    for q in queries:
        text = fold(canonical(q)) if fold_query else q
        req = SearchRequest(q=text, fonds_codes=fonds)
        t0 = time.perf_counter()
        backend.search(req)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def time_naive(searcher, parser, queries, *, fonds=None) -> list[float]:
    times = []
    filt = wquery.Term("fonds", fonds[0]) if fonds else None
    for q in queries:
        t0 = time.perf_counter()
        searcher.search(parser.parse(q), limit=20, filter=filt)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _stats(times: list[float]) -> dict:
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(_pct(times, 0.95), 2)}


def run(
    docs: int, workdir: Path, *, naive: bool = True, writers_sample: int = 3000, reuse: bool = False
) -> dict:
    """Build both indexes under ``workdir`` (replacing earlier ones, unless ``reuse`` and they
    exist: then only the queries run) and measure; returns the results."""
    workdir = Path(workdir)
    rng = random.Random(7)
    t0 = time.perf_counter()
    records = list(generate(docs))
    gen_s = time.perf_counter() - t0
    result: dict = {
        "docs": docs,
        "records": len(records),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "corpus_seconds": round(gen_s, 1),
    }
    print(f"corpus: {len(records)} records in {gen_s:.1f}s", flush=True)
    built = (workdir / "ours").is_dir() and (not naive or (workdir / "naive").is_dir())
    if reuse and built:
        print("reusing the indexes in", workdir, flush=True)
    else:
        for name in ("ours", "naive", "writers"):
            shutil.rmtree(workdir / name, ignore_errors=True)
        result["ours_build"] = build_ours(records, workdir / "ours")
        print(f"ours built: {result['ours_build']}", flush=True)
        if naive:
            result["naive_build"] = build_naive(records, workdir / "naive")
            print(f"naive built: {result['naive_build']}", flush=True)
        if writers_sample:
            result["writers_docs_per_s"] = compare_writers(
                records[:writers_sample], workdir / "writers"
            )
            print(f"writers: {result['writers_docs_per_s']}", flush=True)

    classes = make_queries(records, rng)
    fonds = [FONDS[0][0]]
    # no background preloading here: "cold" below means nothing of a query decoded yet
    backend = WhooshBackend(workdir / "ours", writer=False, preload_min_docs=None)
    t0 = time.perf_counter()
    backend.refresh()
    backend.search(SearchRequest(q="", fonds_codes=fonds))  # derived per-segment data
    result["ours_open_ms"] = round((time.perf_counter() - t0) * 1000, 1)

    naive_searcher = parser = None
    if naive:
        nix = windex.open_dir(str(workdir / "naive"))
        t0 = time.perf_counter()
        naive_searcher = nix.searcher()
        result["naive_open_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        parser = QueryParser("text", nix.schema)

    rows = []
    for (n, kind), queries in classes.items():
        for filtered in (False, True):
            f = fonds if filtered else None
            backend.drop_caches()  # cold: no posting list of these queries read yet
            cold = time_ours(backend, queries, fonds=f)
            warm = time_ours(backend, queries, fonds=f)
            # what a web process does: a fresh reader, its background preload done, then
            # these queries for the first time
            fresh = WhooshBackend(workdir / "ours", writer=False)
            fresh.refresh()
            fresh.wait_preloaded(300)
            preloaded = time_ours(fresh, queries, fonds=f)
            fresh.close()
            unaccented = time_ours(backend, queries, fonds=f, fold_query=True)
            row = {
                "class": f"{n}-syllable {kind}" + (" +filter" if filtered else ""),
                "queries": len(queries),
                "example": queries[0] if queries else "",
                "ours_cold": _stats(cold),
                "ours_preloaded": _stats(preloaded),
                "ours_warm": _stats(warm),
                "ours_unaccented": _stats(unaccented),
            }
            if naive:
                nt = time_naive(naive_searcher, parser, queries, fonds=f)
                row["naive"] = _stats(nt)
                row["ratio_median"] = round(
                    row["naive"]["median_ms"] / row["ours_warm"]["median_ms"], 1
                )
                row["ratio_p95"] = round(row["naive"]["p95_ms"] / row["ours_warm"]["p95_ms"], 1)
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    result["queries"] = rows

    extra = {}
    common2 = classes[(2, "common")]
    for name, reqs in {
        "empty q, fonds filter, by date": [SearchRequest(q="", fonds_codes=fonds)] * 20,
        "2-syllable common, by date": [SearchRequest(q=q, sort="date_desc") for q in common2],
        "2-syllable common, no facets/snippets": [
            SearchRequest(q=q, facets=False, snippets=False) for q in common2
        ],
        "2-syllable common, page 10": [SearchRequest(q=q, page=10) for q in common2],
        "2-syllable common, kind=dossier": [SearchRequest(q=q, kind="dossier") for q in common2],
    }.items():
        for req in reqs:  # warm: these rows show what each feature costs, not cold reads
            backend.search(req)
        times = []
        for req in reqs:
            t0 = time.perf_counter()
            backend.search(req)
            times.append((time.perf_counter() - t0) * 1000)
        extra[name] = _stats(times)
    result["ours_other"] = extra

    result["load_average"] = os.getloadavg()  # other work on the machine skews the times
    worst_median = max(r["ours_warm"]["median_ms"] for r in rows)
    worst_p95 = max(r["ours_warm"]["p95_ms"] for r in rows)
    worst_first_median = max(r["ours_preloaded"]["median_ms"] for r in rows)
    worst_first_p95 = max(r["ours_preloaded"]["p95_ms"] for r in rows)
    result["targets"] = {
        "median_ms<=10 (warm)": worst_median <= TARGET_MEDIAN_MS,
        "p95_ms<=50 (warm)": worst_p95 <= TARGET_P95_MS,
        "median_ms<=10 (first queries, fresh reader after its preload)":
            worst_first_median <= TARGET_MEDIAN_MS,
        "p95_ms<=50 (first queries, fresh reader after its preload)":
            worst_first_p95 <= TARGET_P95_MS,
    }
    if "ours_build" in result:
        result["targets"]["reindex>=500 docs/s"] = (
            result["ours_build"]["records_per_s"] >= TARGET_DOCS_PER_S
        )
    return result


def print_table(result: dict) -> None:
    print()
    print(f"corpus: {result['docs']} documents ({result['records']} records incl. dossiers)")
    print(f"load average during the queries: {result.get('load_average')}")
    ob = result.get("ours_build")
    if ob:
        print(
            f"ours:  reindex {ob['records_per_s']} records/s ({ob['seconds']} s), "
            f"{ob['size_mb']} MB, {ob['segments']} segment(s)"
        )
    print(f"ours:  open {result['ours_open_ms']} ms")
    if "naive_build" in result:
        nb = result["naive_build"]
        print(
            f"naive: reindex {nb['records_per_s']} records/s ({nb['seconds']} s), "
            f"{nb['size_mb']} MB, open {result.get('naive_open_ms')} ms"
        )
    if "writers_docs_per_s" in result:
        print("writers (docs/s on a sample):", result["writers_docs_per_s"])
    head = f"{'class':32} {'cold med/p95':>15} {'warm med/p95':>15} {'no-accent':>15} {'naive med/p95':>17} {'ratio':>11}"
    print(head)
    print("-" * len(head))
    for r in result["queries"]:
        c, w, u = r["ours_cold"], r["ours_warm"], r["ours_unaccented"]
        nv = r.get("naive")
        print(
            f"{r['class']:32} {c['median_ms']:6.1f}/{c['p95_ms']:7.1f} "
            f"{w['median_ms']:6.1f}/{w['p95_ms']:7.1f} {u['median_ms']:6.1f}/{u['p95_ms']:7.1f} "
            + (
                f"{nv['median_ms']:7.1f}/{nv['p95_ms']:8.1f} {r['ratio_median']:5.0f}x/{r['ratio_p95']:4.0f}x"
                if nv
                else ""
            )
        )
    for name, s in result.get("ours_other", {}).items():
        print(f"{name:48} median {s['median_ms']:6.1f} ms  p95 {s['p95_ms']:6.1f} ms")
    print("targets:", result["targets"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--workdir", type=Path, help="keep the indexes here (default: a temp dir)")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive index")
    ap.add_argument("--writers-sample", type=int, default=3000)
    ap.add_argument("--reuse", action="store_true", help="reuse the indexes in --workdir")
    args = ap.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = run(
            args.docs,
            args.workdir,
            naive=not args.no_naive,
            writers_sample=args.writers_sample,
            reuse=args.reuse,
        )
    else:
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            result = run(
                args.docs, Path(tmp), naive=not args.no_naive, writers_sample=args.writers_sample
            )
    print_table(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
