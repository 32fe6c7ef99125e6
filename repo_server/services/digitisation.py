"""Digitisation batches: a finding aid plus scans, checked first, then converted and filed.

    batch = create_batch(env, actor, fonds_code, [(path, name)], scans)   # checked, queued
    run_batch(env, batch["id"], ...)          # digitisation_run.py: worker or CLI process
    get_batch(env, actor, batch_id)           # counts, ETA

Nothing is written until the whole finding aid is valid, unless the clerk chose to import
the valid rows (then every dossier with a problem is left out, listed in the batch). A batch
keeps its rows and results in the catalog and its files in DIGITISATION_DIR/<batch id>/, so
it can be resumed after a crash and run again: what is done is skipped, what failed is
retried. The dossiers it makes are ordinary records (confidence level 02).
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from ..catalog import DigitisationBatch, DigitisationDossier, DigitisationItem, Dossier, Fonds
from ..extract.ocr import ocr_problem
from ..extract.scans import ScanError, ScanSource
from . import audit
from .access import in_scope
from .context import Actor, Env
from .digitisation_report import write_report
from .digitisation_status import batch_view
from .errors import Conflict, NotFound, PayloadTooLarge, ServiceError
from .finding_aid import FindingAid, Problem, read_finding_aid
from .records import new_id, to_json_dict
from .rights import reach_fonds, require

STALE_AFTER = timedelta(seconds=90)  # a runner that has not reported for this long is gone
FINISHED = ("done", "partial", "cancelled")


class BatchRejected(ServiceError):
    """The finding aid or the scans have problems; nothing was written."""

    status = 422


def work_root(env: Env) -> Path:
    configured = env.config.get("DIGITISATION_DIR")
    return Path(configured) if configured else Path(env.config["INSTANCE_PATH"]) / "digitisation"


def batch_dir(env: Env, batch_id: str) -> Path:
    return work_root(env) / batch_id


# ----------------------------------------------------------------------------- checking

def _where(p: Problem) -> str:
    parts = [p.sheet]
    if p.row:
        parts.append(f"row {p.row}")
    if p.column:
        parts.append(f"column {p.column}")
    return ", ".join(parts)


def problem_lines(problems: list[Problem]) -> list[str]:
    return [f"{_where(p)}: {p.message}" for p in problems]


def _check_scans(aid: FindingAid, source: ScanSource) -> list[str]:
    """Every scan present and readable (pages counted); returns names no row uses."""
    used: dict[str, tuple[str, int]] = {}
    for dossier in aid.dossiers:
        for doc in dossier.documents:
            doc.pages = 0
            for name in doc.scans:
                column = doc.columns.get("scans", "scans")
                key = name.casefold()
                if key in used and used[key] != (doc.sheet, doc.row):
                    doc.problems.append(Problem(doc.sheet, doc.row, column,
                                                f"The scan {name!r} is also named on row "
                                                f"{used[key][1]}; a page belongs to one "
                                                "document.", name))
                    continue
                used[key] = (doc.sheet, doc.row)
                if name not in source:
                    doc.problems.append(Problem(doc.sheet, doc.row, column,
                                                f"The scan {name!r} is not among the scans "
                                                "sent (check the name and the folder).", name))
                    continue
                try:
                    doc.pages += source.page_count(name)
                except ScanError as exc:
                    doc.problems.append(Problem(doc.sheet, doc.row, column, str(exc), name))
            if doc.declared_pages is not None and not doc.problems and \
                    doc.declared_pages != doc.pages:
                doc.problems.append(Problem(
                    doc.sheet, doc.row, doc.columns.get("page_count", "page_count"),
                    f"The document list says {doc.declared_pages} pages but its scans have "
                    f"{doc.pages}; a page may be missing or extra.", str(doc.declared_pages)))
    named = {n.casefold() for n in used}
    return [n for n in source.all_names() if n.casefold() not in named
            and not any(n.casefold().endswith(u) for u in named)]


def _file_code(env: Env, fonds_code: str, dossier) -> str:  # noqa: ANN001
    data = dossier.data
    if data.get("file_code"):
        return str(data["file_code"])
    year = (data.get("start_date") or env.now().astimezone(env.tz)).year
    return f"{fonds_code}.{year}.{dossier.label}"


def _check_records(env: Env, actor: Actor, aid: FindingAid, fonds_code: str) -> dict[int, str]:
    """Fonds in scope and open, file codes free; returns position -> file code."""
    codes: dict[int, str] = {}
    seen: dict[str, int] = {}
    with env.db.read() as session:
        fonds_rows = {f.code: f for f in session.scalars(select(Fonds))}
        for i, dossier in enumerate(aid.dossiers):
            if dossier.problems:
                continue  # one thing at a time: its own cells first
            fonds = dossier.data.get("fonds_code") or fonds_code
            row = fonds_rows.get(fonds)
            column = dossier.columns.get("fonds_code", "fonds")
            if row is None or not in_scope(actor, fonds):
                dossier.problems.append(Problem(dossier.sheet, dossier.row, column,
                                                f"There is no fonds {fonds!r} (or it is not "
                                                "yours to file into).", fonds))
                continue
            if row.status == "closed":
                dossier.problems.append(Problem(dossier.sheet, dossier.row, column,
                                                f"Fonds {fonds} is closed; nothing new is "
                                                "filed in it.", fonds))
                continue
            code = _file_code(env, fonds, dossier)
            column = dossier.columns.get("file_code") or dossier.columns.get("label")
            if not code.startswith(f"{fonds}."):
                dossier.problems.append(Problem(dossier.sheet, dossier.row, column,
                                                f"The file code {code!r} does not start with "
                                                f"the fonds code {fonds}.", code))
                continue
            if code in seen:
                dossier.problems.append(Problem(dossier.sheet, dossier.row, column,
                                                f"File code {code} would be made twice (also "
                                                f"row {seen[code]}).", code))
                continue
            seen[code] = dossier.row
            used = session.scalar(select(Dossier.id).where(Dossier.file_code == code))
            if used:
                dossier.problems.append(Problem(dossier.sheet, dossier.row, column,
                                                f"File code {code} is already used by another "
                                                "dossier; give this dossier another number.",
                                                code))
                continue
            codes[i] = code
    return codes


def check_batch(env: Env, actor: Actor, fonds_code: str, aid_files: list[tuple[Path, str]],
                scans: Path) -> tuple[FindingAid, list[str], dict[int, str]]:
    """Read and check everything; returns the finding aid (with its problems), the scan files
    no row names, and the file code of each dossier that can be made."""
    require(actor, "digitisation.run")
    reach_fonds(actor, fonds_code)
    aid = read_finding_aid(env.codes, aid_files)
    missing = conversion_problem(env)
    if missing:
        aid.problems.append(Problem("server", None, None, missing))
    try:
        source = ScanSource.open(scans)
    except ScanError as exc:
        aid.problems.append(Problem("scans", None, None, str(exc)))
        return aid, [], {}
    try:
        unused = _check_scans(aid, source)
    finally:
        source.close()
    codes = _check_records(env, actor, aid, fonds_code) if not aid.blocking else {}
    return aid, unused, codes


def conversion_problem(env: Env) -> str | None:
    """Why this server cannot convert scans now (Tesseract, its languages, Ghostscript)."""
    languages = str(env.config.get("DIGITISATION_OCR_LANGUAGES") or "vie")
    problem = ocr_problem(languages)
    if problem:
        return f"Scans cannot be converted on this server: {problem}. Ask the administrator."
    if shutil.which("gs") is None:
        return ("Scans cannot be converted on this server: Ghostscript is not installed "
                "(Debian/Ubuntu package ghostscript). Ask the administrator.")
    return None


def check_report(aid: FindingAid, unused: list[str]) -> dict[str, Any]:
    problems = aid.all_problems()
    valid = aid.valid_dossiers()
    return {
        "valid": not problems,
        "dossiers": len(aid.dossiers), "valid_dossiers": len(valid),
        "documents": sum(len(d.documents) for d in aid.dossiers),
        "pages": sum(doc.pages for d in valid for doc in d.documents),
        "problems": [p.to_dict() for p in problems],
        "notes": aid.notes + ([f"{len(unused)} scan file(s) are not named in the finding aid "
                               f"and will not be used, e.g. {unused[0]}."] if unused else []),
    }


# ----------------------------------------------------------------------------- batches

def create_batch(env: Env, actor: Actor, fonds_code: str, aid_files: list[tuple[Path, str]],
                 scans: Path, *, import_valid_rows: bool = False, keep_files: bool = True,
                 options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check the finding aid and the scans and queue a batch; BatchRejected (nothing written)
    when something is wrong, unless `import_valid_rows` and at least one dossier is valid.

    `keep_files`: the finding aid and the scans were uploaded into a temporary place; move
    them into the batch's folder (a CLI batch reads a clerk's folder in place instead)."""
    aid, unused, codes = check_batch(env, actor, fonds_code, aid_files, scans)
    report = check_report(aid, unused)
    problems = aid.all_problems()
    valid = [i for i, d in enumerate(aid.dossiers) if d.valid and i in codes]
    if aid.blocking or (problems and not import_valid_rows) or not valid:
        lines = problem_lines(problems) or ["The finding aid lists no dossier to digitise."]
        raise BatchRejected(
            f"The batch was not started: {len(problems) or 1} problem(s) to correct in the "
            "finding aid or the scans; nothing was written."
            + (" Or send it again choosing to import the valid rows."
               if valid and not aid.blocking else ""),
            errors={"finding_aid": lines}, problems=report["problems"],
            valid_dossiers=len(valid), dossiers=len(aid.dossiers))
    batch_id = new_id()
    folder = batch_dir(env, batch_id)
    folder.mkdir(parents=True, exist_ok=True)
    source = scans
    if keep_files:
        (folder / "finding-aid").mkdir(exist_ok=True)
        for path, name in aid_files:
            shutil.move(str(path), folder / "finding-aid" / Path(name).name)
        source = folder / ("scans" if scans.is_dir() else "scans.zip")
        shutil.move(str(scans), source)
    now = env.now()
    rejected = [p.to_dict() for p in problems]
    with env.db.write() as session:
        session.add(DigitisationBatch(
            id=batch_id, fonds_code=fonds_code, state="queued", cancel_requested=False,
            source=str(Path(source).resolve()),
            options={"import_valid_rows": import_valid_rows, **(options or {}),
                     "notes": report["notes"]},
            rejected=rejected or None, created_by=actor.name, created_at=now,
            pages_total=sum(doc.pages for i in valid for doc in aid.dossiers[i].documents),
            cpu_seconds=0.0, work_seconds=0.0))
        session.flush()
        for position in valid:
            dossier = aid.dossiers[position]
            data = {k: v for k, v in dossier.data.items() if k not in ("label", "period")}
            data.setdefault("fonds_code", fonds_code)
            session.add(DigitisationDossier(
                batch_id=batch_id, position=position, row=dossier.row, label=dossier.label,
                data=_jsonable(data), dossier_id=new_id(), file_code=codes[position],
                state="pending"))
            for serial, doc in enumerate(dossier.documents, 1):
                session.add(DigitisationItem(
                    batch_id=batch_id, dossier_position=position, serial=serial, row=doc.row,
                    data=_jsonable(doc.data), scans=doc.scans, pages=doc.pages,
                    document_id=new_id(), state="pending", cpu_seconds=0.0))
        audit.log_in(session, env, actor, "digitisation.create", batch_id,
                     {"fonds_code": fonds_code, "dossiers": len(valid),
                      "left_out": len(aid.dossiers) - len(valid)})
    return get_batch(env, actor, batch_id)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return to_json_dict(data)


