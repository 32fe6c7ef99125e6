#!/usr/bin/env python3
"""Load test of the production setup on loopback (docs/operations.md, issue 6).

    .venv/bin/python scripts/loadtest.py                      # 60 s, 8 clients, SQLite
    .venv/bin/python scripts/loadtest.py --seconds 20 --clients 4 --json out.json
    DATABASE_URL=postgresql+psycopg://... scripts/loadtest.py  # against PostgreSQL

Starts what production runs: `gunicorn -w 4 wsgi:app` plus exactly one `repo-server worker`,
over a new instance folder made with `repo-server init` (production defaults: fsync on,
SQLite WAL with synchronous=FULL). N client threads then mix, for the given time: dossier
creations, document creations with an uploaded file, metadata updates (If-Match), file
uploads, reads (records and file downloads) and searches. Afterwards every write the server
acknowledged is checked (nothing lost: each record, version, subject and file digest is
there; nothing duplicated: the totals match exactly), the indexer is given time to catch up
and a sample of documents is searched for.

`run(seconds, clients, workdir) -> dict` is importable (tests/ops/test_load.py runs it for a
few seconds in CI); the command line prints the table of the closing note.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FONDS = "000.00.00.H49"
KEY_LINE = "First admin API key (shown once, keep it safe): "
OPS = ("create_dossier", "create_document", "update", "upload", "read", "download", "search")
WEIGHTS = (8, 14, 16, 10, 24, 12, 16)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_instance(instance: Path, env: dict[str, str]) -> str:
    """`repo-server --instance DIR init`; returns the first admin key it prints."""
    out = subprocess.run([str(BIN / "repo-server"), "--instance", str(instance), "init"],
                         env=env, capture_output=True, text=True, check=True, cwd=REPO)
    for line in out.stdout.splitlines():
        if line.startswith(KEY_LINE):
            return line[len(KEY_LINE):].strip()
    raise RuntimeError(f"no admin key in the output of init:\n{out.stdout}\n{out.stderr}")


class Stack:
    """The server processes on one instance: production (gunicorn + worker) or embedded
    (`repo-server serve`, web and worker in one process)."""

    def __init__(self, workdir: Path, *, mode: str = "production", web_workers: int = 4,
                 database_url: str | None = None, extra_env: dict[str, str] | None = None
                 ) -> None:
        self.workdir = Path(workdir)
        self.instance = self.workdir / "instance"
        self.mode = mode
        self.web_workers = web_workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("REPO_") and k != "DATABASE_URL"}
        self.env.update({"REPO_INSTANCE_PATH": str(self.instance), "PYTHONUNBUFFERED": "1"})
        if database_url:
            self.env["REPO_DATABASE_URL"] = database_url
        self.env.update(extra_env or {})
        self.procs: list[subprocess.Popen] = []
        self.key = ""
        self.log = self.workdir / "server.log"
        self.starts = 0

    def init(self) -> str:
        self.instance.mkdir(parents=True, exist_ok=True)
        self.key = init_instance(self.instance, self.env)
        return self.key

    def _spawn(self, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.log, "ab") as log:
            return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    cwd=REPO, start_new_session=True)

    def start(self, timeout: float = 90) -> None:
        self.starts += 1
        if self.mode == "production":
            prom = self.workdir / "prometheus"
            shutil.rmtree(prom, ignore_errors=True)
            prom.mkdir(parents=True)
            env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(prom)}
            self.procs = [
                self._spawn([str(BIN / "gunicorn"), "-w", str(self.web_workers), "--threads",
                             "2", "-b", f"127.0.0.1:{self.port}", "--timeout", "120",
                             "--graceful-timeout", "10", "wsgi:app"], env),
                self._spawn([str(BIN / "repo-server"), "worker"], self.env),
            ]
        else:
            self.procs = [self._spawn([str(BIN / "repo-server"), "serve", "--port",
                                       str(self.port)], self.env)]
        wait_healthy(self.base, self.procs, time.monotonic() + timeout, "server", self.log)

    def kill(self) -> None:
        """SIGKILL every server process (and their children: gunicorn's workers)."""
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.procs:
            p.wait()
        self.procs = []

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []

    def ready(self) -> dict[str, Any]:
        return requests.get(f"{self.base}/health/ready", timeout=10).json()

    def wait_indexed(self, timeout: float = 90) -> float:
        """Wait until the outbox is empty; returns the seconds waited."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            outbox = self.ready().get("outbox") or {}
            if outbox.get("depth") == 0:
                return time.monotonic() - t0
            time.sleep(0.25)
        raise AssertionError(f"the outbox did not drain within {timeout} s: {self.ready()}")


class City:
    """A city's deployment on one machine (docs/city.md, issue 16): ``nodes`` web node groups
    (each its own gunicorn, port, instance folder and caches) and two `repo-server worker`s
    (one active, one standby: the lease), on one PostgreSQL and one shared storage root.

    With the whoosh backend the index is a folder that only the active worker writes; the
    two workers and node A share it (node A answers searches; the other nodes have no
    index). With ``SEARCH_BACKEND=postgresql`` every node searches the catalog database.
    """

    def __init__(self, workdir: Path, database_url: str, *, nodes: int = 2,
                 web_workers: int = 2, search_backend: str | None = None,
                 ports: list[int] | None = None, extra_env: dict[str, str] | None = None
                 ) -> None:
        self.workdir = Path(workdir)
        self.shared = self.workdir / "shared"
        self.search_backend = search_backend or os.environ.get("REPO_SEARCH_BACKEND") \
            or os.environ.get("SEARCH_BACKEND") or "whoosh"
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("REPO_") and k != "DATABASE_URL"}
        base.update({
            "PYTHONUNBUFFERED": "1", "REPO_DATABASE_URL": database_url,
            "REPO_STORAGE_ROOT": str(self.shared / "storage"),
            "REPO_AUDIT_KEY_FILE": str(self.shared / "audit.key"),
            "REPO_SEARCH_BACKEND": self.search_backend,
            "REPO_INDEX_DIR": str(self.shared / "index"),
            "REPO_BACKUP_DIR": str(self.shared / "backups"),
            **(extra_env or {})})
        self.base_env = base
        ports = list(ports or [])
        self.nodes = [Node(self, chr(ord("a") + i), web_workers,
                           ports[i] if i < len(ports) else free_port()) for i in range(nodes)]
        self.workers: list[subprocess.Popen] = []
        self.key = ""
        self.log = self.workdir / "city.log"

    def env_for(self, name: str) -> dict[str, str]:
        instance = self.workdir / name
        instance.mkdir(parents=True, exist_ok=True)
        env = {**self.base_env, "REPO_INSTANCE_PATH": str(instance)}
        if name != "node-a" and not name.startswith("worker") \
                and self.search_backend == "whoosh":
            env["REPO_INDEX_DIR"] = str(instance / "index")  # its own: whoosh is not shared
        return env

    def init(self) -> str:
        self.shared.mkdir(parents=True, exist_ok=True)
        self.key = init_instance(self.workdir / "node-a", self.env_for("node-a"))
        return self.key

    def _spawn(self, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.log, "ab") as log:
            return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    cwd=REPO, start_new_session=True)

    def start_worker(self) -> subprocess.Popen:
        name = f"worker-{len(self.workers) + 1}"
        proc = self._spawn([str(BIN / "repo-server"), "worker"], self.env_for(name))
        self.workers.append(proc)
        return proc

    def start(self, timeout: float = 90) -> None:
        for node in self.nodes:
            node.start()
        self.start_worker()
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.wait_ready(deadline)
        # the standby only once the first holds the lease (so which one is active is known)
        while self.active_worker() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no worker took the lease; see {self.log}")
            time.sleep(0.1)
        self.start_worker()

    def lease(self) -> tuple[str, Any] | None:
        """(holder, expires_at) of the worker lease, from the catalog."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.base_env["REPO_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                row = conn.execute(text("SELECT holder, expires_at FROM leases "
                                        "WHERE name = 'worker'")).first()
        finally:
            engine.dispose()
        return (row[0], row[1]) if row else None

    def active_worker(self) -> subprocess.Popen | None:
        """The worker process holding the lease (holder: `host:pid:…/…`)."""
        lease = self.lease()
        if lease is None:
            return None
        for proc in self.workers:
            if proc.poll() is None and f":{proc.pid}:" in lease[0]:
                return proc
        return None

    def stop(self) -> None:
        procs = [n.proc for n in self.nodes if n.proc is not None] + self.workers
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for n in self.nodes:
            n.proc = None
        self.workers = []


class Node:
    """One web node group: gunicorn on its own port and instance folder."""

    def __init__(self, city: City, letter: str, web_workers: int, port: int) -> None:
        self.city, self.name, self.web_workers, self.port = city, f"node-{letter}", \
            web_workers, port
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = self.city.env_for(self.name)
        prom = self.city.workdir / self.name / "prometheus"
        shutil.rmtree(prom, ignore_errors=True)
        prom.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
        self.proc = self.city._spawn(
            [str(BIN / "gunicorn"), "-w", str(self.web_workers), "--threads", "2", "-b",
             f"127.0.0.1:{self.port}", "--timeout", "120", "--graceful-timeout", "10",
             "wsgi:app"], env)

    def wait_ready(self, deadline: float) -> None:
        wait_healthy(self.base, [self.proc] if self.proc is not None else [], deadline,
                     self.name, self.city.log)


def wait_healthy(base: str, procs: list[subprocess.Popen], deadline: float, name: str,
                 log: Path) -> None:
    """Until `base`/health answers 200; RuntimeError if one of `procs` exits or time runs out."""
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}; see {log}")
        try:
            if requests.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not start in time; see {log}")


