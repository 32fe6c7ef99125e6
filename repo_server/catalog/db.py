"""Engine and sessions: plain SQLAlchemy 2.x, one short session per unit of work.

SQLite runs in WAL mode with a busy timeout. Write transactions start with BEGIN IMMEDIATE
so that two writers queue on the lock instead of failing with "database is locked" when a
reader tries to upgrade; reads stay deferred and never wait for a writer.

Writers to an SQLite file also pass a write gate first (an exclusive `flock` on a file next
to the database, plus a lock per process): waiting writers then sleep in the kernel and wake
the moment the previous writer is done. Without it they poll with SQLite's busy handler,
which sleeps 1, 2, 5, 10 … ms between tries, so two gunicorn workers and the job worker lost
milliseconds on every collision (see decision 0007).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # not on POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", echo: bool = False) -> Engine:
    """Create the engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_pre_ping=False,
        )
        _setup_sqlite(engine, sqlite_synchronous)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _setup_sqlite(engine: Engine, synchronous: str) -> None:
    synchronous = synchronous.upper()
    if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be NORMAL, FULL or EXTRA, not {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
        _record.info["synchronous"] = synchronous

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        options = conn.get_execution_options()
        if not options.get("sqlite_immediate", False):
            conn.exec_driver_sql("BEGIN")
            return
        # The level is a property of the connection and cannot change inside a transaction,
        # so each write sets the one it needs (only when it differs from the last one).
        level = synchronous
        if options.get("sqlite_synced_by_storage") and synchronous in ("FULL", "EXTRA"):
            level = "NORMAL"
        info = conn.connection.info
        if info.get("synchronous") != level:
            conn.exec_driver_sql(f"PRAGMA synchronous={level}")
            info["synchronous"] = level
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class WriteGate:
    """One writer at a time across threads and processes, waiting in the kernel.

    Re-entrant per thread (a write opened inside another passes straight through). The file
    descriptor is opened per process, so a gate created before a fork is not shared by the
    children (an flock belongs to the open file, which a fork would share).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._pid: int | None = None
        self._fd = -1
        self._lock = threading.Lock()
        self._local = threading.local()

    def _descriptor(self) -> int:
        if self._pid != os.getpid():
            self._lock = threading.Lock()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def hold(self) -> Iterator[None]:
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        fd = self._descriptor()
        with self._lock:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._local.depth = 1
            try:
                yield
            finally:
                self._local.depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)


def _sqlite_file(url: str) -> str | None:
    """The database file of an SQLite URL (None for an in-memory database)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


class Database:
    """Holds the engine and hands out sessions."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.engine = make_engine(url, sqlite_synchronous=sqlite_synchronous)
        self.is_sqlite = url.startswith("sqlite")
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        self.file = _sqlite_file(url) if self.is_sqlite else None
        self.gate: WriteGate | None = (
            WriteGate(self.file + "-writer.lock") if self.file and fcntl is not None else None)
        # True when the storage's commit (syncfs) also makes this database file durable; set
        # by whoever pairs the two (build_env). See `write(synced_by_storage=...)`.
        self.storage_syncs_commits = False

    def exclusive(self) -> AbstractContextManager[None]:
        """Hold off every writer that goes through `write()` (the SQLite write gate), e.g.
        around schema changes made on the engine directly."""
        return self.gate.hold() if self.gate is not None else nullcontext()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads. Closing (not rolling back) keeps loaded rows usable afterwards."""
        session = self._factory()
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def write(self, *, synced_by_storage: bool = False) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back on any error.

        ``synced_by_storage``: the caller commits a storage version right after this
        transaction, and needs this transaction durable only once that version is. Where the
        storage's commit syncs the whole file system the database lives on (syncfs, same file
        system), SQLite then commits without its own fsync (synchronous=NORMAL): the storage's
        first sync, which precedes its commit point, writes the WAL frames to disk as well.
        Everywhere else the transaction is as durable as any other.
        """
        with self.exclusive():
            session = self._factory()
            try:
                if self.is_sqlite:
                    session.connection(execution_options={
                        "sqlite_immediate": True,
                        "sqlite_synced_by_storage": synced_by_storage
                        and self.storage_syncs_commits})
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    def dispose(self) -> None:
        self.engine.dispose()
