"""Benchmark of transfer packages (issue 7): export of a fonds and its import into a second
repository, as MB/s of package and peak memory (resident set) of each phase.

    .venv/bin/python scripts/bench_packages.py --docs 2000 [--workdir DIR] [--file-kib 100]

`run(docs, workdir)` returns the figures as a dict (scripts/bench.py can call it). The fonds is
built through the service layer with fsync off (building is not measured); the export reads it
as the API does; the import writes into a fresh repository with the production defaults (fsync
on, SQLite synchronous=FULL) unless `fsync=False`. Peak memory is the process's VmHWM, reset
before each phase (Linux /proc/self/clear_refs), next to the resident size before the phase.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FONDS = "000.00.00.B01"
DOCS_PER_DOSSIER = 20


def _rss() -> tuple[float, float]:
    """(current, peak since the last reset) resident size in MiB."""
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def open_instance(path: Path, fsync: bool):  # noqa: ANN201
    """The service env of a new instance folder (catalog migrated); fsync off for building."""
    from repo_server import build_env
    from repo_server.catalog.migrate import upgrade
    from repo_server.config import load_config

    path.mkdir(parents=True, exist_ok=True)
    overrides: dict[str, Any] = {"DATABASE_URL": f"sqlite:///{path / 'repo.db'}"}
    if not fsync:
        overrides |= {"FSYNC": False, "SQLITE_SYNCHRONOUS": "NORMAL"}
    config = load_config(path, overrides)
    upgrade(config["DATABASE_URL"])
    return build_env(config)


def build_fonds(env, docs: int, file_bytes: int, fonds_code: str = FONDS,  # noqa: ANN001
                progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """A fonds of `docs` documents (20 per dossier), one file each, every tenth replaced.

    `progress` is called with the number of documents made so far, every 1,000."""
    from repo_server.services import documents, dossiers, fonds
    from repo_server.services.context import Actor
    from repo_server.services.documents import IncomingFile

    actor = Actor(name="bench", roles=("admin",), conditional=True, clearance=True)
    fonds.create_fonds(env, actor, {"code": fonds_code, "name": "UBND xã Bình Minh (benchmark)"})
    made = {"dossiers": 0, "documents": 0, "bytes": 0}
    dossier = None
    for i in range(docs):
        if i % DOCS_PER_DOSSIER == 0:
            dossier = dossiers.create_dossier(env, actor, {
                "fonds_code": fonds_code, "title": f"Hồ sơ giải quyết thủ tục hành chính số {i}",
                "retention": "05", "keywords": ["thủ tục", "một cửa"]})
            made["dossiers"] += 1
        body = os.urandom(file_bytes)
        staged = env.store.stage_bytes(body)
        doc = documents.create_document(env, actor, dossier["id"], {
            "type_code": "02", "subject": f"Quyết định giải quyết hồ sơ {i}",
            "code_number": str(i + 1), "code_notation": "QĐ-UBND"},
            [IncomingFile(f"quyet-dinh-{i}.pdf", "application/pdf", staged)])
        made["documents"] += 1
        made["bytes"] += file_bytes
        if i % 10 == 0:
            signed = env.store.stage_bytes(os.urandom(file_bytes))
            documents.replace_file(env, actor, doc["id"], f"quyet-dinh-{i}.pdf",
                                   IncomingFile(f"quyet-dinh-{i}.pdf", "application/pdf", signed),
                                   doc["version"])
            made["bytes"] += file_bytes
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1)
    return made


def run(docs: int = 2000, workdir: str | Path | None = None, *, file_bytes: int = 100 * 1024,
        fsync: bool = True) -> dict[str, Any]:
    """Build a fonds of `docs` documents, export it, import it elsewhere; the figures."""
    from repo_server.services.context import Actor
    from repo_server.services.packages import export_to_file, import_package, prepare_export

    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="bench-packages-")
        workdir = own_tmp.name
    work = Path(workdir)
    actor = Actor(name="bench", roles=("admin",), conditional=True, clearance=True)
    try:
        source = open_instance(work / "source", fsync=False)
        started = time.perf_counter()
        made = build_fonds(source, docs, file_bytes)
        build_s = time.perf_counter() - started

        package = work / "package.zip"
        selection = prepare_export(source, actor, fonds_code=FONDS)
        before, _ = _rss()
        _reset_peak()
        started = time.perf_counter()
        stats = export_to_file(source, actor, selection, package)
        export_s = time.perf_counter() - started
        _, export_peak = _rss()

        target = open_instance(work / "target", fsync=fsync)
        import_before, _ = _rss()
        _reset_peak()
        started = time.perf_counter()
        report = import_package(target, actor, package)
        import_s = time.perf_counter() - started
        _, import_peak = _rss()
        assert report["imported"]["document"] == made["documents"], report["imported"]

        size_mb = package.stat().st_size / 1e6
        return {
            "documents": made["documents"], "dossiers": made["dossiers"],
            "content_mb": round(made["bytes"] / 1e6, 1), "build_s": round(build_s, 1),
            "package_mb": round(size_mb, 1), "package_files": stats["payload_files"],
            "versions": stats["versions"],
            "export_s": round(export_s, 2), "export_mb_s": round(size_mb / export_s, 1),
            "export_rss_before_mib": round(before, 1),
            "export_peak_rss_mib": round(export_peak, 1),
            "import_s": round(import_s, 2), "import_mb_s": round(size_mb / import_s, 1),
            "import_rss_before_mib": round(import_before, 1),
            "import_peak_rss_mib": round(import_peak, 1),
            "import_fsync": fsync,
        }
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--file-kib", type=int, default=100)
    parser.add_argument("--no-fsync", action="store_true", help="import with fsync off")
    args = parser.parse_args()
    result = run(args.docs, args.workdir, file_bytes=args.file_kib * 1024,
                 fsync=not args.no_fsync)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
