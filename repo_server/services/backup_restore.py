"""Restore a backup set into an empty instance: the database snapshot, the storage copy,
the audit key, then reconciliation with the storage root (the truth) and a new index."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, inspect, select, text, update
from sqlalchemy.engine import make_url

from ..catalog import Document, Dossier, Fonds, JobRun, Lease, Tombstone
from ..catalog.migrate import upgrade
from ..catalog.models import Base
from ..storage.copy import STORAGE, CopyDamaged, restore_root, root_holds_objects
from ..storage.files import copy_hashed
from . import audit, audit_anchor
from .backup_sets import (
    AUDIT_KEY,
    DERIVED,
    FORMAT,
    MANIFEST,
    RESTORE_MARKER,
    SUMS,
    BackupError,
    file_sha256,
    read_sums,
    resolve_set,
)
from .backup_snapshot import (
    libpq_params,
    pg_tool,
)
from .catalog_mirror import recount as _recount
from .context import Env, build_env
from .disposal_execution import destroy_dossier
from .indexing import reindex as reindex_job
from .rebuild import import_object, reconcile_pending
from .records import DOCUMENT_FILE, DOSSIER_FILE, FONDS_FILE, object_id, record_id
from .search import open_writer
from .writes import add_outbox

log = logging.getLogger("repo_server.services.backup")


# --- restore ------------------------------------------------------------------------------------


def _instance_is_empty(config: dict[str, Any]) -> str | None:
    """None when the instance holds no records; else why it is not empty."""
    root = Path(config["STORAGE_ROOT"])
    if root_holds_objects(root):
        return f"the storage root {root} holds objects"
    url = config["DATABASE_URL"]
    if url.startswith("sqlite"):
        path = make_url(url).database
        if not path or not Path(path).exists():
            return None
    engine = create_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            for table in ("fonds", "dossiers", "documents", "tombstones", "audit_events"):
                if table in names and conn.execute(
                        text(f"SELECT COUNT(*) FROM {table}")).scalar_one():  # noqa: S608
                    return f"the database already holds {table}"
    finally:
        engine.dispose()
    return None


def _clear_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = make_url(url).database
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def _restore_database(set_path: Path, manifest: dict[str, Any], url: str,
                      sums: dict[str, str], fsync: bool) -> None:
    db = manifest["database"]
    src = set_path / db["file"]
    if file_sha256(src)[0] != sums.get(db["file"]):
        raise BackupError(f"{src} does not match its checksum: the backup is damaged.")
    _clear_database(url)
    if db["dialect"] == "sqlite" and url.startswith("sqlite"):
        target = Path(make_url(url).database)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".restoring")
        copy_hashed(src, tmp, fsync=fsync)
        os.replace(tmp, target)
        return
    if db["dialect"] == "postgresql":
        if url.startswith("sqlite"):
            raise BackupError("A PostgreSQL backup can only be restored into PostgreSQL; set "
                              "DATABASE_URL to an empty PostgreSQL database.")
        dsn, environ = libpq_params(url)
        proc = subprocess.run([pg_tool("pg_restore"), "--no-owner", "--no-privileges",
                               "--exit-on-error", "--single-transaction", f"--dbname={dsn}",
                               str(src)], env=environ, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BackupError(f"pg_restore failed: {proc.stderr.strip()[-2000:]}")
        return
    if db["dialect"] == "sqlite":
        _copy_rows_from_sqlite(src, url)
        return
    raise BackupError(f"cannot restore a {db['dialect']} backup")


def _copy_rows_from_sqlite(snapshot: Path, url: str) -> None:
    """SQLite snapshot -> another database (e.g. a commune moving to PostgreSQL): bring both
    schemas to the current revision, then copy every table row by row."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "snapshot.sqlite"
        shutil.copyfile(snapshot, copy)
        src_url = f"sqlite:///{copy}"
        upgrade(src_url)
        upgrade(url)
        src, dst = create_engine(src_url), create_engine(url)
        try:
            with src.connect() as sconn, dst.begin() as dconn:
                present = set(inspect(sconn).get_table_names())
                for table in reversed(Base.metadata.sorted_tables):
                    dconn.execute(table.delete())  # rows a migration seeded: the copy rules
                for table in Base.metadata.sorted_tables:
                    if table.name not in present:
                        continue
                    rows = sconn.execute(select(table)).mappings()
                    batch: list[dict[str, Any]] = []
                    for row in rows:
                        batch.append(dict(row))
                        if len(batch) >= 1000:
                            dconn.execute(table.insert(), batch)
                            batch = []
                    if batch:
                        dconn.execute(table.insert(), batch)
                if dst.dialect.name == "postgresql":
                    for table in Base.metadata.sorted_tables:
                        for col in table.primary_key.columns:
                            if col.autoincrement is True or (
                                    col.autoincrement == "auto" and len(table.primary_key) == 1
                                    and col.type.python_type is int):
                                dconn.execute(text(
                                    f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                                    f"'{col.name}'), COALESCE((SELECT MAX({col.name}) FROM "
                                    f"{table.name}), 0) + 1, false)"))
        finally:
            src.dispose()
            dst.dispose()


