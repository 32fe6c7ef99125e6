"""Rolling fixity: re-hash a share of the stored objects every night, oldest check first, so
that every object is checked within FIXITY_PERIOD_DAYS (default 30, never more than 3 years).
Each run records what the rolling check covers when it ends: objects and bytes re-hashed, the
objects not checked within the period, and the oldest check (its age, in the run's view).

A damaged or missing object raises an alert (alerts table, audit trail, error log) once, when
it starts failing; /api/v1/health reports "degraded" and names it until a later check finds it
intact again (after it was restored from a backup), which resolves the alert.

Objects are listed from the storage root (folder names, no inventory read) and from the
catalog. The catalog is read first: a record the catalog knows was written to storage before
its row was committed, so an object the catalog knows but the walk does not find is missing,
unless it was destroyed in between (checked again before raising anything).
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from ..catalog import Alert, DisposalReview, Document, Dossier, FixityObject, FixityRun, Fonds
from ..storage import ObjectNotFound
from . import audit, audit_anchor, rights
from .context import SYSTEM, Actor, Env
from .errors import NotFound
from .records import object_id, record_id

log = logging.getLogger(__name__)

MAX_PERIOD_DAYS = 3 * 365
DEFAULT_PERIOD_DAYS = 30
FAILING = ("failed", "missing")


# --- settings -----------------------------------------------------------------------------------


def period_days(env: Env) -> int:
    """FIXITY_PERIOD_DAYS, kept between 1 day and 3 years."""
    try:
        days = int(env.config.get("FIXITY_PERIOD_DAYS") or DEFAULT_PERIOD_DAYS)
    except (TypeError, ValueError):
        days = DEFAULT_PERIOD_DAYS
    return max(1, min(days, MAX_PERIOD_DAYS))


def share(env: Env) -> float:
    """Share of the objects re-hashed per run (at least 1/period, so nightly runs cover all)."""
    floor = 1 / period_days(env)
    raw = env.config.get("FIXITY_SHARE")
    try:
        value = float(raw) if raw not in (None, "") else floor
    except (TypeError, ValueError):
        value = floor
    return min(1.0, max(value, floor))


# --- listing the objects ------------------------------------------------------------------------


def catalog_objects(env: Env) -> dict[str, str]:
    """OCFL id -> kind of every object the catalog says exists."""
    out: dict[str, str] = {}
    with env.db.read() as session:
        for model, kind in ((Fonds, "fonds"), (Dossier, "dossier"), (Document, "document")):
            for rid in session.scalars(select(model.id).where(model.head_version > 0)):
                out[object_id(rid)] = kind
        for rid in session.scalars(select(DisposalReview.record_id)
                                   .where(DisposalReview.record_id.is_not(None))):
            out[object_id(rid)] = "record"
    return out


def stored_objects(env: Env) -> set[str]:
    """OCFL ids of the objects in the storage root, from folder names (cheap)."""
    return env.store.stored_object_ids()


def _still_expected(env: Env, oid: str) -> bool:
    """Is the object still supposed to exist (not destroyed meanwhile)?"""
    rid = record_id(oid)
    with env.db.read() as session:
        for model in (Fonds, Dossier, Document):
            row = session.get(model, rid)
            if row is not None and row.head_version > 0:
                return True
        return session.scalar(select(DisposalReview.id)
                              .where(DisposalReview.record_id == rid).limit(1)) is not None


# --- checking -----------------------------------------------------------------------------------


def _verify(env: Env, oid: str) -> tuple[str, list[str], int, int]:
    """(status, problems, files, bytes) of one object; a fresh look on any problem, since a
    writer adding a version at that moment can make one check see a half-updated folder."""
    for attempt in range(3):
        try:
            problems = env.store.verify_object(oid)
        except ObjectNotFound:
            if _still_expected(env, oid):
                return "missing", ["the object is missing from the storage root"], 0, 0
            return "gone", [], 0, 0
        except (OSError, ValueError, KeyError) as exc:
            problems = [f"cannot read the object: {type(exc).__name__}: {exc}"]
        if not problems:
            break
        if attempt < 2:
            time.sleep(0.2)
    files = size = 0
    if not problems:
        try:
            files, size = env.store.object_size(oid)
        except (OSError, ObjectNotFound):
            pass
    return ("failed" if problems else "ok"), problems, files, size


def _alert(env: Env, session, row: FixityObject, problems: list[str]) -> None:  # noqa: ANN001
    missing = row.status == "missing"
    message = (f"Object {row.object_id} ({row.kind or 'object'} {record_id(row.object_id)}) is "
               + ("missing from the storage root." if missing else
                  "damaged: its files do not match their recorded digests.")
               + " Restore it from a backup (docs/operations.md).")
    session.add(Alert(kind="fixity", subject=row.object_id, message=message,
                      details={"status": row.status, "kind": row.kind,
                               "record_id": record_id(row.object_id), "problems": problems[:50]},
                      raised_at=env.now()))
    log.error("fixity: %s problems=%s", message, problems[:10])
    try:
        audit.log_in(session, env, SYSTEM, "fixity.alert", row.object_id,
                     {"status": row.status, "problems": problems[:20]})
    except (ImportError, AttributeError):  # the audit trail is optional here
        pass


def _record(env: Env, oid: str, kind: str | None, status: str, problems: list[str]) -> bool:
    """Store one result; returns True when the object newly started failing."""
    now = env.now()
    with env.db.write() as session:
        row = session.get(FixityObject, oid)
        if status == "gone":
            if row is not None:
                session.delete(row)
            return False
        if row is None:
            row = FixityObject(object_id=oid, kind=kind, registered_at=now, status="unchecked",
                               checks=0)
            session.add(row)
        was_failing = row.status in FAILING
        row.status, row.last_checked_at = status, now
        row.problems = problems[:100] or None
        row.checks = (row.checks or 0) + 1
        if kind and not row.kind:
            row.kind = kind
        if status in FAILING:
            if not was_failing:
                row.failing_since = now
                _alert(env, session, row, problems)
                return True
        else:
            row.failing_since = None
            if was_failing:
                for alert in session.scalars(select(Alert).where(
                        Alert.kind == "fixity", Alert.subject == oid,
                        Alert.resolved_at.is_(None))):
                    alert.resolved_at = now
                    alert.resolution = "A later check found the object intact."
                log.warning("fixity: %s is intact again", oid)
    return False


def report_damaged(env: Env, oid: str, kind: str | None, problems: list[str]) -> None:
    """Mark an object damaged now, found outside a fixity run (a download whose bytes did not
    match their digest): the same alert, log line and /health state as a failed check."""
    try:
        _record(env, oid, kind, "failed", problems)
    except Exception:  # noqa: BLE001 - the download is cut anyway; never hide that
        log.exception("fixity: could not record %s as damaged: %s", oid, problems)


def sync(env: Env) -> dict[str, Any]:
    """Bring fixity_objects in line with the storage root and the catalog."""
    now = env.now()
    expected = catalog_objects(env)  # first: see the module docstring
    stored = stored_objects(env)
    missing = [oid for oid in expected if oid not in stored and not env.store.exists(oid)
               and _still_expected(env, oid)]
    with env.db.write() as session:
        known = dict(session.execute(select(FixityObject.object_id, FixityObject.status)).all())
        new = [oid for oid in (stored | set(missing)) if oid not in known]
        for oid in new:
            session.add(FixityObject(object_id=oid, kind=expected.get(oid), registered_at=now,
                                     status="unchecked", checks=0))
        gone = [oid for oid in known if oid not in stored and oid not in expected]
        for start in range(0, len(gone), 500):
            session.execute(delete(FixityObject).where(
                FixityObject.object_id.in_(gone[start:start + 500])))
    return {"total": len(stored | set(missing)), "missing": missing, "new": len(new),
            "removed": len(gone), "kinds": expected}


def _due(env: Env, total: int, limit: int | None) -> list[tuple[str, str | None]]:
    """The objects to check this run: failing ones, then the oldest checks first."""
    now = env.now()
    n = limit if limit is not None else math.ceil(total * share(env))
    overdue_before = now - timedelta(days=period_days(env))
    last = func.coalesce(FixityObject.last_checked_at, FixityObject.registered_at)
    with env.db.read() as session:
        failing = session.execute(select(FixityObject.object_id, FixityObject.kind)
                                  .where(FixityObject.status.in_(FAILING))).all()
        overdue = session.scalar(select(func.count()).select_from(FixityObject)
                                 .where(last <= overdue_before)) or 0
        oldest = session.execute(select(FixityObject.object_id, FixityObject.kind)
                                 .where(FixityObject.status.not_in(FAILING))
                                 .order_by(last, FixityObject.object_id)
                                 .limit(max(n, overdue))).all()
    return [tuple(r) for r in (*failing, *oldest)]


def coverage(env: Env) -> tuple[int, datetime | None]:
    """(objects not checked within the period, the oldest last check) as they stand now."""
    last = func.coalesce(FixityObject.last_checked_at, FixityObject.registered_at)
    with env.db.read() as session:
        overdue = session.scalar(select(func.count()).select_from(FixityObject)
                                 .where(last <= env.now() - timedelta(days=period_days(env))))
        oldest = session.scalar(select(func.min(last)))
    if isinstance(oldest, str):  # SQLite gives an aggregate's result untyped
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return overdue or 0, oldest


def run_fixity(env: Env, trigger: str = "schedule", *, limit: int | None = None,
               object_ids: list[str] | None = None) -> dict[str, Any]:
    """One fixity run; returns its counts (also kept in fixity_runs)."""
    started = env.now()
    t0 = time.monotonic()
    with env.db.write() as session:
        run = FixityRun(trigger=trigger, status="running", started_at=started, failures=[],
                        objects_total=0, objects_checked=0, files_checked=0, bytes_checked=0)
        session.add(run)
        session.flush()
        run_id = run.id
    counts = {"run_id": run_id, "objects_total": 0, "objects_checked": 0, "files_checked": 0,
              "bytes_checked": 0, "failures": 0, "new_failures": 0}
    failures: list[dict[str, Any]] = []
    error = None
    try:
        if object_ids is not None:  # a check on request: no walk of the whole root
            with env.db.read() as session:
                kinds = dict(session.execute(
                    select(FixityObject.object_id, FixityObject.kind)
                    .where(FixityObject.object_id.in_(object_ids))).all())
                counts["objects_total"] = session.scalar(
                    select(func.count()).select_from(FixityObject)) or 0
            todo = [(oid, kinds.get(oid)) for oid in object_ids]
        else:
            synced = sync(env)
            counts["objects_total"] = synced["total"]
            kinds = synced["kinds"]
            todo = _due(env, synced["total"], limit)
        seen: set[str] = set()
        for oid, kind in todo:
            if oid in seen:
                continue
            seen.add(oid)
            status, problems, files, size = _verify(env, oid)
            if _record(env, oid, kind or kinds.get(oid), status, problems):
                counts["new_failures"] += 1
            if status == "gone":
                continue
            counts["objects_checked"] += 1
            counts["files_checked"] += files
            counts["bytes_checked"] += size
            if status in FAILING:
                failures.append({"object_id": oid, "record_id": record_id(oid),
                                 "kind": kind or kinds.get(oid), "status": status,
                                 "problems": problems[:20]})
        counts["failures"] = len(failures)
    except Exception as exc:  # recorded on the run, then re-raised for the job record
        error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        try:
            audit_anchor.write_checkpoint(env)  # nightly: a sealed mark of the audit chain
        except Exception:  # noqa: BLE001 - fixity's own result matters more
            log.exception("fixity: could not write the audit checkpoint")
        try:
            counts["overdue"], oldest = coverage(env)
        except Exception:  # noqa: BLE001 - the run's own error matters more
            counts["overdue"], oldest = None, None
        counts["oldest_check_at"] = oldest.isoformat() if oldest else None
        counts["period_days"] = period_days(env)
        counts["seconds"] = round(time.monotonic() - t0, 3)
        with env.db.write() as session:
            run = session.get(FixityRun, run_id)
            run.period_days, run.seconds = counts["period_days"], counts["seconds"]
            run.overdue, run.oldest_check_at = counts["overdue"], oldest
            run.status = "failed" if error else ("problems" if failures else "ok")
            run.finished_at, run.error = env.now(), error
            run.objects_total = counts["objects_total"]
            run.objects_checked, run.files_checked = counts["objects_checked"], counts["files_checked"]
            run.bytes_checked, run.failures = counts["bytes_checked"], failures
    return counts


def verify_now(env: Env, rid: str, actor: Actor = SYSTEM) -> dict[str, Any]:
    """Check one record's object now (e.g. after restoring it); returns its fixity state."""
    oid = object_id(rid)
    with env.db.read() as session:
        rights.require(actor, "jobs.run")
        rights.reach_record(session, env, actor, rid)
        known = session.get(FixityObject, oid) is not None
    if not known and not env.store.exists(oid) and not _still_expected(env, oid):
        raise NotFound(f"There is no stored object for {rid!r}.")
    run_fixity(env, "api", object_ids=[oid])
    return object_state(env, rid, actor)


