"""Online backup, verification and restore (docs/operations.md, docs/decisions/0002).

A backup folder (DEST) holds complete, independent *sets*:

    DEST/sets/20261125T010000Z-full/
        manifest.json        what, when, which database revision, counts, digest of SHA256SUMS
        SHA256SUMS           sha256 of every file in the set (`sha256sum -c SHA256SUMS` works)
        catalog.sqlite       SQLite online backup (backup API), or catalog.pgdump (pg_dump -Fc)
        storage/             a copy of the OCFL storage root as it was during the backup

Consistency: the database snapshot is taken FIRST and the storage root copied AFTER. Storage
is written before the catalog commits, so every version the snapshot knows is already on disk
when the copy starts; versions written later are simply newer than the snapshot, and restore
imports them (the storage root is the truth). A destruction that purges objects between the
snapshot and the copy would break that rule, so the backup checks it and takes the snapshot
again (the storage copy then only adds what changed).

Incremental: OCFL version folders never change once written, so an incremental set hard-links
every file of a version the previous set already holds and copies only new versions (and the
root inventories, which are copies of the newest version's inventory). Every set is therefore
complete on its own: restore and retention never need a chain. A full set copies everything
again (independent bytes, in case the backup disk itself rots); `auto` makes one every
BACKUP_FULL_EVERY_DAYS. Where hard links are not possible (FAT/exFAT disks) files are copied.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import create_engine, delete, func, inspect, select, text, update
from sqlalchemy.engine import make_url

from ..version import __version__
from .context import Env

log = logging.getLogger(__name__)

FORMAT = "repo-server-backup/1"
SETS = "sets"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
STORAGE = "storage"
LOCK = ".lock"
RESTORE_MARKER = ".restore-in-progress"
OBJECT_NAMASTE = "0=ocfl_object_1.1"
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup, verification or restore that cannot go on; the message says why."""


# --- walking a storage root (folder names only, no inventory parsed) ----------------------------


def iter_object_dirs(root: Path) -> Iterator[Path]:
    """Every object folder in a storage root (one holding an object declaration)."""
    root = Path(root)
    try:
        stack = [Path(e.path) for e in os.scandir(root)
                 if e.is_dir(follow_symlinks=False) and e.name != "extensions"]
    except FileNotFoundError:
        return
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue  # purged while we walked
        if any(e.name == OBJECT_NAMASTE for e in entries):
            yield folder
        else:
            stack.extend(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))


def object_id_of(root: Path, objdir: Path) -> str:
    """The object id: the layout keeps it, percent-encoded, as the folder name."""
    from ..storage.ocfl import layout_path

    candidate = unquote(objdir.name)
    try:
        if layout_path(candidate) == objdir.relative_to(root).as_posix():
            return candidate
    except Exception:  # noqa: BLE001 - fall back to the inventory
        pass
    newest = _versions(objdir)
    source = objdir / (f"v{newest[-1]}" if newest else "") / "inventory.json"
    return json.loads(source.read_bytes())["id"]


def _versions(objdir: Path) -> list[int]:
    out = []
    for entry in os.scandir(objdir):
        name = entry.name
        if name.startswith("v") and name[1:].isdigit() and name[1] != "0" \
                and entry.is_dir(follow_symlinks=False):
            out.append(int(name[1:]))
    return sorted(out)


# --- small file helpers -------------------------------------------------------------------------


def _copy_hashed(src: Path, dst: Path, fsync: bool = False) -> tuple[str, int]:
    """Copy a file, returning (sha256, size) of what was copied."""
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        if fsync:
            fout.flush()
            os.fsync(fout.fileno())
    return digest.hexdigest(), size


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _link_or_copy(src: Path, dst: Path) -> bool:
    """Hard-link src to dst; copy when the file system cannot. True if linked."""
    try:
        os.link(src, dst)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK,
                             errno.EXDEV, errno.EACCES):
            raise
    shutil.copyfile(src, dst)
    return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n",
                    encoding="utf-8")


