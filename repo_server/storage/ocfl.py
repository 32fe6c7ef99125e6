"""OCFL 1.1 object store: one storage root, hashed n-tuple layout, sha512 content addressing.

Written by hand (no ocfl-py at runtime) to keep the write path short and fast. Linux only:
it relies on atomic rename(2), flock(2) and fsync on directories.

Crash safety in one paragraph: a new version is built completely in a temporary folder on the
same file system (``tmp_dir``), fsynced, then renamed into the object as ``vN`` -- that rename
is the commit point. The root ``inventory.json`` (and sidecar) is replaced afterwards; a crash
in between leaves ``vN`` newer than the root inventory, which the next writer or ``recover()``
rolls forward by copying ``vN/inventory.json`` to the root. Nothing half-written is ever
inside the storage root, so it always validates as OCFL.
"""

from __future__ import annotations

import copy
import ctypes
import errno
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "LAYOUT_NAME",
    "ContentTooLarge",
    "DamagedContent",
    "FileInfo",
    "LogicalPathError",
    "ObjectNotFound",
    "ObjectStore",
    "StagedFile",
    "StaleVersion",
    "StorageError",
    "VersionInfo",
    "VersionWrite",
    "check_logical_path",
    "layout_path",
]

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
_VERSION_DIR = re.compile(r"v([1-9][0-9]*)")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC

log = logging.getLogger(__name__)


# --- errors and value types -------------------------------------------------------------------


class StorageError(Exception):
    """Base class of every error raised by the object store."""


class ObjectNotFound(StorageError):
    """The object, version or logical path does not exist."""


class StaleVersion(StorageError):
    """``expected_head`` did not match the object's head version."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected head v{expected}, object is at v{actual}")
        self.expected = expected
        self.actual = actual


class ContentTooLarge(StorageError):
    """A staged stream went past its size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"content larger than {limit} bytes")
        self.limit = limit


class LogicalPathError(StorageError, ValueError):
    """A logical path is not acceptable (or not present, for a removal)."""


class DamagedContent(StorageError):
    """A stored file's bytes no longer match the digest recorded when it was written."""

    def __init__(self, object_id: str, content_path: str, expected: str, actual: str) -> None:
        super().__init__(f"{object_id} {content_path}: digest {actual} does not match the "
                         f"recorded {expected}")
        self.object_id = object_id
        self.content_path = content_path
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class StagedFile:
    """A stream saved in ``tmp_dir``, hashed, waiting to be added to a version."""

    path: Path
    size: int
    sha256: str
    sha512: str


@dataclass(frozen=True)
class FileInfo:
    """One file of a version: where it lives in the object and its digests."""

    logical_path: str
    content_path: str
    size: int
    sha256: str
    sha512: str


@dataclass(frozen=True)
class VersionInfo:
    """Metadata and state (logical path -> file) of one object version."""

    number: int
    created: datetime
    message: str
    user_name: str
    user_address: str | None
    state: dict[str, FileInfo]


# --- pure helpers -----------------------------------------------------------------------------


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


def _check_no_conflicts(paths: Iterable[str]) -> None:
    """OCFL forbids a logical path that is also a folder of another one ("a" and "a/b")."""
    files = set(paths)
    for path in files:
        parts = path.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in files:
                raise LogicalPathError(f"{folder!r} cannot be both a file and a folder")


_NOTE_NAME = re.compile(r"[a-z][a-z0-9-]{0,60}\.(json|jsonl|txt)")


def _note_name(name: str) -> str:
    if not _NOTE_NAME.fullmatch(name) or name in ("ocfl_layout.json", INVENTORY):
        raise ValueError(f"not a storage root note name: {name!r}")
    return name


def _format_created(created: datetime | None) -> str:
    if created is None:
        created = datetime.now(UTC)
    elif created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    return created.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dump_inventory(inv: dict[str, Any]) -> tuple[bytes, bytes]:
    """Serialise an inventory; return (inventory bytes, sidecar bytes)."""
    # indent=None keeps json on its C encoder (indent forces the pure Python one).
    data = json.dumps(inv, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return data, _sidecar(data)


def _sidecar(inventory: bytes) -> bytes:
    return f"{hashlib.sha512(inventory).hexdigest()}  {INVENTORY}\n".encode()


def _hash_file(path: Path) -> tuple[str, str]:
    """(sha256, sha512) of a file in one pass."""
    h256, h512 = hashlib.sha256(), hashlib.sha512()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h256.update(chunk)
            h512.update(chunk)
    return h256.hexdigest(), h512.hexdigest()


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, _DIR_FLAGS)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_syncfs():  # noqa: ANN202
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _load_syncfs()
SYNC_METHODS = ("auto", "syncfs", "fsync")