# --- reading the results ------------------------------------------------------------------------


def _object_view(row: FixityObject) -> dict[str, Any]:
    return {"object_id": row.object_id, "record_id": record_id(row.object_id), "kind": row.kind,
            "status": row.status, "last_checked_at": row.last_checked_at,
            "failing_since": row.failing_since, "problems": row.problems or [],
            "checks": row.checks}


def object_state(env: Env, rid: str, viewer: Actor = SYSTEM) -> dict[str, Any]:
    with env.db.read() as session:
        rights.require(viewer, "jobs.read")
        rights.reach_record(session, env, viewer, rid)
        row = session.get(FixityObject, object_id(rid))
        if row is None:
            raise NotFound(f"Object {rid!r} has not been seen by the fixity check yet.")
        return _object_view(row)


def run_view(run: FixityRun) -> dict[str, Any]:
    age = None
    if run.oldest_check_at is not None and run.finished_at is not None:
        age = round((run.finished_at - run.oldest_check_at).total_seconds() / 86400, 2)
    return {"id": run.id, "trigger": run.trigger, "status": run.status,
            "started_at": run.started_at, "finished_at": run.finished_at,
            "seconds": run.seconds, "objects_total": run.objects_total,
            "objects_checked": run.objects_checked, "files_checked": run.files_checked,
            "bytes_checked": run.bytes_checked, "period_days": run.period_days,
            "overdue": run.overdue, "oldest_check_at": run.oldest_check_at,
            "oldest_check_age_days": age, "failures": run.failures or [], "error": run.error}


