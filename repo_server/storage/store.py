"""OCFL 1.1 object store: one storage root, hashed n-tuple layout, sha512 content addressing.

Written by hand (no ocfl-py at runtime) to keep the write path short and fast. Linux only:
it relies on atomic rename(2), POSIX record locks (fcntl(2)) and fsync on directories.

Crash safety in one paragraph: a new version is built completely in a temporary folder on the
same file system (``tmp_dir``), fsynced, then renamed into the object as ``vN`` -- that rename
is the commit point. The root ``inventory.json`` (and sidecar) is replaced afterwards; a crash
in between leaves ``vN`` newer than the root inventory, which the next writer or ``recover()``
rolls forward by copying ``vN/inventory.json`` to the root. Nothing half-written is ever
inside the storage root, so it always validates as OCFL.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import repo_server.storage.sync as _sync

from .copy import RootCopy
from .files import hash_file
from .inventory import (
    Plan,
    dump_inventory,
    fixity_by_path,
    next_inventory,
    plan_version,
    version_block,
)
from .layout import (
    CONTENT_DIR,
    INVENTORY,
    LAYOUT_CONFIG,
    LAYOUT_DESCRIPTION,
    LAYOUT_NAME,
    LOCKS_DIR,
    OBJECT_NAMASTE,
    ROOT_NAMASTE,
    SIDECAR,
    check_logical_path,
    iter_object_dirs,
    layout_path,
    note_name,
    object_id_of,
    version_number,
)
from .locks import file_lock
from .maintenance import Maintenance
from .sync import Build, resolve_sync_method
from .types import (
    ContentTooLarge,
    DamagedContent,
    FileInfo,
    ObjectNotFound,
    StagedFile,
    StaleVersion,
    StorageError,
    VersionInfo,
    VersionWrite,
)

log = logging.getLogger("repo_server.storage.ocfl")


@dataclass(frozen=True)
class ObjectFiles:
    """An object's files as of one reading of its root inventory: ``files`` holds (path in
    the object, file, sha256 if recorded, sha512 for content) in a stable order."""

    object_id: str
    folder: str  # relative to the root
    inventory_bytes: bytes
    inventory: dict[str, Any]
    files: list[tuple[str, Path, str | None, str | None]]


@dataclass
class _Prepared:
    """A version written into tmp_dir, waiting for the batch's sync and commit."""

    object_id: str
    number: int
    inv: dict[str, Any]
    plan: Plan
    tmp: Path
    moved: list[tuple[Path, Path]]
    root_inv: Path
    root_sidecar: Path



# --- the store --------------------------------------------------------------------------------


