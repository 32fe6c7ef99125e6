"""Keeping a storage root sound: purge, start-up recovery (roll forward, sidecars, temp
files, stale locks, empty tuple folders) and verification of an object's digests. A mixin of
ObjectStore: these need its locks and paths, not its write path."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import repo_server.storage.sync as _sync

from .files import hash_file
from .inventory import check_sidecar, content_files, fixity_by_path, sidecar_line
from .layout import INVENTORY, LOCKS_DIR, SIDECAR, newest_version, version_number
from .locks import try_clean
from .types import ObjectNotFound, StorageError

log = logging.getLogger("repo_server.storage.ocfl")


class Maintenance:
    """Purge, recovery and verification (mixed into ObjectStore)."""

    def purge(self, object_id: str) -> None:
        """Remove the object from disk entirely (approved destruction only)."""
        objdir = self.object_path(object_id)
        with self._locked(object_id):
            if not objdir.exists():
                raise ObjectNotFound(object_id)
            tmp = self._tmp_name("purge")
            os.rename(objdir, tmp)  # one atomic step out of the root, then delete at leisure
            self._forget(object_id)
            parent = objdir.parent
            while parent != self.root:
                try:
                    os.rmdir(parent)  # only succeeds when empty: no empty tuple folders left
                except OSError:
                    break
                parent = parent.parent
            if self.fsync:
                _sync.fsync_dir(parent)
        shutil.rmtree(tmp)  # out of the root already: no need to hold the lock meanwhile

    def recover(self, older_than_seconds: float = 0) -> dict[str, int]:
        """Start-up crash recovery; returns counts of what was repaired.

        Removes temp files and folders in tmp_dir older than ``older_than_seconds`` (0 = all:
        only safe when no writer runs), rolls forward versions committed after the root
        inventory was last replaced, and rewrites root sidecars that do not match.
        """
        counts = dict.fromkeys(("objects", "rolled_forward", "sidecars_repaired", "errors"), 0)
        counts["temp_removed"] = self._clean_tmp(time.time() - older_than_seconds)
        for objdir in self._object_dirs():
            counts["objects"] += 1
            try:
                with self._locked_dir(objdir):
                    if self._roll_forward(objdir):
                        counts["rolled_forward"] += 1
                    elif self._repair_sidecar(objdir):
                        counts["sidecars_repaired"] += 1
            except (StorageError, OSError, ValueError, KeyError) as exc:
                # One damaged object must not stop start-up; the fixity job will report it.
                log.error("cannot recover %s: %s", objdir, exc)
                counts["errors"] += 1
        counts["empty_folders_removed"] = self._prune_empty_tuples(
            time.time() - older_than_seconds)
        return counts

    def _prune_empty_tuples(self, cutoff: float) -> int:
        """Remove tuple folders left empty by a writer killed between making them and renaming
        its new object in (OCFL validators reject an empty folder in the hierarchy). Only
        folders older than ``cutoff``: a younger one may be a live writer's, whose rename
        would make it again anyway (see ``_rename_new_object``)."""
        removed = 0

        def subfolders(folder: str) -> list[os.DirEntry]:
            try:
                return [e for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
            except FileNotFoundError:
                return []

        def old(entry: os.DirEntry) -> bool:
            # Taken before its children are pruned (removing one touches the folder).
            try:
                return entry.stat(follow_symlinks=False).st_mtime < cutoff
            except OSError:
                return False

        def prune(entry: os.DirEntry, was_old: bool) -> None:
            nonlocal removed
            if was_old:
                try:
                    os.rmdir(entry.path)  # fails unless empty
                    removed += 1
                except OSError:
                    pass

        for first in subfolders(str(self.root)):
            if first.name == "extensions":
                continue
            first_old = old(first)
            for second in subfolders(first.path):
                second_old = old(second)
                for third in subfolders(second.path):
                    try:
                        holds_nothing = third.stat(follow_symlinks=False).st_nlink <= 2
                    except OSError:
                        continue
                    if holds_nothing:  # no object folder inside
                        prune(third, old(third))
                prune(second, second_old)
            prune(first, first_old)
        return removed

    def _clean_tmp(self, cutoff: float) -> int:
        removed = 0
        for entry in os.scandir(self.tmp_dir):
            try:
                if entry.name == LOCKS_DIR or entry.stat(follow_symlinks=False).st_mtime > cutoff:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue  # a running writer just moved it into place
            removed += 1
        return removed + self._clean_locks()

    def _clean_locks(self) -> int:
        """Remove lock files a killed process left (a live holder's lock keeps its file).

        Same protocol as a release (storage/locks.py): remove only while holding the lock;
        names that are not lock files (NFS's ``.nfs…`` of a file removed while open) are
        left to the file system."""
        removed = 0
        for entry in os.scandir(self._locks):
            if entry.name.endswith(".lock") and try_clean(Path(entry.path)):
                removed += 1
        return removed

    @contextmanager
    def _locked_dir(self, objdir: Path) -> Iterator[None]:
        """Lock an object found by walking (its id comes from the newest inventory)."""
        newest = newest_version(objdir)
        source = objdir / INVENTORY if newest is None else objdir / f"v{newest}" / INVENTORY
        object_id = json.loads(source.read_bytes())["id"]
        with self._locked(object_id):
            yield

    def _roll_forward(self, objdir: Path) -> bool:
        """Copy the newest vN inventory to the root if the root inventory is behind."""
        newest = newest_version(objdir)
        if newest is None:
            return False
        try:
            root_head = json.loads((objdir / INVENTORY).read_bytes())["head"]
        except FileNotFoundError:
            root_head = None
        if root_head == f"v{newest}":
            return False
        data = (objdir / f"v{newest}" / INVENTORY).read_bytes()
        inv = json.loads(data)  # a committed version's inventory is complete (fsynced first)
        if inv.get("head") != f"v{newest}":
            raise StorageError(f"{objdir}/v{newest}/inventory.json has head {inv.get('head')}")
        self._write_root_inventory(objdir, data)
        return True

    def _repair_sidecar(self, objdir: Path) -> bool:
        data = (objdir / INVENTORY).read_bytes()
        expected = sidecar_line(data)
        try:
            if (objdir / SIDECAR).read_bytes().split()[:1] == expected.split()[:1]:
                return False
        except FileNotFoundError:
            pass
        self._replace_file(objdir / SIDECAR, expected)
        return True

    def _write_root_inventory(self, objdir: Path, data: bytes) -> None:
        self._replace_file(objdir / INVENTORY, data)
        self._replace_file(objdir / SIDECAR, sidecar_line(data))

    def verify_object(self, object_id: str) -> list[str]:
        """Re-hash every content file against manifest (sha512) and fixity (sha256).

        Returns a list of problems; empty means the object is intact.
        """
        inv = self._require(object_id)
        objdir = self.object_path(object_id)
        problems = check_sidecar(objdir, "")
        for number in range(1, version_number(inv["head"]) + 1):
            problems += check_sidecar(objdir, f"v{number}/")
        sha256_of = fixity_by_path(inv)
        listed: set[str] = set()
        for digest, content_paths in inv["manifest"].items():
            for content_path in content_paths:
                listed.add(content_path)
                try:
                    (sha256, sha512), _ = hash_file(objdir / content_path)
                except FileNotFoundError:
                    problems.append(f"{content_path}: missing")
                    continue
                if sha512 != digest:
                    problems.append(f"{content_path}: sha512 does not match the manifest")
                if sha256_of.get(content_path, sha256) != sha256:
                    problems.append(f"{content_path}: sha256 does not match the fixity block")
        for content_path in sorted(content_files(objdir) - listed):
            problems.append(f"{content_path}: not in the manifest")
        return problems

