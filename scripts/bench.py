#!/usr/bin/env python3
"""repo-server benchmark (not a test): run the server as in production and measure it.

    .venv/bin/python scripts/bench.py                 # core section, 10,000 documents
    .venv/bin/python scripts/bench.py --docs 1000 --keep --out /tmp/b.json

The server runs as users run it: gunicorn with 2 workers on `wsgi:app` (plus the background
worker process once `repo-server worker` exists), on loopback, over a fresh temporary instance
folder made with `repo-server init`, with the production defaults (fsync on, SQLite
synchronous=FULL). The client shares the machine's cores with the server, so it is kept lean:
multipart bodies are assembled from prebuilt bytes with a fixed boundary, one
requests.Session per client thread.

Sections are functions registered in SECTIONS and chosen with `--only core,search,...`;
each one receives the Bench (server, base URL, admin key) and returns table rows and a
JSON-able dict. `core` (over HTTP): document creation (1 client, then N clients), metadata
updates, downloads of an old version, server memory and bytes on disk per document. The
in-process sections of scripts/bench_sections.py make their own instances (`repo-server
init`, production settings) and call the services directly; gunicorn is started only when a
selected section needs it:
  retention - the retention sweep over a 100,000-dossier catalog (<= 5 s), and the execution
              of an approved disposal review of 1,000 real dossiers (time reported)
  audit     - a write's median time with its audit event vs without (<= 1 ms apart), and
              the buffered request events (Buffer.add cost, events flushed per second)
  search    - scripts/bench_search.py run(--search-docs): query latency per class, reindex
              rate, ratio to a naive whoosh index
scripts/bench_integration.py adds push and visibility (over HTTP, to the server) and packages
(CLI export/import in child processes):
  push       - whole dossiers pushed by a desk system, 1 then 2 clients: dossiers/s, MB/s
  packages   - export and import of a fonds (--package-docs): MB/s, peak RSS of each process
  visibility - time from a create to the document being found by search, under steady ingest
scripts/bench_city.py adds city (issue 16): 2 web nodes + an active and a standby worker on
PostgreSQL (DATABASE_URL), 16 clients for 60 s, nothing lost or duplicated, and freshness from
node A to node B (with SEARCH_BACKEND=postgresql)
scripts/bench_search_pg.py adds search-pg: documents generated into the PostgreSQL search
backend (build rate, size), then search over HTTP on it per query class (and on whoosh with
--search-pg-whoosh); needs --search-pg-url (an empty, throwaway database)

    .venv/bin/python scripts/bench.py --only retention,audit
    .venv/bin/python scripts/bench.py --only search --search-docs 20000
    .venv/bin/python scripts/bench.py --only push,visibility

Output: a table (measure | value | target | ok?) on stdout and a JSON file (--out, default
bench-results/bench-<timestamp>.json; bench-results/ is git-ignored). Exit status 0 even
when a target is missed (it is a measurement); 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin" if (REPO / ".venv" / "bin" / "gunicorn").exists() \
    else Path(sys.executable).parent
GUNICORN_WORKERS = 2
FONDS_CODE = "000.00.00.H49"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
KEY_LINE = re.compile(r"First admin API key \(shown once, keep it safe\):\s*(\S+)")
MiB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class BenchError(RuntimeError):
    """The benchmark itself could not run (not a missed target)."""


# ============================================================================ results


@dataclass
class Row:
    """One line of the table. `ok` is None for information without a target."""

    measure: str
    value: float | int | None
    unit: str = ""
    target: str = "-"
    ok: bool | None = None

    def cells(self) -> tuple[str, str, str, str]:
        if self.value is None:
            shown = "n/a"
        elif isinstance(self.value, float):
            shown = f"{self.value:,.1f}" if abs(self.value) >= 10 else f"{self.value:,.2f}"
        else:
            shown = f"{self.value:,}"
        ok = "-" if self.ok is None else ("yes" if self.ok else "NO")
        return self.measure, f"{shown} {self.unit}".strip(), self.target, ok


def at_least(measure: str, value: float | None, target: float, unit: str) -> Row:
    ok = None if value is None else value >= target
    return Row(measure, value, unit, f">= {target:g} {unit}".strip(), ok)


def at_most(measure: str, value: float | None, target: float, unit: str) -> Row:
    ok = None if value is None else value <= target
    return Row(measure, value, unit, f"<= {target:g} {unit}".strip(), ok)


def print_table(rows: Sequence[Row]) -> None:
    header = ("measure", "value", "target", "ok?")
    cells = [header, *(r.cells() for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    line = "-+-".join("-" * w for w in widths)
    for n, c in enumerate(cells):
        print(" | ".join(s.ljust(w) if i != 1 else s.rjust(w)
                         for i, (s, w) in enumerate(zip(c, widths, strict=True))))
        if n == 0:
            print(line)


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# ============================================================================ /proc helpers


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM in bytes (0 when the process is gone)."""
    out = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in out:
                out[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def system_cpu() -> dict[str, int]:
    """Machine-wide CPU ticks from /proc/stat (user+nice, system, idle, iowait, other)."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait = parts[:5]
    return {"user": user + nice, "system": system, "idle": idle, "iowait": iowait,
            "other": sum(parts[5:8])}


# ============================================================================ server


class Server:
    """gunicorn (+ the worker process, when the project has one) on a temporary instance."""

    def __init__(self, instance: Path, port: int, workers: int = GUNICORN_WORKERS,
                 source: Path = REPO, extra_env: dict[str, str] | None = None) -> None:
        self.instance = instance
        self.source = source
        self.extra_env = extra_env or {}
        self.port = port
        self.workers = workers
        self.base = f"http://127.0.0.1:{port}"
        self.env = self._env()
        self.gunicorn: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.log_path = instance / "bench-server.log"
        self._log = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Production defaults: fsync on, SQLite synchronous=FULL, no test overrides.
        for name in ("REPO_FSYNC", "REPO_SQLITE_SYNCHRONOUS", "REPO_DATABASE_URL",
                     "DATABASE_URL", "REPO_STORAGE_ROOT", "REPO_STORAGE_TMP", "XSYNC"):
            env.pop(name, None)
        env["REPO_INSTANCE_PATH"] = str(self.instance)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        if self.source != REPO:  # run another tree (e.g. a `git archive` of a commit)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.source),
                                                              env.get("PYTHONPATH")]))
        return env

    def init(self) -> str:
        """`repo-server --instance <tmp> init`; returns the first admin API key."""
        proc = subprocess.run([str(BIN / "repo-server"), "--instance", str(self.instance),
                               "init"], env=self.env, capture_output=True, text=True,
                              timeout=120, cwd=self.source)
        if proc.returncode != 0:
            raise BenchError(f"repo-server init failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
        match = KEY_LINE.search(proc.stdout)
        if not match:
            raise BenchError(f"no admin key in the output of repo-server init:\n{proc.stdout}")
        return match.group(1)

    def start(self, timeout: float = 60) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        cmd = [str(BIN / "gunicorn"), "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
               "--chdir", str(self.source), "wsgi:app"]
        self.gunicorn = subprocess.Popen(cmd, env=self.env, stdout=self._log,
                                         stderr=subprocess.STDOUT, cwd=self.source)
        worker_cmd = self.worker_command() if self.with_worker else None
        if worker_cmd:
            self.worker = subprocess.Popen(worker_cmd, env=self.env, stdout=self._log,
                                           stderr=subprocess.STDOUT, cwd=self.source)
        deadline = time.monotonic() + timeout
        while True:
            if self.gunicorn.poll() is not None:
                raise BenchError(f"gunicorn exited with {self.gunicorn.returncode}:\n"
                                 f"{self.log_tail()}")
            try:
                r = requests.get(f"{self.base}/api/v1/health", timeout=5)
                if r.status_code == 200 and len(self.worker_pids()) >= self.workers:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"the server did not answer /api/v1/health within "
                                 f"{timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.1)

    with_worker = True

    def worker_command(self) -> list[str] | None:
        """Hook: the background worker (indexing, jobs) runs next to gunicorn in production.

        `repo-server worker` does not exist yet; once the CLI lists it, it is started here
        with the same environment, and its memory and CPU are reported as well.
        """
        try:
            out = subprocess.run([str(BIN / "repo-server"), "--help"], capture_output=True,
                                 text=True, timeout=60, cwd=self.source, env=self.env).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        if re.search(r"^\s+worker\s", out, re.MULTILINE):
            return [str(BIN / "repo-server"), "worker"]
        return None

    # -- processes -------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        return children(self.gunicorn.pid) if self.gunicorn else []

    def pids(self) -> dict[str, list[int]]:
        out = {"master": [self.gunicorn.pid] if self.gunicorn else [],
               "workers": self.worker_pids()}
        if self.worker and self.worker.poll() is None:
            out["job_worker"] = [self.worker.pid]
        return out

    def memory(self) -> dict[str, Any]:
        pids = self.pids()
        per = {role: {str(p): proc_status(p) for p in ps} for role, ps in pids.items()}
        gunicorn_rss = [s["VmRSS"] for role in ("master", "workers")
                        for s in per.get(role, {}).values()]
        workers = [s["VmRSS"] for s in per.get("workers", {}).values()]
        hwm = [s["VmHWM"] for s in per.get("workers", {}).values()]
        return {
            "gunicorn_rss_sum": sum(gunicorn_rss),
            "master_rss": sum(s["VmRSS"] for s in per.get("master", {}).values()),
            "max_worker_rss": max(workers, default=0),
            "max_worker_hwm": max(hwm, default=0),
            "job_worker_rss": sum(s["VmRSS"] for s in per.get("job_worker", {}).values()),
            "processes": per,
        }

    def cpu_seconds(self) -> dict[str, float]:
        pids = self.pids()
        return {role: sum(proc_cpu_seconds(p) for p in ps) for role, ps in pids.items()}

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL whatever is left of the processes we started."""
        procs = [p for p in (self.worker, self.gunicorn) if p is not None]
        workers = self.worker_pids()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        for pid in workers:  # gunicorn workers orphaned by a killed master
            if Path(f"/proc/{pid}").exists():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._log:
            self._log.close()
            self._log = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ============================================================================ client load


@dataclass
class Phase:
    """Timings of one phase: every request timed with perf_counter around the call only."""

    name: str
    clients: int
    count: int = 0
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    excluded: int = 0  # warm-up requests done before the timed part
    client_cpu: float = 0.0
    server_cpu: dict[str, float] = field(default_factory=dict)
    system_cpu: dict[str, int] = field(default_factory=dict)
    worker_pids_changed: bool = False

    @property
    def other_cpu_cores(self) -> float | None:
        """Cores busy with neither the server nor this client (other processes, kernel
        threads such as jbd2 and loopback softirqs): a noisy machine skews the results."""
        if self.wall <= 0 or not self.system_cpu:
            return None
        busy = sum(v for k, v in self.system_cpu.items() if k not in ("idle", "iowait"))
        ours = sum(self.server_cpu.values()) + self.client_cpu
        return round(max(0.0, busy / CLK_TCK - ours) / self.wall, 2)

    @property
    def rate(self) -> float | None:
        return self.count / self.wall if self.wall > 0 and self.count else None

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        ms = (lambda v: None if v is None else round(v * 1000, 3))  # noqa: E731
        sys_total = sum(self.system_cpu.values()) or 1
        server_total = sum(self.server_cpu.values())
        return {
            "name": self.name, "clients": self.clients, "requests": self.count,
            "warmup_excluded": self.excluded, "wall_s": round(self.wall, 3),
            "rate_per_s": None if self.rate is None else round(self.rate, 2),
            "errors": self.errors, "error_samples": self.error_samples,
            "latency_ms": {"median": ms(statistics.median(lat) if lat else None),
                           "p95": ms(percentile(lat, 95)), "p99": ms(percentile(lat, 99)),
                           "max": ms(lat[-1] if lat else None),
                           "mean": ms(statistics.fmean(lat) if lat else None)},
            "server_cpu_s": {k: round(v, 3) for k, v in self.server_cpu.items()},
            "server_cpu_ms_per_request": round(server_total * 1000 / self.count, 3)
            if self.count else None,
            "client_cpu_ms_per_request": round(self.client_cpu * 1000 / self.count, 3)
            if self.count else None,
            "machine_cpu_share": {k: round(v / sys_total, 3) for k, v in self.system_cpu.items()},
            "other_cpu_cores": self.other_cpu_cores,
            "gunicorn_worker_restarted": self.worker_pids_changed,
        }


# A request function gets (session, job) and returns (ok, error text or None, result).
RequestFn = Callable[[requests.Session, Any], tuple[bool, str | None, Any]]


def run_phase(bench: Bench, name: str, clients: int, jobs: Sequence[Any], fn: RequestFn,
              results: list[Any] | None = None) -> Phase:
    """Run `fn` over `jobs` with `clients` threads (each its own keep-alive session)."""
    phase = Phase(name, clients)
    if bench.args.wait_quiet > 0:
        wait_for_quiet(bench.args.wait_quiet)
    lock = threading.Lock()
    next_index = iter(range(len(jobs)))
    start_gate = threading.Barrier(clients + 1)
    per_thread: list[tuple[list[float], int, list[str]]] = []

    def client() -> None:
        session = bench.session()
        latencies: list[float] = []
        errors = 0
        samples: list[str] = []
        start_gate.wait()
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                break
            job = jobs[i]
            t0 = time.perf_counter()
            try:
                ok, err, result = fn(session, job)
            except requests.RequestException as exc:
                ok, err, result = False, f"{type(exc).__name__}: {exc}", None
            latencies.append(time.perf_counter() - t0)
            if not ok:
                errors += 1
                if len(samples) < 5:
                    samples.append(err or "?")
            if results is not None:
                results[i] = result
        session.close()
        with lock:
            per_thread.append((latencies, errors, samples))

    threads = [threading.Thread(target=client, name=f"{name}-{n}", daemon=True)
               for n in range(clients)]
    for t in threads:
        t.start()
    pids_before = bench.server.worker_pids()
    cpu_before, sys_before = bench.server.cpu_seconds(), system_cpu()
    client_before = time.process_time()
    t0 = time.perf_counter()
    start_gate.wait()
    for t in threads:
        t.join()
    phase.wall = time.perf_counter() - t0
    phase.client_cpu = time.process_time() - client_before
    cpu_after, sys_after = bench.server.cpu_seconds(), system_cpu()
    phase.server_cpu = {k: cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0) for k in cpu_after}
    phase.system_cpu = {k: sys_after[k] - sys_before[k] for k in sys_after}
    phase.worker_pids_changed = sorted(pids_before) != sorted(bench.server.worker_pids())
    for latencies, errors, samples in per_thread:
        phase.latencies.extend(latencies)
        phase.errors += errors
        phase.error_samples.extend(samples[: 5 - len(phase.error_samples)])
    phase.count = len(phase.latencies)
    return phase