def _restore_storage(set_path: Path, root: Path, sums: dict[str, str], fsync: bool,
                     progress: Callable[[int], None] | None = None) -> dict[str, int]:
    src = set_path / STORAGE
    if not (src / "0=ocfl_1.1").is_file():
        raise BackupError(f"{src} is not an OCFL storage root.")
    try:
        return restore_root(src, root, sums, fsync, progress)
    except CopyDamaged as exc:
        raise BackupError(str(exc)) from exc


def reconcile_storage(env: Env) -> dict[str, int]:
    """Make the catalog agree with the storage root after a restore: finish destructions the
    snapshot recorded, import every object newer than (or unknown to) the snapshot."""
    counts = dict.fromkeys(("imported", "destroyed", "purged", "missing"), 0)
    # 1. destructions in progress at snapshot time: tombstone written, rows or bytes left
    with env.db.read() as session:
        tombstoned = set(session.scalars(select(Tombstone.dossier_id)))
        unfinished = session.execute(select(Tombstone.dossier_id, Tombstone.review_id,
                                            Tombstone.decided_by)
                                     .join(Dossier, Dossier.id == Tombstone.dossier_id)).all()
    for dossier_id, review_id, decided_by in unfinished:
        destroy_dossier(env, None, dossier_id, review_id, decided_by)
        counts["destroyed"] += 1
    # 2. every object in storage: import when the catalog is behind; a destroyed dossier's
    #    objects never come back
    heads: dict[str, tuple[str, int]] = {}
    for oid in sorted(env.store.stored_object_ids()):
        try:
            rid = record_id(oid)
        except ValueError:
            continue
        head = env.store.version(oid)
        kind = ("fonds" if FONDS_FILE in head.state else "dossier" if DOSSIER_FILE in head.state
                else "document" if DOCUMENT_FILE in head.state else None)
        if kind is None:
            continue
        owner = None
        if tombstoned and kind != "fonds":
            owner = rid if kind == "dossier" else \
                env.store.read_json(oid, DOCUMENT_FILE).get("dossier_id")
        if owner is not None and owner in tombstoned:
            env.store.purge(oid)
            counts["purged"] += 1
            continue
        heads[rid] = (kind, head.number)
    models = {"fonds": Fonds, "dossier": Dossier, "document": Document}
    counts["orphans"] = 0
    with env.db.write() as session:
        for kind in ("fonds", "dossier", "document"):
            for rid, (k, number) in list(heads.items()):
                if k != kind:
                    continue
                row = session.get(models[kind], rid)
                if row is None and kind != "fonds" and not _parent_known(session, env, rid, kind):
                    # Written after the snapshot while its dossier (or fonds) was written
                    # behind the storage walk: newer than the backup's point in time.
                    log.warning("restore: leaving out %s %s, written after the database "
                                "snapshot without its %s", kind, rid,
                                "dossier" if kind == "document" else "fonds")
                    env.store.purge(object_id(rid))
                    del heads[rid]
                    counts["orphans"] += 1
                    continue
                if row is None or (row.head_version or 0) < number:
                    import_object(session, env, rid)
                    if kind != "fonds":
                        add_outbox(session, env, rid, kind, "index")
                    counts["imported"] += 1
            session.flush()
        for kind, model in models.items():
            for rid in session.scalars(select(model.id).where(model.head_version > 0)):
                if rid not in heads:
                    counts["missing"] += 1
                    log.error("restore: %s %s is in the catalog but not in the storage root",
                              kind, rid)
        if counts["imported"]:
            _recount(session)
    counts["pending"] = reconcile_pending(env)
    return counts


def _parent_known(session, env: Env, rid: str, kind: str) -> bool:  # noqa: ANN001

    if kind == "dossier":
        code = env.store.read_json(object_id(rid), DOSSIER_FILE).get("fonds_code")
        return session.scalar(select(Fonds.id).where(Fonds.code == code)) is not None
    dossier_id = env.store.read_json(object_id(rid), DOCUMENT_FILE).get("dossier_id")
    return session.get(Dossier, dossier_id) is not None