def run_clients(clients: list[Any], seconds: float) -> float:
    """Each client's `step()` in a loop of its own thread for `seconds`; the time it took."""
    stop = threading.Event()

    def loop(c: Any) -> None:
        while not stop.is_set():
            c.step()

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in clients]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    return time.monotonic() - t0


def make_pdf(text: str) -> bytes:
    """A small real PDF with a text layer (extracted by the worker)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


@dataclass
class Ledger:
    """What the server acknowledged to one client."""

    dossiers: dict[str, str] = field(default_factory=dict)  # id -> external_ref
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    status_5xx: int = 0
    samples: list[str] = field(default_factory=list)


class Client:
    """One load client: a requests.Session and its own records (so If-Match never conflicts
    between clients: a 412 would be a bug here)."""

    def __init__(self, n: int, base: str, key: str, pdf: bytes, stats: Stats,
                 lock: threading.Lock, run_tag: str) -> None:
        self.n, self.base, self.pdf, self.stats, self.lock = n, base, pdf, stats, lock
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {key}"
        self.ledger = Ledger()
        self.rng = random.Random(n)
        self.tag = run_tag
        self.i = 0

    def _call(self, op: str, method: str, url: str, ok: tuple[int, ...], **kw: Any
              ) -> requests.Response | None:
        t0 = time.perf_counter()
        try:
            r = self.s.request(method, self.base + url, timeout=60, **kw)
        except requests.RequestException as exc:
            with self.lock:
                self.stats.errors[op] += 1
                self.stats.samples.append(f"{op}: {exc}")
            return None
        dt = time.perf_counter() - t0
        with self.lock:
            self.stats.latencies[op].append(dt)
            if r.status_code >= 500:
                self.stats.status_5xx += 1
            if r.status_code not in ok:
                self.stats.errors[op] += 1
                if len(self.stats.samples) < 20:
                    self.stats.samples.append(f"{op} {method} {url}: {r.status_code} "
                                              f"{r.text[:300]}")
                return None
        return r

    def step(self) -> None:
        op = self.rng.choices(OPS, WEIGHTS)[0]
        if op != "create_dossier" and not self.ledger.dossiers:
            op = "create_dossier"
        if op in ("update", "upload", "download") and not self.ledger.documents:
            op = "create_document"
        getattr(self, op)()

    def create_dossier(self) -> None:
        self.i += 1
        ref = f"{self.tag}-{self.n}-{self.i}"
        r = self._call("create_dossier", "POST", "/dossiers", (201,), json={
            "fonds_code": FONDS, "title": f"Hồ sơ cấp phép {ref}", "retention": "05",
            "start_date": "2025-07-15", "external_ref": ref})
        if r is not None:
            self.ledger.dossiers[r.json()["id"]] = ref

    def create_document(self) -> None:
        self.i += 1
        did = self.rng.choice(list(self.ledger.dossiers))
        token = f"lt{uuid.uuid4().hex[:10]}"
        subject = f"Quyết định {token} về việc cấp phép xây dựng"
        if self.rng.random() < 0.5:
            name, body, ctype = "qd.pdf", self.pdf, "application/pdf"
        else:
            name = "qd.txt"
            body = (f"Quyết định {token}. " + "Ủy ban nhân dân phường cấp giấy phép. " * 200
                    ).encode()
            ctype = "text/plain"
        meta = {"type_code": "02", "subject": subject}
        r = self._call("create_document", "POST", f"/dossiers/{did}/documents", (201,),
                       files={"metadata": (None, json.dumps(meta, ensure_ascii=False),
                                           "application/json"),
                              "file": (name, body, ctype)})
        if r is not None:
            doc = r.json()
            self.ledger.documents[doc["id"]] = {
                "dossier_id": did, "subject": subject, "token": token, "client_versions": 1,
                "files": {name: hashlib.sha256(body).hexdigest()}, "etag": r.headers["ETag"]}

    def update(self) -> None:
        doc_id = self.rng.choice(list(self.ledger.documents))
        rec = self.ledger.documents[doc_id]
        subject = f"{rec['subject'].split(' (sửa')[0]} (sửa {self.rng.randrange(10**6)})"
        r = self._call("update", "PATCH", f"/documents/{doc_id}", (200,),
                       json={"subject": subject}, headers={"If-Match": rec["etag"]})
        if r is not None:
            rec.update(subject=subject, etag=r.headers["ETag"])
            rec["client_versions"] += 1

    def upload(self) -> None:
        doc_id = self.rng.choice(list(self.ledger.documents))
        rec = self.ledger.documents[doc_id]
        name = f"phu-luc-{self.rng.randrange(10**6)}.txt"
        body = f"Phụ lục {name} của {rec['token']}\n".encode() * 300
        r = self._call("upload", "POST", f"/documents/{doc_id}/files", (200, 201),
                       params={"name": name}, data=body,
                       headers={"Content-Type": "text/plain",
                                "X-Checksum-SHA256": hashlib.sha256(body).hexdigest()})
        if r is not None:
            rec["files"][name] = hashlib.sha256(body).hexdigest()
            rec["client_versions"] += 1
            if r.headers.get("ETag"):
                rec["etag"] = r.headers["ETag"]
            else:  # the etag of the record after the upload
                rec["etag"] = f'"v{r.json().get("version")}"'

    def read(self) -> None:
        if self.rng.random() < 0.5 and self.ledger.documents:
            self._call("read", "GET", f"/documents/{self.rng.choice(list(self.ledger.documents))}",
                       (200,))
        else:
            self._call("read", "GET", f"/dossiers/{self.rng.choice(list(self.ledger.dossiers))}",
                       (200,))

    def download(self) -> None:
        doc_id = self.rng.choice(list(self.ledger.documents))
        name = self.rng.choice(list(self.ledger.documents[doc_id]["files"]))
        self._call("download", "GET", f"/documents/{doc_id}/files/{name}", (200,))

    def search(self) -> None:
        q = self.rng.choice(["giấy phép xây dựng", "quyết định", "ủy ban nhân dân",
                             "cấp phép", "phụ lục"])
        self._call("search", "GET", "/search", (200,), params={"q": q, "page_size": 10})


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def check_writes(base: str, key: str, clients: list[Client], search_sample: int = 40
                 ) -> dict[str, Any]:
    """Every acknowledged write is there exactly once (nothing lost, nothing duplicated)."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    lost: list[str] = []
    acked_dossiers = {did: ref for c in clients for did, ref in c.ledger.dossiers.items()}
    docs = {doc_id: rec for c in clients for doc_id, rec in c.ledger.documents.items()}
    total = s.get(f"{base}/dossiers", params={"fonds_code": FONDS, "page_size": 1},
                  timeout=60).json()["total"]
    duplicated = total - len(acked_dossiers)
    per_dossier: dict[str, int] = defaultdict(int)
    for rec in docs.values():
        per_dossier[rec["dossier_id"]] += 1
    for did, ref in acked_dossiers.items():
        r = s.get(f"{base}/dossiers/{did}", timeout=60)
        if r.status_code != 200 or r.json().get("external_ref") != ref:
            lost.append(f"dossier {did}")
            continue
        extra = r.json().get("doc_total", 0) - per_dossier.get(did, 0)
        if extra:
            duplicated += extra
    for doc_id, rec in docs.items():
        r = s.get(f"{base}/documents/{doc_id}", timeout=60)
        if r.status_code != 200:
            lost.append(f"document {doc_id}")
            continue
        body = r.json()
        if body["subject"] != rec["subject"]:
            lost.append(f"document {doc_id}: subject {body['subject']!r} != {rec['subject']!r}")
        files = {f["name"]: f["sha256"] for f in body["files"]}
        if files != rec["files"]:
            lost.append(f"document {doc_id}: files differ")
        versions = s.get(f"{base}/documents/{doc_id}/versions", timeout=60).json()
        items = versions["items"] if isinstance(versions, dict) else versions
        mine = [v for v in items if not str(v.get("message", "")).startswith("Extract text")]
        if len(mine) != rec["client_versions"]:
            (lost if len(mine) < rec["client_versions"] else [None]).append(
                f"document {doc_id}: {len(mine)} versions, {rec['client_versions']} acked")
            if len(mine) > rec["client_versions"]:
                duplicated += len(mine) - rec["client_versions"]
    found = 0
    sample = random.Random(0).sample(sorted(docs), min(search_sample, len(docs)))
    for doc_id in sample:
        r = s.get(f"{base}/search", params={"q": docs[doc_id]["token"]}, timeout=60).json()
        found += any(h.get("id") == doc_id for h in r.get("items", []))
    return {"acked_dossiers": len(acked_dossiers), "acked_documents": len(docs),
            "acked_versions": sum(r["client_versions"] for r in docs.values()),
            "lost": len(lost), "lost_detail": lost[:20], "duplicated": duplicated,
            "search_sample": len(sample), "search_found": found}


