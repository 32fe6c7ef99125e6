"""Where things are in a storage root: OCFL names, the hashed n-tuple layout (extension
0003), logical paths, notes of the server's own, and the walk that finds every object."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote

from .types import LogicalPathError

ROOT_NAMASTE = "0=ocfl_1.1"
OBJECT_NAMASTE = "0=ocfl_object_1.1"
INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
CONTENT_DIR = "content"
LAYOUT_NAME = "0003-hash-and-id-n-tuple-storage-layout"
LAYOUT_CONFIG = {
    "extensionName": LAYOUT_NAME,
    "digestAlgorithm": "sha256",
    "tupleSize": 3,
    "numberOfTuples": 3,
}
LAYOUT_DESCRIPTION = (
    "Hashed Truncated N-tuple Trees with Object ID Encapsulating Directory "
    "for OCFL Storage Hierarchies"
)
LOCKS_DIR = "locks"

_SAFE_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
# Cc characters (C0, DEL, C1) and backslash: legal on Linux but a trap for every other tool.
_BAD_PATH_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")
VERSION_DIR = re.compile(r"v([1-9][0-9]*)")


def layout_path(object_id: str) -> str:
    """Path of an object relative to the storage root (extension 0003, sha256, 3 x 3)."""
    if not isinstance(object_id, str) or not object_id:
        raise ValueError("object id must be a non-empty string")
    return _layout_path(object_id)


@functools.lru_cache(maxsize=4096)  # pure, and asked for several times per write
def _layout_path(object_id: str) -> str:
    try:
        digest = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
    except UnicodeEncodeError as exc:
        raise ValueError("object id is not valid Unicode") from exc
    encoded = "".join(
        c if c in _SAFE_ID_CHARS else "".join(f"%{b:02x}" for b in c.encode("utf-8"))
        for c in object_id
    )
    if len(encoded) > 100:
        encoded = f"{encoded[:100]}-{digest}"
    return f"{digest[0:3]}/{digest[3:6]}/{digest[6:9]}/{encoded}"


def check_logical_path(path: str) -> str:
    """Return ``path`` if it is a valid logical path, else raise LogicalPathError."""
    if not isinstance(path, str) or not path:
        raise LogicalPathError("logical path must be a non-empty string")
    if path.startswith("/"):
        raise LogicalPathError(f"logical path must be relative: {path!r}")
    if _BAD_PATH_CHARS.search(path):
        raise LogicalPathError(f"logical path has a control character or backslash: {path!r}")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise LogicalPathError(f"logical path has an empty, '.' or '..' segment: {path!r}")
        try:
            size = len(segment.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise LogicalPathError(f"logical path is not valid Unicode: {path!r}") from exc
        if size > 255:
            raise LogicalPathError(f"logical path segment longer than 255 bytes: {path!r}")
    return path


def check_no_conflicts(paths: Iterable[str]) -> None:
    """OCFL forbids a logical path that is also a folder of another one ("a" and "a/b")."""
    files = set(paths)
    for path in files:
        parts = path.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in files:
                raise LogicalPathError(f"{folder!r} cannot be both a file and a folder")


_NOTE_NAME = re.compile(r"[a-z][a-z0-9-]{0,60}\.(json|jsonl|txt)")


def note_name(name: str) -> str:
    if not _NOTE_NAME.fullmatch(name) or name in ("ocfl_layout.json", INVENTORY):
        raise ValueError(f"not a storage root note name: {name!r}")
    return name



def version_number(name: str) -> int:
    return int(name[1:])



def iter_object_dirs(root: str | Path) -> Iterator[Path]:
    """Every object folder under a storage root (one holding an object declaration), from
    folder names alone: no inventory is read. Used for the live root and for copies of it."""
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


def version_numbers(objdir: Path) -> list[int]:
    """The version folders of an object (v1, v2, ...), in order."""
    return sorted(
        version_number(e.name)
        for e in os.scandir(objdir)
        if VERSION_DIR.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
    )


def newest_version(objdir: Path) -> int | None:
    numbers = version_numbers(objdir)
    return numbers[-1] if numbers else None


def object_id_of(root: Path, objdir: Path) -> str:
    """The object id: the layout keeps it, percent-encoded, as the folder name (the newest
    inventory says it when the name was shortened)."""
    candidate = unquote(objdir.name)
    try:
        if layout_path(candidate) == objdir.relative_to(root).as_posix():
            return candidate
    except ValueError:
        pass
    newest = newest_version(objdir)
    source = objdir / (f"v{newest}" if newest else "") / INVENTORY
    return json.loads(source.read_bytes())["id"]
