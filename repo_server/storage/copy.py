"""Copies of a storage root for backups: the copy into a set (hard links for unchanged
versions, verified first), its restore into a new root, and the deep check of a copy. The
backup service decides when and where; the folders inside a root are walked only here."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from .files import copy_hashed, hash_file, link_or_copy
from .layout import OBJECT_NAMASTE, iter_object_dirs, object_id_of, version_numbers
from .sync import fsync_dir
from .types import StorageError

log = logging.getLogger("repo_server.services.backup")

STORAGE = "storage"  # the copy's folder in a backup set, and the prefix of its sums


class CopyDamaged(StorageError):
    """A file of a backup copy does not match the digest recorded for it."""


class RootCopy:
    """Copies a live storage root into a backup set's ``storage/`` folder; links the files of
    unchanged versions from the previous set after re-hashing them against its sums."""

    def __init__(self, src: Path, dst: Path, prev: Path | None, prev_sums: dict[str, str],
                 progress: Callable[[int], None] | None = None) -> None:
        self.src, self.dst, self.prev, self.prev_sums = src, dst, prev, prev_sums
        self.sums: dict[str, str] = {}
        self.progress = progress
        self.counts = dict.fromkeys(("objects", "files", "bytes", "copied_files", "copied_bytes",
                                     "linked_files"), 0)
        self.objects: dict[str, str] = {}  # object id -> relative folder
        self.damaged_in_prev: list[str] = []

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
                # Verify before linking: a byte that rotted in the previous set is never
                # carried into this one (decision 0014); the file is copied afresh instead.
                intact = hash_file(self.prev / rel, ("sha256",))[0][0] == prev_digest
                linked = link_or_copy(self.prev / rel, dst) if intact else None
            except FileNotFoundError:
                intact, linked = False, None
            if not intact:
                self.damaged_in_prev.append(rel)
                log.warning("backup: %s is damaged or missing in the previous set %s; copied "
                            "afresh from the storage root", rel, self.prev.name)
            else:
                self.sums[rel] = prev_digest
                size = dst.stat().st_size
                self.counts["files"] += 1
                self.counts["bytes"] += size
                self.counts["linked_files" if linked else "copied_files"] += 1
                if not linked:
                    self.counts["copied_bytes"] += size
                return
        digest, size = copy_hashed(src, dst)
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
        versions = version_numbers(objdir)
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
            link_or_copy(head / name, target)
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


def restore_root(src: Path, root: Path, sums: dict[str, str], fsync: bool,
                 progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Copy a backup set's storage folder ``src`` into an empty ``root``, checking every file
    against the set's sums (keys ``storage/<path>``) as it goes."""
    if not (src / "0=ocfl_1.1").is_file():
        raise CopyDamaged(f"{src} is not an OCFL storage root.")
    if root.exists():
        shutil.rmtree(root)  # empty (checked before): only the root's declaration files
    counts = {"files": 0, "bytes": 0}
    for folder, _, files in os.walk(src):
        target = root / Path(folder).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            s = Path(folder) / name
            rel = f"{STORAGE}/{s.relative_to(src).as_posix()}"
            digest, size = copy_hashed(s, target / name, fsync=fsync)
            if sums.get(rel) != digest:
                raise CopyDamaged(f"{rel} in the backup does not match its checksum: the backup "
                                  "is damaged; try another set (repo-server verify-backup).")
            counts["files"] += 1
            counts["bytes"] += size
            if progress and name == OBJECT_NAMASTE:
                progress(1)
        if fsync:
            fsync_dir(target)
    if not fsync:
        os.sync()
    return counts


def verify_copy(root: Path) -> list[str]:
    """Re-check every object of a copied root against its inventories (sha512)."""
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
                    if hash_file(objdir / content, ("sha512",))[0][0] != digest:
                        problems.append(f"{rel}/{content}: sha512 does not match the inventory")
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{rel}: {type(exc).__name__}: {exc}")
    return problems


def root_holds_objects(root: Path) -> bool:
    """Does a storage root (perhaps not one yet) hold any object?"""
    return next(iter_object_dirs(root), None) is not None