def _batch_row(session, actor: Actor, batch_id: str) -> DigitisationBatch:  # noqa: ANN001
    row = session.get(DigitisationBatch, batch_id)
    missing = f"There is no digitisation batch {batch_id!r}."
    if row is None:
        raise NotFound(missing)
    reach_fonds(actor, row.fonds_code, missing)
    return row


def get_batch(env: Env, actor: Actor, batch_id: str) -> dict[str, Any]:
    require(actor, "digitisation.read")
    with env.db.read() as session:
        return batch_view(session, env, _batch_row(session, actor, batch_id))


def list_batches(env: Env, actor: Actor, *, page: int = 1, page_size: int = 20
                 ) -> tuple[list[dict[str, Any]], int]:
    require(actor, "digitisation.read")
    with env.db.read() as session:
        stmt = select(DigitisationBatch)
        if actor.scope is not None:
            stmt = stmt.where(DigitisationBatch.fonds_code.in_(actor.scope))
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(DigitisationBatch.created_at.desc())
                               .offset((page - 1) * page_size).limit(page_size)).all()
        return [batch_view(session, env, r) for r in rows], total


def cancel_batch(env: Env, actor: Actor, batch_id: str) -> dict[str, Any]:
    """Ask the runner to stop (documents being converted finish first; what is filed stays)."""
    require(actor, "digitisation.run")
    with env.db.write() as session:
        row = _batch_row(session, actor, batch_id)
        if row.state in FINISHED:
            raise Conflict(f"Batch {batch_id} is {row.state}; there is nothing to cancel.",
                           state=row.state)
        if row.state == "queued":
            row.state, row.finished_at = "cancelled", env.now()
        row.cancel_requested = True
        audit.log_in(session, env, actor, "digitisation.cancel", batch_id, {})
    return get_batch(env, actor, batch_id)


