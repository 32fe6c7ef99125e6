"""The catalog's write transactions: the write gate and the commits the storage makes durable."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from repo_server import build_env
from repo_server.catalog import Database
from repo_server.catalog.migrate import upgrade
from repo_server.services.context import SYSTEM
from repo_server.storage import sync
from tests.conftest import close_env, make_config

# A second process tries the gate's flock without waiting: exit 0 if it got it, 1 if held.
_TRY_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(1)
sys.exit(0)
"""


def _sqlite_db(tmp_path: Path, synchronous: str = "FULL") -> Database:
    url = f"sqlite:///{tmp_path / 'repo.db'}"
    upgrade(url)
    return Database(url, sqlite_synchronous=synchronous)


def _other_process_gets_lock(path: str) -> bool:
    return subprocess.run([sys.executable, "-c", _TRY_LOCK, path]).returncode == 0


def test_write_gate_excludes_other_processes_and_threads(tmp_path: Path) -> None:
    db = _sqlite_db(tmp_path)
    assert db.gate is not None
    order: list[str] = []
    with db.write():
        assert not _other_process_gets_lock(db.gate.path)
        # A second thread's write waits for the gate (it would not finish a BEGIN otherwise).
        t = threading.Thread(target=_write_and_note, args=(db, order))
        t.start()
        time.sleep(0.2)
        order.append("first done")
    t.join(10)
    assert order == ["first done", "second"]
    assert _other_process_gets_lock(db.gate.path)
    db.dispose()


def _write_and_note(db: Database, order: list[str]) -> None:
    with db.write():
        order.append("second")


def test_write_gate_is_reentrant_within_a_thread(tmp_path: Path) -> None:
    db = _sqlite_db(tmp_path)
    with db.gate.hold(), db.gate.hold():
        assert not _other_process_gets_lock(db.gate.path)
    assert _other_process_gets_lock(db.gate.path)
    db.dispose()


def _level(session) -> int:  # noqa: ANN001
    return session.connection().exec_driver_sql("PRAGMA synchronous").scalar()


@pytest.mark.parametrize("covered", [True, False])
def test_write_synced_by_storage_skips_fsync_only_where_storage_covers_it(
        tmp_path: Path, covered: bool) -> None:
    db = _sqlite_db(tmp_path, "FULL")
    db.storage_syncs_commits = covered
    for _ in range(2):  # the level is restored on the same pooled connection
        with db.write(synced_by_storage=True) as session:
            assert _level(session) == (1 if covered else 2)  # 1 NORMAL, 2 FULL
        with db.write() as session:
            assert _level(session) == 2
    db.dispose()


@pytest.mark.parametrize(("fsync", "method", "expected"), [
    (True, "syncfs", True), (True, "fsync", False), (False, "syncfs", False)])
def test_build_env_pairs_catalog_and_storage_syncs(tmp_path: Path, fsync: bool, method: str,
                                                    expected: bool) -> None:
    if method == "syncfs" and sync._SYNCFS is None:
        pytest.skip("no syncfs on this system")
    config = make_config(tmp_path / "instance", FSYNC=fsync, FSYNC_METHOD=method)
    (tmp_path / "instance").mkdir()
    env = build_env(config)
    try:
        assert env.db.storage_syncs_commits is (expected and env.db.file is not None)
    finally:
        close_env(env)


def test_pending_row_is_committed_before_the_storage_syncs(tmp_path: Path, monkeypatch) -> None:
    """The crash argument of `synced_by_storage`: the pending row must already be written
    (committed to the WAL) when the storage's first sync runs, so that sync makes it durable
    before the new version's commit point."""
    if sync._SYNCFS is None:
        pytest.skip("no syncfs on this system")
    instance = tmp_path / "instance"
    instance.mkdir()
    config = make_config(instance, FSYNC=True, FSYNC_METHOD="syncfs", SQLITE_SYNCHRONOUS="FULL")
    if not config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite only")
    upgrade(config["DATABASE_URL"])
    env = build_env(config)
    assert env.db.storage_syncs_commits
    seen: list[int] = []
    real = sync.syncfs

    def checking_syncfs(path: Path) -> None:
        with sqlite3.connect(env.db.file) as other:
            seen.append(other.execute("SELECT count(*) FROM pending_writes").fetchone()[0])
        real(path)

    monkeypatch.setattr(sync, "syncfs", checking_syncfs)
    from repo_server.services.writes import WritePlan, write_object

    try:
        write_object(env, SYSTEM, WritePlan("0b6f5a52-54f8-4b44-9d0e-5c1b8a3c9d11", "fonds",
                                            {"fonds.json": b"{}"}, message="test"),
                     apply=lambda session, version: None, outbox=False)
        assert seen and seen[0] == 1  # first sync: the pending row is there
        with sqlite3.connect(env.db.file) as other:
            assert other.execute("SELECT count(*) FROM pending_writes").fetchone()[0] == 0
    finally:
        close_env(env)
