"""The storage root's locks are POSIX record locks (fcntl), the kind NFSv4, CephFS and
GlusterFS carry between machines (decision 0023), and they hold despite the two traps of
POSIX locks: they belong to the process (threads must still exclude each other), and closing
any descriptor of the file drops them (the clean-up of lock files must not)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from repo_server.storage import ObjectStore, StorageBusy
from repo_server.storage.locks import file_lock, try_clean

# Another process asks for the POSIX lock without waiting: exit 0 if it got it, 1 if not.
_PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    sys.exit(1)
sys.exit(0)
"""


def _other_process_gets(path: Path) -> bool:
    return subprocess.run([sys.executable, "-c", _PROBE, str(path)]).returncode == 0


def _lock_file(store: ObjectStore) -> Path:
    files = [p for p in (store.tmp_dir / "locks").iterdir() if p.name.endswith(".lock")]
    assert len(files) == 1, files
    return files[0]


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "root", fsync=False)


def test_the_lock_is_a_posix_record_lock_seen_by_other_processes(store):
    with store.lock("object-1"):
        path = _lock_file(store)
        assert not _other_process_gets(path)  # an flock would not stop fcntl's lockf
    assert not path.exists()  # removed on release


def test_threads_of_one_process_exclude_each_other(store, tmp_path):
    """POSIX locks belong to the process: without the per-process slot two threads (or two
    stores on one root in one process) would both hold it."""
    other = ObjectStore(tmp_path / "root", fsync=False)
    inside, overlaps = [0], []

    def work(s: ObjectStore) -> None:
        for _ in range(20):
            with s.lock("shared"):
                inside[0] += 1
                overlaps.append(inside[0])
                time.sleep(0.001)
                inside[0] -= 1

    threads = [threading.Thread(target=work, args=(s,)) for s in (store, other, store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(overlaps) == 1 and len(overlaps) == 80


def test_wait_false_is_busy_while_another_thread_holds_it(store):
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store.lock("busy"):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    try:
        with pytest.raises(StorageBusy):
            with store.lock("busy", wait=False):
                pass
    finally:
        release.set()
        t.join()
    with store.lock("busy", wait=False):
        pass


def test_cleaning_lock_files_does_not_drop_a_held_lock(store):
    """Closing any descriptor of a locked file drops the process's POSIX lock: the clean-up
    of lock files left by killed processes must not open a held one."""
    with store.lock("held"):
        path = _lock_file(store)
        assert store._clean_locks() == 0
        assert path.exists()
        assert not _other_process_gets(path)  # still held
    # a lock file a killed process left (no holder) is removed
    path.write_bytes(b"")
    assert store._clean_locks() == 1 and not path.exists()


def test_a_removed_lock_file_is_not_trusted(tmp_path):
    """A waiter that locked a file its holder removed meanwhile starts again on the new
    file at the path (two holders otherwise)."""
    path = tmp_path / "x.lock"
    order: list[str] = []
    got_first = threading.Event()

    def first() -> None:
        with file_lock(path):
            got_first.set()
            time.sleep(0.2)
            order.append("first out")

    t = threading.Thread(target=first)
    t.start()
    got_first.wait(10)
    with file_lock(path):
        order.append("second in")
        assert path.exists() and not _other_process_gets(path)
    t.join()
    assert order == ["first out", "second in"] and not path.exists()
    assert try_clean(path) is False  # gone already


def test_two_spellings_of_one_root_share_the_lock(tmp_path):
    """A store opened through a symbolic link to the root is the same lock holder in this
    process (the POSIX lock does not tell them apart)."""
    real = ObjectStore(tmp_path / "root", fsync=False)
    (tmp_path / "link").symlink_to(tmp_path / "root")
    (tmp_path / "link.tmp").symlink_to(tmp_path / "root.tmp")
    linked = ObjectStore(tmp_path / "link", fsync=False)
    with real.lock("same"):
        with pytest.raises(StorageBusy):
            with linked.lock("same", wait=False):
                pass