def http_error(r: requests.Response) -> str:
    return f"{r.status_code} {r.request.method} {r.url}: {r.text[:300]}"


# ============================================================================ bench context


@dataclass
class Bench:
    args: argparse.Namespace
    server: Server  # not started when no selected section needs it (key is then None)
    key: str | None

    @property
    def base(self) -> str:
        return self.server.base

    def session(self) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {self.key}"
        s.headers["User-Agent"] = "repo-server-bench"
        return s

    def post_json(self, session: requests.Session, path: str, body: dict) -> requests.Response:
        return session.post(self.base + path, data=json.dumps(body, ensure_ascii=False).encode(),
                            headers={"Content-Type": "application/json"}, timeout=60)


# ============================================================================ the test PDF

SERIAL_PLACEHOLDER = b"bench-serial 0000000000"
SERIAL_FORMAT = "bench-serial {:010d}"

PDF_PARAGRAPHS = (
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015; Luật sửa đổi, bổ "
    "sung một số điều của Luật Tổ chức Chính phủ và Luật Tổ chức chính quyền địa phương ngày "
    "22 tháng 11 năm 2019;",
    "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn "
    "thư; Thông tư số 05/2025/TT-BNV của Bộ Nội vụ quy định về cơ sở dữ liệu hồ sơ, tài liệu "
    "điện tử;",
    "Theo đề nghị của Trưởng phòng Văn hóa - Xã hội và Chánh Văn phòng Hội đồng nhân dân và Ủy "
    "ban nhân dân phường.",
    "Điều 1. Phê duyệt kế hoạch chuyển đổi số năm 2025 của Ủy ban nhân dân phường An Cựu với "
    "các nội dung chủ yếu sau: số hóa toàn bộ hồ sơ thủ tục hành chính tiếp nhận tại Bộ phận "
    "Một cửa; lưu trữ hồ sơ, tài liệu điện tử theo đúng quy định; bảo đảm an toàn, an ninh "
    "thông tin trong quá trình khai thác, sử dụng.",
    "Điều 2. Giao Văn phòng Hội đồng nhân dân và Ủy ban nhân dân phường chủ trì, phối hợp với "
    "các đơn vị liên quan tổ chức triển khai thực hiện kế hoạch; định kỳ hằng quý tổng hợp, "
    "báo cáo kết quả thực hiện về Ủy ban nhân dân phường.",
    "Điều 3. Quyết định này có hiệu lực kể từ ngày ký. Chánh Văn phòng, Trưởng các phòng, ban, "
    "đơn vị thuộc Ủy ban nhân dân phường và các tổ chức, cá nhân có liên quan chịu trách nhiệm "
    "thi hành Quyết định này.",
)


