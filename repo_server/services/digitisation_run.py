"""Running a digitisation batch: scans converted in a pool of processes, dossiers filed whole.

One runner works on a batch at a time (a claim with a heartbeat in the batch row; a runner
that stopped reporting is replaced). Documents are converted by DIGITISATION_WORKERS
processes at low priority (WORKER_NICE), so the API keeps answering; as soon as every
document of a dossier is converted, the dossier is filed with all its documents in one
all-or-nothing write (the push path), under ids chosen when the batch was made. A runner
that starts again after a crash finds what was filed by those ids, finishes or removes a
write the crash interrupted, reuses every PDF/A already made, and converts the rest.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import or_, select

from ..catalog import DigitisationBatch, DigitisationDossier, DigitisationItem, Dossier
from ..extract.scans import ConversionJob, ScanError, ScanSource, convert, init_worker
from . import audit
from .context import Actor, Env
from .digitisation import STALE_AFTER, batch_dir
from .digitisation_report import judge, standard, write_report
from .digitisation_status import batch_view
from .documents import IncomingFile, clean_file_name
from .errors import ServiceError
from .push import PushedDocument, push_dossier
from .rebuild import reconcile_pending
from .records import from_json_dict
from .texts import ORIGINAL_SCAN

log = logging.getLogger(__name__)
Progress = Callable[[int], None]  # called with the number of pages just converted
HEARTBEAT_SECONDS = 5.0


class TakenOver(Exception):
    """Another runner claimed the batch (this one was thought gone): stop quietly."""


def workers_for(env: Env, requested: int | None = None) -> int:
    n = requested or int(env.config.get("DIGITISATION_WORKERS") or 0)
    return max(1, n or (os.cpu_count() or 1))


def _claimable(now):  # noqa: ANN001, ANN202
    return or_(DigitisationBatch.state == "queued",
               (DigitisationBatch.state == "running")
               & ((DigitisationBatch.heartbeat_at.is_(None))
                  | (DigitisationBatch.heartbeat_at < now - STALE_AFTER)))


def has_work(env: Env) -> bool:
    """A cheap read: is any batch waiting (or abandoned by a runner that stopped)?"""
    with env.db.read() as session:
        return session.scalar(select(DigitisationBatch.id).where(
            _claimable(env.now())).limit(1)) is not None


def claim_batch(env: Env, runner: str, batch_id: str | None = None) -> str | None:
    """Take a queued batch (or one whose runner stopped reporting); None if there is none."""
    now = env.now()
    with env.db.write() as session:
        stmt = select(DigitisationBatch).where(_claimable(now))
        if batch_id is not None:
            stmt = stmt.where(DigitisationBatch.id == batch_id)
        row = session.scalar(stmt.order_by(DigitisationBatch.created_at).limit(1)
                             .with_for_update(skip_locked=True))
        if row is None:
            return None
        converted = sum(i.pages for i in session.scalars(select(DigitisationItem).where(
            DigitisationItem.batch_id == row.id,
            DigitisationItem.state.in_(("converted", "done")))))
        row.state, row.runner, row.heartbeat_at, row.started_at = "running", runner, now, now
        row.options = {**(row.options or {}), "run": {"pages_before": converted}}
        return row.id


class BatchRunner:
    """One run of one batch (see the module docstring)."""

    def __init__(self, env: Env, batch_id: str, runner: str, *, workers: int | None = None,
                 progress: Progress | None = None) -> None:
        self.env, self.batch_id, self.runner = env, batch_id, runner
        self.workers = workers_for(env, workers)
        self.progress = progress or (lambda n: None)
        self.folder = batch_dir(env, batch_id)
        self.rules = standard(env)
        self.keep_originals = bool(env.config.get("DIGITISATION_KEEP_ORIGINALS", True))
        self._last_beat = 0.0
        self.cancelled = False
        self.cpu = 0.0

    # ------------------------------------------------------------------ state
    def _load(self) -> tuple[DigitisationBatch, list[DigitisationDossier],
                             dict[int, list[DigitisationItem]]]:
        with self.env.db.read() as session:
            batch = session.get(DigitisationBatch, self.batch_id)
            dossiers = list(session.scalars(select(DigitisationDossier).where(
                DigitisationDossier.batch_id == self.batch_id).order_by(
                DigitisationDossier.position)))
            items: dict[int, list[DigitisationItem]] = {}
            for item in session.scalars(select(DigitisationItem).where(
                    DigitisationItem.batch_id == self.batch_id).order_by(
                    DigitisationItem.dossier_position, DigitisationItem.serial)):
                items.setdefault(item.dossier_position, []).append(item)
            for row in [batch, *dossiers, *(i for v in items.values() for i in v)]:
                session.expunge(row)
        return batch, dossiers, items

    def _beat(self, force: bool = False) -> bool:
        """Report that the run goes on; True when a cancel was asked for."""
        now = time.monotonic()
        if not force and now - self._last_beat < HEARTBEAT_SECONDS:
            return self.cancelled
        self._last_beat = now
        with self.env.db.write() as session:
            row = session.get(DigitisationBatch, self.batch_id)
            if row.runner != self.runner:
                raise TakenOver(f"batch {self.batch_id} was taken over by {row.runner}")
            row.heartbeat_at = self.env.now()
            self.cancelled = bool(row.cancel_requested)
        return self.cancelled

    def _save_item(self, item_id: int, **values: Any) -> None:
        with self.env.db.write() as session:
            item = session.get(DigitisationItem, item_id)
            for key, value in values.items():
                setattr(item, key, value)

    def _save_dossier(self, dossier_id: int, **values: Any) -> None:
        with self.env.db.write() as session:
            row = session.get(DigitisationDossier, dossier_id)
            for key, value in values.items():
                setattr(row, key, value)

    # ------------------------------------------------------------------ the run
    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        batch, dossiers, items = self._load()
        error = None
        try:
            source = ScanSource.open(batch.source)
        except (ScanError, OSError) as exc:
            source, error = None, f"The scans of this batch cannot be read any more: {exc}"
        try:
            if source is not None:
                self._run(batch, dossiers, items, source)
        except KeyboardInterrupt:  # Ctrl-C in the CLI: a cancel; `resume` goes on later
            self.cancelled = True
            self._finish(started, None)
            raise
        except TakenOver:
            log.warning("batch %s: another runner took over; this one stops", self.batch_id)
            source.close()
            return {"id": self.batch_id, "state": "taken_over"}
        except Exception as exc:  # noqa: BLE001 - recorded on the batch, resumable
            log.exception("digitisation batch %s failed", self.batch_id)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            if source is not None:
                source.close()
        return self._finish(started, error)

    def _run(self, batch: DigitisationBatch, dossiers: list[DigitisationDossier],
             items: dict[int, list[DigitisationItem]], source: ScanSource) -> None:
        actor = Actor(name=batch.created_by, roles=("system",), conditional=True,
                      clearance=True)
        todo: list[tuple[DigitisationDossier, list[DigitisationItem]]] = []
        for dossier in dossiers:
            if dossier.state == "done":
                continue
            mine = items.get(dossier.position, [])
            if self._already_filed(dossier, mine):
                continue
            todo.append((dossier, mine))
        jobs: list[tuple[DigitisationDossier, DigitisationItem]] = []
        for dossier, mine in todo:
            for item in mine:
                if item.state == "converted" and self._output(item).is_file():
                    continue
                jobs.append((dossier, item))
        # dossiers whose documents are all converted already (a resumed batch) go first
        for dossier, mine in todo:
            if all(i.state == "converted" and self._output(i).is_file() for i in mine):
                self._file(actor, dossier, mine, source)
        remaining = {d.position: [i for i in mine if i.state != "done"] for d, mine in todo}
        if not jobs:
            return
        context = multiprocessing.get_context("spawn")  # never fork a threaded server
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(jobs)), mp_context=context,
                                   initializer=init_worker,
                                   initargs=(int(self.env.config.get("WORKER_NICE", 0)),))
        running: dict[Future, tuple[DigitisationDossier, DigitisationItem, Path]] = {}
        queue = list(jobs)
        try:
            while queue or running:
                while queue and len(running) < self.workers * 2 and not self.cancelled:
                    dossier, item = queue.pop(0)
                    job, scratch = self._job(item, source)
                    running[pool.submit(convert, job)] = (dossier, item, scratch)
                done, _ = wait(running, timeout=HEARTBEAT_SECONDS / 2,
                               return_when=FIRST_COMPLETED)
                if self._beat():
                    # cancelled: conversions in progress stop now; their documents stay
                    # pending (nothing of theirs was filed) and a resumed batch redoes them
                    _stop_processes(pool)
                    break
                for future in done:
                    dossier, item, scratch = running.pop(future)
                    shutil.rmtree(scratch, ignore_errors=True)
                    self._converted(item, future.result())
                    mine = remaining[dossier.position]
                    if all(i.state in ("converted", "failed") for i in mine):
                        failed = [i for i in mine if i.state == "failed"]
                        if failed:
                            self._save_dossier(dossier.id, state="failed", error="; ".join(
                                f"row {i.row}: {i.error}" for i in failed))
                        else:
                            self._file(actor, dossier, mine, source)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for _, _, scratch in running.values():
                shutil.rmtree(scratch, ignore_errors=True)

    def _output(self, item: DigitisationItem) -> Path:
        return self.folder / "out" / f"{item.id}.pdf"

    def _job(self, item: DigitisationItem, source: ScanSource) -> tuple[ConversionJob, Path]:
        scratch = self.folder / "tmp" / str(item.id)
        shutil.rmtree(scratch, ignore_errors=True)
        paths = []
        for k, name in enumerate(item.scans):
            if source.root.is_dir():
                paths.append(str(source.root / source.resolve(name)))
            else:
                target = scratch / f"{k:04d}{PurePosixPath(name).suffix.lower()}"
                paths.append(str(source.copy_to(name, target)))
        self._output(item).parent.mkdir(parents=True, exist_ok=True)
        return ConversionJob(key=str(item.id), sources=paths, output=str(self._output(item)),
                             labels=list(item.scans),
                             languages=str(self.env.config.get("DIGITISATION_OCR_LANGUAGES")
                                           or "vie"),
                             pdfa=str(self.env.config.get("DIGITISATION_PDFA") or "2")), scratch

    def _converted(self, item: DigitisationItem, result) -> None:  # noqa: ANN001
        self.cpu += result.cpu_seconds
        if result.ok:
            pages = judge(result.pages, item.data.get("type_code"), self.rules)
            item.state, item.quality, item.output_sha256 = "converted", pages, result.output_sha256
            self._save_item(item.id, state="converted", quality=pages, error=None,
                            output_sha256=result.output_sha256,
                            cpu_seconds=result.cpu_seconds, pages=len(pages) or item.pages)
        else:
            item.state, item.error = "failed", result.error
            self._save_item(item.id, state="failed", error=result.error,
                            cpu_seconds=result.cpu_seconds)
        self.progress(item.pages)

    # ------------------------------------------------------------------ filing
    def _already_filed(self, dossier: DigitisationDossier,
                       mine: list[DigitisationItem]) -> bool:
        """A dossier a previous run filed (or began to file before a crash)."""
        ids = [dossier.dossier_id, *(i.document_id for i in mine)]
        with self.env.db.read() as session:
            row = session.get(Dossier, dossier.dossier_id)
        if row is None or row.head_version == 0:
            if reconcile_pending(self.env, only=ids):  # finish or undo an interrupted filing
                with self.env.db.read() as session:
                    row = session.get(Dossier, dossier.dossier_id)
        if row is None or row.head_version == 0:
            return False
        self._done(dossier, mine)
        return True

    def _done(self, dossier: DigitisationDossier, mine: list[DigitisationItem]) -> None:
        with self.env.db.write() as session:
            session.get(DigitisationDossier, dossier.id).state = "done"
            session.get(DigitisationDossier, dossier.id).error = None
            for item in mine:
                session.get(DigitisationItem, item.id).state = "done"
        dossier.state = "done"
        for item in mine:
            item.state = "done"
            self._output(item).unlink(missing_ok=True)

    def _file(self, actor: Actor, dossier: DigitisationDossier, mine: list[DigitisationItem],
              source: ScanSource) -> None:
        """File the dossier with all its documents at once (all or nothing)."""
        data = from_json_dict(dict(dossier.data))
        documents: list[PushedDocument] = []
        try:
            for item in mine:
                documents.append(self._document(dossier, item, source))
            total_pages = sum(len(i.quality or []) or i.pages for i in mine)
            sheets = [d.data.get("sheet_count") for d in documents]
            data.update(file_code=dossier.file_code, confidence_level="02",
                        page_count=total_pages)
            if data.get("sheet_count") is None:
                data["sheet_count"] = sum(sheets) if all(s is not None for s in sheets) \
                    else total_pages
            push_dossier(self.env, actor, data, documents, dossier_id=dossier.dossier_id,
                         source="digitisation")
        except ServiceError as exc:
            self._discard(documents)
            self._save_dossier(dossier.id, state="failed", error=exc.message)
            return
        except Exception:
            self._discard(documents)
            raise
        self._done(dossier, mine)

    def _discard(self, documents: list[PushedDocument]) -> None:
        for doc in documents:
            for f in doc.files:
                if f.staged.path.exists():
                    self.env.store.discard(f.staged)

    def _document(self, dossier: DigitisationDossier, item: DigitisationItem,
                  source: ScanSource) -> PushedDocument:
        doc_code = f"{dossier.file_code}.{item.serial:07d}"
        archival = f"{doc_code}.pdf"
        with open(self._output(item), "rb") as fh:
            staged = self.env.store.stage(fh)
        files = [IncomingFile(name=archival, media_type="application/pdf", staged=staged,
                              expected_sha256=item.output_sha256)]
        originals: list[str] = []
        if self.keep_originals:
            for k, name in enumerate(item.scans, 1):
                base = clean_file_name(PurePosixPath(name.replace("\\", "/")).name)
                if base in originals or base == archival:
                    base = f"{k}-{base}"
                with source.open_file(name) as fh:
                    files.append(IncomingFile(name=base, media_type=_media_type(base),
                                              staged=self.env.store.stage(fh),
                                              role=ORIGINAL_SCAN))
                originals.append(base)
        pages = item.quality or []
        meta = from_json_dict(dict(item.data))
        meta.update(confidence_level="02", page_count=len(pages) or item.pages,
                    paper_file_code=dossier.data.get("paper_file_code"))
        meta["digitisation"] = {
            "batch_id": self.batch_id, "archival_file": archival,
            "original_scans": originals, "pdfa": f"PDF/A-{self.env.config.get('DIGITISATION_PDFA') or '2'}",
            "pages_below_standard": [{"page": p["page"], "problems": [x["message"] for x in
                                                                     p["problems"]]}
                                     for p in pages if p.get("problems")]}
        return PushedDocument(data=meta, files=files, id=item.document_id)

    # ------------------------------------------------------------------ end
    def _finish(self, started: float, error: str | None) -> dict[str, Any]:
        with self.env.db.write() as session:
            row = session.get(DigitisationBatch, self.batch_id)
            states = [d.state for d in session.scalars(select(DigitisationDossier).where(
                DigitisationDossier.batch_id == self.batch_id))]
            if self.cancelled or row.cancel_requested:
                state = "cancelled"
            elif error:
                state = "failed"
            elif all(s == "done" for s in states):
                state = "done"
            else:
                state = "partial"
            row.state, row.error, row.finished_at = state, error, self.env.now()
            row.heartbeat_at, row.runner = None, None
            row.cpu_seconds = (row.cpu_seconds or 0.0) + self.cpu
            row.work_seconds = (row.work_seconds or 0.0) + (time.monotonic() - started)
            audit.log_in(session, self.env, Actor(name=row.created_by, roles=("system",)),
                         "digitisation.run", self.batch_id,
                         {"state": state, "dossiers_done": states.count("done"),
                          "dossiers_failed": states.count("failed")})
        try:
            write_report(self.env, self.batch_id, "json", self.folder)
        except Exception:  # noqa: BLE001 - the report is made again on request
            log.exception("could not write the report of batch %s", self.batch_id)
        shutil.rmtree(self.folder / "tmp", ignore_errors=True)
        if state == "done":
            self._drop_uploaded_scans()

        with self.env.db.read() as session:
            return batch_view(session, self.env, session.get(DigitisationBatch, self.batch_id))


    def _drop_uploaded_scans(self) -> None:
        """Once every dossier is filed, scans uploaded into the batch folder are no longer
        needed (the originals are in the records, if kept); a clerk's own folder or ZIP
        (CLI) is never touched."""
        with self.env.db.read() as session:
            source = Path(session.get(DigitisationBatch, self.batch_id).source)
        if self.folder.resolve() in source.resolve().parents:
            if source.is_dir():
                shutil.rmtree(source, ignore_errors=True)
            else:
                source.unlink(missing_ok=True)


def _media_type(name: str) -> str:
    return {".pdf": "application/pdf", ".tif": "image/tiff", ".tiff": "image/tiff",
            ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
            ".png": "image/png"}.get(PurePosixPath(name).suffix.lower(),
                                     "application/octet-stream")


def _stop_processes(pool: ProcessPoolExecutor) -> None:
    """Cancel: stop the conversions in progress at once (their partial output is dropped;
    nothing of theirs was filed). ProcessPoolExecutor has no public way to do this."""
    for process in list(getattr(pool, "_processes", {}).values()):
        try:
            process.terminate()
        except Exception:  # noqa: BLE001 - already gone
            pass


def run_batch(env: Env, batch_id: str, runner: str, *, workers: int | None = None,
              progress: Progress | None = None) -> dict[str, Any]:
    """Run a batch this process has claimed (see `claim_batch`) to its end."""
    return BatchRunner(env, batch_id, runner, workers=workers, progress=progress).run()
