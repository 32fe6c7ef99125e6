"""In-process sections of scripts/bench.py: retention (issue 4), audit (issue 5), search (issue 3).

These sections do not go through HTTP: they call the service layer (or the search backend)
directly, each over its own fresh temporary instance made with `repo-server init`, with the
production defaults (fsync on, SQLite synchronous=FULL) unless `--server-env` says otherwise.
Each returns (rows, data) like bench.section_core and reports the CPU that other processes
used during its timed parts ("other CPU load", the same noise measure as the core section).

Imported by bench.py (which registers itself as the module `bench` first, so the helpers below
are the very same objects as in the script).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import importlib.util
import json
import os
import random
import statistics
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import (
    CLK_TCK,
    REPO,
    Bench,
    BenchError,
    Row,
    Server,
    at_least,
    at_most,
    percentile,
    system_cpu,
)

NOISE_OK = 0.15  # cores used by others below which a run counts as quiet (as in `core`)
SCRUBBED_ENV = ("REPO_FSYNC", "REPO_SQLITE_SYNCHRONOUS", "REPO_DATABASE_URL", "DATABASE_URL",
                "REPO_STORAGE_ROOT", "REPO_STORAGE_TMP", "REPO_INDEX_DIR", "REPO_CODES_DIR",
                "REPO_INSTANCE_PATH", "XSYNC")


# ============================================================================ helpers


class CpuWatch:
    """Wall time of a block and the cores other processes used meanwhile (noise).

    other = (machine busy ticks - this process's CPU, threads and waited children included)
            / wall. Kernel threads working for us (jbd2 flushing our fsyncs) count as other.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.wall = 0.0
        self.other_cores: float | None = None
        self.own_cpu = 0.0

    def __enter__(self) -> CpuWatch:
        self._sys = system_cpu()
        self._own = _own_cpu()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t0
        after = system_cpu()
        self.own_cpu = _own_cpu() - self._own
        busy = sum(after[k] - self._sys[k] for k in after if k not in ("idle", "iowait"))
        if self.wall > 0.2:  # /proc/stat counts in 10 ms ticks: too coarse for short blocks
            self.other_cores = round(max(0.0, busy / CLK_TCK - self.own_cpu) / self.wall, 2)

    def summary(self) -> dict[str, Any]:
        return {"label": self.label, "wall_s": round(self.wall, 3),
                "own_cpu_s": round(self.own_cpu, 3), "other_cpu_cores": self.other_cores}


class Stopwatch:
    """Accumulates the time spent in wrapped callables (by name)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, fn):  # noqa: ANN001, ANN201
        def timed(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t
                self.calls[name] = self.calls.get(name, 0) + 1
        return timed

    def summary(self) -> dict[str, Any]:
        return {k: {"s": round(v, 3), "calls": self.calls[k]} for k, v in self.seconds.items()}


class TimedBackend:
    """The search backend, with its delete calls timed (the rest passed through)."""

    def __init__(self, backend, watch: Stopwatch) -> None:  # noqa: ANN001
        self._backend = backend
        self.delete = watch.wrap("index delete", backend.delete)
        self.delete_dossier = watch.wrap("index delete", backend.delete_dossier)
        self.upsert = watch.wrap("index upsert", backend.upsert)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def quiet(bench: Bench) -> None:
    """--wait-quiet: before a timed block, wait for other processes to leave the CPUs."""
    if bench.args.wait_quiet > 0:
        sys.modules["bench"].wait_for_quiet(bench.args.wait_quiet)  # defined after the import


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def noise_row(section: str, watches: list[CpuWatch]) -> Row:
    other = [w.other_cores for w in watches if w.other_cores is not None]
    worst = max(other, default=None)
    return Row(f"{section}: other CPU load during timed parts (max; noise)", worst, "cores",
               "~0", None if worst is None else worst < NOISE_OK)


def use_source(bench: Bench) -> None:
    """Import repo_server from --source (the tree the server runs) rather than the venv's."""
    source = str(Path(bench.args.source).resolve())
    if Path(source) != REPO and source not in sys.path:
        sys.path.insert(0, source)


def new_instance(bench: Bench, name: str) -> Path:
    """A fresh instance folder (inside the run's temporary folder), set up by `repo-server
    init` exactly as the server's."""
    path = bench.server.instance / name
    path.mkdir(parents=True)
    Server(path, 0, source=Path(bench.args.source).resolve(),
           extra_env=bench.args.server_env).init()
    return path


@contextlib.contextmanager
def _production_environ(extra: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.pop(k) for k in SCRUBBED_ENV if k in os.environ}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k in extra:
            os.environ.pop(k, None)
        os.environ.update(saved)


def open_env(bench: Bench, instance: Path):  # noqa: ANN201
    """The service Env of an instance, configured as the server would be."""
    from repo_server import build_env
    from repo_server.config import load_config

    with _production_environ(bench.args.server_env):
        config = load_config(instance, {"INSTANCE_PATH": str(instance)})
    if not bench.args.server_env and (config["FSYNC"] is not True
                                      or str(config["SQLITE_SYNCHRONOUS"]).upper() != "FULL"):
        raise BenchError(f"{instance}: not the production settings (FSYNC={config['FSYNC']}, "
                         f"SQLITE_SYNCHRONOUS={config['SQLITE_SYNCHRONOUS']})")
    return build_env(config)


def actors():  # noqa: ANN201
    from repo_server.services.context import Actor

    admin = Actor(name="bench", roles=("admin",), conditional=True, clearance=True)
    council = [Actor(name=f"bench-appraiser-{i}", roles=("appraiser",), conditional=True,
                     clearance=True) for i in (1, 2, 3)]
    head = Actor(name="bench-head", roles=("head",), conditional=True, clearance=True)
    return admin, council, head


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def lat_stats(values: list[float]) -> dict[str, float | None]:
    s = sorted(values)
    return {"n": len(s), "median_ms": ms(statistics.median(s)) if s else None,
            "p95_ms": ms(percentile(s, 95)), "max_ms": ms(s[-1] if s else None),
            "mean_ms": ms(statistics.fmean(s)) if s else None}


def progress(msg: str) -> None:
    print(msg, flush=True)


# ============================================================================ retention


def _build_catalog(env, n: int, due_share: float, held_share: float, n_fonds: int,  # noqa: ANN001
                   day: dt.date, docs_per_due: int = 0) -> dict[str, Any]:
    """Fonds, dossiers and holds straight into the catalog with Core bulk inserts (and, with
    docs_per_due, that many document rows in each due dossier: the sweep queues them for
    reindexing)."""
    from sqlalchemy import insert

    from repo_server.catalog import Document, Dossier, Fonds, Hold, HoldItem

    now = dt.datetime.now(dt.UTC)
    fonds_codes = [f"000.00.{i:02d}.H49" for i in range(n_fonds)]
    fonds_rows = [{"id": f"f0000000-0000-4000-8000-{i:012d}", "code": code,
                   "name": f"Ủy ban nhân dân phường {i + 1}", "status": "open",
                   "meta": {"code": code, "name": f"Ủy ban nhân dân phường {i + 1}",
                            "status": "open"},
                   "head_version": 1, "created_at": now, "updated_at": now}
                  for i, code in enumerate(fonds_codes)]
    every = round(1 / due_share) if due_share > 0 else 0
    past_end = dt.date(day.year - 12, 6, 30)       # 10 years (code 06): due day.year - 1
    future_end = dt.date(day.year - 1, 12, 31)     # due day.year + 10
    past_due = dt.date(past_end.year + 11, 1, 1)
    future_due = dt.date(future_end.year + 11, 1, 1)
    assert past_due <= day < future_due
    due_ids: list[str] = []
    rng = random.Random(3)
    serial: dict[tuple[str, int], int] = {}

    def rows(start: int, stop: int) -> list[dict[str, Any]]:
        out = []
        for i in range(start, stop):
            due = every and i % every == 0
            fonds = fonds_codes[rng.randrange(n_fonds)]
            end = past_end if due else future_end
            key = (fonds, end.year)
            serial[key] = serial.get(key, 0) + 1
            number = serial[key]
            did = f"d0000000-0000-4000-8000-{i:012d}"
            if due:
                due_ids.append(did)
            title = (f"Hồ sơ giải quyết thủ tục hành chính về đất đai năm {end.year}, "
                     f"tập {number}")
            file_code = f"{fonds}.{end.year}.{number:05d}"
            archive_code = f"{fonds}.LT.{end.year + 1}.{number:06d}"
            meta = {"fonds_code": fonds, "file_code": file_code, "title": title,
                    "retention": "06", "access_mode": "01", "languages": ["01"],
                    "start_date": dt.date(end.year, 1, 2).isoformat(),
                    "end_date": end.isoformat(), "archive_code": archive_code}
            out.append({
                "id": did, "fonds_code": fonds, "file_code": file_code, "title": title,
                "state": "archived", "year": end.year, "start_date": dt.date(end.year, 1, 2),
                "end_date": end, "retention": "06", "retention_years": None,
                "access_mode": "01", "external_ref": None, "retention_rule": None,
                "retention_due_on": past_due if due else future_due,
                "archive_code": archive_code, "archived_on": dt.date(end.year + 1, 3, 1),
                "doc_total": docs_per_due if due else 0, "doc_seq": docs_per_due if due else 0,
                "meta": meta, "head_version": 3, "created_at": now, "updated_at": now})
        return out

    def doc_rows(dossiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for d in dossiers:
            if d["retention_due_on"] != past_due:
                continue
            for j in range(1, docs_per_due + 1):
                subject = f"Quyết định giao đất cho hộ gia đình, văn bản {j}"
                out.append({
                    "id": f"c{j:07d}-0000-4000-8000-{d['id'][-12:]}", "dossier_id": d["id"],
                    "fonds_code": d["fonds_code"], "doc_code": f"{d['file_code']}.{j:07d}",
                    "serial": j, "type_code": "01", "direction": None, "code_number": str(j),
                    "code_notation": "QĐ-UBND", "organ_name": None,
                    "issued_date": d["start_date"], "subject": subject, "access_mode": "01",
                    "text_status": "done", "text_reason": None,
                    "meta": {"subject": subject, "type_code": "01"}, "head_version": 1,
                    "created_at": now, "updated_at": now})
        return out

    t0 = time.perf_counter()
    with env.db.engine.begin() as conn:
        conn.execute(insert(Fonds.__table__), fonds_rows)
        n_docs = 0
        for start in range(0, n, 10_000):
            chunk = rows(start, min(n, start + 10_000))
            conn.execute(insert(Dossier.__table__), chunk)
            if docs_per_due:
                docs = doc_rows(chunk)
                conn.execute(insert(Document.__table__), docs)
                n_docs += len(docs)
        held_every = round(1 / held_share) if held_share > 0 else 0
        held = due_ids[::held_every] if held_every else []
        holds = []
        for h in range(0, len(held), 25):  # 25 dossiers per hold (a court case, an inspection)
            hold_id = f"a0000000-0000-4000-8000-{h:012d}"
            holds.append(hold_id)
            conn.execute(insert(Hold.__table__), [{
                "id": hold_id, "reason": "Thanh tra việc cấp giấy chứng nhận quyền sử dụng đất",
                "authority_ref": f"Quyết định thanh tra số {h + 1}/QĐ-TTr", "created_by": "bench",
                "created_at": now}])
            conn.execute(insert(HoldItem.__table__), [
                {"hold_id": hold_id, "dossier_id": d, "added_by": "bench", "added_at": now}
                for d in held[h:h + 25]])
    insert_s = time.perf_counter() - t0
    with env.db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"dossiers": n, "due": len(due_ids), "held": len(held), "holds": len(holds),
            "documents": n_docs,
            "fonds": n_fonds, "insert_s": round(insert_s, 2),
            "build_s": round(time.perf_counter() - t0, 2),
            "due_on_past": past_due.isoformat(), "due_on_future": future_due.isoformat()}


def _make_review_dossiers(env, n: int, admin) -> list[str]:  # noqa: ANN001
    """n archived dossiers, each with one small document, through the service layer."""
    from repo_server.services import documents, dossiers, fonds, lifecycle
    from repo_server.services.documents import IncomingFile

    code = "000.00.00.H49"
    fonds.create_fonds(env, admin, {"code": code, "name": "Ủy ban nhân dân phường An Cựu"})
    body = ("Biên bản họp xét duyệt hồ sơ đề nghị hỗ trợ. " * 40).encode()
    ids = []
    t0 = time.perf_counter()
    for i in range(n):
        d = dossiers.create_dossier(env, admin, {
            "fonds_code": code, "retention": "06", "start_date": dt.date(2025, 3, 1),
            "title": f"Hồ sơ hỗ trợ hộ kinh doanh bị ảnh hưởng bởi thiên tai, tập {i + 1}"})
        staged = env.store.stage_bytes(body + f" ({i + 1})".encode())
        documents.create_document(env, admin, d["id"], {
            "type_code": "02", "subject": f"Biên bản họp xét duyệt số {i + 1}",
            "code_number": str(i + 1), "code_notation": "BB-UBND"},
            [IncomingFile(name="bien-ban.txt", media_type="text/plain", staged=staged)])
        c = lifecycle.close_dossier(env, admin, d["id"], end_date=None, note=None,
                                    expected_version=d["version"])
        lifecycle.archive_dossier(env, admin, d["id"], handed_over_by="Văn thư cơ quan",
                                  received_by=None, handed_over_on=None, note=None,
                                  expected_version=c["version"])
        ids.append(d["id"])
        if (i + 1) % 200 == 0:
            rate = (i + 1) / (time.perf_counter() - t0)
            progress(f"  {i + 1:,}/{n:,} dossiers archived ({rate:.1f}/s)")
    return ids


def section_retention(bench: Bench) -> tuple[list[Row], dict[str, Any]]:
    use_source(bench)
    from sqlalchemy import func, select

    import repo_server.jobs  # noqa: F401 - the job registry (approve_review requests a run)
    from repo_server.catalog import Dossier, Tombstone
    from repo_server.services import audit, destruction, disposal, disposal_execution, holds
    from repo_server.services.indexing import iter_all_records

    args = bench.args
    rows: list[Row] = []
    watches: list[CpuWatch] = []
    out: dict[str, Any] = {}

    # -- 1. the sweep over a large catalog -------------------------------------------------
    n = args.retention_dossiers
    progress(f"retention: catalog of {n:,} dossiers ({args.retention_due:.0%} due) ...")
    inst = new_instance(bench, "retention-catalog")
    env = open_env(bench, inst)
    day = disposal.today(env)
    cat = _build_catalog(env, n, args.retention_due, args.retention_held, args.retention_fonds,
                         day)
    env.db.dispose()
    out["catalog"] = cat
    progress(f"  built in {cat['build_s']} s: {cat}")
    env = open_env(bench, inst)  # a fresh process-like start: new engine, empty caches
    gc.collect()
    quiet(bench)
    with CpuWatch("sweep") as w:
        swept = disposal.retention_sweep(env)
    watches.append(w)
    out["sweep"] = {**w.summary(), "result": {**swept, "reviews": len(swept["reviews"])}}
    progress(f"  sweep: {w.wall:.2f} s -> due {swept['due']}, held {swept['held']}, "
             f"listed {swept['listed']} in {len(swept['reviews'])} review(s)")
    with CpuWatch("sweep again") as w2:
        again = disposal.retention_sweep(env)
    watches.append(w2)
    out["sweep_again"] = {**w2.summary(), "result": {**again, "reviews": len(again["reviews"])}}
    expected = cat["due"] - cat["held"]
    rows.append(Row(f"retention: catalog, {n:,} dossiers / {cat['due']:,} due / "
                    f"{cat['held']} held (Core insert)", cat["build_s"], "s"))
    rows.append(at_most(f"retention: sweep over {n:,} dossiers", round(w.wall, 2), 5, "s"))
    rows.append(Row("retention: sweep listed the due, unheld ones", swept["listed"], "",
                    f"= {expected:,}", swept["listed"] == expected and swept["held"] ==
                    cat["held"] and len(swept["reviews"]) == min(cat["fonds"], cat["due"])))
    rows.append(Row("retention: sweep again (nothing new to list)", round(w2.wall, 2), "s",
                    "= 0 listed", again["listed"] == 0))
    env.db.dispose()

    # -- 1b. the same, with documents in the due dossiers (the sweep queues them) ------------
    k = args.retention_docs
    if k:
        progress(f"retention: the same catalog with {k} documents in each due dossier ...")
        inst_b = new_instance(bench, "retention-catalog-docs")
        env = open_env(bench, inst_b)
        cat_b = _build_catalog(env, n, args.retention_due, args.retention_held,
                               args.retention_fonds, day, docs_per_due=k)
        env.db.dispose()
        env = open_env(bench, inst_b)
        gc.collect()
        quiet(bench)
        with CpuWatch("sweep with documents") as wd:
            swept_b = disposal.retention_sweep(env)
        watches.append(wd)
        out["sweep_with_documents"] = {**wd.summary(), "catalog": cat_b,
                                       "result": {**swept_b, "reviews": len(swept_b["reviews"])}}
        progress(f"  sweep: {wd.wall:.2f} s -> listed {swept_b['listed']}, "
                 f"{cat_b['documents']:,} documents in the catalog")
        rows.append(at_most(f"retention: sweep, {n:,} dossiers + {cat_b['documents']:,} "
                            f"documents ({k} per due dossier)", round(wd.wall, 2), 5, "s"))
        env.db.dispose()

    # -- 2. executing a review of real dossiers --------------------------------------------
    m = args.review_dossiers
    admin, council, head = actors()
    progress(f"retention: {m:,} archived dossiers with one document each (service layer) ...")
    inst2 = new_instance(bench, "retention-review")
    env = open_env(bench, inst2)
    with CpuWatch("create review dossiers") as wc:
        ids = _make_review_dossiers(env, m, admin)
    out["create"] = {**wc.summary(), "dossiers": m,
                     "dossiers_per_s": round(m / wc.wall, 1)}
    rows.append(Row(f"retention: create+document+close+archive {m:,} dossiers",
                    round(m / wc.wall, 1), "dossiers/s"))

    backend = None
    if args.review_backend == "whoosh":
        from repo_server.services.search import open_writer

        backend = open_writer(env)
        with CpuWatch("index") as wi:
            count = 0
            with backend.bulk() as writer:
                for record in iter_all_records(env):
                    writer.add(record)
                    count += 1
        out["index"] = {**wi.summary(), "records": count}
        progress(f"  indexed {count:,} records in {wi.wall:.1f} s")

    far = dt.datetime(2045, 1, 2, 3, 0, tzinfo=dt.UTC)
    env.clock = lambda: far
    rng = random.Random(4)
    keep = set(rng.sample(ids, max(0, m // 100)))  # 1 % kept with a new retention
    hold_later = set(rng.sample([d for d in ids if d not in keep], max(0, m // 100)))
    with CpuWatch("review sweep") as ws:
        swept2 = disposal.retention_sweep(env)
    if swept2["listed"] != m or len(swept2["reviews"]) != 1:
        raise BenchError(f"the sweep listed {swept2['listed']} of {m} dossiers: {swept2}")
    review_id = swept2["reviews"][0]
    t_op = []
    for member in council:
        opinions = [{"dossier_id": d, "opinion": "keep", "retention": "04",
                     "reason": "Còn giá trị tra cứu cho các vụ việc đang giải quyết"}
                    if d in keep else {"dossier_id": d, "opinion": "destroy"} for d in ids]
        t0 = time.perf_counter()
        disposal.record_opinions(env, member, review_id, opinions)
        t_op.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    disposal.approve_review(env, head, review_id, "Quyết định số 15/QĐ-UBND ngày 02/01/2045")
    t_approve = time.perf_counter() - t0
    if hold_later:
        holds.create_hold(env, admin, "Khiếu nại đang giải quyết", "Công văn số 7/TTr",
                          sorted(hold_later))
    out["review"] = {"sweep_s": round(ws.wall, 3), "opinions_s": [round(t, 3) for t in t_op],
                     "approve_s": round(t_approve, 3), "kept": len(keep),
                     "held_after_approval": len(hold_later)}

    watch = Stopwatch()
    original_write_record = destruction.write_record
    original_purge = env.store.purge
    destruction.write_record = watch.wrap("destruction record", original_write_record)
    env.store.purge = watch.wrap("storage purge", original_purge)  # this instance only
    timed_backend = TimedBackend(backend, watch) if backend is not None else None
    gc.collect()
    progress(f"  executing the review ({m:,} dossiers, backend "
             f"{'whoosh' if backend else 'none'}) ...")
    quiet(bench)
    try:
        with CpuWatch("execute_approved") as we:
            executed = disposal_execution.execute_approved(env, timed_backend)
    finally:
        destruction.write_record = original_write_record
        del env.store.purge
    watches.append(we)
    rate = m / we.wall
    destroyed = m - len(keep) - len(hold_later)
    with env.db.read() as session:
        left = session.scalar(select(func.count()).select_from(Dossier))
        tombs = session.scalar(select(func.count()).select_from(Tombstone))
    from repo_server.services.records import object_id

    gone = [d for d in ids if d not in keep and d not in hold_later]
    leftover_objects = sum(1 for d in gone if env.store.exists(object_id(d)))
    indexed = None
    if backend is not None:
        from repo_server.search.backend import SearchRequest

        if hasattr(backend, "refresh"):
            backend.refresh()
        indexed = {kind: backend.search(SearchRequest(kind=kind, page_size=1, facets=False,
                                                      snippets=False)).total
                   for kind in ("dossier", "document")}
    with CpuWatch("audit verify") as wv:
        chain = audit.verify(env)
    out["execute"] = {**we.summary(), "result": executed, "dossiers_per_s": round(rate, 1),
                      "breakdown": watch.summary(),
                      "dossiers_left": left, "tombstones": tombs,
                      "objects_left_of_destroyed": leftover_objects,
                      "index_left": indexed,
                      "audit_chain": chain, "audit_verify_s": round(wv.wall, 2)}
    progress(f"  executed in {we.wall:.1f} s ({rate:.1f} dossiers/s): {executed}")
    rows.append(Row(f"retention: sweep+3 opinions+approve, {m:,} dossiers",
                    round(ws.wall + sum(t_op) + t_approve, 2), "s"))
    rows.append(Row(f"retention: execute_approved, {m:,} dossiers "
                    f"(backend {'whoosh' if backend else 'none'})", round(we.wall, 1), "s"))
    rows.append(Row("retention: execute_approved rate", round(rate, 1), "dossiers/s"))
    for name in ("storage purge", "index delete", "destruction record"):
        if name in watch.seconds:
            rows.append(Row(f"  of which {name} ({watch.calls[name]:,} calls)",
                            round(watch.seconds[name], 2), "s"))
    rows.append(Row("  of which the rest (catalog transactions, holds, audit)",
                    round(we.wall - sum(watch.seconds.values()), 2), "s"))
    ok = (executed.get("destroyed", 0) == destroyed and executed.get("kept", 0) == len(keep)
          and executed.get("skipped", 0) == len(hold_later) and tombs == destroyed
          and left == m - destroyed and not leftover_objects and chain.get("ok"))
    try:
        record = json.loads(destruction.read_record(env, review_id, admin)[0])
    except Exception as exc:  # noqa: BLE001
        record = {"pdf": None, "pdf_missing_reason": f"read_record failed: {exc!r}"}
    out["execute"]["record_pdf"] = record.get("pdf")
    out["execute"]["record_pdf_missing_reason"] = record.get("pdf_missing_reason")
    rows.append(Row("retention: destruction record has its PDF (1 = yes)",
                    1 if record.get("pdf") else 0, "", "= 1", bool(record.get("pdf"))))
    rows.append(Row("retention: destroyed / kept / skipped (held)",
                    executed.get("destroyed", 0), "",
                    f"= {destroyed}/{len(keep)}/{len(hold_later)}", ok))
    if indexed is not None:
        left_ok = indexed == {"dossier": m - destroyed, "document": m - destroyed}
        rows.append(Row("retention: index records left (dossiers + documents)",
                        indexed["dossier"] + indexed["document"], "",
                        f"= {2 * (m - destroyed)}", left_ok))
    if backend is not None and hasattr(backend, "close"):
        backend.close()
    env.db.dispose()
    rows.append(noise_row("retention", watches))
    out["cpu_watches"] = [w.summary() for w in watches]
    return rows, out


# ============================================================================ audit


def section_audit(bench: Bench) -> tuple[list[Row], dict[str, Any]]:
    use_source(bench)

    from repo_server.catalog import AuditHead
    from repo_server.services import audit, dossiers, fonds

    args = bench.args
    rows: list[Row] = []
    watches: list[CpuWatch] = []
    out: dict[str, Any] = {}
    admin, _, _ = actors()
    inst = new_instance(bench, "audit")
    env = open_env(bench, inst)
    out["settings"] = {"FSYNC": env.config["FSYNC"],
                       "SQLITE_SYNCHRONOUS": env.config["SQLITE_SYNCHRONOUS"]}

    # -- 1. a write with and without its audit event, interleaved -------------------------
    n = args.audit_writes
    n_dossiers = 60
    code = "000.00.00.H49"
    fonds.create_fonds(env, admin, {"code": code, "name": "Ủy ban nhân dân phường An Cựu"})
    progress(f"audit: {n_dossiers} dossiers, then {n:,} updates with and {n:,} without the "
             "audit event (interleaved) ...")
    versions: dict[str, int] = {}
    for i in range(n_dossiers):
        d = dossiers.create_dossier(env, admin, {
            "fonds_code": code, "retention": "05", "start_date": dt.date(2025, 7, 15),
            "title": f"Hồ sơ kế hoạch chuyển đổi số năm 2025, tập {i + 1}"})
        versions[d["id"]] = d["version"]
    order = list(versions)
    original = audit.log_in
    inner: list[float] = []

    def timed_log_in(*a: Any, **kw: Any) -> None:
        a[0].flush()  # the write's own pending changes: flushed at commit anyway; not audit's
        t = time.perf_counter()
        try:
            original(*a, **kw)
        finally:
            inner.append(time.perf_counter() - t)

    def no_log_in(*a: Any, **kw: Any) -> None:
        return None

    k = 0

    def one_write(with_audit: bool) -> float:
        nonlocal k
        did = order[k % len(order)]
        k += 1
        audit.log_in = timed_log_in if with_audit else no_log_in
        try:
            t0 = time.perf_counter()
            d = dossiers.update_dossier(env, admin, did, {
                "title": f"Hồ sơ kế hoạch chuyển đổi số năm 2025 (đính chính lần {k})"},
                expected_version=versions[did])
            elapsed = time.perf_counter() - t0
        finally:
            audit.log_in = original
        versions[did] = d["version"]
        return elapsed

    for i in range(20):  # warm-up (caches, first versions), not counted
        one_write(i % 2 == 0)
    inner.clear()
    with_audit: list[float] = []
    without: list[float] = []
    pairs: list[float] = []
    gc.collect()
    quiet(bench)
    with CpuWatch("A/B writes") as w:
        for i in range(n):
            if i % 2 == 0:  # ABAB... with the order flipped every pair: AB BA AB BA
                a = one_write(True)
                b = one_write(False)
            else:
                b = one_write(False)
                a = one_write(True)
            with_audit.append(a)
            without.append(b)
            pairs.append(a - b)
            if (i + 1) % 100 == 0:
                progress(f"  {i + 1}/{n} pairs")
    watches.append(w)
    audit.log_in = original
    med_a, med_b = statistics.median(with_audit), statistics.median(without)
    diff = med_a - med_b
    # a rough 95 % interval of the difference of medians (bootstrap over the pairs)
    rng = random.Random(5)
    boots = []
    idx = range(n)
    for _ in range(1000):
        sample = [rng.choice(idx) for _ in idx]
        boots.append(statistics.median(with_audit[j] for j in sample)
                     - statistics.median(without[j] for j in sample))
    boots.sort()
    ci = (boots[24], boots[974])
    out["writes"] = {"write": "services.dossiers.update_dossier (one new OCFL version of a "
                              "dossier object + its catalog transaction)",
                     "pairs": n, "dossiers": n_dossiers, "with_audit": lat_stats(with_audit),
                     "without_audit": lat_stats(without),
                     "median_difference_ms": ms(diff),
                     "median_difference_ci95_ms": [ms(ci[0]), ms(ci[1])],
                     "median_of_paired_differences_ms": ms(statistics.median(pairs)),
                     "log_in_call": lat_stats(inner), **w.summary()}
    progress(f"  median {med_a * 1000:.2f} ms with, {med_b * 1000:.2f} ms without "
             f"(difference {diff * 1000:+.2f} ms, 95 % CI {ci[0] * 1000:+.2f} .. "
             f"{ci[1] * 1000:+.2f})")
    rows.append(Row(f"audit: update_dossier median, with audit event ({n} writes)",
                    ms(med_a), "ms"))
    rows.append(Row(f"audit: update_dossier median, audit disabled ({n} writes)",
                    ms(med_b), "ms"))
    rows.append(at_most("audit: difference of the medians", ms(diff), 1, "ms"))
    rows.append(Row("  its 95 % CI (bootstrap over the pairs): upper bound", ms(ci[1]), "ms",
                    f"lower {ms(ci[0]):+.2f} ms"))
    rows.append(Row("  median of the paired differences (B next to A)",
                    ms(statistics.median(pairs)), "ms"))
    rows.append(Row("audit: p95 with / without", ms(percentile(sorted(with_audit), 95)), "ms",
                    f"vs {ms(percentile(sorted(without), 95)):.2f} ms"))
    rows.append(Row("audit: log_in call inside the transaction, median",
                    round(statistics.median(inner) * 1e6) if inner else None, "µs"))

    # -- 2. buffered request events ------------------------------------------------------
    n_ev = args.audit_events
    progress(f"audit: {n_ev:,} buffered read events (Buffer.add + background flush) ...")
    with env.db.read() as session:
        head = session.get(AuditHead, 1)
        base_seq = head.seq if head else 0
    flushes: list[tuple[int, float, float]] = []  # (events, seconds, finished at)

    class TimedBuffer(audit.Buffer):
        # Timed per written batch: a flush that starts with 500 events also writes what is
        # added while it runs, so counting at the start of flush() would undercount.
        def _write(self, events: list[dict[str, Any]]) -> bool:
            t = time.perf_counter()
            ok = super()._write(events)
            end = time.perf_counter()
            if ok:
                flushes.append((len(events), end - t, end))
            return ok

    buf = TimedBuffer(env)
    quiet(bench)
    targets = list(versions)
    events_made: list[float] = []
    add_times: list[float] = []
    done_at = None
    with CpuWatch("buffered events") as wb:
        t_first = time.perf_counter()
        for i in range(n_ev):
            t0 = time.perf_counter()
            ev = audit.make_event(env, admin, "dossier.read", targets[i % len(targets)], "ok",
                                  {"method": "GET", "path": f"/api/v1/dossiers/"
                                   f"{targets[i % len(targets)]}", "status": 200})
            t1 = time.perf_counter()
            buf.add(ev)
            t2 = time.perf_counter()
            events_made.append(t1 - t0)
            add_times.append(t2 - t1)
        t_added = time.perf_counter()
        deadline = t_added + 300
        while time.perf_counter() < deadline:
            done = list(flushes)
            if sum(f[0] for f in done) >= n_ev:
                done_at = done[-1][2]
                break
            time.sleep(0.01)
    watches.append(wb)
    if done_at is None:
        raise BenchError(f"the audit buffer did not write {n_ev} events within 300 s")
    with env.db.read() as session:
        head = session.get(AuditHead, 1)
        written = (head.seq if head else 0) - base_seq
    finished = done  # the flushes up to the last of our events
    produce_rate = n_ev / (t_added - t_first)
    drain = done_at - t_first
    flushed_rate = n_ev / drain
    flush_busy = sum(f[1] for f in finished)
    biggest = max(finished, default=(0, 0.0, 0.0))
    longest = max(finished, key=lambda f: f[1], default=(0, 0.0, 0.0))
    with CpuWatch("verify") as wv:
        chain = audit.verify(env)
    out["buffer"] = {"events": n_ev, "written": written, "interval_s": buf.interval,
                     "make_event": lat_stats(events_made), "add": lat_stats(add_times),
                     "produced_per_s": round(produce_rate), "flushed_per_s": round(flushed_rate),
                     "batches_written": len(finished),
                     "flush_busy_s": round(flush_busy, 3),
                     "events_per_s_while_flushing": round(n_ev / flush_busy) if flush_busy
                     else None,
                     "largest_flush": {"events": biggest[0], "s": round(biggest[1], 3)},
                     "longest_flush": {"events": longest[0], "s": round(longest[1], 3)},
                     "verify": chain, "verify_s": round(wv.wall, 2), **wb.summary()}
    progress(f"  add {statistics.median(add_times) * 1e6:.1f} µs median; flushed "
             f"{flushed_rate:,.0f} events/s in {len(finished)} batches; chain {chain}")
    rows.append(Row("audit: read event, make_event + Buffer.add, median",
                    round(statistics.median(m + a for m, a in zip(events_made, add_times,
                                                                   strict=True)) * 1e6, 1),
                    "µs"))
    rows.append(Row("audit: Buffer.add alone, median / p99",
                    round(statistics.median(add_times) * 1e6, 1), "µs",
                    f"p99 {percentile(sorted(add_times), 99) * 1e6:.0f} µs"))
    rows.append(Row(f"audit: buffered events flushed ({n_ev:,} added at once)",
                    round(flushed_rate), "events/s"))
    rows.append(Row("audit: background flush throughput (time inside flush)",
                    round(n_ev / flush_busy) if flush_busy else None, "events/s"))
    rows.append(Row("audit: longest flush (holds the write lock)", ms(longest[1]), "ms",
                    f"{longest[0]:,} events"))
    rows.append(Row(f"audit: chain verified ({chain.get('checked', 0):,} events)",
                    round(wv.wall, 2), "s", f"intact, {n_ev:,} written",
                    bool(chain.get("ok")) and written == n_ev))
    env.db.dispose()
    rows.append(noise_row("audit", watches))
    out["cpu_watches"] = [w.summary() for w in watches]
    return rows, out


# ============================================================================ search


def _load_bench_search():  # noqa: ANN202
    path = Path(__file__).resolve().parent / "bench_search.py"
    if not path.is_file():
        raise BenchError(f"{path} does not exist")
    spec = importlib.util.spec_from_file_location("bench_search", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise BenchError(f"{path} has no run(docs, workdir)")
    return module


def section_search(bench: Bench) -> tuple[list[Row], dict[str, Any]]:
    use_source(bench)
    docs = bench.args.search_docs
    out: dict[str, Any] = {"docs": docs}
    rows: list[Row] = []
    workdir = bench.server.instance / "search"
    workdir.mkdir(parents=True, exist_ok=True)
    progress(f"search: scripts/bench_search.py run({docs:,}) ...")
    try:
        module = _load_bench_search()
        with CpuWatch("bench_search.run") as w:
            result = module.run(docs, workdir)
    except Exception as exc:  # noqa: BLE001 - report it in the table, let other sections run
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
        print(out["traceback"], file=sys.stderr, flush=True)
        rows.append(Row(f"search: scripts/bench_search.py run({docs:,}) FAILED: "
                        f"{type(exc).__name__}: {str(exc)[:80]}", None, "", "runs", False))
        return rows, out
    out["result"] = result
    out["cpu"] = w.summary()
    med_t = getattr(module, "TARGET_MEDIAN_MS", 10.0)
    p95_t = getattr(module, "TARGET_P95_MS", 50.0)
    rate_t = getattr(module, "TARGET_DOCS_PER_S", 500.0)
    try:
        build = result["ours_build"]
        rows.append(at_least(f"search: reindex ({build['records']:,} records)",
                             build["records_per_s"], rate_t, "records/s"))
        rows.append(Row("search: index size / open", build.get("size_mb"), "MB",
                        f"open {result.get('ours_open_ms')} ms"))
        for q in result["queries"]:
            rows.append(at_most(f"search [{q['class']}] warm median", q["ours_warm"]["median_ms"],
                                med_t, "ms"))
            rows.append(at_most(f"search [{q['class']}] warm p95", q["ours_warm"]["p95_ms"],
                                p95_t, "ms"))
        queries = result["queries"]
        rows.append(at_most("search: first queries of a fresh reader (after its preload), "
                            "worst median", max(q["ours_preloaded"]["median_ms"]
                                                for q in queries), med_t, "ms"))
        rows.append(at_most("search: first queries of a fresh reader (after its preload), "
                            "worst p95", max(q["ours_preloaded"]["p95_ms"] for q in queries),
                            p95_t, "ms"))
        rows.append(Row("search: cold, nothing decoded yet (no preload): worst median / p95",
                        max(q["ours_cold"]["median_ms"] for q in queries), "ms",
                        f"p95 {max(q['ours_cold']['p95_ms'] for q in queries)} ms"))
        rows.append(at_most("search: worst median, typed without diacritics",
                            max(q["ours_unaccented"]["median_ms"] for q in queries), med_t, "ms"))
        rows.append(at_most("search: worst p95, typed without diacritics",
                            max(q["ours_unaccented"]["p95_ms"] for q in queries), p95_t, "ms"))
        ratios = [q["ratio_median"] for q in queries if "ratio_median" in q]
        ratios95 = [q["ratio_p95"] for q in queries if "ratio_p95" in q]
        if ratios:
            rows.append(Row("search: naive/ours median ratio (min .. median over classes)",
                            min(ratios), "x", f"median {statistics.median(ratios):g}x"))
            rows.append(Row("search: naive/ours p95 ratio (min .. median over classes)",
                            min(ratios95), "x", f"median {statistics.median(ratios95):g}x"))
        if "naive_build" in result:
            rows.append(Row("search: naive index reindex", result["naive_build"]["records_per_s"],
                            "records/s"))
        for name, s in result.get("ours_other", {}).items():
            rows.append(Row(f"search [{name}] median / p95", s["median_ms"], "ms",
                            f"p95 {s['p95_ms']} ms"))
    except (KeyError, TypeError, ValueError) as exc:
        rows.append(Row(f"search: unexpected result of run(): {type(exc).__name__}: {exc}",
                        None, "", "-", False))
    rows.append(noise_row("search", [w]))
    return rows, out


SECTIONS = {"retention": section_retention, "audit": section_audit, "search": section_search}
SERVERLESS = frozenset(SECTIONS)  # these need no gunicorn


def add_arguments(p) -> None:  # noqa: ANN001
    g = p.add_argument_group("in-process sections (retention, audit, search)")
    g.add_argument("--retention-dossiers", type=int, default=100_000,
                   help="dossiers in the swept catalog (default 100000)")
    g.add_argument("--retention-due", type=float, default=0.10,
                   help="share of them past their retention (default 0.10)")
    g.add_argument("--retention-held", type=float, default=0.01,
                   help="share of the due ones under a legal hold (default 0.01)")
    g.add_argument("--retention-fonds", type=int, default=20,
                   help="fonds the catalog is spread over (one review each; default 20)")
    g.add_argument("--retention-docs", type=int, default=20,
                   help="then sweep a second catalog with this many document rows in each due "
                        "dossier (the sweep queues them for reindexing); 0 skips (default 20)")
    g.add_argument("--review-dossiers", type=int, default=1000,
                   help="real dossiers in the executed review (default 1000)")
    g.add_argument("--review-backend", choices=("whoosh", "none"), default="whoosh",
                   help="search index updated by the execution (default whoosh)")
    g.add_argument("--audit-writes", type=int, default=300,
                   help="writes with, and as many without, the audit event (default 300)")
    g.add_argument("--audit-events", type=int, default=20_000,
                   help="buffered read events (default 20000)")
    g.add_argument("--search-docs", type=int, default=100_000,
                   help="documents in the search benchmark corpus (default 100000)")


def check_arguments(p, args) -> None:  # noqa: ANN001
    if not 0 < args.retention_due <= 1 or not 0 <= args.retention_held <= 1:
        p.error("--retention-due must be in (0, 1] and --retention-held in [0, 1]")
    if min(args.retention_dossiers, args.retention_fonds, args.review_dossiers,
           args.audit_writes, args.audit_events, args.search_docs) < 1:
        p.error("the section sizes must be at least 1")
