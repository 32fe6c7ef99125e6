"""Sections of scripts/bench.py for the desk-system and archive paths: push and packages
(issue 7), search visibility under steady ingest (issue 3).

  push       - a desk system (role `integration`) pushes whole dossiers, N documents of about
               200 KB each, one request per dossier with an Idempotency-Key, to the running
               server: dossiers/s, MB/s of files, median and p95 latency, errors; with 1, then
               2 concurrent clients
  packages   - export of a fonds and its import into another repository through the CLI
               (`repo-server export`, `repo-server import`, each its own process, production
               settings): MB/s and the peak resident memory of each process, for a fonds of
               --package-docs documents and one of a tenth of that (streaming: the peak must
               not grow with the fonds)
  visibility - steady ingest through the API (--visibility-rate documents/s); for a sample of
               the new documents, the time from the create's 201 to the first search answer
               that finds it, by a made-up word in its title or one only in its file's text:
               median, p95 (<= 2 s), max, never seen within 30 s

push and visibility go over loopback HTTP to the server bench.py starts (gunicorn with 2
workers plus `repo-server worker`, fresh instance, production defaults). packages needs no
server: it builds its fonds in this process through the service layer with fsync off (building
is not what is measured; 10,000 documents through the API would take far longer), then runs
the CLI in child processes and reads each one's peak RSS (VmHWM) from /proc.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import re
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from bench import (
    BIN,
    PDF_PARAGRAPHS,
    Bench,
    BenchError,
    MiB,
    Multipart,
    Phase,
    Row,
    Server,
    at_most,
    find_font,
    http_error,
    percentile,
    proc_status,
    run_phase,
)
from bench_sections import (
    NOISE_OK,
    CpuWatch,
    lat_stats,
    ms,
    new_instance,
    noise_row,
    progress,
    quiet,
    use_source,
)

MB = 1e6
PUSH_FONDS = "000.00.01.H49"
VISIBILITY_FONDS = "000.00.02.H49"
# A made-up word, one syllable for the analyzer (letters and digits, no separator): each
# document gets its own in place of this placeholder, so no two files have the same bytes.
TOKEN_PLACEHOLDER = "vbtoken000000000"
GIVE_UP_S = 30.0  # a sample not found by then counts as never seen
QUERY_TOKENS = 20  # tokens OR-ed in one search (q is at most 500 characters)


# ============================================================================ helpers


def token(prefix: str, serial: int) -> str:
    """A word no real text contains, as wide as the placeholder."""
    width = len(TOKEN_PLACEHOLDER) - len(prefix)
    if serial >= 10 ** width:
        raise BenchError(f"serial {serial} does not fit in a token of prefix {prefix!r}")
    return f"{prefix}{serial:0{width}d}"


def make_token_pdf(font: str, size: int = 0) -> bytes:
    """A one-page Vietnamese decision ending with a look-up code (the placeholder, swapped per
    document by `with_token`) and, with `size`, a grey noise image (a scanned stamp and
    signature; incompressible) that brings it to about `size` bytes.

    Streams are left uncompressed so that the placeholder is in the bytes (the code is set in
    a core font: plain text in the content stream); the page has a text layer, so the
    extractor reads it without OCR.
    """
    from fpdf import FPDF
    from PIL import Image

    def build(side: int) -> bytes:
        pdf = FPDF(format="A4")
        pdf.set_compression(False)
        pdf.set_title("Quyết định phê duyệt kế hoạch chuyển đổi số")
        pdf.add_font("DejaVu", "", font)
        pdf.add_page()
        pdf.set_font("DejaVu", size=11)
        for para in PDF_PARAGRAPHS:
            pdf.multi_cell(0, 5.5, para, new_x="LMARGIN", new_y="NEXT")
        pdf.write(6, "Mã tra cứu hồ sơ: ")
        pdf.set_font("Helvetica", size=11)
        pdf.write(6, TOKEN_PLACEHOLDER)
        if side:
            pdf.ln(8)
            noise = random.Random(side).randbytes(side * side)
            pdf.image(Image.frombytes("L", (side, side), noise), w=40)
        return bytes(pdf.output())

    data = build(0)
    if size > len(data) + 1024:
        data = build(math.isqrt(size - len(data) - 512))
    if data.count(TOKEN_PLACEHOLDER.encode()) != 1:
        raise BenchError("the token placeholder is not in the PDF exactly once")
    Multipart(data)  # raises if the multipart boundary occurs in it
    return data


def with_token(template: bytes, word: str) -> bytes:
    if len(word) != len(TOKEN_PLACEHOLDER):
        raise BenchError(f"token {word!r} is not as wide as the placeholder")
    return template.replace(TOKEN_PLACEHOLDER.encode(), word.encode(), 1)


def ensure_fonds(bench: Bench, code: str, name: str) -> None:
    """The section's own fonds (201), or the one an earlier run of it made (409)."""
    with bench.session() as s:
        r = bench.post_json(s, "/api/v1/fonds", {"code": code, "name": name})
    if r.status_code not in (201, 409):
        raise BenchError(f"cannot create fonds {code}: {http_error(r)}")