def resume_batch(env: Env, actor: Actor, batch_id: str) -> dict[str, Any]:
    """Queue a batch again: what is done is skipped, what failed or was cancelled is retried."""
    require(actor, "digitisation.run")
    with env.db.write() as session:
        row = _batch_row(session, actor, batch_id)
        if row.state == "running" and not _stale(env, row):
            raise Conflict(f"Batch {batch_id} is running now.", state=row.state)
        if row.state == "done":
            raise Conflict(f"Batch {batch_id} is done; every dossier was filed.",
                           state=row.state)
        session.execute(update(DigitisationItem).where(
            DigitisationItem.batch_id == batch_id, DigitisationItem.state == "failed")
            .values(state="pending", error=None))
        session.execute(update(DigitisationDossier).where(
            DigitisationDossier.batch_id == batch_id, DigitisationDossier.state == "failed")
            .values(state="pending", error=None))
        row.state, row.cancel_requested, row.finished_at, row.error = "queued", False, None, None
        row.runner = None
        audit.log_in(session, env, actor, "digitisation.resume", batch_id, {})
    return get_batch(env, actor, batch_id)


def _stale(env: Env, row: DigitisationBatch) -> bool:
    return row.heartbeat_at is None or env.now() - row.heartbeat_at > STALE_AFTER