def run(seconds: float = 60, clients: int = 8, workdir: str | Path | None = None, *,
        web_workers: int = 4, database_url: str | None = None, keep: bool = False
        ) -> dict[str, Any]:
    """Start the stack, load it for `seconds` with `clients` threads, check, stop."""
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="repo-load-")
        workdir = tmp
    workdir = Path(workdir)
    stack = Stack(workdir, web_workers=web_workers,
                  database_url=database_url or os.environ.get("DATABASE_URL"))
    key = stack.init()
    stats, lock = Stats(), threading.Lock()
    try:
        stack.start()
        admin = requests.Session()
        admin.headers["Authorization"] = f"Bearer {key}"
        r = admin.post(f"{stack.base}/fonds", json={"code": FONDS, "name": "UBND phường An Cựu"},
                       timeout=60)
        if r.status_code not in (201, 409):
            raise RuntimeError(f"cannot create the fonds: {r.status_code} {r.text}")
        pdf = make_pdf("Quyet dinh cap giay phep xay dung - Uy ban nhan dan phuong An Cuu. "
                       * 20)
        tag = f"LT{uuid.uuid4().hex[:6]}"
        workers = [Client(n, stack.base, key, pdf, stats, lock, tag) for n in range(clients)]
        elapsed = run_clients(workers, seconds)
        catch_up = stack.wait_indexed(timeout=180)
        checks = check_writes(stack.base, key, workers)
        metrics = requests.get(f"{stack.base}/metrics", timeout=30,
                               headers={"Authorization": f"Bearer {key}"}).text
        ready = stack.ready()
    finally:
        stack.stop()
        if tmp and not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    ops = {}
    total = 0
    for op in OPS:
        lat = stats.latencies.get(op, [])
        total += len(lat)
        ops[op] = {"count": len(lat), "errors": stats.errors.get(op, 0),
                   "rate_per_s": round(len(lat) / elapsed, 2),
                   "p50_ms": round(_pct(lat, 50) * 1000, 1),
                   "p95_ms": round(_pct(lat, 95) * 1000, 1),
                   "p99_ms": round(_pct(lat, 99) * 1000, 1)}
    requests_counted = sum(float(m) for m in re.findall(
        r'^repo_http_requests_total\{[^}]*\} ([0-9.e+]+)$', metrics, re.M))
    return {"seconds": round(elapsed, 1), "clients": clients, "web_workers": web_workers,
            "database": "postgresql" if (database_url or os.environ.get("DATABASE_URL"))
            else "sqlite",
            "requests": total, "throughput_per_s": round(total / elapsed, 1),
            "errors": sum(stats.errors.values()), "status_5xx": stats.status_5xx,
            "error_samples": stats.samples[:10], "ops": ops, "index_catch_up_s": round(catch_up, 1),
            "metrics_requests_total": requests_counted, "ready": ready["status"], **checks}


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['clients']} clients, {result['seconds']} s, gunicorn -w "
             f"{result['web_workers']} + 1 worker, {result['database']}: "
             f"{result['requests']} requests, {result['throughput_per_s']} req/s, "
             f"{result['status_5xx']} × 5xx, {result['errors']} errors",
             "",
             "| operation | count | req/s | p50 ms | p95 ms | p99 ms | errors |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for op, o in result["ops"].items():
        lines.append(f"| {op} | {o['count']} | {o['rate_per_s']} | {o['p50_ms']} | "
                     f"{o['p95_ms']} | {o['p99_ms']} | {o['errors']} |")
    lines += ["",
              f"acknowledged: {result['acked_dossiers']} dossiers, {result['acked_documents']} "
              f"documents, {result['acked_versions']} document versions; lost "
              f"{result['lost']}, duplicated {result['duplicated']}; index caught up "
              f"{result['index_catch_up_s']} s after the load; search found "
              f"{result['search_found']}/{result['search_sample']} sampled documents"]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--web-workers", type=int, default=4)
    ap.add_argument("--workdir", default=None, help="keep the instance here")
    ap.add_argument("--json", default=None, help="write the result as JSON")
    args = ap.parse_args()
    result = run(args.seconds, args.clients, args.workdir, web_workers=args.web_workers)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, ensure_ascii=False))
    ok = result["status_5xx"] == 0 and result["lost"] == 0 and result["duplicated"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
