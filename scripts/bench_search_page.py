"""What a result page costs through the whole Flask stack (test client: no socket, no
gunicorn), and per extra returned item (issue 13 §5). Not a test.

    .venv/bin/python scripts/bench_search_page.py [--tree PATH] [--docs 600] [--profile]

Creates, in a temporary instance, one dossier and ``--docs`` documents through the API (each
with a text file from tests/search/corpus.py, extracted and indexed by the worker), then times
GET /api/v1/search with the defaults (facets and highlights on) for page_size 1, 20 and 100
over a few common queries; prints medians and p95 in ms and (median(100) - median(1)) / 99 as
the cost per item. ``--tree`` runs another checkout (e.g. a ``git archive`` of main) to
compare; ``--profile`` adds a cProfile of the page_size 100 requests.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

QUERIES = ["ke hoach", "quyết định", "ủy ban nhân dân", "phê duyệt", "công văn", "báo cáo",
           "thực hiện", "tổ chức"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    p.add_argument("--docs", type=int, default=600)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    sys.path.insert(0, args.tree)
    os.chdir(args.tree)
    from repo_server.jobs.worker import Worker
    from repo_server.services.retention import seed_default_schedule
    from repo_server.services.search import open_writer
    from tests.conftest import (
        Client,
        build_env,
        create_app,
        create_key,
        drain,
        make_config,
        upgrade,
    )
    try:
        from tests.search.corpus import generate
    except ImportError:  # a tree from before the corpus left the runtime package
        from repo_server.search.corpus import generate

    instance = Path(tempfile.mkdtemp()) / "instance"
    instance.mkdir(parents=True)
    cfg = make_config(instance, MAX_UPLOAD_BYTES=2 * 1024 * 1024)
    upgrade(cfg["DATABASE_URL"])
    env = build_env(cfg)
    seed_default_schedule(env)
    client = Client(create_app(cfg, env=env), create_key(env, "bench", ["admin"])[1])
    client.make_fonds()
    dossier = client.make_dossier()
    worker = Worker(env, lambda: open_writer(env), use_scheduler=False)
    docs = [r for r in generate(args.docs * 2) if r.kind == "document"][: args.docs]
    t0 = time.perf_counter()
    for i, r in enumerate(docs):
        client.make_document(dossier["id"], files={"van-ban.txt": r.body.encode()},
                             subject=r.title[:500])
        if i % 200 == 199:
            drain(worker)
    drain(worker)
    print(f"{args.docs} documents created and indexed in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)

    def run(page_size: int, rounds: int) -> list[float]:
        times = []
        for _ in range(rounds):
            for q in QUERIES:
                t = time.perf_counter()
                r = client.get("/api/v1/search", query_string={"q": q, "page_size": page_size})
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.json
        return times

    run(20, 1)  # warm
    out: dict = {"docs": args.docs, "tree": args.tree}
    for page_size in (1, 20, 100):
        times = sorted(run(page_size, args.rounds))
        out[f"page_size {page_size}"] = {"median_ms": round(statistics.median(times), 2),
                                         "p95_ms": round(times[int(len(times) * 0.95)], 2)}
    out["per_item_ms"] = round((out["page_size 100"]["median_ms"]
                                - out["page_size 1"]["median_ms"]) / 99, 3)
    print(json.dumps(out))
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run(100, 2)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