def _syncfs(path: Path) -> None:
    """syncfs(2): write back every dirty page and inode of ``path``'s file system and commit
    its journal, in one call. Linux >= 5.8 reports write-back errors here."""
    fd = os.open(path, _DIR_FLAGS)
    try:
        if _SYNCFS(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs failed: {os.strerror(err)}", str(path))
    finally:
        os.close(fd)


def resolve_sync_method(method: str) -> str:
    """'auto' is syncfs where the C library has it (Linux), else one fsync per file."""
    if method not in SYNC_METHODS:
        raise ValueError(f"sync method must be one of {', '.join(SYNC_METHODS)}, not {method!r}")
    if method == "auto":
        return "syncfs" if _SYNCFS is not None else "fsync"
    if method == "syncfs" and _SYNCFS is None:
        raise ValueError("syncfs is not available on this system; use 'fsync'")
    return method


def _version_number(name: str) -> int:
    return int(name[1:])


# --- writing helpers --------------------------------------------------------------------------


class _Build:
    """Files and folders written for one commit, so they can be made durable together.

    All writes happen first and the syncing after. With ``syncfs`` (the default on Linux) one
    syncfs call makes everything durable: a new object is some ten files and folders, and one
    call costs about what one fsync does. With ``fsync`` every file, then every folder, is
    fsynced; on ext4 the first fsync commits the journal with every create and mkdir in it.
    """

    def __init__(self, fsync: bool, syncfs_on: Path | None = None) -> None:
        self.fsync = fsync
        # syncfs mode: nothing to track, one call on any path of the file system at the end.
        self.syncfs_on = syncfs_on if fsync else None
        self.track = fsync and syncfs_on is None
        self.fds: list[int] = []
        self.dirs: list[Path] = []

    def mkdir(self, path: Path) -> None:
        os.mkdir(path)
        if self.track:
            self.dirs.append(path)

    def write(self, path: Path, data: bytes | memoryview) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            _write_all(fd, data)
        except BaseException:
            os.close(fd)
            raise
        if self.track:
            self.fds.append(fd)
        else:
            os.close(fd)

    def sync(self) -> None:
        try:
            if self.syncfs_on is not None:
                _syncfs(self.syncfs_on)
            for fd in self.fds:
                os.fsync(fd)
            for path in reversed(self.dirs):
                _fsync_dir(path)
        finally:
            self.close()

    def close(self) -> None:
        while self.fds:
            os.close(self.fds.pop())


@dataclass(frozen=True)
class VersionWrite:
    """One object's new version in a ``write_versions`` batch (as ``write_version``'s
    arguments)."""

    object_id: str
    add: Mapping[str, StagedFile | bytes]
    message: str
    user_name: str
    remove: tuple[str, ...] = ()
    user_address: str | None = None
    created: datetime | None = None
    expected_head: int | None = None


@dataclass
class _Prepared:
    """A version written into tmp_dir, waiting for the batch's sync and commit."""

    object_id: str
    number: int
    inv: dict[str, Any]
    plan: _Plan
    tmp: Path
    moved: list[tuple[Path, Path]]
    root_inv: Path
    root_sidecar: Path


@dataclass
class _Plan:
    """What a new version adds: its state and the content files it must store."""

    state: dict[str, str]  # logical path -> sha512
    new_content: dict[str, tuple[str, StagedFile | bytes]]  # sha512 -> (logical path, source)
    sha256: dict[str, str]  # sha512 -> sha256 for content added by this version
    sizes: dict[str, int]  # sha512 -> size for content added by this version


# --- the store --------------------------------------------------------------------------------


class ObjectStore:
    """An OCFL 1.1 storage root holding one object per dossier or document."""

    CACHE_SIZE = 1024  # parsed root inventories kept in memory

    def __init__(
        self,
        root: str | Path,
        tmp_dir: str | Path | None = None,
        fsync: bool = True,
        sync_method: str = "auto",
    ) -> None:
        self.root = Path(root).absolute()
        self.tmp_dir = Path(tmp_dir).absolute() if tmp_dir else Path(f"{self.root}.tmp")
        self.fsync = fsync
        method = resolve_sync_method(sync_method)  # checked even when unused: a typo is a typo
        self.sync_method = method if fsync else "none"
        self._locks = self.tmp_dir / LOCKS_DIR
        self._cache: OrderedDict[str, tuple[tuple[int, int, int], dict[str, Any]]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True)
        self._locks.mkdir(parents=True, exist_ok=True)
        if self.root.stat().st_dev != self.tmp_dir.stat().st_dev:
            raise StorageError(
                f"tmp_dir {self.tmp_dir} must be on the same file system as the storage root "
                f"{self.root}: versions are committed by rename, which cannot cross file systems"
            )
        self._init_root()

    # -- storage root ------------------------------------------------------------------------

    def _init_root(self) -> None:
        if (self.root / ROOT_NAMASTE).exists():
            self._check_layout()
            return
        # Another process may be initialising the same root right now: tolerate its files.
        if {p.name for p in self.root.iterdir()} - {"extensions", "ocfl_layout.json"}:
            raise StorageError(f"{self.root} is not empty and not an OCFL 1.1 storage root")
        config_dir = self.root / "extensions" / LAYOUT_NAME
        config_dir.mkdir(parents=True, exist_ok=True)
        layout = {"extension": LAYOUT_NAME, "description": LAYOUT_DESCRIPTION}
        self._replace_file(config_dir / "config.json", json.dumps(LAYOUT_CONFIG).encode())
        self._replace_file(self.root / "ocfl_layout.json", json.dumps(layout).encode())
        # The declaration goes last: its presence means "this root is complete".
        self._replace_file(self.root / ROOT_NAMASTE, b"ocfl_1.1\n")

    def _check_layout(self) -> None:
        try:
            layout = json.loads((self.root / "ocfl_layout.json").read_bytes())
            config = json.loads(
                (self.root / "extensions" / LAYOUT_NAME / "config.json").read_bytes()
            )
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read the layout of {self.root}: {exc}") from exc
        if layout.get("extension") != LAYOUT_NAME or config != LAYOUT_CONFIG:
            raise StorageError(f"{self.root} uses a layout this store does not support")

    def _replace_file(self, dest: Path, data: bytes) -> None:
        """Atomically replace ``dest`` (temp file in tmp_dir, fsync, rename)."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp_name("file")
        build = self._build()
        try:
            build.write(tmp, data)
            build.sync()
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if self.fsync:
            _fsync_dir(dest.parent)

    def write_note(self, name: str, data: bytes) -> None:
        """Replace a small file of the server's own at the top of the storage root (OCFL 1.1
        allows other files there; backups copy them with the objects), atomically."""
        self._replace_file(self.root / _note_name(name), data)

    def read_note(self, name: str) -> bytes | None:
        """A note written by ``write_note``, or None."""
        try:
            return (self.root / _note_name(name)).read_bytes()
        except FileNotFoundError:
            return None

    def commit_syncs(self, path: str | Path) -> bool:
        """True if every version commit makes writes already made to ``path`` durable too.

        With syncfs, the sync that precedes each commit point (the rename of a new version
        or object) writes back the whole file system; anything on that file system written
        before the commit is then on disk once the commit is.
        """
        if self.sync_method != "syncfs":
            return False
        target = Path(path)
        while not target.exists() and target != target.parent:
            target = target.parent
        return target.stat().st_dev == self.tmp_dir.stat().st_dev

    def _build(self) -> _Build:
        return _Build(self.fsync, self.tmp_dir if self.sync_method == "syncfs" else None)

    def _sync_folders(self, folders: Iterable[Path]) -> None:
        """Make changes to these folders' entries durable (one syncfs, or fsync each)."""
        if self.sync_method == "syncfs":
            _syncfs(self.tmp_dir)
        elif self.fsync:
            for folder in folders:
                _fsync_dir(folder)

    def _tmp_name(self, kind: str) -> Path:
        return self.tmp_dir / f"{kind}-{uuid.uuid4().hex}"

    # -- paths and locking -------------------------------------------------------------------

    def object_path(self, object_id: str) -> Path:
        """Absolute path of the object's folder (whether it exists or not)."""
        return self.root / layout_path(object_id)

    def exists(self, object_id: str) -> bool:
        """True if the object exists."""
        return (self.object_path(object_id) / INVENTORY).exists()

    @contextmanager
    def _locked(self, object_id: str) -> Iterator[None]:
        """Exclusive per-object lock, across threads and processes (flock on its own fd).

        The lock file is deleted on release so the locks folder does not grow by one file per
        object ever written. That is safe because a locker that wins the flock checks the file
        it locked is still the one at the path, and starts again if it was unlinked meanwhile.
        """
        path = self._locks / f"{hashlib.sha256(object_id.encode('utf-8')).hexdigest()}.lock"
        fd = self._acquire(path)
        try:
            yield
        finally:
            try:
                os.unlink(path)
            finally:
                os.close(fd)

    def _acquire(self, path: Path) -> int:
        """flock ``path`` (blocking) and return its fd."""
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except FileNotFoundError:  # someone removed the locks folder: make it again
                self._locks.mkdir(parents=True, exist_ok=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    return fd
            except FileNotFoundError:
                pass  # unlinked by the previous holder after we opened it: try again
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    # -- staging -----------------------------------------------------------------------------

    def stage(
        self, stream: BinaryIO, max_bytes: int | None = None, *, chunk_size: int = 1 << 20
    ) -> StagedFile:
        """Stream into a temp file, hashing (sha256 + sha512) in the same pass."""
        path = self._tmp_name("stage")
        h256, h512 = hashlib.sha256(), hashlib.sha512()
        size = 0
        try:
            with open(path, "xb") as fh:
                while chunk := stream.read(chunk_size):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ContentTooLarge(max_bytes)
                    h256.update(chunk)
                    h512.update(chunk)
                    fh.write(chunk)
                fh.flush()
                # fsync here, outside the object lock, while the fd is still open. With
                # syncfs the commit's one call covers this file too.
                if self.sync_method == "fsync":
                    os.fsync(fh.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return StagedFile(path, size, h256.hexdigest(), h512.hexdigest())

    def stage_bytes(self, data: bytes) -> StagedFile:
        """Stage an in-memory value (same as ``stage`` on a BytesIO)."""
        path = self._tmp_name("stage")
        build = self._build()
        try:
            build.write(path, data)
            build.sync()
        except BaseException:
            build.close()
            path.unlink(missing_ok=True)
            raise
        return StagedFile(
            path, len(data), hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest()
        )

    def discard(self, staged: StagedFile) -> None:
        """Delete a staged file that will not be used."""
        self._check_staged(staged)
        staged.path.unlink(missing_ok=True)

    def _check_staged(self, staged: StagedFile) -> None:
        if staged.path.parent != self.tmp_dir:
            raise ValueError(f"{staged.path} was not staged by this store")

    # -- inventories -------------------------------------------------------------------------

    def _load(self, object_id: str) -> dict[str, Any] | None:
        """Parsed root inventory (shared, do not mutate) or None if the object is absent.

        Cached by (inode, mtime, size) taken with fstat on the fd that is then read: every
        update replaces the file (new inode), so another process's write is always seen.
        """
        path = self.object_path(object_id) / INVENTORY
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            if path.parent.exists():
                raise StorageError(f"object {object_id} has no root inventory") from None
            return None
        with open(fd, "rb") as fh:
            st = os.fstat(fd)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            with self._cache_lock:
                hit = self._cache.get(object_id)
                if hit is not None and hit[0] == key:
                    self._cache.move_to_end(object_id)
                    return hit[1]
            inv = json.loads(fh.read())
        self._remember(object_id, key, inv)
        return inv

    def _remember(self, object_id: str, key: tuple[int, int, int], inv: dict[str, Any]) -> None:
        with self._cache_lock:
            self._cache[object_id] = (key, inv)
            self._cache.move_to_end(object_id)
            while len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)

    def _forget(self, object_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(object_id, None)

    def _require(self, object_id: str) -> dict[str, Any]:
        inv = self._load(object_id)
        if inv is None:
            raise ObjectNotFound(object_id)
        return inv

    def head(self, object_id: str) -> int:
        """Head version number, 0 if the object does not exist."""
        inv = self._load(object_id)
        return 0 if inv is None else _version_number(inv["head"])

    def inventory(self, object_id: str) -> dict[str, Any]:
        """A copy of the parsed root inventory."""
        return copy.deepcopy(self._require(object_id))

    # -- reading -----------------------------------------------------------------------------

    def versions(self, object_id: str) -> list[VersionInfo]:
        """Every version of the object, oldest first."""
        inv = self._require(object_id)
        sizes: dict[str, int] = {}
        return [
            self._version_info(object_id, inv, n, sizes)
            for n in range(1, _version_number(inv["head"]) + 1)
        ]

    def version(self, object_id: str, number: int | None = None) -> VersionInfo:
        """One version (None = head)."""
        inv = self._require(object_id)
        return self._version_info(object_id, inv, self._pick(object_id, inv, number), {})

    @staticmethod
    def _pick(object_id: str, inv: dict[str, Any], number: int | None) -> int:
        head = _version_number(inv["head"])
        if number is None:
            return head
        if not 1 <= number <= head:
            raise ObjectNotFound(f"{object_id} has no version {number}")
        return number

    def _version_info(
        self, object_id: str, inv: dict[str, Any], number: int, sizes: dict[str, int]
    ) -> VersionInfo:
        block = inv["versions"][f"v{number}"]
        objdir = self.object_path(object_id)
        sha256_of = _fixity_by_path(inv)
        state: dict[str, FileInfo] = {}
        for digest, paths in block["state"].items():
            content_path = inv["manifest"][digest][0]
            size = sizes.get(content_path)
            if size is None:
                size = sizes[content_path] = os.stat(objdir / content_path).st_size
            sha256 = sha256_of.get(content_path) or _hash_file(objdir / content_path)[0]
            for logical in paths:
                state[logical] = FileInfo(logical, content_path, size, sha256, digest)
        user = block.get("user") or {}
        return VersionInfo(
            number=number,
            created=datetime.fromisoformat(block["created"]).astimezone(UTC),
            message=block.get("message", ""),
            user_name=user.get("name", ""),
            user_address=user.get("address"),
            state=dict(sorted(state.items())),
        )

    def file_path(
        self, object_id: str, logical_path: str, version: int | None = None
    ) -> tuple[Path, FileInfo]:
        """Absolute path of a file's content and its FileInfo."""
        inv = self._require(object_id)
        number = self._pick(object_id, inv, version)
        for digest, paths in inv["versions"][f"v{number}"]["state"].items():
            if logical_path in paths:
                content_path = inv["manifest"][digest][0]
                path = self.object_path(object_id) / content_path
                try:
                    size = os.stat(path).st_size
                except FileNotFoundError:
                    raise ObjectNotFound(f"{object_id} was purged") from None
                sha256 = _fixity_by_path(inv).get(content_path) or _hash_file(path)[0]
                return path, FileInfo(logical_path, content_path, size, sha256, digest)
        raise ObjectNotFound(f"{logical_path!r} is not in {object_id} v{number}")

    def read_bytes(self, object_id: str, logical_path: str, version: int | None = None) -> bytes:
        """Content of a file."""
        return self.file_path(object_id, logical_path, version)[0].read_bytes()

    def read_json(self, object_id: str, logical_path: str, version: int | None = None) -> Any:
        """Content of a JSON file, parsed."""
        return json.loads(self.read_bytes(object_id, logical_path, version))

    def open_file(self, object_id: str, logical_path: str,
                  version: int | None = None) -> tuple[BinaryIO, FileInfo]:
        """An open (binary, seekable) file of a version and its FileInfo; the caller closes
        it. Size is what is on disk now."""
        path, info = self.file_path(object_id, logical_path, version)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - handed to the caller
        except FileNotFoundError:
            raise ObjectNotFound(f"{object_id} was purged") from None
        return fh, info

    def verified_chunks(self, object_id: str, info: FileInfo, fh: BinaryIO,
                        chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes of ``fh`` (opened by ``open_file``) from its start, checked against the
        digest recorded when the file was written. The last chunk is held back
        until the digest is known: on a mismatch DamagedContent is raised instead, so a
        reader never receives a complete copy of damaged bytes. Closes ``fh``."""
        # The SHA-256 of the fixity block where it was recorded (SHA-NI makes it the faster
        # one), else the manifest's SHA-512.
        recorded = _fixity_by_path(self._require(object_id)).get(info.content_path)
        digest = hashlib.sha256() if recorded else hashlib.sha512()
        expected = recorded or info.sha512
        try:
            fh.seek(0)
            held = fh.read(chunk_size)
            while held:
                digest.update(held)
                chunk = fh.read(chunk_size)
                if not chunk:
                    break
                yield held
                held = chunk
            actual = digest.hexdigest()
            if actual != expected:
                raise DamagedContent(object_id, info.content_path, expected, actual)
            if held:
                yield held
        finally:
            fh.close()

    def iter_object_ids(self) -> Iterator[str]:
        """Ids of every object in the root (read from each root inventory)."""
        for objdir in self._object_dirs():
            try:
                yield json.loads((objdir / INVENTORY).read_bytes())["id"]
            except FileNotFoundError:
                continue  # purged while we walked

    def _object_dirs(self) -> Iterator[Path]:
        """Walk the root; a folder holding an object declaration is an object."""
        stack = [
            Path(e.path)
            for e in os.scandir(self.root)
            if e.is_dir(follow_symlinks=False) and e.name != "extensions"
        ]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            if any(e.name == OBJECT_NAMASTE for e in entries):
                yield folder
            else:
                stack.extend(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))

    # -- writing -----------------------------------------------------------------------------

    def write_version(
        self,
        object_id: str,
        *,
        add: Mapping[str, StagedFile | bytes] | None = None,
        remove: Iterable[str] = (),
        message: str,
        user_name: str,
        user_address: str | None = None,
        created: datetime | None = None,
        expected_head: int | None = None,
    ) -> VersionInfo:
        """Write a new version: previous state minus ``remove`` plus ``add``.

        ``expected_head``: None = no check, 0 = must be new, n = head must be n (else
        StaleVersion). Staged files are moved into the object (or deleted when their content
        is already stored); on StaleVersion or LogicalPathError they are left untouched.
        """
        self.object_path(object_id)  # validates the id before anything else
        add = dict(add or {})
        remove = list(remove)
        for path in [*add, *remove]:
            check_logical_path(path)
        for value in add.values():
            if isinstance(value, StagedFile):
                self._check_staged(value)
        block = _version_block(created, message, user_name, user_address)
        with self._locked(object_id):
            inv = self._load_for_write(object_id)
            head = 0 if inv is None else _version_number(inv["head"])
            if expected_head is not None and expected_head != head:
                raise StaleVersion(expected_head, head)
            plan = _plan(inv, add, remove)
            new_inv = _next_inventory(object_id, inv, head + 1, plan, block)
            if inv is None:
                self._create_object(object_id, new_inv, plan)
            else:
                self._add_version(object_id, head + 1, new_inv, plan)
        self._drop_unused(add.values(), plan)
        return self._result(object_id, new_inv, head + 1, plan)

    def _load_for_write(self, object_id: str) -> dict[str, Any] | None:
        """Root inventory, after rolling forward a version left by a crashed writer."""
        inv = self._load(object_id)
        if inv is not None:
            objdir = self.object_path(object_id)
            if (objdir / f"v{_version_number(inv['head']) + 1}").exists():
                self._roll_forward(objdir)
                inv = self._load(object_id)
        return inv

    def _create_object(self, object_id: str, inv: dict[str, Any], plan: _Plan) -> None:
        """Build the whole object in tmp_dir, then rename it into place in one go."""
        tmp = self._tmp_name("build")
        build = self._build()
        moved: list[tuple[Path, Path]] = []
        try:
            build.mkdir(tmp)
            build.write(tmp / OBJECT_NAMASTE, b"ocfl_object_1.1\n")
            data, sidecar = self._build_version(build, tmp / "v1", inv, plan, moved)
            build.write(tmp / INVENTORY, data)
            build.write(tmp / SIDECAR, sidecar)
            build.sync()
            self._rename_new_object(tmp, self.object_path(object_id))
        except BaseException:
            self._abort(build, tmp, moved)
            raise
        self._remember_written(object_id, inv)

    def _add_version(self, object_id: str, number: int, inv: dict[str, Any], plan: _Plan) -> None:
        """Build vN in tmp_dir, rename it into the object (commit), then replace the root
        inventory."""
        build = self._build()
        self._commit_versions(build, [self._prepare_version(build, object_id, number, inv, plan)])

    def _prepare_version(self, build: _Build, object_id: str, number: int,
                         inv: dict[str, Any], plan: _Plan) -> _Prepared:
        """Write vN and the new root inventory into tmp_dir (not yet synced or committed)."""
        prepared = _Prepared(object_id, number, inv, plan, self._tmp_name("build"), [],
                             self._tmp_name("inv"), self._tmp_name("inv"))
        try:
            data, sidecar = self._build_version(build, prepared.tmp, inv, plan, prepared.moved)
            # The root copies are written (and synced) in the same batch as the version.
            build.write(prepared.root_inv, data)
            build.write(prepared.root_sidecar, sidecar)
        except BaseException:
            self._abort_prepared(build, [prepared])
            raise
        return prepared

    def _commit_versions(self, build: _Build, batch: list[_Prepared]) -> None:
        """Sync the prepared versions, rename each into its object (its commit point), then
        replace the root inventories: three syncs for the whole batch."""
        try:
            build.sync()
        except BaseException:
            self._abort_prepared(build, batch)
            raise
        objdirs = [self.object_path(p.object_id) for p in batch]
        for i, (prepared, objdir) in enumerate(zip(batch, objdirs, strict=True)):
            try:
                os.rename(prepared.tmp, objdir / f"v{prepared.number}")
            except BaseException:
                self._abort_prepared(build, batch[i:])
                raise
        # Committed. From here a crash is repaired by rolling forward.
        self._sync_folders(objdirs)
        for prepared, objdir in zip(batch, objdirs, strict=True):
            os.replace(prepared.root_inv, objdir / INVENTORY)
            os.replace(prepared.root_sidecar, objdir / SIDECAR)
        self._sync_folders(objdirs)
        for prepared in batch:
            self._remember_written(prepared.object_id, prepared.inv)

    def _abort_prepared(self, build: _Build, batch: list[_Prepared]) -> None:
        for prepared in batch:
            self._abort(build, prepared.tmp, prepared.moved)
            prepared.root_inv.unlink(missing_ok=True)
            prepared.root_sidecar.unlink(missing_ok=True)

    def write_versions(self, writes: list[VersionWrite]) -> list[VersionInfo | StaleVersion]:
        """New versions of several existing objects, committed together.

        The same as one ``write_version`` per object, but the batch shares its syncs: one
        before the commit points (the renames of the new versions), one after them, one after
        the root inventories, instead of three per object. Each object still commits on its
        own: after a crash each is at its old or its new version (a version committed without
        its root inventory is rolled forward on the next write). The objects are locked in id
        order, so two batches cannot deadlock. An object whose head is not ``expected_head``
        gets its StaleVersion in its slot of the answer; the others are written.
        """
        results: list[VersionInfo | StaleVersion | None] = [None] * len(writes)
        for w in writes:
            self.object_path(w.object_id)
            for path in [*w.add, *w.remove]:
                check_logical_path(path)
            for value in w.add.values():
                if isinstance(value, StagedFile):
                    self._check_staged(value)
        order = sorted(range(len(writes)), key=lambda i: writes[i].object_id)
        if len({w.object_id for w in writes}) != len(writes):
            raise ValueError("write_versions: one version per object in a batch")
        build = self._build()
        batch: list[tuple[int, _Prepared]] = []
        with ExitStack() as locks:
            try:
                for i in order:
                    w = writes[i]
                    locks.enter_context(self._locked(w.object_id))
                    inv = self._load_for_write(w.object_id)
                    if inv is None:
                        raise ObjectNotFound(w.object_id)
                    head = _version_number(inv["head"])
                    if w.expected_head is not None and w.expected_head != head:
                        results[i] = StaleVersion(w.expected_head, head)
                        continue
                    plan = _plan(inv, dict(w.add), list(w.remove))
                    block = _version_block(w.created, w.message, w.user_name, w.user_address)
                    new_inv = _next_inventory(w.object_id, inv, head + 1, plan, block)
                    batch.append((i, self._prepare_version(build, w.object_id, head + 1,
                                                           new_inv, plan)))
            except BaseException:
                self._abort_prepared(build, [p for _, p in batch])
                raise
            if batch:
                self._commit_versions(build, [p for _, p in batch])
        for i, prepared in batch:
            self._drop_unused(writes[i].add.values(), prepared.plan)
            results[i] = self._result(prepared.object_id, prepared.inv, prepared.number,
                                      prepared.plan)
        return results  # type: ignore[return-value]

    def _build_version(
        self,
        build: _Build,
        vdir: Path,
        inv: dict[str, Any],
        plan: _Plan,
        moved: list[tuple[Path, Path]],
    ) -> tuple[bytes, bytes]:
        """Write vdir (content + inventory + sidecar); return the inventory bytes."""
        build.mkdir(vdir)
        folders: set[Path] = set()
        for logical, source in plan.new_content.values():
            dest = vdir / CONTENT_DIR / logical
            self._make_folders(build, dest.parent, vdir, folders)
            if isinstance(source, StagedFile):
                try:
                    os.rename(source.path, dest)  # same file system: a move, never a copy
                except FileNotFoundError:
                    raise StorageError(f"staged file {source.path} is gone (used twice?)") from None
                moved.append((source.path, dest))
            else:
                build.write(dest, source)
        data, sidecar = _dump_inventory(inv)
        build.write(vdir / INVENTORY, data)
        build.write(vdir / SIDECAR, sidecar)
        return data, sidecar

    @staticmethod
    def _make_folders(build: _Build, folder: Path, stop: Path, made: set[Path]) -> None:
        if folder == stop or folder in made:
            return
        ObjectStore._make_folders(build, folder.parent, stop, made)
        build.mkdir(folder)
        made.add(folder)

    def _rename_new_object(self, tmp: Path, objdir: Path) -> None:
        """Create the tuple folders, rename the object in, fsync every changed folder."""
        for attempt in range(3):
            try:
                changed = self._make_parents(objdir.parent)
                os.rename(tmp, objdir)
                break
            except FileNotFoundError:
                # A purge or a recovery pruned an empty tuple folder we had just created (or
                # were about to fill); make it again.
                if attempt == 2:
                    raise
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise StorageError(f"{objdir} already exists") from exc
                raise
        self._sync_folders(changed)

    def _make_parents(self, parent: Path) -> list[Path]:
        """mkdir the missing tuple folders; return the folders whose entries changed."""
        missing: list[Path] = []
        folder = parent
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            try:
                os.mkdir(folder)
            except FileExistsError:
                pass
        return [parent, *(folder.parent for folder in missing)]

    @staticmethod
    def _abort(build: _Build, tmp: Path, moved: list[tuple[Path, Path]]) -> None:
        """Undo an uncommitted build; staged files go back where the caller left them."""
        build.close()
        for source, dest in moved:
            try:
                os.rename(dest, source)
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)

    def _remember_written(self, object_id: str, inv: dict[str, Any]) -> None:
        st = os.stat(self.object_path(object_id) / INVENTORY)
        self._remember(object_id, (st.st_ino, st.st_mtime_ns, st.st_size), inv)

    @staticmethod
    def _drop_unused(values: Iterable[StagedFile | bytes], plan: _Plan) -> None:
        """Delete staged files whose content was already stored (dedup)."""
        # By identity: one StagedFile may be given for several paths and is moved only once.
        used = {id(source) for _, source in plan.new_content.values()}
        for value in values:
            if isinstance(value, StagedFile) and id(value) not in used:
                value.path.unlink(missing_ok=True)

    def _result(self, object_id: str, inv: dict[str, Any], number: int, plan: _Plan) -> VersionInfo:
        sizes = {
            f"v{number}/{CONTENT_DIR}/{p}": plan.sizes[d] for d, (p, _) in plan.new_content.items()
        }
        return self._version_info(object_id, inv, number, sizes)

    # -- purge, recovery, verification -------------------------------------------------------

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
                _fsync_dir(parent)
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
        """Remove lock files a killed process left (a live holder's flock keeps its file).

        Same protocol as a release: unlink only while holding the flock, so a locker that
        opened the file meanwhile sees the inode change and starts again."""
        removed = 0
        for entry in os.scandir(self._locks):
            try:
                fd = os.open(entry.path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fd).st_ino == os.stat(entry.path).st_ino:
                    os.unlink(entry.path)
                    removed += 1
            except (BlockingIOError, FileNotFoundError):
                pass  # held by a live writer, or released meanwhile
            finally:
                os.close(fd)
        return removed

    @contextmanager
    def _locked_dir(self, objdir: Path) -> Iterator[None]:
        """Lock an object found by walking (its id comes from the newest inventory)."""
        newest = _newest_version(objdir)
        source = objdir / INVENTORY if newest is None else objdir / f"v{newest}" / INVENTORY
        object_id = json.loads(source.read_bytes())["id"]
        with self._locked(object_id):
            yield

    def _roll_forward(self, objdir: Path) -> bool:
        """Copy the newest vN inventory to the root if the root inventory is behind."""
        newest = _newest_version(objdir)
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
        expected = _sidecar(data)
        try:
            if (objdir / SIDECAR).read_bytes().split()[:1] == expected.split()[:1]:
                return False
        except FileNotFoundError:
            pass
        self._replace_file(objdir / SIDECAR, expected)
        return True

    def _write_root_inventory(self, objdir: Path, data: bytes) -> None:
        self._replace_file(objdir / INVENTORY, data)
        self._replace_file(objdir / SIDECAR, _sidecar(data))

    def verify_object(self, object_id: str) -> list[str]:
        """Re-hash every content file against manifest (sha512) and fixity (sha256).

        Returns a list of problems; empty means the object is intact.
        """
        inv = self._require(object_id)
        objdir = self.object_path(object_id)
        problems = _check_sidecar(objdir, "")
        for number in range(1, _version_number(inv["head"]) + 1):
            problems += _check_sidecar(objdir, f"v{number}/")
        sha256_of = _fixity_by_path(inv)
        listed: set[str] = set()
        for digest, content_paths in inv["manifest"].items():
            for content_path in content_paths:
                listed.add(content_path)
                try:
                    sha256, sha512 = _hash_file(objdir / content_path)
                except FileNotFoundError:
                    problems.append(f"{content_path}: missing")
                    continue
                if sha512 != digest:
                    problems.append(f"{content_path}: sha512 does not match the manifest")
                if sha256_of.get(content_path, sha256) != sha256:
                    problems.append(f"{content_path}: sha256 does not match the fixity block")
        for content_path in sorted(_content_files(objdir) - listed):
            problems.append(f"{content_path}: not in the manifest")
        return problems


# --- inventory helpers ------------------------------------------------------------------------


def _plan(
    inv: dict[str, Any] | None, add: dict[str, StagedFile | bytes], remove: list[str]
) -> _Plan:
    """Work out the new state and which added contents are not stored yet (dedup by sha512)."""
    state: dict[str, str] = {}
    if inv is not None:
        for digest, paths in inv["versions"][inv["head"]]["state"].items():
            for path in paths:
                state[path] = digest
    for path in remove:
        if state.pop(path, None) is None:
            raise LogicalPathError(f"cannot remove {path!r}: not in the current version")
    manifest = inv["manifest"] if inv is not None else {}
    plan = _Plan(state, {}, {}, {})
    for path, value in add.items():
        if isinstance(value, StagedFile):
            sha512, sha256, size = value.sha512, value.sha256, value.size
        else:
            value = bytes(value)
            sha512, sha256 = hashlib.sha512(value).hexdigest(), hashlib.sha256(value).hexdigest()
            size = len(value)
        state[path] = sha512
        if sha512 not in manifest and sha512 not in plan.new_content:
            plan.new_content[sha512] = (path, value)
            plan.sha256[sha512] = sha256
            plan.sizes[sha512] = size
    _check_no_conflicts(state)
    return plan


def _next_inventory(
    object_id: str, inv: dict[str, Any] | None, number: int, plan: _Plan, block: dict[str, Any]
) -> dict[str, Any]:
    """A new inventory dict; containers shared with ``inv`` are copied, never mutated."""
    vname = f"v{number}"
    manifest = dict(inv["manifest"]) if inv else {}
    fixity = dict(inv.get("fixity", {}).get("sha256", {})) if inv else {}
    for sha512, (logical, _) in plan.new_content.items():
        content_path = f"{vname}/{CONTENT_DIR}/{logical}"
        manifest[sha512] = [content_path]
        sha256 = plan.sha256[sha512]
        fixity[sha256] = [*fixity.get(sha256, []), content_path]
    by_digest: dict[str, list[str]] = {}
    for path, digest in sorted(plan.state.items()):
        by_digest.setdefault(digest, []).append(path)
    versions = dict(inv["versions"]) if inv else {}
    versions[vname] = {**block, "state": by_digest}
    return {
        "id": object_id,
        "type": INVENTORY_TYPE,
        "digestAlgorithm": "sha512",
        "head": vname,
        "manifest": manifest,
        "versions": versions,
        "fixity": {"sha256": fixity},
    }


def _version_block(
    created: datetime | None, message: str, user_name: str, user_address: str | None
) -> dict[str, Any]:
    if not isinstance(message, str) or not isinstance(user_name, str) or not user_name:
        raise ValueError("message must be a string and user_name a non-empty string")
    user = {"name": user_name}
    if user_address is not None:
        user["address"] = user_address
    return {"created": _format_created(created), "message": message, "user": user}


def _fixity_by_path(inv: dict[str, Any]) -> dict[str, str]:
    """content path -> sha256, from the fixity block."""
    return {
        path: digest
        for digest, paths in inv.get("fixity", {}).get("sha256", {}).items()
        for path in paths
    }


def _newest_version(objdir: Path) -> int | None:
    numbers = [
        _version_number(e.name)
        for e in os.scandir(objdir)
        if _VERSION_DIR.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
    ]
    return max(numbers, default=None)


def _check_sidecar(objdir: Path, prefix: str) -> list[str]:
    try:
        data = (objdir / prefix / INVENTORY).read_bytes()
        recorded = (objdir / prefix / SIDECAR).read_text().split()[:1]
    except FileNotFoundError as exc:
        return [f"{prefix}{Path(exc.filename).name}: missing"]
    if recorded != [hashlib.sha512(data).hexdigest()]:
        return [f"{prefix}{SIDECAR}: does not match {prefix}{INVENTORY}"]
    return []


def _content_files(objdir: Path) -> set[str]:
    """Every file under vN/content, as content paths."""
    found: set[str] = set()
    for entry in os.scandir(objdir):
        if not (_VERSION_DIR.fullmatch(entry.name) and entry.is_dir()):
            continue
        for folder, _, files in os.walk(Path(entry.path) / CONTENT_DIR):
            rel = Path(folder).relative_to(objdir).as_posix()
            found.update(f"{rel}/{name}" for name in files)
    return found
