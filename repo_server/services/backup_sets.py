"""Backup sets in a backup folder: their names, manifests and checksum lists, the lock,
the choice of full or incremental, and retention (see services/backup.py)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..storage.files import hash_file
from .context import Env

log = logging.getLogger("repo_server.services.backup")


FORMAT = "repo-server-backup/1"
SETS = "sets"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
LOCK = ".lock"
RESTORE_MARKER = ".restore-in-progress"
AUDIT_KEY = "audit.key"
DERIVED = "derived"  # the derived-text cache's copy in a set, and the prefix of its sums


class BackupError(Exception):
    """A backup, verification or restore that cannot go on; the message says why."""


def file_sha256(path: Path) -> tuple[str, int]:
    """(sha256, size) of a file of a set (the storage's one hashing)."""
    digests, size = hash_file(path, ("sha256",))
    return digests[0], size


def write_json(path: Path, data: Any) -> None:
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


def escape_sum_path(rel: str) -> str:
    # sha256sum escapes backslash and newline; OCFL paths here contain neither, but be exact.
    return rel.replace("\\", "\\\\").replace("\n", "\\n")


def _unescape(rel: str) -> str:
    return rel.replace("\\n", "\n").replace("\\\\", "\\")


@contextmanager
def locked_folder(dest: Path) -> Iterator[None]:
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


def choose_mode(env: Env, mode: str, sets: list[dict[str, Any]]) -> str:
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
    """Delete the oldest sets beyond `keep`, never the two newest full sets (incremental sets
    share files with their full set by hard links: the older full set is the copy that does
    not share a byte with them); returns their names."""
    keep = max(1, int(keep))
    sets = list_sets(dest)
    fulls = [s["name"] for s in sets if s["manifest"].get("mode") == "full"]
    protect = {s["name"] for s in sets[-keep:]} | set(fulls[-2:])
    removed = []
    for s in sets:
        if s["name"] not in protect:
            shutil.rmtree(s["path"])
            removed.append(s["name"])
    return removed