def read_sums(path: Path) -> dict[str, str]:
    """SHA256SUMS (the `sha256sum` format) as {relative path: sha256}."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            digest, _, rel = line.partition("  ")
            out[_unescape(rel)] = digest
    return out


def _escape(rel: str) -> str:
    # sha256sum escapes backslash and newline; OCFL paths here contain neither, but be exact.
    return rel.replace("\\", "\\\\").replace("\n", "\\n")


def _unescape(rel: str) -> str:
    return rel.replace("\\n", "\n").replace("\\\\", "\\")


@contextmanager
def _locked(dest: Path) -> Iterator[None]:
    fd = os.open(dest / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"Another backup into {dest} is running; try again later.") from None
        yield
    finally:
        os.close(fd)


# --- backup sets --------------------------------------------------------------------------------


def list_sets(dest: Path) -> list[dict[str, Any]]:
    """Complete sets in a backup folder, oldest first, each with its manifest."""
    sets_dir = Path(dest) / SETS
    out = []
    if not sets_dir.is_dir():
        return out
    for entry in sorted(os.scandir(sets_dir), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            manifest = json.loads((Path(entry.path) / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a finished set
        out.append({"name": entry.name, "path": Path(entry.path), "manifest": manifest})
    # by start time (names of sets made within one second do not sort by time)
    return sorted(out, key=lambda s: (str(s["manifest"].get("started_at", "")), s["name"]))


def resolve_set(src: str | Path, name: str | None = None) -> Path:
    """A set folder from a backup folder (newest set, or the named one) or a set folder."""
    src = Path(src)
    if (src / MANIFEST).is_file():
        return src
    sets = list_sets(src)
    if name:
        for s in sets:
            if s["name"] == name:
                return s["path"]
        raise BackupError(f"There is no backup set {name!r} in {src}.")
    if not sets:
        raise BackupError(f"{src} holds no finished backup set.")
    return sets[-1]["path"]


def _set_time(manifest: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(manifest["started_at"])


def _choose_mode(env: Env, mode: str, sets: list[dict[str, Any]]) -> str:
    if mode not in ("auto", "full", "incremental"):
        raise BackupError(f"mode must be auto, full or incremental, not {mode!r}")
    if not sets:
        return "full"
    if mode != "auto":
        return mode
    fulls = [s for s in sets if s["manifest"].get("mode") == "full"]
    raw = env.config.get("BACKUP_FULL_EVERY_DAYS")
    every = 30 if raw in (None, "") else int(raw)
    if not fulls or env.now() - _set_time(fulls[-1]["manifest"]) >= timedelta(days=every):
        return "full"
    return "incremental"


def prune(dest: Path, keep: int) -> list[str]:
    """Delete the oldest sets beyond `keep`, never the newest full set; returns their names."""
    keep = max(1, int(keep))
    sets = list_sets(dest)
    fulls = [s["name"] for s in sets if s["manifest"].get("mode") == "full"]
    protect = {s["name"] for s in sets[-keep:]} | set(fulls[-1:])
    removed = []
    for s in sets:
        if s["name"] not in protect:
            shutil.rmtree(s["path"])
            removed.append(s["name"])
    return removed


# --- database snapshots -------------------------------------------------------------------------


def _catalog_ids_sql() -> list[str]:
    return [
        "SELECT id FROM fonds WHERE head_version > 0",
        "SELECT id FROM dossiers WHERE head_version > 0",
        "SELECT id FROM documents WHERE head_version > 0",
        "SELECT record_id FROM disposal_reviews WHERE record_id IS NOT NULL",
    ]


def _snapshot_sqlite(env: Env, work: Path) -> dict[str, Any]:
    path = make_url(env.db.url).database
    if not path or path == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    target = work / "catalog.sqlite"
    target.unlink(missing_ok=True)
    src = sqlite3.connect(path, timeout=60)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout=60000")
        started = datetime.now(UTC)
        src.backup(dst)  # one step: a single read transaction, so a consistent snapshot
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"The database snapshot failed its check: {check}")
        ids = {row[0] for sql in _catalog_ids_sql() for row in dst.execute(sql)}
        revision = sorted(r[0] for r in dst.execute("SELECT version_num FROM alembic_version"))
    finally:
        dst.close()
        src.close()
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    return {"dialect": "sqlite", "file": target.name, "snapshot_at": started.isoformat(),
            "alembic_revision": revision, "ids": ids}


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string (no password) and the environment carrying the password."""
    u = make_url(url)
    environ = dict(os.environ)
    if u.password:
        environ["PGPASSWORD"] = str(u.password)
    u = u.set(drivername="postgresql", password=None)
    return u.render_as_string(hide_password=False), environ


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise BackupError(f"{name} is not installed; install the PostgreSQL client "
                      "(Debian: apt-get install postgresql-client).")