class ObjectStore(Maintenance):
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
            _sync.fsync_dir(dest.parent)

    def write_note(self, name: str, data: bytes) -> None:
        """Replace a small file of the server's own at the top of the storage root (OCFL 1.1
        allows other files there; backups copy them with the objects), atomically."""
        self._replace_file(self.root / note_name(name), data)

    def read_note(self, name: str) -> bytes | None:
        """A note written by ``write_note``, or None."""
        try:
            return (self.root / note_name(name)).read_bytes()
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

    def _build(self) -> Build:
        return Build(self.fsync, self.tmp_dir if self.sync_method == "syncfs" else None)

    def _sync_folders(self, folders: Iterable[Path]) -> None:
        """Make changes to these folders' entries durable (one syncfs, or fsync each)."""
        if self.sync_method == "syncfs":
            _sync.syncfs(self.tmp_dir)
        elif self.fsync:
            for folder in folders:
                _sync.fsync_dir(folder)

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
    def lock(self, name: str, *, wait: bool = True) -> Iterator[None]:
        """Exclusive lock on an object id (or any name: one import at a time, ...), across
        threads, processes and machines sharing the root (a POSIX lock on a file in the
        locks folder: storage/locks.py). ``wait=False``: raise StorageBusy at once when
        someone holds it. The lock file is removed on release."""
        path = self._locks / f"{hashlib.sha256(name.encode('utf-8')).hexdigest()}.lock"
        with file_lock(path, wait=wait,
                       make_folder=lambda: self._locks.mkdir(parents=True, exist_ok=True)):
            yield

    _locked = lock  # the name the write path has always used

    # -- folders of the staging area, durability ---------------------------------------------

    def work_dir(self, prefix: str) -> Path:
        """A new folder in the staging area (same file system as the root, so what is built
        there can be adopted by rename); start-up recovery removes it once it is old."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.tmp_dir))

    def sync_all(self) -> None:
        """Make everything written on the root's file system durable (a no-op without fsync)."""
        if self.fsync:
            _sync.sync_tree(self.tmp_dir)

    # -- the objects held ---------------------------------------------------------------------

    def stored_object_ids(self) -> set[str]:
        """Ids of every object in the root, from folder names (no inventory read: cheap)."""
        return {object_id_of(self.root, d) for d in iter_object_dirs(self.root)}

    def object_size(self, object_id: str) -> tuple[int, int]:
        """(content files, bytes) of an object, every version."""
        inv = self._require(object_id)
        objdir = self.object_path(object_id)
        files = size = 0
        for paths in inv["manifest"].values():
            for path in paths:
                files += 1
                size += os.stat(objdir / path).st_size
        return files, size

    def root_files(self) -> list[tuple[str, Path]]:
        """The root's own files (declaration, layout and its extension's config), as
        (path relative to the root, file) for an export."""
        config = Path("extensions") / LAYOUT_NAME / "config.json"
        return [(name, self.root / name) for name in (ROOT_NAMASTE, "ocfl_layout.json",
                                                       config.as_posix())]

    def object_files(self, object_id: str) -> ObjectFiles | None:
        """Every file of an object, from one reading of its root inventory (a snapshot that
        later versions do not change), or None if the object is not here."""
        objdir = self.object_path(object_id)
        try:
            data = (objdir / INVENTORY).read_bytes()
        except FileNotFoundError:
            return None
        inv = json.loads(data)
        head = version_number(inv["head"])
        files: list[tuple[str, Path, str | None, str | None]] = [
            (OBJECT_NAMASTE, objdir / OBJECT_NAMASTE, None, None)]
        for n in range(1, head + 1):
            for name in (INVENTORY, SIDECAR):
                files.append((f"v{n}/{name}", objdir / f"v{n}" / name, None, None))
        sha256_of = fixity_by_path(inv)
        for digest, paths in sorted(inv["manifest"].items(), key=lambda kv: kv[1][0]):
            for path in paths:
                files.append((path, objdir / path, sha256_of.get(path), digest))
        return ObjectFiles(object_id, layout_path(object_id), data, inv, files)

    def adopt(self, object_id: str, folder: Path, *, expected_head: int = 0,
              new_head: int | None = None) -> None:
        """Take in an object folder built in the staging area (an imported package's): a new
        object (``expected_head`` 0) is renamed into place whole; an existing one at
        ``expected_head`` gets the folder's versions after it (each rename commits one), then
        its root inventory, as a write does (a crash in between is rolled forward). Raises
        StaleVersion if the object is not at ``expected_head``. Not synced: call
        ``sync_all`` after a group."""
        dest = self.object_path(object_id)
        if expected_head == 0:
            try:
                self._make_parents(dest.parent)
                os.rename(folder, dest)
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise StaleVersion(0, self.head(object_id)) from exc
                raise
            return
        with self.lock(object_id):
            head = self.head(object_id)
            if head != expected_head:
                raise StaleVersion(expected_head, head)
            last = new_head if new_head is not None else version_number(
                json.loads((folder / INVENTORY).read_bytes())["head"])
            for n in range(expected_head + 1, last + 1):
                os.rename(folder / f"v{n}", dest / f"v{n}")
            self._sync_folders([dest])
            os.replace(folder / INVENTORY, dest / INVENTORY)
            os.replace(folder / SIDECAR, dest / SIDECAR)
            self._sync_folders([dest])
            self._forget(object_id)

    def copier(self, dest: Path, previous: Path | None, previous_sums: dict[str, str],
               progress: Callable[[int], None] | None = None) -> RootCopy:
        """A copy of this root into ``dest`` for a backup set (see storage/copy.py)."""
        return RootCopy(self.root, dest, previous, previous_sums, progress)

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
        return 0 if inv is None else version_number(inv["head"])

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
            for n in range(1, version_number(inv["head"]) + 1)
        ]

    def version(self, object_id: str, number: int | None = None) -> VersionInfo:
        """One version (None = head)."""
        inv = self._require(object_id)
        return self._version_info(object_id, inv, self._pick(object_id, inv, number), {})

    @staticmethod
    def _pick(object_id: str, inv: dict[str, Any], number: int | None) -> int:
        head = version_number(inv["head"])
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
        sha256_of = fixity_by_path(inv)
        state: dict[str, FileInfo] = {}
        for digest, paths in block["state"].items():
            content_path = inv["manifest"][digest][0]
            size = sizes.get(content_path)
            if size is None:
                size = sizes[content_path] = os.stat(objdir / content_path).st_size
            sha256 = sha256_of.get(content_path) or hash_file(objdir / content_path)[0][0]
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
                sha256 = fixity_by_path(inv).get(content_path) or hash_file(path)[0][0]
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
        recorded = fixity_by_path(self._require(object_id)).get(info.content_path)
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
        return iter_object_dirs(self.root)

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
        block = version_block(created, message, user_name, user_address)
        with self._locked(object_id):
            inv = self._load_for_write(object_id)
            head = 0 if inv is None else version_number(inv["head"])
            if expected_head is not None and expected_head != head:
                raise StaleVersion(expected_head, head)
            plan = plan_version(inv, add, remove)
            new_inv = next_inventory(object_id, inv, head + 1, plan, block)
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
            if (objdir / f"v{version_number(inv['head']) + 1}").exists():
                self._roll_forward(objdir)
                inv = self._load(object_id)
        return inv

    def _create_object(self, object_id: str, inv: dict[str, Any], plan: Plan) -> None:
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

    def _add_version(self, object_id: str, number: int, inv: dict[str, Any], plan: Plan) -> None:
        """Build vN in tmp_dir, rename it into the object (commit), then replace the root
        inventory."""
        build = self._build()
        self._commit_versions(build, [self._prepare_version(build, object_id, number, inv, plan)])

    def _prepare_version(self, build: Build, object_id: str, number: int,
                         inv: dict[str, Any], plan: Plan) -> _Prepared:
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

    def _commit_versions(self, build: Build, batch: list[_Prepared]) -> None:
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

    def _abort_prepared(self, build: Build, batch: list[_Prepared]) -> None:
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
                    head = version_number(inv["head"])
                    if w.expected_head is not None and w.expected_head != head:
                        results[i] = StaleVersion(w.expected_head, head)
                        continue
                    plan = plan_version(inv, dict(w.add), list(w.remove))
                    block = version_block(w.created, w.message, w.user_name, w.user_address)
                    new_inv = next_inventory(w.object_id, inv, head + 1, plan, block)
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
        build: Build,
        vdir: Path,
        inv: dict[str, Any],
        plan: Plan,
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
        data, sidecar = dump_inventory(inv)
        build.write(vdir / INVENTORY, data)
        build.write(vdir / SIDECAR, sidecar)
        return data, sidecar

    @staticmethod
    def _make_folders(build: Build, folder: Path, stop: Path, made: set[Path]) -> None:
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
    def _abort(build: Build, tmp: Path, moved: list[tuple[Path, Path]]) -> None:
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
    def _drop_unused(values: Iterable[StagedFile | bytes], plan: Plan) -> None:
        """Delete staged files whose content was already stored (dedup)."""
        # By identity: one StagedFile may be given for several paths and is moved only once.
        used = {id(source) for _, source in plan.new_content.values()}
        for value in values:
            if isinstance(value, StagedFile) and id(value) not in used:
                value.path.unlink(missing_ok=True)

    def _result(self, object_id: str, inv: dict[str, Any], number: int, plan: Plan) -> VersionInfo:
        sizes = {
            f"v{number}/{CONTENT_DIR}/{p}": plan.sizes[d] for d, (p, _) in plan.new_content.items()
        }
        return self._version_info(object_id, inv, number, sizes)

    # -- purge, recovery, verification -------------------------------------------------------
