"""Search against Plone 6's `@search`, the same PDFs in both, in one run (issue 13 §5).

    .venv/bin/python scripts/bench_search_plone.py --plone http://127.0.0.1:8080/Plone \\
        --peers ../shared/peers --pdfs /tmp/pdfs --n 1000 --port 18165 \\
        [--tree main=/tmp/main-tree] --out result.json

Needs a running Plone (the harness in ``--peers``/plone; it is not started or stopped here) and
the PDFs of that harness's corpus (``bench.corpus(n, "pdf", --pdfs, seed)``; made with fpdf2 if
missing). Loads the ``--n`` PDFs into a folder of its own in Plone (`File` items, as the
harness does) and into a fresh repo-server instance (gunicorn + worker of this tree, one
dossier, a document per PDF, text extracted and indexed by the worker), then runs the same 300
queries (100 each of 1, 2 and 3 consecutive words from the PDFs' text, as peers/sidebyside.py
draws them) against both, interleaved query by query, with each API's defaults and 20 results:
`@search?SearchableText=…&b_size=20&path=<the folder>` and `/search?q=…&page_size=20` (facets and
highlights on). ``--tree`` also serves other checkouts on the same instance (read only). Not a
test.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (Server)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, -(-len(s) * p // 100) - 1)]


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 2),
            "p95_ms": round(pct(ms, 95), 2)}


def load_plone(base: str, auth: tuple[str, str], files: list[dict]) -> str:
    s = requests.Session()
    s.auth = auth
    s.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
    cid = "searchspeed-" + uuid.uuid4().hex[:8]
    s.post(base, json={"@type": "Document", "id": cid, "title": "searchspeed"}).raise_for_status()
    folder = f"{base}/{cid}"
    for f in files:
        data = Path(f["path"]).read_bytes()
        r = s.post(folder, json={"@type": "File", "title": f["title"], "subjects": f["subjects"],
                                 "file": {"data": base64.b64encode(data).decode("ascii"),
                                          "encoding": "base64", "filename": f["filename"],
                                          "content-type": "application/pdf"}})
        r.raise_for_status()
    return folder


def load_repo(base: str, key: str, files: list[dict]) -> None:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    code = "000.00.77.H57"
    s.post(f"{base}/api/v1/fonds", json={"code": code, "name": "Ủy ban nhân dân xã So Sánh"}
           ).raise_for_status()
    r = s.post(f"{base}/api/v1/dossiers", json={"fonds_code": code, "retention": "05",
                                                "title": "Hồ sơ so sánh tìm kiếm",
                                                "start_date": "2025-07-15"})
    r.raise_for_status()
    dossier = r.json()["id"]
    for f in files:
        meta = {"type_code": "02", "subject": f["title"][:500]}
        r = s.post(f"{base}/api/v1/dossiers/{dossier}/documents", files={
            "metadata": (None, json.dumps(meta, ensure_ascii=False), "application/json"),
            "file": (f["filename"], Path(f["path"]).read_bytes(), "application/pdf")})
        r.raise_for_status()
    # the worker extracts and indexes asynchronously: wait for the last PDF's unique code
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline:
        r = s.get(f"{base}/api/v1/search", params={"q": files[-1]["code"]})
        if r.status_code == 200 and r.json()["total"]:
            break
        time.sleep(2)
    else:
        raise RuntimeError("the repo did not index the last PDF within 20 minutes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plone", default="http://127.0.0.1:8080/Plone")
    ap.add_argument("--plone-user", default="admin")
    ap.add_argument("--plone-pw", default="admin")
    ap.add_argument("--plone-folder", help="reuse a loaded folder (URL)")
    ap.add_argument("--peers", type=Path, required=True, help="the shared peers folder")
    ap.add_argument("--pdfs", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1313)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workdir", type=Path, required=True,
                    help="the repo instance (kept, and reused when it exists)")
    ap.add_argument("--port", type=int, default=18165)
    ap.add_argument("--tree", action="append", default=[],
                    help="name=path of another checkout to serve on the same instance")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import importlib.util
    spec = importlib.util.spec_from_file_location("plone_bench", args.peers / "plone" / "bench.py")
    pb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pb)
    _, files, _ = pb.corpus(args.n, "pdf", str(args.pdfs), seed=args.seed)

    instance = args.workdir / "instance"
    fresh = not instance.exists()
    if fresh:
        instance.mkdir(parents=True)
        key = bench.Server(instance, 0).init()
        (args.workdir / "key").write_text(key)
    key = (args.workdir / "key").read_text().strip()
    servers = []
    try:
        main_server = bench.Server(instance, args.port)
        main_server.log_path = args.workdir / "server-this.log"
        main_server.start()
        servers.append(("this", main_server))
        if fresh:
            t0 = time.perf_counter()
            load_repo(main_server.base, key, files)
            print(f"repo: {args.n} PDFs loaded and indexed in {time.perf_counter() - t0:.0f} s",
                  flush=True)
        folder = args.plone_folder
        if not folder:
            t0 = time.perf_counter()
            folder = load_plone(args.plone, (args.plone_user, args.plone_pw), files)
            print(f"plone: {args.n} PDFs loaded into {folder} in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
        (args.workdir / "plone-folder").write_text(folder)
        for i, spec_ in enumerate(args.tree):
            name, path = spec_.split("=", 1)
            srv = bench.Server(instance, args.port + 1 + i, source=Path(path).resolve())
            srv.with_worker = False
            srv.log_path = args.workdir / f"server-{name}.log"
            srv.start()
            servers.append((name, srv))

        rng = random.Random(5)
        words = [w for f in files[:200] for w in f["text"].split() if w.isalpha() and len(w) > 2]
        queries = []
        for k in (1, 2, 3):
            for _ in range(100):
                i = rng.randrange(len(words) - k)
                queries.append((k, " ".join(words[i:i + k])))
        path = "/" + folder.split("/", 3)[3]
        plone = requests.Session()
        plone.auth = (args.plone_user, args.plone_pw)
        plone.headers["Accept"] = "application/json"
        repo = requests.Session()
        repo.headers["Authorization"] = f"Bearer {key}"

        def ask_plone(q: str) -> tuple[float, int]:
            t = time.perf_counter()
            r = plone.get(f"{args.plone}/@search",
                          params={"SearchableText": q, "b_size": 20, "path": path})
            dt = (time.perf_counter() - t) * 1000
            r.raise_for_status()
            return dt, r.json()["items_total"]

        def asker(base: str):  # noqa: ANN202
            def ask(q: str) -> tuple[float, int]:
                t = time.perf_counter()
                r = repo.get(f"{base}/api/v1/search", params={"q": q, "page_size": 20})
                dt = (time.perf_counter() - t) * 1000
                r.raise_for_status()
                return dt, r.json()["total"]
            return ask

        targets = [("plone", ask_plone)] + [(f"repo-{name}", asker(s.base))
                                            for name, s in servers]
        for _, q in queries[:30]:  # warm both
            for _, ask in targets:
                ask(q)
        lat: dict[str, dict[int, list[float]]] = {n: {1: [], 2: [], 3: []} for n, _ in targets}
        totals: dict[str, list[int]] = {n: [] for n, _ in targets}
        for i, (k, q) in enumerate(queries):
            order = targets if i % 2 == 0 else targets[::-1]
            for name, ask in order:
                dt, total = ask(q)
                lat[name][k].append(dt)
                totals[name].append(total)
        result = {"n": args.n, "queries": len(queries), "plone_folder": folder,
                  "load_average": os.getloadavg(), "targets": {}}
        for name, _ in targets:
            every = [x for k in (1, 2, 3) for x in lat[name][k]]
            result["targets"][name] = {
                "all": summary(every), **{f"{k}_word": summary(lat[name][k]) for k in (1, 2, 3)},
                "median_hits": statistics.median(totals[name])}
        print(json.dumps(result, indent=2, ensure_ascii=False))
        if args.out:
            args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    finally:
        for _, s in servers:
            s.stop()


if __name__ == "__main__":
    main()
