"""Exclusive named locks on lock files: across threads, processes and machines that share
the storage root (docs/decisions/0023-city-nodes-shared-storage.md).

POSIX record locks (``fcntl``/``lockf``) are used, not ``flock``: they are the locks that
NFSv4 (and NFSv3 with lockd), CephFS and GlusterFS carry to every client, while ``flock``
is local to one machine on some of them (``local_lock=flock`` on NFS, older kernels,
FUSE file systems without flock support). POSIX locks have two traps, and this module is
built around them:

* they belong to the *process*, not to the open file: two threads of one process would both
  "get" the same lock. So a thread first takes a per-process lock for the file
  (``_Slot``), and only the thread holding it opens and locks the file;
* closing *any* descriptor of the file in the process drops the process's lock on it. So
  nothing else in the process may open a lock file while it is held: the only other code
  that opens lock files (maintenance's clean-up of files left by killed processes) goes
  through the same per-process slot, without waiting (``try_clean``); and the check that
  the locked file is still the one at its path keeps its second descriptor open until the
  release (closing it would drop the lock).

A lock file is removed on release (the folder does not grow by one file per object ever
written). A locker that wins the lock therefore checks that the file it locked is still
the file at the path -- by opening the path again, which on NFS revalidates the name with
the server (close-to-open), where a ``stat`` could answer from a cached name -- and starts
again when it is not (the previous holder removed it meanwhile). ``ESTALE`` (NFS: the file
was removed by another client) also means "start again".
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .types import StorageBusy

_AGAIN = {errno.ENOENT, errno.ESTALE}  # the file went away under us: open the path again
_BUSY = {errno.EAGAIN, errno.EACCES}  # F_SETLK's "held by someone else"


class _Slot:
    """The per-process part of one lock file's lock."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


_SLOTS: dict[str, _Slot] = {}
_SLOTS_GUARD = threading.Lock()


def _after_fork() -> None:
    """A child process holds none of its parent's POSIX locks: forget the parent's slots."""
    global _SLOTS_GUARD
    _SLOTS.clear()
    _SLOTS_GUARD = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


@functools.lru_cache(maxsize=64)
def _real_folder(folder: str) -> str:
    """One name per locks folder, however a store spelt its root (a symbolic link, a
    relative path): two spellings must share the slot, as they share the POSIX lock."""
    return os.path.realpath(folder)


@contextmanager
def _slot(path: Path, wait: bool) -> Iterator[bool]:
    """Hold this process's slot of ``path``; yields False (wait=False) when another thread
    of this process holds it."""
    key = os.path.join(_real_folder(os.fspath(path.parent)), path.name)
    with _SLOTS_GUARD:
        slot = _SLOTS.get(key)
        if slot is None:
            slot = _SLOTS[key] = _Slot()
        slot.users += 1
    try:
        got = slot.lock.acquire(blocking=wait)
        try:
            yield got
        finally:
            if got:
                slot.lock.release()
    finally:
        with _SLOTS_GUARD:
            slot.users -= 1
            if slot.users == 0 and _SLOTS.get(key) is slot:
                del _SLOTS[key]


def _lock_fd(fd: int, wait: bool) -> None:
    """Take the POSIX write lock on the whole file; EDEADLK (the kernel saw a cycle between
    processes waiting on each other) is waited out and tried again."""
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno != errno.EDEADLK:
                raise
            time.sleep(0.01)


def _acquire(path: Path, wait: bool, make_folder, create: bool = True  # noqa: ANN001
             ) -> tuple[int, int]:
    """Lock the file at ``path`` (made if missing, with ``create``); returns its two open
    descriptors (both stay open until the release: closing either would drop the lock)."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0), 0o644)
        except FileNotFoundError:  # someone removed the locks folder: make it again
            if not create:
                raise
            make_folder()
            continue
        try:
            _lock_fd(fd, wait)
        except OSError as exc:
            os.close(fd)
            if exc.errno in _BUSY:
                raise StorageBusy(f"{path.name} is held by another writer") from None
            if exc.errno in _AGAIN and create:
                continue
            raise
        except BaseException:
            os.close(fd)
            raise
        try:
            check = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            os.close(fd)  # removed by the previous holder after we opened it: again
            if exc.errno in _AGAIN and create:
                continue
            raise
        try:
            same = os.fstat(fd).st_ino == os.fstat(check).st_ino
        except OSError as exc:
            same = False
            if exc.errno not in _AGAIN:
                os.close(check)
                os.close(fd)
                raise
        if same:
            return fd, check
        os.close(check)
        os.close(fd)


def _gone() -> None:
    raise FileNotFoundError("the locks folder is gone")


@contextmanager
def file_lock(path: Path, *, wait: bool = True, make_folder=None) -> Iterator[None]:  # noqa: ANN001
    """Hold the exclusive lock of ``path`` (threads, processes, machines); the file is
    removed on release. ``wait=False``: StorageBusy at once when it is held."""
    with _slot(path, wait) as got:
        if not got:
            raise StorageBusy(f"{path.name} is held by another writer")
        fds = _acquire(path, wait, make_folder or _gone)
        try:
            yield
        finally:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass  # removed by hand: the lock was still ours
            finally:
                for fd in fds:
                    os.close(fd)


def try_clean(path: Path) -> bool:
    """Remove a lock file that nobody holds (one a killed process left); False when it is
    held (here or elsewhere) or already gone. Same protocol as a release."""
    with _slot(path, False) as got:
        if not got:
            return False
        try:
            fds = _acquire(path, False, _gone, create=False)
        except StorageBusy:
            return False
        except OSError as exc:
            if exc.errno in _AGAIN:
                return False
            raise
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False
        finally:
            for fd in fds:
                os.close(fd)