def outbox_depth(bench: Bench) -> tuple[int | None, float | None]:
    """(changes waiting for the indexer, age of the oldest in s) from /health/ready."""
    try:
        body = requests.get(f"{bench.base}/api/v1/health/ready", timeout=10).json()
        box = body.get("outbox") or {}
        return box.get("depth"), box.get("oldest_seconds")
    except (requests.RequestException, ValueError):
        return None, None


def wait_indexed(bench: Bench, timeout: float = 300.0) -> float | None:
    """Wait until the worker has indexed every change (outbox empty): seconds waited, or None
    when it did not within `timeout`."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if outbox_depth(bench)[0] == 0:
            return time.perf_counter() - t0
        time.sleep(0.2)
    return None


def phase_rows(label: str, p: Phase, unit: str, mb_per_request: float | None = None
               ) -> list[Row]:
    """Informational rows of a timed phase: rate, (MB/s), median and p95, errors, server CPU."""
    s = p.summary()
    lat = s["latency_ms"]
    rows = [Row(f"{label}: rate", s["rate_per_s"], unit)]
    if mb_per_request is not None and s["rate_per_s"]:
        rows.append(Row(f"{label}: files", round(s["rate_per_s"] * mb_per_request, 1), "MB/s"))
    rows += [Row(f"{label}: median latency", lat["median"], "ms"),
             Row(f"{label}: p95 latency", lat["p95"], "ms", f"max {lat['max']:,.0f} ms"
                 if lat["max"] is not None else "-"),
             Row(f"{label}: errors", p.errors, "", "= 0", p.errors == 0),
             Row(f"{label}: server CPU per request (gunicorn+worker)",
                 s["server_cpu_ms_per_request"], "ms")]
    return rows


def phases_noise_row(section: str, phases: Sequence[Phase]) -> Row:
    other = [p.other_cpu_cores for p in phases if p.other_cpu_cores is not None]
    worst = max(other, default=None)
    return Row(f"{section}: other CPU load during phases (max; noise)", worst, "cores", "~0",
               None if worst is None else worst < NOISE_OK)


# ============================================================================ push


@dataclass
class PushJob:
    body: bytes
    key: str  # Idempotency-Key
    sha256s: list[str]
    file_bytes: int


def push_body(manifest: dict[str, Any], files: Sequence[tuple[str, bytes]]) -> bytes:
    """multipart/form-data: the manifest part (JSON), then one `file` part per file."""
    b = Multipart.BOUNDARY
    parts = [f"--{b}\r\nContent-Disposition: form-data; name=\"manifest\"\r\n"
             f"Content-Type: application/json\r\n\r\n".encode(),
             json.dumps(manifest, ensure_ascii=False).encode()]
    for name, data in files:
        parts += [f"\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; "
                  f"filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n".encode(), data]
    parts.append(f"\r\n--{b}--\r\n".encode())
    return b"".join(parts)


class PushCases:
    """Prebuilt push requests: distinct cases, distinct files (a token per file)."""

    def __init__(self, template: bytes, docs: int) -> None:
        self.template = template
        self.docs = docs
        self.serial = 0

    def case(self, label: str, j: int) -> PushJob:
        files, entries, shas = [], [], []
        for k in range(self.docs):
            self.serial += 1
            data = with_token(self.template, token("vbpush", self.serial))
            name = f"tai-lieu-{k + 1:02d}.pdf"
            sha = hashlib.sha256(data).hexdigest()
            files.append((name, data))
            shas.append(sha)
            entries.append({"metadata": {
                "type_code": "32" if k == 0 else "02",
                "subject": "Đơn đề nghị đăng ký hộ kinh doanh" if k == 0 else
                f"Giấy tờ kèm theo hồ sơ đăng ký hộ kinh doanh, số {k}"},
                "files": [{"name": name, "sha256": sha}]})
        manifest = {"dossier": {"fonds_code": PUSH_FONDS, "retention": "05",
                                "external_ref": f"HS-{label}-{j + 1:05d}",
                                "title": f"Hồ sơ đăng ký hộ kinh doanh ({label}, số {j + 1})",
                                "start_date": "2025-08-01"},
                    "documents": entries}
        return PushJob(push_body(manifest, files), f"motcua-{label}-{j + 1}-{uuid.uuid4()}",
                       shas, sum(len(d) for _, d in files))

    def cases(self, label: str, n: int) -> list[PushJob]:
        return [self.case(label, j) for j in range(n)]


def integration_bench(bench: Bench, fonds_code: str) -> Bench:
    """The same bench, signed in as a desk system: a user with role integration in the fonds."""
    with bench.session() as s:
        r = bench.post_json(s, "/api/v1/users", {"name": f"motcua-bench-{uuid.uuid4().hex[:8]}",
                                                 "roles": ["integration"],
                                                 "fonds_scope": [fonds_code]})
        if r.status_code != 201:
            raise BenchError(f"cannot create the integration user: {http_error(r)}")
        k = bench.post_json(s, f"/api/v1/users/{r.json()['id']}/keys",
                            {"label": "Phần mềm một cửa (benchmark)"})
        if k.status_code != 201:
            raise BenchError(f"cannot issue its key: {http_error(k)}")
    return dataclasses.replace(bench, key=k.json()["secret"])


def section_push(bench: Bench) -> tuple[list[Row], dict[str, Any]]:
    args = bench.args
    n, docs, size = args.push_dossiers, args.push_docs, args.push_file_kib * 1024
    ensure_fonds(bench, PUSH_FONDS, "Ủy ban nhân dân phường Phú Hội")
    desk = integration_bench(bench, PUSH_FONDS)
    template = make_token_pdf(find_font(), size)
    cases = PushCases(template, docs)
    content_type = Multipart(template).content_type
    out: dict[str, Any] = {"dossiers_per_phase": n, "documents_per_dossier": docs,
                           "file_bytes": len(template), "user_role": "integration",
                           "file": "1-page PDF with text and a noise image (no OCR), a "
                                   "distinct token per file"}
    progress(f"push: {n} dossiers x {docs} documents of {len(template) / 1024:,.0f} KiB, "
             "1 client then 2 clients ...")

    def push(session: requests.Session, job: PushJob) -> tuple[bool, str | None, Any]:
        r = session.post(f"{bench.base}/api/v1/dossiers/push", data=job.body, timeout=300,
                         headers={"Content-Type": content_type, "Idempotency-Key": job.key})
        if r.status_code != 201:
            return False, http_error(r), None
        receipt = r.json()
        got = [f["sha256"] for d in receipt.get("documents", []) for f in d.get("files", [])]
        if sorted(got) != sorted(job.sha256s):
            return False, f"receipt of {receipt.get('file_code')}: the files differ", None
        return True, None, receipt["dossier_id"]

    phases: dict[str, Phase] = {}
    warm = cases.cases("WARM", 2)
    phases["warmup"] = run_phase(desk, "push_warmup", 1, warm, push)
    if phases["warmup"].errors:
        raise BenchError(f"push failed: {phases['warmup'].error_samples}")
    catch_up: dict[str, float | None] = {"warmup": wait_indexed(bench)}
    per_push_mb = warm[0].file_bytes / MB
    for name, clients in (("push_1", 1), ("push_2", 2)):
        jobs = cases.cases(name.upper(), n)
        body_mb = sum(len(j.body) for j in jobs) / MB
        phase = run_phase(desk, name, clients, jobs, push)
        phases[name] = phase
        catch_up[name] = wait_indexed(bench)
        progress(f"  {clients} client(s): {phase.rate or 0:.2f} dossiers/s, {phase.errors} "
                 f"errors; index caught up {catch_up[name] or -1:.1f} s later")
        out[name] = {**phase.summary(), "request_body_mb": round(body_mb, 1),
                     "files_mb": round(n * per_push_mb, 1),
                     "index_caught_up_after_s": None if catch_up[name] is None
                     else round(catch_up[name], 2)}
    out["warmup"] = phases["warmup"].summary()

    # A retry of a received case with the same key: the first answer again, nothing twice.
    with desk.session() as s:
        t0 = time.perf_counter()
        again = s.post(f"{bench.base}/api/v1/dossiers/push", data=warm[0].body, timeout=300,
                       headers={"Content-Type": content_type, "Idempotency-Key": warm[0].key})
        replay_s = time.perf_counter() - t0
    replayed = again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    out["replay"] = {"status": again.status_code, "replayed": replayed, "ms": ms(replay_s)}
    out["memory_after"] = bench.server.memory()

    rows: list[Row] = []
    for name, clients in (("push_1", 1), ("push_2", 2)):
        rows += phase_rows(f"push {docs}x{len(template) // 1024} KiB, {clients} client(s)",
                           phases[name], "dossiers/s", per_push_mb)
        rows.append(Row("  index caught up after the last push", None if catch_up[name] is None
                        else round(catch_up[name], 1), "s"))
    rows.append(Row("push: retry with the same Idempotency-Key replayed (1 = yes)",
                    int(replayed), "", f"= 1 ({ms(replay_s):,.0f} ms)", replayed))
    mem = out["memory_after"]
    rows.append(Row("push: gunicorn worker peak RSS (VmHWM, max)",
                    round(mem["max_worker_hwm"] / MiB, 1), "MiB"))
    rows.append(phases_noise_row("push", [phases["push_1"], phases["push_2"]]))
    return rows, out


# ============================================================================ packages


@dataclass
class ChildRun:
    """A finished child process: wall time, CPU and peak resident size (its own)."""

    returncode: int
    wall: float
    cpu: float
    peak_rss: int  # bytes: the highest VmHWM read while it ran
    stdout: str
    stderr: str


def run_measured(cmd: list[str], env: dict[str, str], cwd: Path, every: float = 0.02
                 ) -> ChildRun:
    """Run a command; its peak RSS is its VmHWM, read from /proc every `every` seconds (the
    high-water mark of its own memory since exec: only a peak in its last moments could be
    missed). Not ru_maxrss: wait4(2) reports at least this process's RSS at the fork, because
    the kernel carries the pre-exec high-water mark over into the child's figure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        peak = 0
        try:
            while True:
                peak = max(peak, proc_status(proc.pid)["VmHWM"])
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(every)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(proc.returncode, wall, usage.ru_utime + usage.ru_stime, peak,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def repo_cli(bench: Bench, instance: Path, *cli_args: str) -> ChildRun:
    """`repo-server --instance <instance> ...` as an operator runs it (production settings)."""
    source = Path(bench.args.source).resolve()
    env = Server(instance, 0, source=source, extra_env=bench.args.server_env).env
    run = run_measured([str(BIN / "repo-server"), "--instance", str(instance), *cli_args],
                       env, source)
    if run.returncode != 0:
        raise BenchError(f"repo-server {' '.join(cli_args)} failed ({run.returncode}):\n"
                         f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return run


def section_packages(bench: Bench) -> tuple[list[Row], dict[str, Any]]:
    import bench_packages

    use_source(bench)
    args = bench.args
    large = args.package_docs
    sizes = sorted({max(1, large // 10), large})
    file_bytes = args.package_file_kib * 1024
    work = bench.server.instance / "packages"
    rows: list[Row] = []
    watches: list[CpuWatch] = []
    out: dict[str, Any] = {
        "notes": "The fonds are built in this process through the service layer with fsync "
                 "off (bench_packages.build_fonds: 20 documents per dossier, one file of "
                 f"{file_bytes // 1024} KiB random bytes each, every tenth file replaced by a "
                 "second version); export and import run as `repo-server export` / `repo-server "
                 "import` child processes with the production settings (fsync on, SQLite "
                 "synchronous=FULL); their peak RSS is their VmHWM read from /proc every 20 ms. "
                 "MB/s is the "
                 "package size over the process's wall time (start-up included).",
        "runs": {}}

    source = work / "source"
    env = bench_packages.open_instance(source, fsync=False)
    codes = {n: f"000.00.{k + 10:02d}.B01" for k, n in enumerate(sizes)}
    for n in sizes:
        progress(f"packages: building a fonds of {n:,} documents in-process (fsync off) ...")
        t0 = time.perf_counter()
        made = bench_packages.build_fonds(env, n, file_bytes, fonds_code=codes[n], progress=(
            lambda i, t=t0: progress(f"  {i:,} documents ({i / (time.perf_counter() - t):.0f}"
                                     "/s)")))
        out["runs"][n] = {"built": {**made, "s": round(time.perf_counter() - t0, 1)}}
    env.db.dispose()

    for n in sizes:
        run = out["runs"][n]
        package = work / f"fonds-{n}.zip"
        progress(f"packages: repo-server export --fonds {codes[n]} ({n:,} documents) ...")
        quiet(bench)
        with CpuWatch(f"export {n}") as w:
            exp = repo_cli(bench, source, "export", "--fonds", codes[n], "-o", str(package))
        watches.append(w)
        size_mb = package.stat().st_size / MB
        inner = re.search(r" in ([0-9.]+) s\.", exp.stdout)
        run["export"] = {"package_mb": round(size_mb, 1), "wall_s": round(exp.wall, 2),
                         "cpu_s": round(exp.cpu, 2), "mb_s": round(size_mb / exp.wall, 1),
                         "peak_rss_mib": round(exp.peak_rss / MiB, 1),
                         "inner_s": float(inner.group(1)) if inner else None,
                         "stdout": exp.stdout.strip()[-500:], "other_cpu_cores": w.other_cores}
        progress(f"  {size_mb:,.0f} MB in {exp.wall:.1f} s, peak RSS {exp.peak_rss / MiB:.0f} "
                 "MiB; repo-server import into a new instance ...")
        target = new_instance(bench, f"packages-target-{n}")
        quiet(bench)
        with CpuWatch(f"import {n}") as w:
            imp = repo_cli(bench, target, "import", str(package))
        watches.append(w)
        report = json.loads(imp.stdout)
        run["import"] = {"wall_s": round(imp.wall, 2), "cpu_s": round(imp.cpu, 2),
                         "mb_s": round(size_mb / imp.wall, 1),
                         "peak_rss_mib": round(imp.peak_rss / MiB, 1),
                         "inner_s": report.get("seconds"), "imported": report.get("imported"),
                         "other_cpu_cores": w.other_cores}
        progress(f"  imported in {imp.wall:.1f} s, peak RSS {imp.peak_rss / MiB:.0f} MiB: "
                 f"{report.get('imported')}")
        package.unlink()

        label = f"packages, fonds of {n:,} docs ({size_mb:,.0f} MB)"
        for step, child in (("export", exp), ("import", imp)):
            inner_s = run[step]["inner_s"]
            rows.append(Row(f"{label}: {step} (repo-server {step})", run[step]["mb_s"], "MB/s",
                            f"{child.wall:.1f} s" + (f" ({inner_s:.1f} s inside)"
                                                    if inner_s is not None else "")))
        rows.append(Row(f"{label}: export peak RSS", run["export"]["peak_rss_mib"], "MiB"))
        rows.append(Row(f"{label}: import peak RSS", run["import"]["peak_rss_mib"], "MiB"))
        imported = (report.get("imported") or {}).get("document")
        rows.append(Row(f"{label}: documents imported", imported, "", f"= {n:,}", imported == n))
    if len(sizes) == 2:
        small, big = (out["runs"][n] for n in sizes)
        for step in ("export", "import"):
            ratio = round(big[step]["peak_rss_mib"] / small[step]["peak_rss_mib"], 2)
            label = f"packages: {step} peak RSS, {sizes[1]:,} vs {sizes[0]:,} docs"
            per_doc = round((big[step]["peak_rss_mib"] - small[step]["peak_rss_mib"]) * 1024
                            / (sizes[1] - sizes[0]), 1)
            if step == "export":  # the ZIP's central directory waits on disk: flat
                rows.append(at_most(f"{label} (flat: streamed)", ratio, 1.25, "x"))
            else:  # the `bagit` validator holds every manifest entry (decision 0004)
                rows.append(Row(label, ratio, "x", f"+{per_doc} KB per document"))
    rows.append(noise_row("packages", watches))
    out["cpu_watches"] = [w.summary() for w in watches]
    return rows, out


# ============================================================================ visibility


@dataclass
class Sample:
    doc_id: str
    word: str
    where: str  # "title" or "text"
    created: float  # perf_counter when the 201 arrived
    asked: float | None = None  # when the first search that found it was sent
    seen: float | None = None  # when its answer arrived
    missed: bool = False  # not found within GIVE_UP_S


class Watcher:
    """A thread that searches for the pending samples' words every `interval` seconds: the
    words OR-ed, QUERY_TOKENS per query, so the polling load does not grow with the samples."""

    def __init__(self, bench: Bench, fonds_code: str, interval: float) -> None:
        self.bench = bench
        self.fonds_code = fonds_code
        self.interval = interval
        self.lock = threading.Lock()
        self.pending: list[Sample] = []
        self.done: list[Sample] = []
        self.query_s: list[float] = []
        self.errors = 0
        self.error_samples: list[str] = []
        self.outbox: list[tuple[float, int | None, float | None]] = []
        self.over = threading.Event()
        self.thread = threading.Thread(target=self._run, name="visibility-watch", daemon=True)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.pending.append(sample)

    def start(self) -> None:
        self.thread.start()

    def finish(self, timeout: float) -> None:
        """No more samples come: wait until every one is seen or given up."""
        self.over.set()
        self.thread.join(timeout)

    def take(self) -> list[Sample]:
        with self.lock:
            done, self.done = self.done, []
        return done

    def reset_stats(self) -> dict[str, Any]:
        """Start the poll statistics afresh (after the warm-up); those so far."""
        with self.lock:
            stats = {**lat_stats(self.query_s), "errors": self.errors,
                     "error_samples": self.error_samples}
            self.query_s, self.errors, self.error_samples, self.outbox = [], 0, [], []
        return stats

    def _run(self) -> None:
        session = self.bench.session()
        tick = last_health = time.perf_counter()
        while True:
            now = time.perf_counter()
            with self.lock:
                for s in [s for s in self.pending if now - s.created > GIVE_UP_S]:
                    s.missed = True
                    self.pending.remove(s)
                    self.done.append(s)
                current = list(self.pending)
            if not current and self.over.is_set():
                break
            for i in range(0, len(current), QUERY_TOKENS):
                self._ask(session, current[i:i + QUERY_TOKENS])
            if now - last_health >= 1.0:
                last_health = now
                depth = outbox_depth(self.bench)
                with self.lock:
                    self.outbox.append((now, *depth))
            tick = max(tick + self.interval, time.perf_counter() - self.interval)
            time.sleep(max(0.0, tick - time.perf_counter()))
        session.close()

    def _ask(self, session: requests.Session, chunk: list[Sample]) -> None:
        params = {"q": " OR ".join(s.word for s in chunk), "fonds_code": self.fonds_code,
                  "page_size": 100, "facets": "false", "snippets": "false"}
        t0 = time.perf_counter()
        try:
            r = session.get(f"{self.bench.base}/api/v1/search", params=params, timeout=30)
        except requests.RequestException as exc:
            self._error(f"{type(exc).__name__}: {exc}")
            return
        t1 = time.perf_counter()
        with self.lock:
            self.query_s.append(t1 - t0)
        if r.status_code != 200:
            self._error(http_error(r))
            return
        found = {item["id"] for item in r.json()["items"]}
        with self.lock:
            for s in chunk:
                if s.doc_id in found and s in self.pending:
                    s.asked, s.seen = t0, t1
                    self.pending.remove(s)
                    self.done.append(s)

    def _error(self, text: str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(text)


class Ingest:
    """Creates documents at a steady rate (POST /dossiers/{id}/documents, a small PDF) and
    hands every `sample_every`-th to the watcher, alternately by its title word and by the
    word only in its file's text."""

    def __init__(self, bench: Bench, watcher: Watcher, dossier_ids: list[str], rate: float,
                 sample_every: int, per_dossier: int) -> None:
        self.bench = bench
        self.watcher = watcher
        self.dossier_ids = dossier_ids
        self.rate = rate
        self.sample_every = sample_every
        self.per_dossier = per_dossier
        self.template = make_token_pdf(find_font())
        self.mp = Multipart(self.template)
        self.samples = 0
        self.lock = threading.Lock()
        self.start: float | None = None
        self.offset = 0  # serial of the first document of this run (warm-up ones come first)

    def begin(self, offset: int) -> None:
        self.start, self.offset = None, offset

    def create(self, session: requests.Session, i: int) -> tuple[bool, str | None, Any]:
        """Job i of a run: wait for its turn (start + i / rate), create it, maybe sample it.
        The result is (create latency, lateness) in seconds."""
        with self.lock:
            if self.start is None:
                self.start = time.perf_counter()
            due = self.start + i / self.rate
        time.sleep(max(0.0, due - time.perf_counter()))
        serial = self.offset + i + 1
        title_word, text_word = token("vbtitle", serial), token("vbtext", serial)
        meta = json.dumps({"type_code": "02", "code_number": str(serial),
                           "code_notation": "QĐ-UBND",
                           "subject": f"Quyết định phê duyệt kế hoạch chuyển đổi số, mã hồ sơ "
                                      f"{title_word}"}, ensure_ascii=False).encode()
        body = self.mp.body(meta, with_token(self.template, text_word))
        dossier = self.dossier_ids[(serial - 1) // self.per_dossier]
        t0 = time.perf_counter()
        r = session.post(f"{self.bench.base}/api/v1/dossiers/{dossier}/documents", data=body,
                         headers={"Content-Type": self.mp.content_type}, timeout=60)
        t1 = time.perf_counter()
        if r.status_code != 201:
            return False, http_error(r), None
        if (serial - 1) % self.sample_every == 0:
            with self.lock:
                self.samples += 1
                where = "title" if self.samples % 2 else "text"
            self.watcher.add(Sample(r.json()["id"], title_word if where == "title" else text_word,
                                    where, t1))
        return True, None, (t1 - t0, t0 - due)


def visibility_stats(samples: list[Sample], where: str) -> dict[str, Any]:
    mine = [s for s in samples if s.where == where]
    delays = sorted(s.seen - s.created for s in mine if s.seen is not None)
    optimistic = sorted(s.asked - s.created for s in mine if s.asked is not None)
    return {"samples": len(mine), "seen": len(delays), "never_seen": sum(s.missed for s in mine),
            "delay_s": {"median": round(statistics.median(delays), 3) if delays else None,
                        "p95": round(percentile(delays, 95), 3) if delays else None,
                        "max": round(delays[-1], 3) if delays else None},
            "delay_to_query_sent_s": {"median": round(statistics.median(optimistic), 3)
                                      if optimistic else None,
                                      "p95": round(percentile(optimistic, 95), 3)
                                      if optimistic else None}}


def section_visibility(bench: Bench) -> tuple[list[Row], dict[str, Any]]:
    args = bench.args
    rate, seconds = args.visibility_rate, args.visibility_seconds
    n = max(1, round(rate * seconds))
    warm_n = 10
    per_dossier = 20
    ensure_fonds(bench, VISIBILITY_FONDS, "Ủy ban nhân dân phường Vĩnh Ninh")
    with bench.session() as s:
        dossier_ids = []
        for j in range(math.ceil((n + warm_n) / per_dossier)):
            r = bench.post_json(s, "/api/v1/dossiers", {
                "fonds_code": VISIBILITY_FONDS, "retention": "05", "start_date": "2025-07-15",
                "title": f"Hồ sơ kế hoạch chuyển đổi số năm 2025, tập {j + 1}"})
            if r.status_code != 201:
                raise BenchError(f"cannot create a dossier: {http_error(r)}")
            dossier_ids.append(r.json()["id"])
    waited = wait_indexed(bench)
    watcher = Watcher(bench, VISIBILITY_FONDS, args.visibility_poll_ms / 1000)
    ingest = Ingest(bench, watcher, dossier_ids, rate, 1, per_dossier)
    watcher.start()

    # -- warm-up: every document sampled; also proves both words are findable -------------
    progress(f"visibility: warm-up ({warm_n} documents, each looked for) ...")
    ingest.begin(0)
    warm = run_phase(bench, "visibility_warmup", 1, range(warm_n), ingest.create)
    deadline = time.perf_counter() + GIVE_UP_S + 5
    while time.perf_counter() < deadline and len(watcher.done) < ingest.samples:
        time.sleep(0.1)
    warm_samples = watcher.take()
    lost = [s for s in warm_samples if s.seen is None]
    if warm.errors or lost or len(warm_samples) < warm_n:
        raise BenchError(f"warm-up: {warm.errors} create errors {warm.error_samples}; "
                         f"{len(lost)} of {len(warm_samples)} documents never found by search "
                         f"({[(s.where, s.word) for s in lost][:4]}); search errors "
                         f"{watcher.error_samples}")
    warm_polls = watcher.reset_stats()

    # -- steady ingest -------------------------------------------------------------------
    ingest.sample_every = args.visibility_sample_every
    ingest.samples = 0
    progress(f"visibility: {n:,} documents at {rate:g}/s with {args.visibility_clients} "
             f"clients, every {ingest.sample_every}th looked for every "
             f"{args.visibility_poll_ms:g} ms ...")
    ingest.begin(warm_n)
    results: list[Any] = [None] * n
    phase = run_phase(bench, "visibility_ingest", args.visibility_clients, range(n),
                      ingest.create, results)
    watcher.finish(GIVE_UP_S + 30)
    samples = watcher.take()
    if watcher.thread.is_alive():
        raise BenchError("the visibility watcher did not finish")
    made = [r for r in results if r is not None]
    achieved = len(made) / phase.wall if phase.wall else 0.0
    creates = sorted(r[0] for r in made)
    late = sorted(r[1] for r in made)
    depths = [d for _, d, _ in watcher.outbox if d is not None]
    ages = [a for _, _, a in watcher.outbox if a is not None]
    by = {where: visibility_stats(samples, where) for where in ("title", "text")}
    out: dict[str, Any] = {
        "notes": "Metadata and text reach the index together: the worker extracts the file's "
                 "text, then indexes the document's record (services/indexing.drain_outbox), "
                 "so a title word is not searchable before the text is read. Delay = arrival "
                 "of the first search answer that lists the document - arrival of its 201 "
                 "(conservative: up to one poll interval plus one search late); "
                 "delay_to_query_sent_s is the same to the sending of that search.",
        "requested_rate": rate, "seconds": seconds, "documents": n,
        "achieved_rate": round(achieved, 2), "clients": args.visibility_clients,
        "sample_every": ingest.sample_every, "poll_ms": args.visibility_poll_ms,
        "give_up_s": GIVE_UP_S, "waited_for_index_before_s": waited,
        "pdf_bytes": len(ingest.template),
        "create_latency": lat_stats(creates), "lateness": lat_stats(late),
        "phase": phase.summary(), "warmup": {"samples": len(warm_samples), "delays_s": [
            round(s.seen - s.created, 3) for s in warm_samples if s.seen is not None],
            "search_polls": warm_polls},
        "by_word": by,
        "search_polls": {**lat_stats(watcher.query_s), "errors": watcher.errors,
                         "error_samples": watcher.error_samples},
        "outbox": {"max_depth": max(depths, default=None),
                   "max_oldest_s": max(ages, default=None),
                   "series": [(round(t - watcher.outbox[0][0], 1), d, a)
                              for t, d, a in watcher.outbox]},
        "memory_after": bench.server.memory()}
    progress(f"  {achieved:.1f} docs/s; title word p95 {by['title']['delay_s']['p95']} s, "
             f"text word p95 {by['text']['delay_s']['p95']} s")

    rows = [Row("visibility: steady ingest achieved", round(achieved, 1), "docs/s",
                f">= 95% of {rate:g}", achieved >= 0.95 * rate),
            Row("visibility: create median / p95", out["create_latency"]["median_ms"], "ms",
                f"p95 {out['create_latency']['p95_ms'] or 0:,.0f} ms"),
            Row("visibility: create errors", phase.errors, "", "= 0", phase.errors == 0)]
    for where, label in (("title", "word in the title (metadata)"),
                         ("text", "word only in the file's text")):
        st = by[where]
        delay = st["delay_s"]
        rows += [Row(f"visibility, {label}: median", delay["median"], "s",
                     f"{st['seen']} of {st['samples']} seen"),
                 at_most(f"visibility, {label}: p95", delay["p95"], 2, "s"),
                 Row(f"visibility, {label}: max", delay["max"], "s"),
                 Row(f"visibility, {label}: never seen within {GIVE_UP_S:g} s",
                     st["never_seen"], "", "= 0", st["never_seen"] == 0)]
    rows.append(Row("visibility: indexer backlog, max (outbox depth)", max(depths, default=None),
                    "changes", f"oldest {max(ages, default=0):.1f} s"))
    rows.append(Row("visibility: search polls, median", out["search_polls"]["median_ms"], "ms",
                    f"{len(watcher.query_s):,} polls, {watcher.errors} errors",
                    watcher.errors == 0))
    rows.append(phases_noise_row("visibility", [phase]))
    return rows, out


# ============================================================================ registry


SECTIONS = {"push": section_push, "packages": section_packages,
            "visibility": section_visibility}
SERVERLESS = frozenset({"packages"})


def add_arguments(p) -> None:  # noqa: ANN001
    g = p.add_argument_group("push, packages (issue 7) and visibility (issue 3)")
    g.add_argument("--push-dossiers", type=int, default=30,
                   help="dossiers pushed by 1 client, then as many by 2 clients (default 30)")
    g.add_argument("--push-docs", type=int, default=20,
                   help="documents (one file each) per pushed dossier (default 20)")
    g.add_argument("--push-file-kib", type=int, default=200,
                   help="size of each pushed file in KiB (default 200)")
    g.add_argument("--package-docs", type=int, default=10_000,
                   help="documents in the exported fonds; a fonds of a tenth as many is "
                        "exported too, for the memory comparison (default 10000)")
    g.add_argument("--package-file-kib", type=int, default=100,
                   help="size of each document's file in KiB (default 100)")
    g.add_argument("--visibility-seconds", type=float, default=60,
                   help="duration of the steady ingest (default 60)")
    g.add_argument("--visibility-rate", type=float, default=20,
                   help="documents created per second (default 20)")
    g.add_argument("--visibility-clients", type=int, default=2,
                   help="client threads sharing the ingest (default 2)")
    g.add_argument("--visibility-sample-every", type=int, default=4,
                   help="look for every n-th document created (default 4)")
    g.add_argument("--visibility-poll-ms", type=float, default=50,
                   help="search poll interval in ms (default 50)")


def check_arguments(p, args) -> None:  # noqa: ANN001
    if min(args.push_dossiers, args.push_docs, args.push_file_kib, args.package_docs,
           args.package_file_kib, args.visibility_clients, args.visibility_sample_every) < 1:
        p.error("the push, packages and visibility sizes must be at least 1")
    if min(args.visibility_seconds, args.visibility_rate, args.visibility_poll_ms) <= 0:
        p.error("--visibility-seconds, --visibility-rate and --visibility-poll-ms must be > 0")