def _snapshot_postgres(env: Env, work: Path) -> dict[str, Any]:
    target = work / "catalog.pgdump"
    target.unlink(missing_ok=True)
    dsn, environ = _libpq(env.db.url)
    pg_dump = _pg_tool("pg_dump")
    with env.db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            started = datetime.now(UTC)
            # pg_dump reads the exported snapshot: exactly what this transaction sees.
            proc = subprocess.run(
                [pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                 f"--snapshot={snapshot}", f"--file={target}", f"--dbname={dsn}"],
                env=environ, capture_output=True, text=True)
            if proc.returncode != 0:
                raise BackupError(f"pg_dump failed: {proc.stderr.strip()[-2000:]}")
            ids = {row[0] for sql in _catalog_ids_sql() for row in conn.execute(text(sql))}
            revision = sorted(conn.execute(text("SELECT version_num FROM alembic_version"))
                              .scalars())
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    return {"dialect": "postgresql", "file": target.name, "snapshot_at": started.isoformat(),
            "alembic_revision": revision, "ids": ids}


def snapshot_database(env: Env, work: Path) -> dict[str, Any]:
    if env.db.is_sqlite:
        return _snapshot_sqlite(env, work)
    if env.db.engine.dialect.name == "postgresql":
        return _snapshot_postgres(env, work)
    raise BackupError(f"Backups of {env.db.engine.dialect.name} databases are not supported.")


# --- copying the storage root -------------------------------------------------------------------