def list_runs(env: Env, *, page: int, page_size: int,
              viewer: Actor = SYSTEM) -> tuple[list[dict[str, Any]], int]:
    rights.require_whole_repository(viewer, "jobs.read", "The fixity check")
    with env.db.read() as session:
        total = session.scalar(select(func.count()).select_from(FixityRun)) or 0
        rows = session.scalars(select(FixityRun).order_by(FixityRun.id.desc())
                               .offset((page - 1) * page_size).limit(page_size)).all()
        return [run_view(r) for r in rows], total


def get_run(env: Env, run_id: int, viewer: Actor = SYSTEM) -> dict[str, Any]:
    rights.require_whole_repository(viewer, "jobs.read", "The fixity check")
    with env.db.read() as session:
        run = session.get(FixityRun, run_id)
        if run is None:
            raise NotFound(f"There is no fixity run {run_id}.")
        return run_view(run)


def failing(env: Env, limit: int = 20) -> tuple[int, list[dict[str, Any]]]:
    """How many objects fail their last check, and the first few of them."""
    with env.db.read() as session:
        total = session.scalar(select(func.count()).select_from(FixityObject)
                               .where(FixityObject.status.in_(FAILING))) or 0
        rows = session.scalars(select(FixityObject).where(FixityObject.status.in_(FAILING))
                               .order_by(FixityObject.failing_since, FixityObject.object_id)
                               .limit(limit)).all() if total else []
        return total, [_object_view(r) for r in rows]


