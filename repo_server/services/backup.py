"""Online backup, verification and restore (docs/operations.md, docs/decisions/0002).

A backup folder (DEST) holds complete, independent *sets*:

    DEST/sets/20261125T010000Z-full/
        manifest.json        what, when, which database revision, counts, digest of SHA256SUMS
        SHA256SUMS           sha256 of every file in the set (`sha256sum -c SHA256SUMS` works)
        catalog.sqlite       SQLite online backup (backup API), or catalog.pgdump (pg_dump -Fc)
        storage/             a copy of the OCFL storage root as it was during the backup
        derived/             a copy of the derived-text cache (DERIVED_DIR), so that a restore
                             does not have to read every file's text again (decision 0021)

Consistency: the database snapshot is taken FIRST and the storage root copied AFTER. Storage
is written before the catalog commits, so every version the snapshot knows is already on disk
when the copy starts; versions written later are simply newer than the snapshot, and restore
imports them (the storage root is the truth). A destruction that purges objects between the
snapshot and the copy would break that rule, so the backup checks it and takes the snapshot
again (the storage copy then only adds what changed).

Incremental: OCFL version folders never change once written, so an incremental set hard-links
every file of a version the previous set already holds and copies only new versions (and the
root inventories, which are copies of the newest version's inventory). Every set is therefore
complete on its own: restore and retention never need a chain. Before linking, each file of
the previous set is re-hashed against that set's SHA256SUMS: a byte that rotted there is not
carried on (the file is copied afresh and the manifest names it in `previous_set_damaged`).
A full set copies everything again (independent bytes, in case the backup disk itself rots);
`auto` makes one every BACKUP_FULL_EVERY_DAYS, and retention keeps the two newest full sets, so
one flipped byte on the backup disk can never damage every set (decision 0014). Where hard
links are not possible (FAT/exFAT disks) files are copied.

The sections live beside this module: backup_sets.py (sets, sums, retention),
backup_snapshot.py (the database snapshot), backup_restore.py (restore); this one makes and
verifies sets and keeps every public name.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from ..catalog import Alert, Document, Dossier, Fonds
from ..storage.copy import STORAGE, verify_copy
from ..storage.files import copy_hashed
from ..storage.sync import fsync_dir
from ..version import __version__
from . import audit_anchor
from .backup_restore import reconcile_storage, restore  # noqa: F401 - public names, kept
from .backup_sets import (
    AUDIT_KEY,
    DERIVED,
    FORMAT,
    MANIFEST,
    SETS,
    SUMS,
    BackupError,
    choose_mode,
    escape_sum_path,
    file_sha256,
    list_sets,
    locked_folder,
    prune,
    read_sums,
    resolve_set,  # noqa: F401 - a public name, kept
    write_json,
)
from .backup_snapshot import (
    pg_tool,
    snapshot_database,
)
from .context import Env

log = logging.getLogger("repo_server.services.backup")


# --- backup -------------------------------------------------------------------------------------


def backup(env: Env, dest: str | Path, *, mode: str = "auto", keep: int | None = None,
           progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Make one backup set in `dest`; returns its manifest (plus what retention removed)."""
    dest = Path(dest).absolute()
    dest.mkdir(parents=True, exist_ok=True)
    (dest / SETS).mkdir(exist_ok=True)
    with locked_folder(dest):
        for stale in (dest / SETS).glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        sets = list_sets(dest)
        mode = choose_mode(env, mode, sets)
        prev = sets[-1] if sets and mode == "incremental" else None
        started = env.now()
        name = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") + ("-full" if mode == "full"
                                                                      else "-incr")
        existing = {s["name"] for s in sets}
        base, n = name, 1
        while name in existing or (dest / SETS / name).exists():
            n += 1
            name = f"{base}-{n}"
        work = dest / SETS / f".tmp-{name}"
        work.mkdir()
        prev_sums = read_sums(prev["path"] / SUMS) if prev else {}
        copier = env.store.copier(work / STORAGE, prev["path"] if prev else None,
                                 prev_sums, progress)
        t0 = time.monotonic()
        problems: list[str] = []
        attempt = 0
        # The audit chain's tip, sealed into the storage root before the snapshot (so the
        # snapshot's chain reaches it) and copied with the storage root; the key that seals
        # it travels beside the snapshot, never inside it (decision 0015).
        checkpoint = audit_anchor.write_checkpoint(env)
        key_file = audit_anchor.key_path(env.config)
        key_digest = None
        if key_file.is_file():
            key_digest, _ = copy_hashed(key_file, work / AUDIT_KEY)
            (work / AUDIT_KEY).chmod(0o600)
        for attempt in range(1, 4):  # noqa: B007 - reported in the manifest
            db = snapshot_database(env, work)
            copied = copier.run()
            lost = sorted(f"urn:uuid:{i}" for i in db["ids"] if f"urn:uuid:{i}" not in copied)
            if not lost:
                break
            log.warning("backup: %d object(s) known to the database snapshot were destroyed "
                        "during the copy; taking the snapshot again", len(lost))
        else:
            problems = [f"{oid}: in the database snapshot but not in the storage copy"
                        for oid in lost]
        db_digest, db_size = file_sha256(work / db["file"])
        sums = dict(copier.sums)
        derived = copy_derived(env, work)
        sums.update(derived)
        sums[db["file"]] = db_digest
        if key_digest:
            sums[AUDIT_KEY] = key_digest
        with open(work / SUMS, "w", encoding="utf-8") as f:
            for rel in sorted(sums):
                f.write(f"{sums[rel]}  {escape_sum_path(rel)}\n")
        manifest = {
            "format": FORMAT, "name": name, "mode": mode,
            "base": prev["name"] if prev else None,
            "repo_server_version": __version__,
            "started_at": started.isoformat(), "database_snapshot_at": db["snapshot_at"],
            "finished_at": env.now().isoformat(), "seconds": round(time.monotonic() - t0, 3),
            "attempts": attempt,
            "database": {"dialect": db["dialect"], "file": db["file"], "sha256": db_digest,
                         "size": db_size, "alembic_revision": db["alembic_revision"],
                         "catalog_objects": len(db["ids"])},
            "storage": copier.counts,
            "derived_texts": len(derived),
            "previous_set_damaged": sorted(set(copier.damaged_in_prev)),
            "audit": {"checkpoint": checkpoint, "key_file": AUDIT_KEY if key_digest else None,
                      "note": "audit.key seals the audit trail: restore puts it back; keep "
                              "this set as safe as the instance itself"},
            "sums": {"file": SUMS, "sha256": file_sha256(work / SUMS)[0], "files": len(sums)},
            "problems": problems,
        }
        write_json(work / MANIFEST, manifest)
        os.sync()  # every copied file on the backup disk before the set is declared done
        final = dest / SETS / name
        os.rename(work, final)
        fsync_dir(dest / SETS)
        removed = prune(dest, keep) if keep else []
    manifest["path"] = str(final)
    manifest["pruned"] = removed
    return manifest