class _StorageCopy:
    """Copies a live storage root into a set; links unchanged versions from the previous set."""

    def __init__(self, src: Path, dst: Path, prev: Path | None, prev_sums: dict[str, str],
                 progress: Callable[[int], None] | None = None) -> None:
        self.src, self.dst, self.prev, self.prev_sums = src, dst, prev, prev_sums
        self.sums: dict[str, str] = {}
        self.progress = progress
        self.counts = dict.fromkeys(("objects", "files", "bytes", "copied_files", "copied_bytes",
                                     "linked_files"), 0)
        self.objects: dict[str, str] = {}  # object id -> relative folder

    def _rel(self, path: Path) -> str:
        return f"{STORAGE}/{path.relative_to(self.dst).as_posix()}"

    def _file(self, src: Path, dst: Path, fresh: bool = False) -> None:
        rel = self._rel(dst)
        if not fresh and rel in self.sums and dst.exists():
            # copied by an earlier attempt of this backup (versions never change)
            self.counts["files"] += 1
            self.counts["bytes"] += dst.stat().st_size
            return
        prev_digest = self.prev_sums.get(rel)
        if not fresh and self.prev is not None and prev_digest is not None:
            try:
                linked = _link_or_copy(self.prev / rel, dst)
            except FileNotFoundError:
                pass
            else:
                self.sums[rel] = prev_digest
                size = dst.stat().st_size
                self.counts["files"] += 1
                self.counts["bytes"] += size
                self.counts["linked_files" if linked else "copied_files"] += 1
                if not linked:
                    self.counts["copied_bytes"] += size
                return
        digest, size = _copy_hashed(src, dst)
        self.sums[rel] = digest
        self.counts["files"] += 1
        self.counts["bytes"] += size
        self.counts["copied_files"] += 1
        self.counts["copied_bytes"] += size

    def _tree(self, src: Path, dst: Path) -> None:
        dst.mkdir(parents=True, exist_ok=True)
        for folder, dirs, files in os.walk(src, onerror=_raise):
            rel = Path(folder).relative_to(src)
            target = dst / rel
            for d in dirs:
                (target / d).mkdir(exist_ok=True)
            for name in files:
                self._file(Path(folder) / name, target / name)

    def root_files(self) -> None:
        self.dst.mkdir(parents=True, exist_ok=True)
        for entry in os.scandir(self.src):
            if entry.is_file(follow_symlinks=False):
                rel = self._rel(self.dst / entry.name)
                self.sums.pop(rel, None)  # small and mutable: always copied afresh
                (self.dst / entry.name).unlink(missing_ok=True)
                self._file(Path(entry.path), self.dst / entry.name, fresh=True)
        ext = self.src / "extensions"
        if ext.is_dir():
            for folder, _, files in os.walk(ext):
                target = self.dst / Path(folder).relative_to(self.src)
                target.mkdir(parents=True, exist_ok=True)
                for name in files:
                    rel = self._rel(target / name)
                    self.sums.pop(rel, None)
                    (target / name).unlink(missing_ok=True)
                    self._file(Path(folder) / name, target / name, fresh=True)

    def object(self, objdir: Path) -> None:
        rel = objdir.relative_to(self.src)
        dst = self.dst / rel
        versions = _versions(objdir)
        if not versions:
            return
        dst.mkdir(parents=True, exist_ok=True)
        self._file(objdir / OBJECT_NAMASTE, dst / OBJECT_NAMASTE)
        for number in versions:
            self._tree(objdir / f"v{number}", dst / f"v{number}")
        # The root inventory is a copy of the newest version's inventory (always: a writer
        # replaces the root one only after the version is in place), so take it from there.
        head = dst / f"v{versions[-1]}"
        for name in ("inventory.json", "inventory.json.sha512"):
            target = dst / name
            target.unlink(missing_ok=True)
            _link_or_copy(head / name, target)
            self.sums[self._rel(target)] = self.sums[self._rel(head / name)]
            self.counts["files"] += 1
            self.counts["bytes"] += target.stat().st_size
        if not (objdir / OBJECT_NAMASTE).exists():
            # Purged (moved out in one rename) while we copied: the copy may be partial.
            raise FileNotFoundError(objdir)
        self.objects[object_id_of(self.src, objdir)] = rel.as_posix()
        self.counts["objects"] += 1
        if self.progress:
            self.progress(1)

    def run(self) -> set[str]:
        """Copy everything now in the source; remove objects that are gone; returns ids."""
        self.counts = dict.fromkeys(self.counts, 0)
        seen_dirs: set[str] = set()
        self.objects = {}
        self.root_files()
        # A walk misses objects created behind it in folders it already passed; a record's
        # parent (fonds, dossier) is older than the record, so walking again finds the parent
        # of every record found before. Walk until nothing new turns up (at most three times).
        for _ in range(3):
            new = 0
            for objdir in iter_object_dirs(self.src):
                rel = objdir.relative_to(self.src).as_posix()
                if rel in seen_dirs:
                    continue
                try:
                    self.object(objdir)
                    seen_dirs.add(rel)
                    new += 1
                except FileNotFoundError:
                    # Purged (approved destruction) while we copied it: leave it out.
                    shutil.rmtree(self.dst / rel, ignore_errors=True)
            if not new:
                break
        # An earlier attempt may hold objects destroyed since: drop them.
        for objdir in list(iter_object_dirs(self.dst)):
            rel = objdir.relative_to(self.dst).as_posix()
            if rel not in seen_dirs:
                shutil.rmtree(objdir)
        depth = 1 + next(iter(seen_dirs), "a/b/c/d").count("/") + 1  # storage/<tuples>/<obj>
        live = {f"{STORAGE}/{rel}" for rel in seen_dirs}
        for rel in list(self.sums):
            parts = rel.split("/")
            if parts[0] == STORAGE and len(parts) > depth and \
                    "/".join(parts[:depth]) not in live:
                del self.sums[rel]
        return set(self.objects)


def _raise(exc: OSError) -> None:
    raise exc


# --- backup -------------------------------------------------------------------------------------


