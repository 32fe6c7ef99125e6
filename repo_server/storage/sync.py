"""Making writes durable: fsync of files and folders, or one syncfs(2) for a whole file
system; the one place that knows how (the store, backups and package imports use it)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: Path) -> None:
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


def syncfs(path: Path) -> None:
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



class Build:
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
                syncfs(self.syncfs_on)
            for fd in self.fds:
                os.fsync(fd)
            for path in reversed(self.dirs):
                fsync_dir(path)
        finally:
            self.close()

    def close(self) -> None:
        while self.fds:
            os.close(self.fds.pop())



def sync_tree(path: Path) -> None:
    """Make everything written on ``path``'s file system durable: syncfs where the C library
    has it, else sync(2)."""
    if _SYNCFS is None:
        os.sync()
    else:
        syncfs(path)