def copy_derived(env: Env, work: Path) -> dict[str, str]:
    """Copy the derived-text cache into the set (`derived/`); returns its sums. An entry is
    never changed once written (its name is its file's digest), and one written meanwhile is
    simply not in this set: the text is read again after a restore if it is needed."""
    sums: dict[str, str] = {}
    for rel, path in env.texts.files():
        target = work / DERIVED / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            digest, _ = copy_hashed(path, target)
        except FileNotFoundError:  # removed by hand meanwhile: derived data, not an error
            continue
        sums[f"{DERIVED}/{rel}"] = digest
    return sums


# --- verification -------------------------------------------------------------------------------


def verify_set(path: str | Path, *, deep: bool = False) -> dict[str, Any]:
    """Check a set: manifest, every file against SHA256SUMS, no stray files, the database;
    `deep` also re-checks every object's OCFL digests (sha512)."""
    path = Path(path)
    problems: list[str] = []
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"set": path.name, "ok": False, "problems": [f"{MANIFEST}: {exc}"], "files": 0}
    if manifest.get("format") != FORMAT:
        problems.append(f"{MANIFEST}: unknown format {manifest.get('format')!r}")
    sums_path = path / SUMS
    if not sums_path.is_file():
        return {"set": path.name, "ok": False, "problems": [f"{SUMS}: missing"], "files": 0}
    if file_sha256(sums_path)[0] != manifest.get("sums", {}).get("sha256"):
        problems.append(f"{SUMS}: does not match the digest in {MANIFEST}")
    sums = read_sums(sums_path)
    checked = 0
    for rel, expected in sorted(sums.items()):
        try:
            digest, _ = file_sha256(path / rel)
        except FileNotFoundError:
            problems.append(f"{rel}: missing")
            continue
        checked += 1
        if digest != expected:
            problems.append(f"{rel}: sha256 does not match")
    for folder, _, files in os.walk(path):
        for name in files:
            rel = (Path(folder) / name).relative_to(path).as_posix()
            if rel not in sums and rel not in (MANIFEST, SUMS):
                problems.append(f"{rel}: not listed in {SUMS}")
    db = manifest.get("database", {})
    db_file = path / db.get("file", "")
    if db.get("dialect") == "sqlite" and db_file.is_file():
        try:
            conn = sqlite3.connect(f"file:{db_file}?mode=ro&immutable=1", uri=True)
            try:
                result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                conn.close()
            if result != "ok":
                problems.append(f"{db_file.name}: integrity check says {result}")
        except sqlite3.DatabaseError as exc:
            problems.append(f"{db_file.name}: {exc}")
    elif db.get("dialect") == "postgresql" and db_file.is_file():
        try:
            proc = subprocess.run([pg_tool("pg_restore"), "--list", str(db_file)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                problems.append(f"{db_file.name}: pg_restore cannot read it: "
                                f"{proc.stderr.strip()[-500:]}")
        except BackupError as exc:
            log.warning("%s", exc)
    if deep:
        problems += verify_copy(path / STORAGE)
    problems += [f"recorded at backup time: {p}" for p in manifest.get("problems", [])]
    return {"set": path.name, "ok": not problems, "problems": problems, "files": checked,
            "mode": manifest.get("mode"), "started_at": manifest.get("started_at")}


def catalog_counts(env: Env) -> dict[str, int]:
    """Quick totals shown after a backup or restore."""
    with env.db.read() as session:
        return {name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("fonds", Fonds), ("dossiers", Dossier),
                                    ("documents", Document))}


def scheduled_backup(env: Env) -> dict[str, Any]:
    """The nightly job: back up into BACKUP_DIR; a failure raises an alert (health shows it)
    until a later backup succeeds."""
    dest = env.config.get("BACKUP_DIR") or ""
    if not dest:
        return {"skipped": "BACKUP_DIR is not set"}
    try:
        m = backup(env, dest, mode="auto", keep=int(env.config.get("BACKUP_KEEP") or 14))
        if m["problems"]:
            raise BackupError("; ".join(m["problems"][:5]))
    except Exception as exc:
        with env.db.write() as session:
            if session.scalar(select(Alert.id).where(Alert.kind == "backup",
                                                     Alert.resolved_at.is_(None))) is None:
                session.add(Alert(kind="backup", subject=str(dest),
                                  message=f"The backup into {dest} failed: {exc}",
                                  details={"error": f"{type(exc).__name__}: {exc}"},
                                  raised_at=env.now()))
        log.error("backup into %s failed: %s", dest, exc)
        raise
    with env.db.write() as session:
        session.execute(update(Alert).where(Alert.kind == "backup", Alert.resolved_at.is_(None))
                        .values(resolved_at=env.now(),
                                resolution=f"Backup set {m['name']} succeeded."))
    return {"set": m["name"], "mode": m["mode"], "objects": m["storage"]["objects"],
            "copied_files": m["storage"]["copied_files"],
            "copied_bytes": m["storage"]["copied_bytes"],
            "linked_files": m["storage"]["linked_files"], "pruned": len(m["pruned"]),
            "seconds": m["seconds"]}