def backup(env: Env, dest: str | Path, *, mode: str = "auto", keep: int | None = None,
           progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Make one backup set in `dest`; returns its manifest (plus what retention removed)."""
    dest = Path(dest).absolute()
    dest.mkdir(parents=True, exist_ok=True)
    (dest / SETS).mkdir(exist_ok=True)
    with _locked(dest):
        for stale in (dest / SETS).glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        sets = list_sets(dest)
        mode = _choose_mode(env, mode, sets)
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
        copier = _StorageCopy(env.store.root, work / STORAGE, prev["path"] if prev else None,
                              prev_sums, progress)
        t0 = time.monotonic()
        problems: list[str] = []
        attempt = 0
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
        db_digest, db_size = _hash_file(work / db["file"])
        sums = dict(copier.sums)
        sums[db["file"]] = db_digest
        with open(work / SUMS, "w", encoding="utf-8") as f:
            for rel in sorted(sums):
                f.write(f"{sums[rel]}  {_escape(rel)}\n")
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
            "sums": {"file": SUMS, "sha256": _hash_file(work / SUMS)[0], "files": len(sums)},
            "problems": problems,
        }
        _write_json(work / MANIFEST, manifest)
        os.sync()  # every copied file on the backup disk before the set is declared done
        final = dest / SETS / name
        os.rename(work, final)
        _fsync_dir(dest / SETS)
        removed = prune(dest, keep) if keep else []
    manifest["path"] = str(final)
    manifest["pruned"] = removed
    return manifest


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
    if _hash_file(sums_path)[0] != manifest.get("sums", {}).get("sha256"):
        problems.append(f"{SUMS}: does not match the digest in {MANIFEST}")
    sums = read_sums(sums_path)
    checked = 0
    for rel, expected in sorted(sums.items()):
        try:
            digest, _ = _hash_file(path / rel)
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
            proc = subprocess.run([_pg_tool("pg_restore"), "--list", str(db_file)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                problems.append(f"{db_file.name}: pg_restore cannot read it: "
                                f"{proc.stderr.strip()[-500:]}")
        except BackupError as exc:
            log.warning("%s", exc)
    if deep:
        problems += _deep_check(path / STORAGE)
    problems += [f"recorded at backup time: {p}" for p in manifest.get("problems", [])]
    return {"set": path.name, "ok": not problems, "problems": problems, "files": checked,
            "mode": manifest.get("mode"), "started_at": manifest.get("started_at")}


def _deep_check(root: Path) -> list[str]:
    problems: list[str] = []
    for objdir in iter_object_dirs(root):
        rel = objdir.relative_to(root).as_posix()
        try:
            data = (objdir / "inventory.json").read_bytes()
            inv = json.loads(data)
            side = (objdir / "inventory.json.sha512").read_text().split()[:1]
            if side != [hashlib.sha512(data).hexdigest()]:
                problems.append(f"{rel}/inventory.json.sha512: does not match")
            for digest, paths in inv["manifest"].items():
                for content in paths:
                    h = hashlib.sha512()
                    with open(objdir / content, "rb") as f:
                        while chunk := f.read(CHUNK):
                            h.update(chunk)
                    if h.hexdigest() != digest:
                        problems.append(f"{rel}/{content}: sha512 does not match the inventory")
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{rel}: {type(exc).__name__}: {exc}")
    return problems


# --- restore ------------------------------------------------------------------------------------


def _instance_is_empty(config: dict[str, Any]) -> str | None:
    """None when the instance holds no records; else why it is not empty."""
    root = Path(config["STORAGE_ROOT"])
    if next(iter_object_dirs(root), None) is not None:
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
    if _hash_file(src)[0] != sums.get(db["file"]):
        raise BackupError(f"{src} does not match its checksum: the backup is damaged.")
    _clear_database(url)
    if db["dialect"] == "sqlite" and url.startswith("sqlite"):
        target = Path(make_url(url).database)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".restoring")
        _copy_hashed(src, tmp, fsync=fsync)
        os.replace(tmp, target)
        return
    if db["dialect"] == "postgresql":
        if url.startswith("sqlite"):
            raise BackupError("A PostgreSQL backup can only be restored into PostgreSQL; set "
                              "DATABASE_URL to an empty PostgreSQL database.")
        dsn, environ = _libpq(url)
        proc = subprocess.run([_pg_tool("pg_restore"), "--no-owner", "--no-privileges",
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

    from ..catalog.migrate import upgrade
    from ..catalog.models import Base

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
    if root.exists():
        shutil.rmtree(root)  # empty (checked before): only the root's declaration files
    counts = {"files": 0, "bytes": 0}
    for folder, _, files in os.walk(src):
        target = root / Path(folder).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            s = Path(folder) / name
            rel = f"{STORAGE}/{s.relative_to(src).as_posix()}"
            digest, size = _copy_hashed(s, target / name, fsync=fsync)
            if sums.get(rel) != digest:
                raise BackupError(f"{rel} in the backup does not match its checksum: the backup "
                                  "is damaged; try another set (repo-server verify-backup).")
            counts["files"] += 1
            counts["bytes"] += size
            if progress and name == OBJECT_NAMASTE:
                progress(1)
        if fsync:
            _fsync_dir(target)
    if not fsync:
        os.sync()
    return counts


def reconcile_storage(env: Env) -> dict[str, int]:
    """Make the catalog agree with the storage root after a restore: finish destructions the
    snapshot recorded, import every object newer than (or unknown to) the snapshot."""
    from ..catalog import Document, Dossier, Fonds, Tombstone
    from .catalog_mirror import recount as _recount
    from .disposal_execution import destroy_dossier
    from .rebuild import import_object, reconcile_pending
    from .records import DOCUMENT_FILE, DOSSIER_FILE, FONDS_FILE, object_id, record_id
    from .writes import add_outbox

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
    for objdir in iter_object_dirs(env.store.root):
        oid = object_id_of(env.store.root, objdir)
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
    from ..catalog import Dossier, Fonds
    from .records import DOCUMENT_FILE, DOSSIER_FILE, object_id

    if kind == "dossier":
        code = env.store.read_json(object_id(rid), DOSSIER_FILE).get("fonds_code")
        return session.scalar(select(Fonds.id).where(Fonds.code == code)) is not None
    dossier_id = env.store.read_json(object_id(rid), DOCUMENT_FILE).get("dossier_id")
    return session.get(Dossier, dossier_id) is not None


def _reset_operational_state(env: Env, set_name: str) -> None:
    from ..catalog import JobRun, Lease

    with env.db.write() as session:
        session.execute(delete(Lease))
        session.execute(update(JobRun).where(JobRun.status == "running").values(
            status="failed", finished_at=env.now(),
            error=f"Interrupted: the instance was restored from backup set {set_name}."))


def restore(config: dict[str, Any], src: str | Path, *, set_name: str | None = None,
            reindex: bool = True, progress: Callable[[int], None] | None = None
            ) -> dict[str, Any]:
    """Restore a backup set into an empty instance (see the module docstring)."""
    from ..catalog.migrate import upgrade
    from .context import build_env

    set_path = resolve_set(src, set_name)
    manifest = json.loads((set_path / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{set_path} is not a repo-server backup set.")
    sums_path = set_path / SUMS
    if _hash_file(sums_path)[0] != manifest["sums"]["sha256"]:
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
    index_dir = Path(config["INDEX_DIR"])
    if index_dir.exists():
        shutil.rmtree(index_dir)  # derived data: rebuilt below or by the worker
    env = build_env(config)
    try:
        _reset_operational_state(env, set_path.name)
        reconciled = reconcile_storage(env)
        indexed = None
        if reindex:
            from .indexing import reindex as reindex_job
            from .search import open_writer

            backend = open_writer(env)
            try:
                indexed = reindex_job(env, backend)["records"]
            finally:
                backend.close()
        try:
            from . import audit

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
            "storage": storage, "reconciled": reconciled, "indexed": indexed,
            "seconds": round(time.monotonic() - t0, 3)}


def catalog_counts(env: Env) -> dict[str, int]:
    """Quick totals shown after a backup or restore."""
    from ..catalog import Document, Dossier, Fonds

    with env.db.read() as session:
        return {name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("fonds", Fonds), ("dossiers", Dossier),
                                    ("documents", Document))}


def scheduled_backup(env: Env) -> dict[str, Any]:
    """The nightly job: back up into BACKUP_DIR; a failure raises an alert (health shows it)
    until a later backup succeeds."""
    from ..catalog import Alert

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
