#!/usr/bin/env python3
"""Where the CPU goes per document create (and per document the worker indexes), in process.

    .venv/bin/python scripts/profile_create.py [--docs 400] [--top 25] [--source TREE]

A fresh instance with the production defaults (fsync on, SQLite synchronous=FULL), the
Flask test client posting the bench's 2-page 20 KB PDF as multipart (as scripts/bench.py does
over HTTP), under cProfile; then the worker drains the outbox under a second profile. Prints
CPU per create and per indexed document and the cumulative time of the main steps, grouped
by the layer they belong to (decision 0021's table). Not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Steps of a create and of the worker, by function name (file, function): cumulative times.
STEPS = [
    ("whole request (Flask test client)", "testing.py", "open"),
    ("  parse multipart, stage the upload (sha256/sha512)", "uploads.py", None),
    ("  create_document service", "documents.py", "create_document"),
    ("    pending-row transaction + storage write + mirror transaction", "writes.py",
     "write_object"),
    ("      storage: write_version (stage, fsync/syncfs, rename, inventory)", "store.py",
     "write_version"),
    ("      syncfs/fsync calls", "sync.py", None),
    ("      SQL commits", "db.py", "write"),
    ("    audit event", "audit.py", None),
    ("  JSON answer (marshmallow dump)", "schema.py", "dump"),
]
WORKER_STEPS = [
    ("drain_outbox", "indexing.py", "drain_outbox"),
    ("  build_record (read head, metadata)", "indexing.py", "build_record"),
    ("    document_text (cache lookup / extraction)", "texts.py", "document_text"),
    ("      extract_text (pypdfium2)", "__init__.py", "extract_text"),
    ("      cache put", "cache.py", "put"),
    ("  index upsert (whoosh)", "backend.py", "upsert"),
    ("  record results (statuses, outbox rows)", "indexing.py", "_record_results"),
]


def cumulative(stats: pstats.Stats, file_part: str, func: str | None) -> float:
    total = 0.0
    for (filename, _line, name), (_cc, _nc, _tt, ct, callers) in stats.stats.items():
        if not filename.endswith(file_part) and f"/{file_part}" not in filename:
            continue
        if func is None:
            # every function of the module called from outside it (no double counting)
            if any(not c[0].endswith(file_part) for c in callers):
                total += ct
        elif name == func:
            # only the outermost calls (not recursive re-entries)
            if not any(c[2] == func and c[0].endswith(file_part) for c in callers):
                total += ct
    return total


# Self time (tottime) grouped by where the code lives: the first pattern that matches.
GROUPS = [
    ("repo-server api/ (routes, schemas)", ("repo_server/api/",)),
    ("repo-server services/ (rules, write path, audit)", ("repo_server/services/",)),
    ("repo-server storage/ (OCFL: stage, inventory, rename)", ("repo_server/storage/",)),
    ("repo-server catalog/ (session, write gate)", ("repo_server/catalog/",)),
    ("repo-server search/, extract/", ("repo_server/search/", "repo_server/extract/")),
    ("repo-server other", ("repo_server/",)),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("sqlite3 (C: execute, commit)", ("sqlite3", "_sqlite3")),
    ("Flask, Werkzeug (routing, multipart parsing, test client)", ("flask/", "werkzeug/",
                                                                    "flask_smorest/")),
    ("marshmallow", ("marshmallow/",)),
    ("whoosh", ("whoosh/",)),
    ("pypdfium2", ("pypdfium2",)),
    ("hashlib (sha256, sha512)", ("_hashlib", "sha256", "sha512", "hashlib")),
    ("json", ("json/", "_json")),
    ("file system calls (open, write, fsync, syncfs, rename, mkdir, stat)",
     ("posix.", "method 'write' of '_io", "built-in method io.open", "_io.", "method 'read'",
      "os.py", "shutil.py", "pathlib", "fcntl", "ctypes", "tempfile.py")),
]


def by_group(stats: pstats.Stats) -> dict[str, float]:
    out: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        key = f"{filename}:{name}"
        group = next((label for label, patterns in GROUPS
                      if any(p in key for p in patterns)),
                     "other Python (stdlib, uuid, datetime, logging, ...)")
        out[group] = out.get(group, 0.0) + tt
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def report(stats: pstats.Stats, n: int, steps, result: dict, name: str) -> None:  # noqa: ANN001
    """Print and keep (result[name + "_steps_ms"], [name + "_groups_ms"]) the profile's steps
    and its self time by where the code lives, per document."""
    total = stats.total_tt
    for label, f, func in steps:
        ms = cumulative(stats, f, func) * 1000 / n
        result[f"{name}_steps_ms"][label.strip()] = round(ms, 3)
        print(f"  {label:<72} {ms:7.3f} ms  {100 * ms / (total * 1000 / n):5.1f} %")
    print("  CPU by where the code lives (self time):")
    result[f"{name}_groups_ms"] = {}
    for label, tt in by_group(stats).items():
        ms = tt * 1000 / n
        result[f"{name}_groups_ms"][label] = round(ms, 3)
        print(f"    {label:<70} {ms:7.3f} ms  {100 * tt / total:5.1f} %")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--top", type=int, default=0, help="also print the N costliest functions")
    ap.add_argument("--source", help="project tree to import (default: this one)")
    ap.add_argument("--out", help="write the figures as JSON here")
    ap.add_argument("--no-profile", action="store_true",
                    help="CPU per create and per indexed document only, without cProfile's "
                         "overhead (to compare trees)")
    args = ap.parse_args()
    if args.source:
        sys.path.insert(0, str(Path(args.source).resolve()))
    else:
        sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    os.environ.pop("REPO_INSTANCE_PATH", None)

    import bench  # noqa: F401 - the same PDF and metadata as the HTTP bench
    from bench import Multipart, document_metadata, find_font, make_pdf, pdf_for

    from repo_server import build_env, create_app
    from repo_server.catalog.migrate import upgrade
    from repo_server.config import load_config
    from repo_server.services.keys import create_key
    from repo_server.services.retention import seed_default_schedule
    from repo_server.services.search import open_writer

    tmp = Path(tempfile.mkdtemp(prefix="profile-create-"))
    cfg = load_config(tmp / "instance", {"INSTANCE_PATH": str(tmp / "instance")})
    (tmp / "instance").mkdir(parents=True)
    upgrade(cfg["DATABASE_URL"])
    env = build_env(cfg)
    seed_default_schedule(env)
    app = create_app(cfg, env=env)
    _, secret = create_key(env, "bench", ["admin"])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    r = client.post("/api/v1/fonds", json={"code": "000.00.00.H49", "name": "UBND"},
                    headers=headers)
    assert r.status_code == 201, r.json
    r = client.post("/api/v1/dossiers", json={"fonds_code": "000.00.00.H49", "title": "Hồ sơ",
                                              "retention": "05", "start_date": "2025-07-15"},
                    headers=headers)
    dossier = r.json["id"]
    template = make_pdf(find_font())
    mp = Multipart(template)
    url = f"/api/v1/dossiers/{dossier}/documents"

    def create(i: int) -> None:
        body = mp.body(document_metadata(i + 1), pdf_for(template, i + 1))
        resp = client.post(url, data=body, content_type=mp.content_type, headers=headers)
        assert resp.status_code == 201, resp.json

    for i in range(args.warmup):
        create(i)
    prof = cProfile.Profile(time.process_time)
    cpu0, t0 = time.process_time(), time.perf_counter()
    if not args.no_profile:
        prof.enable()
    for i in range(args.warmup, args.warmup + args.docs):
        create(i)
    prof.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0

    from repo_server.services.indexing import drain_outbox

    backend = open_writer(env)
    wprof = cProfile.Profile(time.process_time)
    wcpu0 = time.process_time()
    if not args.no_profile:
        wprof.enable()
    drained = 0
    while n := drain_outbox(env, backend):
        drained += n
    wprof.disable()
    wcpu = time.process_time() - wcpu0
    backend.close()

    n, total_docs = args.docs, args.docs + args.warmup
    result = {"docs": n, "create_cpu_ms": round(cpu * 1000 / n, 3),
              "create_wall_ms": round(wall * 1000 / n, 3),
              "worker_cpu_ms_per_doc": round(wcpu * 1000 / total_docs, 3),
              "create_steps_ms": {}, "worker_steps_ms": {}}
    if args.no_profile:
        print(json.dumps(result))
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=1))
        env.db.dispose()
        return 0
    stats = pstats.Stats(prof)
    # cProfile's own overhead inflates the profiled run: shares are what the table shows
    prof_total = stats.total_tt
    print(f"create: {result['create_cpu_ms']} ms CPU per document ({n} documents, "
          f"{result['create_wall_ms']} ms wall); profiled total {prof_total * 1000 / n:.2f} ms")
    report(stats, n, STEPS, result, "create")
    wstats = pstats.Stats(wprof)
    print(f"worker: {result['worker_cpu_ms_per_doc']} ms CPU per document ({total_docs} "
          f"documents); profiled total {wstats.total_tt * 1000 / total_docs:.2f} ms")
    report(wstats, total_docs, WORKER_STEPS, result, "worker")
    if args.top:
        stats.sort_stats("tottime").print_stats(args.top)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    env.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