def _reset_operational_state(env: Env, set_name: str) -> None:
    with env.db.write() as session:
        session.execute(delete(Lease))
        session.execute(update(JobRun).where(JobRun.status == "running").values(
            status="failed", finished_at=env.now(),
            error=f"Interrupted: the instance was restored from backup set {set_name}."))


def _restore_audit_key(set_path: Path, config: dict[str, Any], sums: dict[str, str]) -> None:
    """Put the set's audit key in place unless the instance has one already (its own trail
    would then be checked with it, and say so if it is not the trail's key)."""
    source = set_path / AUDIT_KEY
    target = audit_anchor.key_path(config)
    if not source.is_file() or target.exists():
        return
    if file_sha256(source)[0] != sums.get(AUDIT_KEY):
        raise BackupError(f"{source} does not match {SUMS}: the backup is damaged.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restore")
    copy_hashed(source, tmp, fsync=True)
    tmp.chmod(0o600)
    os.replace(tmp, target)


def _restore_derived(set_path: Path, config: dict[str, Any], sums: dict[str, str]) -> int:
    """Put the set's copy of the derived-text cache in place; an entry that does not match
    the sums is left out (it is derived data: the text is read again when needed)."""
    from ..extract.cache import TextCache

    cache = TextCache(config["DERIVED_DIR"])
    done = 0
    prefix = DERIVED + "/"
    for rel, expected in sums.items():
        if not rel.startswith(prefix):
            continue
        source = set_path / rel
        target = cache.folder / rel.removeprefix(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.restore")
        try:
            digest, _ = copy_hashed(source, tmp)
        except FileNotFoundError:
            log.warning("restore: %s is missing from the set; its text will be read again", rel)
            continue
        if digest != expected:
            tmp.unlink()
            log.warning("restore: %s does not match %s; its text will be read again", rel, SUMS)
            continue
        os.replace(tmp, target)
        done += 1
    return done


def restore(config: dict[str, Any], src: str | Path, *, set_name: str | None = None,
            reindex: bool = True, progress: Callable[[int], None] | None = None
            ) -> dict[str, Any]:
    """Restore a backup set into an empty instance (see the module docstring)."""
    set_path = resolve_set(src, set_name)
    manifest = json.loads((set_path / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{set_path} is not a repo-server backup set.")
    sums_path = set_path / SUMS
    if file_sha256(sums_path)[0] != manifest["sums"]["sha256"]:
        raise BackupError(f"{sums_path} does not match its manifest: the backup is damaged.")
    sums = read_sums(sums_path)
    instance = Path(config["INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    marker = instance / RESTORE_MARKER
    if not marker.exists():
        why = _instance_is_empty(config)
        if why:
            raise BackupError(f"Restore needs an empty instance, but {why}. Restore into a new "
                              "instance folder (--instance) or an empty database.")
    marker.write_text(f"{set_path}\n", encoding="utf-8")  # a rerun may start over
    fsync = bool(config.get("FSYNC", True))
    t0 = time.monotonic()
    _restore_database(set_path, manifest, config["DATABASE_URL"], sums, fsync)
    upgrade(config["DATABASE_URL"])
    tmp = Path(config["STORAGE_TMP"])
    if tmp.exists():
        shutil.rmtree(tmp)
    storage = _restore_storage(set_path, Path(config["STORAGE_ROOT"]), sums, fsync, progress)
    _restore_audit_key(set_path, config, sums)
    derived = _restore_derived(set_path, config, sums)
    index_dir = Path(config["INDEX_DIR"])
    if index_dir.exists():
        shutil.rmtree(index_dir)  # derived data: rebuilt below or by the worker
    env = build_env(config)
    try:
        _reset_operational_state(env, set_path.name)
        # A fixity run during the backup may have sealed a checkpoint newer than the snapshot
        # into the storage copy: the restored trail cannot reach it, by design.
        trimmed = audit_anchor.trim_checkpoints(env)
        reconciled = reconcile_storage(env)
        indexed = None
        if reindex:
            backend = open_writer(env)
            try:
                indexed = reindex_job(env, backend)["records"]
            finally:
                backend.close()
        try:
            audit.record(env, "repo-server", "system.restore", set_path.name,
                         details={"set": set_path.name, "mode": manifest["mode"],
                                  "snapshot_at": manifest["database_snapshot_at"]})
        except (ImportError, AttributeError):
            pass
    finally:
        env.db.dispose()
    marker.unlink()
    return {"set": set_path.name, "mode": manifest["mode"],
            "database_snapshot_at": manifest["database_snapshot_at"],
            "storage": storage, "derived_texts": derived, "reconciled": reconciled,
            "indexed": indexed,
            "audit_checkpoints_trimmed": trimmed, "seconds": round(time.monotonic() - t0, 3)}