def report_path(env: Env, actor: Actor, batch_id: str, fmt: str) -> Path:
    """The batch report (json, xlsx or pdf), made now from the batch's current results."""
    require(actor, "digitisation.read")
    with env.db.read() as session:
        _batch_row(session, actor, batch_id)
    return write_report(env, batch_id, fmt, batch_dir(env, batch_id))


def receive_upload(env: Env, folder: Path | None, stream, name: str,  # noqa: ANN001
                   max_bytes: int) -> Path:
    """Spool one uploaded file (finding aid or scans ZIP) into a fresh incoming folder of
    the batch area (the same file system as the batch folders, so it is moved, not copied).
    Returns its path; the caller removes `path.parent` if the batch is not made."""
    if folder is None:
        folder = work_root(env) / "incoming" / new_id()
    folder.mkdir(parents=True, exist_ok=True)
    safe = Path(name or "upload").name or "upload"
    target = folder / safe
    n = 1
    while target.exists():  # two parts with one name
        n += 1
        target = folder / f"{n}-{safe}"
    size = 0
    with open(target, "xb") as out:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(
                    f"{safe} is larger than the upload limit of {max_bytes // (1024 * 1024)} "
                    "MiB; digitise large batches with `repo-server digitise start`.")
            out.write(chunk)
    return target


def discard_upload(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