def summary(env: Env, viewer: Actor = SYSTEM) -> dict[str, Any]:
    """The state of the rolling check: coverage, failing objects, the last run."""
    rights.require_whole_repository(viewer, "jobs.read", "The fixity check")
    now = env.now()
    days = period_days(env)
    last = func.coalesce(FixityObject.last_checked_at, FixityObject.registered_at)
    with env.db.read() as session:
        by_status = dict(session.execute(select(FixityObject.status, func.count())
                                         .group_by(FixityObject.status)).all())
        overdue = session.scalar(select(func.count()).select_from(FixityObject)
                                 .where(last <= now - timedelta(days=days))) or 0
        oldest = session.scalar(select(func.min(FixityObject.last_checked_at)))
        last_run = session.scalar(select(FixityRun).order_by(FixityRun.id.desc()).limit(1))
        last_run = run_view(last_run) if last_run else None
    count, rows = failing(env, 100)
    return {"period_days": days, "share_per_run": share(env),
            "objects": sum(by_status.values()), "by_status": by_status, "overdue": overdue,
            "oldest_check": oldest, "failing_total": count, "failing": rows,
            "last_run": last_run}


def list_alerts(env: Env, *, open_only: bool, page: int, page_size: int,
                viewer: Actor = SYSTEM) -> tuple[list[dict[str, Any]], int]:
    rights.require_whole_repository(viewer, "jobs.read", "The fixity check")
    with env.db.read() as session:
        stmt = select(Alert)
        if open_only:
            stmt = stmt.where(Alert.resolved_at.is_(None))
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(Alert.id.desc()).offset((page - 1) * page_size)
                               .limit(page_size)).all()
        return [{"id": a.id, "kind": a.kind, "subject": a.subject, "message": a.message,
                 "details": a.details or {}, "raised_at": a.raised_at,
                 "resolved_at": a.resolved_at, "resolution": a.resolution} for a in rows], total