def find_font() -> str:
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return path
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        if out.endswith(".ttf") and Path(out).is_file():
            return out
    except (OSError, subprocess.SubprocessError):
        pass
    raise BenchError("no DejaVuSans.ttf on this machine (apt-get install fonts-dejavu-core)")


def make_pdf(font: str) -> bytes:
    """A 2-page Vietnamese decision (quyết định), about 20 KB, with a fixed-width serial
    placeholder in its Info dictionary so each document can get different bytes without
    shifting the xref offsets."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", font)
    pdf.set_title("Quyết định về việc phê duyệt kế hoạch chuyển đổi số năm 2025")
    pdf.set_author("Ủy ban nhân dân phường An Cựu")
    pdf.set_keywords(SERIAL_PLACEHOLDER.decode())
    pdf.set_creation_date(dt.datetime(2025, 7, 20, 8, 0, tzinfo=dt.UTC))
    for page in (1, 2):
        pdf.add_page()
        pdf.set_font("DejaVu", size=12)
        for line in ("ỦY BAN NHÂN DÂN PHƯỜNG AN CỰU", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                     "Độc lập - Tự do - Hạnh phúc", "", "QUYẾT ĐỊNH"):
            pdf.cell(0, 7, line, new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.multi_cell(0, 6, "Về việc phê duyệt kế hoạch chuyển đổi số năm 2025 của Ủy ban "
                             "nhân dân phường An Cựu" + (" (tiếp theo)" if page == 2 else ""),
                       new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.ln(4)
        pdf.set_font("DejaVu", size=11)
        for _ in range(2):
            for para in PDF_PARAGRAPHS:
                pdf.multi_cell(0, 5.5, para, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1.5)
        pdf.cell(0, 7, f"Trang {page}/2", new_x="LMARGIN", new_y="NEXT", align="R")
    data = bytes(pdf.output())
    if data.count(SERIAL_PLACEHOLDER) != 1:
        raise BenchError("the serial placeholder is not in the PDF exactly once")
    return data


def pad_pdf(data: bytes, kib: int | None) -> bytes:
    """The PDF grown to about `kib` KiB by comment lines after its end (readers ignore them;
    the bytes differ per line so that nothing compresses or deduplicates them)."""
    if not kib or len(data) >= kib * 1024:
        return data
    lines, n = [], 0
    while len(data) + sum(map(len, lines)) < kib * 1024:
        lines.append(f"%pad {n:08d} {hashlib.sha256(str(n).encode()).hexdigest()}\n".encode())
        n += 1
    return data + b"\n" + b"".join(lines)


def pdf_for(template: bytes, serial: int) -> bytes:
    return template.replace(SERIAL_PLACEHOLDER, SERIAL_FORMAT.format(serial).encode(), 1)


class Multipart:
    """Prebuilt multipart/form-data pieces: only the metadata and the PDF change per request."""

    BOUNDARY = "repo-bench-6f1d2c9e0b7a4f15a3c8"
    FILE_NAME = "quyet-dinh.pdf"

    def __init__(self, template_pdf: bytes) -> None:
        if self.BOUNDARY.encode() in template_pdf:
            raise BenchError("the multipart boundary occurs in the PDF")
        b = self.BOUNDARY
        self.content_type = f"multipart/form-data; boundary={b}"
        self.head = (f"--{b}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
                     f"\r\n").encode()
        self.mid = (f"\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; "
                    f"filename=\"{self.FILE_NAME}\"\r\nContent-Type: application/pdf\r\n"
                    f"\r\n").encode()
        self.tail = f"\r\n--{b}--\r\n".encode()

    def body(self, metadata_json: bytes, pdf: bytes) -> bytes:
        return b"".join((self.head, metadata_json, self.mid, pdf, self.tail))


def document_metadata(serial: int) -> bytes:
    meta = {"type_code": "02",
            "subject": f"Quyết định về việc phê duyệt kế hoạch chuyển đổi số năm 2025 của Ủy "
                       f"ban nhân dân phường An Cựu (số {serial})",
            "code_number": str(serial),
            "code_notation": "QĐ-UBND"}
    return json.dumps(meta, ensure_ascii=False).encode()


# ============================================================================ disk usage


def storage_usage(root: Path) -> dict[str, Any]:
    """Apparent and allocated bytes under the storage root, by object kind and file role.

    Roles inside an object: namaste, inventory (root / version), sidecar (root / version),
    record (metadata.json, dossier.json, fonds.json), content (the uploaded files), dirs.
    `layout_dirs` are the tuple folders of the storage layout above the objects; `root` are
    the storage root's own files (declaration, layout config, extensions).
    """
    totals: dict[str, dict[str, int]] = {}
    objects: dict[str, int] = {}

    def add(kind: str, role: str, st: os.stat_result) -> None:
        slot = totals.setdefault(f"{kind}:{role}", {"files": 0, "apparent": 0, "allocated": 0})
        slot["files"] += 1
        slot["apparent"] += st.st_size
        slot["allocated"] += st.st_blocks * 512

    def object_kind(objdir: str) -> str:
        content = os.path.join(objdir, "v1", "content")
        for name, kind in (("metadata.json", "document"), ("dossier.json", "dossier"),
                           ("fonds.json", "fonds")):
            if os.path.exists(os.path.join(content, name)):
                return kind
        return "other"

    def walk_object(objdir: str, kind: str) -> None:
        add(kind, "dirs", os.lstat(objdir))
        for folder, dirs, files in os.walk(objdir):
            rel = os.path.relpath(folder, objdir)
            parts = [] if rel == "." else rel.split(os.sep)
            for d in dirs:
                add(kind, "dirs", os.lstat(os.path.join(folder, d)))
            for f in files:
                st = os.lstat(os.path.join(folder, f))
                if not parts:
                    role = ("namaste" if f.startswith("0=") else
                            "inventory_root" if f == "inventory.json" else
                            "sidecar_root" if f.startswith("inventory.json.") else "other")
                elif len(parts) == 1:
                    role = ("inventory_version" if f == "inventory.json" else
                            "sidecar_version" if f.startswith("inventory.json.") else "other")
                elif len(parts) == 2 and f in ("metadata.json", "dossier.json", "fonds.json"):
                    role = "record"
                else:
                    role = "content"
                add(kind, role, st)

    def walk(folder: str, top: bool) -> None:
        with os.scandir(folder) as it:
            entries = list(it)
        if not top and any(e.name.startswith("0=ocfl_object") for e in entries):
            kind = object_kind(folder)
            objects[kind] = objects.get(kind, 0) + 1
            walk_object(folder, kind)
            return
        if not top:
            add("layout", "dirs", os.lstat(folder))
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                if top and e.name == "extensions":
                    for sub, _dirs, files in os.walk(e.path):
                        add("root", "dirs", os.lstat(sub))
                        for f in files:
                            add("root", "files", os.lstat(os.path.join(sub, f)))
                    continue
                walk(e.path, False)
            else:
                add("root" if top else "layout", "files", e.stat(follow_symlinks=False))

    add("root", "dirs", os.lstat(root))
    walk(str(root), True)
    apparent = sum(v["apparent"] for v in totals.values())
    allocated = sum(v["allocated"] for v in totals.values())
    files_apparent = sum(v["apparent"] for k, v in totals.items() if not k.endswith(":dirs"))
    return {"objects": objects, "apparent": apparent, "allocated": allocated,
            "files_apparent": files_apparent, "by_role": dict(sorted(totals.items()))}


def du_check(path: Path) -> dict[str, int] | None:
    """Cross-check with du(1): allocated and apparent bytes (None when du is missing)."""
    try:
        alloc = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True,
                               timeout=300).stdout.split()[0]
        apparent = subprocess.run(["du", "-s", "-b", str(path)], capture_output=True,
                                  text=True, timeout=300).stdout.split()[0]
        return {"allocated": int(alloc), "apparent": int(apparent)}
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


def tree_size(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(folder, f)).st_blocks * 512
            except OSError:
                pass
    return total


def folder_usage(path: Path) -> dict[str, int]:
    """Files, apparent bytes (files; files and folders) and allocated bytes under a folder."""
    out = {"files": 0, "files_apparent": 0, "apparent": 0, "allocated": 0}
    for folder, _dirs, files in os.walk(path):
        st = os.lstat(folder)
        out["apparent"] += st.st_size
        out["allocated"] += st.st_blocks * 512
        for f in files:
            try:
                st = os.lstat(os.path.join(folder, f))
            except OSError:
                continue
            out["files"] += 1
            out["files_apparent"] += st.st_size
            out["apparent"] += st.st_size
            out["allocated"] += st.st_blocks * 512
    return out


def disk_breakdown(usage: dict[str, Any], docs: int) -> dict[str, Any]:
    """Per-document figures: what a document object costs, by role, and the shared overhead."""
    roles = usage["by_role"]
    per_doc: dict[str, dict[str, float]] = {}
    for key, v in roles.items():
        kind, role = key.split(":", 1)
        if kind == "document":
            per_doc[role] = {"apparent": round(v["apparent"] / docs, 1),
                             "allocated": round(v["allocated"] / docs, 1),
                             "files_per_doc": round(v["files"] / docs, 3)}
    shared = {"apparent": 0, "allocated": 0}
    for key, v in roles.items():
        if not key.startswith("document:"):
            shared["apparent"] += v["apparent"]
            shared["allocated"] += v["allocated"]
    inv_roles = ("inventory_root", "inventory_version", "sidecar_root", "sidecar_version")

    def pick(roles_: Iterable[str], what: str) -> float:
        return round(sum(per_doc.get(r, {}).get(what, 0) for r in roles_), 1)

    file_roles = [r for r in per_doc if r != "dirs"]
    return {
        "document_object_per_doc": per_doc,
        "shared_per_doc": {k: round(v / docs, 1) for k, v in shared.items()},
        "inventories_and_sidecars_per_doc": {"apparent": pick(inv_roles, "apparent"),
                                             "allocated": pick(inv_roles, "allocated")},
        "block_rounding_per_doc": round(pick(file_roles, "allocated")
                                        - pick(file_roles, "apparent"), 1),
        "directories_per_doc_allocated": pick(["dirs"], "allocated"),
    }


# ============================================================================ section: core


def section_core(bench: Bench) -> tuple[list[Row], dict[str, Any]]:
    args = bench.args
    docs = args.docs
    clients = args.clients
    single = args.single if args.single is not None else docs // 5
    single = max(0, min(single, docs))
    multi = docs - single
    warmup = min(args.warmup, single) if single else min(args.warmup, multi)
    per_dossier = args.per_dossier
    n_dossiers = max(1, math.ceil(docs / per_dossier))
    out: dict[str, Any] = {"docs": docs, "single_client_docs": single,
                           "multi_client_docs": multi, "clients": clients,
                           "docs_per_dossier": per_dossier, "dossiers": n_dossiers}

    # -- test data ---------------------------------------------------------------------
    font = find_font()
    template = pad_pdf(make_pdf(font), args.pdf_kib)
    mp = Multipart(template)
    out["pdf"] = {"font": font, "bytes": len(template), "pages": 2}
    print(f"test PDF: {len(template):,} bytes, 2 pages ({font})", flush=True)

    # -- fonds and dossiers --------------------------------------------------------------
    setup = bench.session()
    r = bench.post_json(setup, "/api/v1/fonds",
                        {"code": FONDS_CODE, "name": "Ủy ban nhân dân phường An Cựu"})
    if r.status_code != 201:
        raise BenchError(f"cannot create the fonds: {http_error(r)}")
    setup.close()

    def make_dossier(session: requests.Session, j: int) -> tuple[bool, str | None, Any]:
        body = {"fonds_code": FONDS_CODE, "retention": "05", "start_date": "2025-07-15",
                "title": f"Hồ sơ kế hoạch chuyển đổi số năm 2025, tập {j + 1}"}
        resp = bench.post_json(session, "/api/v1/dossiers", body)
        if resp.status_code != 201:
            return False, http_error(resp), None
        return True, None, resp.json()["id"]

    dossier_ids: list[str | None] = [None] * n_dossiers
    print(f"creating {n_dossiers} dossiers ...", flush=True)
    ph_dossiers = run_phase(bench, "create_dossiers", clients, range(n_dossiers), make_dossier,
                            dossier_ids)
    if ph_dossiers.errors:
        raise BenchError(f"dossier creation failed: {ph_dossiers.error_samples}")
    out["dossier_creation"] = ph_dossiers.summary()

    # -- documents ---------------------------------------------------------------------
    created: list[tuple[str, str] | None] = [None] * docs
    payload = {"pdf": 0, "metadata": 0}
    payload_lock = threading.Lock()

    def make_document(session: requests.Session, i: int) -> tuple[bool, str | None, Any]:
        meta = document_metadata(i + 1)
        pdf = pdf_for(template, i + 1)
        body = mp.body(meta, pdf)
        dossier = dossier_ids[i // per_dossier]
        resp = session.post(f"{bench.base}/api/v1/dossiers/{dossier}/documents", data=body,
                            headers={"Content-Type": mp.content_type}, timeout=60)
        if resp.status_code != 201:
            return False, http_error(resp), None
        with payload_lock:
            payload["pdf"] += len(pdf)
            payload["metadata"] += len(meta)
        created[i] = (resp.json()["id"], resp.headers.get("ETag", ""))
        return True, None, None

    def create(name: str, n_clients: int, indexes: range) -> Phase:
        print(f"{name}: {len(indexes):,} documents with {n_clients} client(s) ...", flush=True)
        phase = run_phase(bench, name, n_clients, indexes, make_document)
        print(f"  {phase.rate or 0:,.1f} docs/s, {phase.errors} errors", flush=True)
        return phase

    phases: dict[str, Phase] = {}
    start = 0
    warm_phase = None
    if warmup:
        warm_phase = run_phase(bench, "warmup", 1, range(0, warmup), make_document)
        start = warmup
    memory_before = bench.server.memory()
    worker_cpu_before = bench.server.cpu_seconds().get("job_worker", 0.0)
    if single > start:
        phases["create_1"] = create("create_1", 1, range(start, single))
        phases["create_1"].excluded = warmup
        start = single
    if multi:
        phases["create_n"] = create("create_n", clients, range(start, docs))
        if not single:
            phases["create_n"].excluded = warmup
    errors_total = sum(p.errors for p in phases.values()) + (warm_phase.errors if warm_phase else 0)
    n_created = sum(1 for c in created if c)
    out["documents_created"] = n_created

    # -- memory right after the creates; disk once the worker has caught up, so that it
    # counts every document's text version whatever the worker's lag (it varies with the
    # machine's speed) ----------------------------------------------------------------------
    time.sleep(0.5)
    memory = bench.server.memory()
    caught_up = None
    if bench.server.worker is not None:
        from bench_integration import wait_indexed  # it imports this module

        caught_up = wait_indexed(bench)
    out["worker_caught_up_s"] = caught_up
    worker_cpu = bench.server.cpu_seconds().get("job_worker", 0.0) - worker_cpu_before
    # the job worker's CPU from the first create until it has indexed everything (text read,
    # index written, statuses recorded), per document created
    out["worker_cpu_ms_per_doc"] = (round(worker_cpu * 1000 / max(n_created, 1), 3)
                                    if bench.server.worker is not None else None)
    instance = bench.server.instance
    storage_root = instance / "storage"
    usage = storage_usage(storage_root)
    du = du_check(storage_root)
    # the derived-text cache (decision 0021) is counted with the storage root: it is kept
    # and backed up with it
    derived = folder_usage(instance / "derived")
    pay_total = payload["pdf"] + payload["metadata"]
    per_doc_alloc = ((usage["allocated"] + derived["allocated"]) / n_created
                     if n_created else None)
    per_doc_apparent = ((usage["apparent"] + derived["apparent"]) / n_created
                        if n_created else None)
    per_doc_payload = pay_total / n_created if n_created else None
    out["memory_before_creates"] = memory_before
    out["memory_after_creates"] = memory
    out["disk_after_creates"] = {
        "storage_root": usage, "du": du, "derived_text_cache": derived,
        "payload": {**payload, "total": pay_total},
        "per_doc": {"allocated": per_doc_alloc, "apparent": per_doc_apparent,
                    "apparent_files_only": (usage["files_apparent"]
                                            + derived["files_apparent"]) / n_created
                    if n_created else None,
                    "payload": per_doc_payload},
        "breakdown": disk_breakdown(usage, n_created) if n_created else None,
        "storage_tmp_allocated": tree_size(Path(str(storage_root) + ".tmp")),
        "catalog_db_allocated": sum(
            (p.stat().st_blocks * 512) for p in instance.glob("repo.db*") if p.is_file()),
    }

    # -- updates (new versions) and downloads of version 1 ---------------------------------
    n_ops = min(args.updates, n_created)
    done = [i for i, c in enumerate(created) if c]
    step = max(1, len(done) // n_ops) if n_ops else 1
    targets = done[::step][:n_ops]

    def update(session: requests.Session, i: int) -> tuple[bool, str | None, Any]:
        doc_id, etag = created[i]
        body = json.dumps({"subject": f"Quyết định về việc phê duyệt kế hoạch chuyển đổi số năm "
                                      f"2025 (đính chính, số {i + 1})",
                           "page_count": 2}, ensure_ascii=False).encode()
        resp = session.patch(f"{bench.base}/api/v1/documents/{doc_id}", data=body,
                             headers={"Content-Type": "application/json", "If-Match": etag},
                             timeout=60)
        if resp.status_code != 200:
            return False, http_error(resp), None
        return True, None, i

    def download(session: requests.Session, i: int) -> tuple[bool, str | None, Any]:
        doc_id, _ = created[i]
        resp = session.get(f"{bench.base}/api/v1/documents/{doc_id}/files/{Multipart.FILE_NAME}",
                           params={"version": 1}, timeout=60)
        if resp.status_code != 200:
            return False, http_error(resp), None
        if resp.content != pdf_for(template, i + 1):
            return False, f"GET {resp.url}: the bytes differ from those uploaded", None
        return True, None, None

    updated: list[int | None] = [None] * len(targets)
    op_clients = args.op_clients or clients
    if targets:
        print(f"update: {len(targets):,} PATCH with {op_clients} client(s) ...", flush=True)
        phases["update"] = run_phase(bench, "update", op_clients, targets, update, updated)
        versioned = [i for i in updated if i is not None]
        print(f"download: {len(versioned):,} GET ?version=1 with {op_clients} client(s) ...",
              flush=True)
        phases["download_v1"] = run_phase(bench, "download_v1", op_clients, versioned, download)
    out["memory_end"] = bench.server.memory()
    out["phases"] = {name: p.summary() for name, p in phases.items()}
    if warm_phase:
        out["phases"]["warmup"] = warm_phase.summary()
    out["server_log_tail"] = bench.server.log_tail(20)

    # -- table -----------------------------------------------------------------------------
    rows: list[Row] = []
    p95_target = 40.0

    def phase_rows(p: Phase, label: str, rate_target: float | None, unit: str) -> None:
        s = p.summary()
        lat = s["latency_ms"]
        rate = s["rate_per_s"]
        rows.append(at_least(f"{label}: rate", rate, rate_target, unit) if rate_target
                    else Row(f"{label}: rate", rate, unit))
        rows.append(Row(f"{label}: median latency", lat["median"], "ms"))
        rows.append(at_most(f"{label}: p95 latency", lat["p95"], p95_target, "ms"))
        rows.append(Row(f"{label}: errors", p.errors, "", "= 0", p.errors == 0))
        rows.append(Row(f"{label}: server CPU / req (gunicorn+worker)",
                        s["server_cpu_ms_per_request"], "ms"))

    if "create_1" in phases:
        phase_rows(phases["create_1"], "create, 1 client", 150, "docs/s")
    if "create_n" in phases:
        phase_rows(phases["create_n"], f"create, {clients} clients", 200, "docs/s")
    if "update" in phases:
        phase_rows(phases["update"], f"PATCH metadata, {op_clients} clients", None, "ops/s")
    if "download_v1" in phases:
        phase_rows(phases["download_v1"], f"GET file ?version=1, {op_clients} clients", None,
                   "ops/s")
    rows.append(Row("documents created, 0 errors in all phases", n_created, "", f"= {docs:,}",
                    n_created == docs and errors_total == 0))
    other = [p.other_cpu_cores for p in phases.values() if p.other_cpu_cores is not None]
    rows.append(Row("other CPU load during phases (max; noise)", max(other, default=None),
                    "cores", "~0", None if not other else max(other) < 0.15))
    if bench.server.worker is not None:
        rows.append(Row("worker done with the creates' texts and index, s after the last",
                        None if caught_up is None else round(caught_up, 1), "s",
                        "< 300 s", caught_up is not None))
    rows.append(at_most(f"RSS gunicorn master+workers after {n_created:,} docs",
                        round(memory["gunicorn_rss_sum"] / MiB, 1), 200, "MiB"))
    rows.append(Row("RSS max single worker", round(memory["max_worker_rss"] / MiB, 1), "MiB"))
    rows.append(Row("RSS master+workers before the creates",
                    round(memory_before["gunicorn_rss_sum"] / MiB, 1), "MiB"))
    if out.get("worker_cpu_ms_per_doc") is not None:
        rows.append(Row("worker CPU per document (creates until indexed)",
                        out["worker_cpu_ms_per_doc"], "ms"))
    if memory["job_worker_rss"]:
        rows.append(Row("RSS job worker", round(memory["job_worker_rss"] / MiB, 1), "MiB"))
    if per_doc_payload:
        rows.append(Row("payload per doc (PDF + metadata JSON)", round(per_doc_payload), "B"))
        rows.append(Row("disk per doc, allocated blocks", round(per_doc_alloc), "B"))
        rows.append(at_most("disk/payload, allocated", round(per_doc_alloc / per_doc_payload, 2),
                            1.2, "x"))
        rows.append(Row("disk per doc, apparent size (du -b, dirs count 4 KiB)",
                        round(per_doc_apparent), "B"))
        rows.append(at_most("disk/payload, apparent", round(per_doc_apparent / per_doc_payload,
                                                             2), 1.2, "x"))
        files_only = (usage["files_apparent"] + derived["files_apparent"]) / n_created
        rows.append(Row("disk/payload, apparent, files only (no dirs)",
                        round(files_only / per_doc_payload, 2), "x"))
        breakdown = out["disk_after_creates"]["breakdown"]
        inv = breakdown["inventories_and_sidecars_per_doc"]
        rows.append(Row(f"  alloc. in 2 inventories + 2 sidecars ({inv['apparent']:,.0f} B "
                        "apparent)", round(inv["allocated"]), "B"))
        rows.append(Row("  alloc. lost to 4 KiB block rounding (all files)",
                        round(breakdown["block_rounding_per_doc"]), "B"))
        rows.append(Row("  alloc. in directories (4 per object + layout)",
                        round(breakdown["directories_per_doc_allocated"]
                              + usage["by_role"].get("layout:dirs", {}).get("allocated", 0)
                              / n_created), "B"))
    return rows, out


# ============================================================================ sections

SECTIONS: dict[str, Callable[[Bench], tuple[list[Row], dict[str, Any]]]] = {
    "core": section_core,
}
# The other sections live in scripts/bench_sections.py and scripts/bench_integration.py; they
# import their helpers from this module by the name `bench`, which must then be this very
# module even when run as a script.
sys.modules.setdefault("bench", sys.modules[__name__])
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_city  # noqa: E402
import bench_integration  # noqa: E402
import bench_search_pg  # noqa: E402
import bench_sections  # noqa: E402

SECTIONS.update(bench_sections.SECTIONS)  # retention (issue 4), audit (issue 5), search (issue 3)
SECTIONS.update(bench_integration.SECTIONS)  # push, packages (issue 7), visibility (issue 3)
SECTIONS.update(bench_city.SECTIONS)  # city: 2 web nodes + worker pair (issue 16)
SECTIONS.update(bench_search_pg.SECTIONS)  # search-pg (issue 16)
# Sections that need the server (gunicorn on a fresh instance); the others make their own
# instances and call the services in this process.
SERVER_SECTIONS = (frozenset(SECTIONS) - bench_sections.SERVERLESS - bench_integration.SERVERLESS
                   - bench_city.SERVERLESS - bench_search_pg.SERVERLESS)
# Sections to come, each a function of the same shape registered in SECTIONS.
PLANNED: tuple[str, ...] = ()


# ============================================================================ main


def machine_load(seconds: float = 1.0) -> float:
    """Cores in use on the machine over `seconds` (before the server starts)."""
    a = system_cpu()
    time.sleep(seconds)
    b = system_cpu()
    busy = sum(b[k] - a[k] for k in b if k not in ("idle", "iowait"))
    return round(busy / CLK_TCK / seconds, 2)


def wait_for_quiet(timeout: float, threshold: float = 0.15) -> float:
    """Between phases our server is idle: wait until other processes leave the CPUs alone."""
    deadline = time.monotonic() + timeout
    while True:
        load = machine_load(0.5)
        if load < threshold or time.monotonic() > deadline:
            if load >= threshold:
                print(f"  (still {load:.2f} cores busy elsewhere; going on)", flush=True)
            return load


def environment() -> dict[str, Any]:
    def git(*a: str) -> str | None:
        try:
            return subprocess.run(["git", *a], capture_output=True, text=True, cwd=REPO,
                                  timeout=10).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            return None

    try:
        fs = subprocess.run(["df", "-T", tempfile.gettempdir()], capture_output=True, text=True,
                            timeout=10).stdout.splitlines()[1].split()[1]
    except (OSError, subprocess.SubprocessError, IndexError):
        fs = None
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain")),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "tmp_filesystem": fs,
            "gunicorn_workers": GUNICORN_WORKERS,
            "fsync": "default (REPO_FSYNC unset: on)",
            "sqlite_synchronous": "default (FULL)"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="core",
                   help=f"comma-separated sections: {', '.join(SECTIONS)}"
                        + (f" (planned: {', '.join(PLANNED)})" if PLANNED else "")
                        + "; default core")
    p.add_argument("--docs", type=int, default=10_000, help="documents created in total (default 10000)")
    p.add_argument("--pdf-kib", type=int, default=None,
                   help="grow the test PDF to about this many KiB (disk per document at larger "
                        "payloads; default: the 2-page PDF as made, about 20 KB)")
    p.add_argument("--single", type=int, default=None,
                   help="of which created by one client (default: docs / 5)")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients (threads; default 4)")
    p.add_argument("--op-clients", type=int, default=None,
                   help="clients for the update and download phases (default: --clients)")
    p.add_argument("--updates", type=int, default=1000,
                   help="metadata updates, then as many downloads of version 1 "
                        "(default 1000)")
    p.add_argument("--per-dossier", type=int, default=20, help="documents per dossier (default 20)")
    p.add_argument("--warmup", type=int, default=20,
                   help="first documents, excluded from rate and latency; they count toward "
                        "--docs (default 20)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before each phase, wait up to this long for other processes to "
                        "leave the CPUs idle (shared machines)")
    p.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    p.add_argument("--tmp-parent", default=None,
                   help="where the temporary instance folder is made (default: system temp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary instance folder")
    p.add_argument("--source", default=str(REPO),
                   help="project tree to run (e.g. an unpacked `git archive` of a commit); "
                        "its folder goes first on PYTHONPATH")
    p.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for the server, for experiments only (e.g. "
                        "REPO_FSYNC=false): the results are then NOT production figures")
    p.add_argument("--no-worker", action="store_true",
                   help="do not start `repo-server worker` even when it exists")
    p.add_argument("--out", default=None,
                   help="JSON results (default: bench-results/bench-<timestamp>.json)")
    bench_sections.add_arguments(p)
    bench_integration.add_arguments(p)
    bench_city.add_arguments(p)
    bench_search_pg.add_arguments(p)
    args = p.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    for s in args.sections:
        if s in PLANNED:
            p.error(f"section {s!r} is not written yet")
        if s not in SECTIONS:
            p.error(f"unknown section {s!r}; choose from {', '.join(SECTIONS)}")
    try:
        args.server_env = dict(item.split("=", 1) for item in args.server_env)
    except ValueError:
        p.error("--server-env takes NAME=VALUE")
    if args.docs < 1 or args.clients < 1 or args.per_dossier < 1:
        p.error("--docs, --clients and --per-dossier must be at least 1")
    bench_sections.check_arguments(p, args)
    bench_integration.check_arguments(p, args)
    bench_city.check_arguments(p, args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path = Path(args.out) if args.out else REPO / "bench-results" / f"bench-{stamp}.json"
    instance = Path(tempfile.mkdtemp(prefix="repo-bench-", dir=args.tmp_parent))
    server = Server(instance, args.port or free_port(), source=Path(args.source).resolve(),
                    extra_env=args.server_env)
    if args.server_env:
        print(f"EXPERIMENT, not production settings: {args.server_env}", flush=True)
    server.with_worker = not args.no_worker
    results: dict[str, Any] = {"started": dt.datetime.now().astimezone().isoformat(),
                               "args": {k: v for k, v in vars(args).items()},
                               "environment": environment(), "instance": str(instance),
                               "source": str(Path(args.source).resolve()),
                               "sections": {}}
    rows: list[Row] = []
    status = 0
    quiet = machine_load()
    results["machine_load_before"] = quiet
    if quiet > 0.2:
        print(f"warning: the machine is already busy ({quiet:.1f} cores in use by other "
              "processes); the figures will be low", file=sys.stderr, flush=True)
    try:
        print(f"instance: {instance}", flush=True)
        key = None
        if SERVER_SECTIONS & set(args.sections):
            key = server.init()
            server.start()
            results["server"] = {"base_url": server.base, "pids": server.pids(),
                                 "job_worker": server.worker_command()}
            print(f"gunicorn on {server.base} (master {server.gunicorn.pid}, workers "
                  f"{server.worker_pids()})", flush=True)
        bench = Bench(args, server, key)
        for name in args.sections:
            t0 = time.perf_counter()
            section_rows, data = SECTIONS[name](bench)
            data["duration_s"] = round(time.perf_counter() - t0, 1)
            rows += section_rows
            results["sections"][name] = data
    except BenchError as exc:
        print(f"benchmark failed: {exc}\n--- server log (last lines) ---\n"
              f"{server.log_tail(30)}", file=sys.stderr)
        results["failure"] = str(exc)
        results["server_log_tail"] = server.log_tail(60)
        status = 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        results["failure"] = "interrupted"
        status = 130
    finally:
        if server.worker is not None and server.worker.poll() is not None:
            results["job_worker_exited"] = server.worker.returncode
            print(f"warning: the job worker exited early ({server.worker.returncode}); see "
                  "the server log", file=sys.stderr)
        server.stop()
        if args.keep:
            print(f"kept the instance folder: {instance}")
        else:
            shutil.rmtree(instance, ignore_errors=True)
    results["finished"] = dt.datetime.now().astimezone().isoformat()
    results["table"] = [dict(zip(("measure", "value", "target", "ok"), r.cells(), strict=True))
                        for r in rows]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    if rows:
        print()
        print_table(rows)
    print(f"\nresults: {out_path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
