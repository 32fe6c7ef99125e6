"""The database side of a backup: a consistent snapshot of SQLite (online backup API) or
PostgreSQL (pg_dump of an exported snapshot), with the ids of the records it knows."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from .backup_sets import (
    BackupError,
)
from .context import Env

log = logging.getLogger("repo_server.services.backup")


# --- database snapshots -------------------------------------------------------------------------


def _catalog_ids_sql() -> list[str]:
    return [
        "SELECT id FROM fonds WHERE head_version > 0",
        "SELECT id FROM dossiers WHERE head_version > 0",
        "SELECT id FROM documents WHERE head_version > 0",
        "SELECT record_id FROM disposal_reviews WHERE record_id IS NOT NULL",
    ]


def _snapshot_sqlite(env: Env, work: Path) -> dict[str, Any]:
    path = make_url(env.db.url).database
    if not path or path == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    target = work / "catalog.sqlite"
    target.unlink(missing_ok=True)
    src = sqlite3.connect(path, timeout=60)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout=60000")
        started = datetime.now(UTC)
        src.backup(dst)  # one step: a single read transaction, so a consistent snapshot
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"The database snapshot failed its check: {check}")
        ids = {row[0] for sql in _catalog_ids_sql() for row in dst.execute(sql)}
        revision = sorted(r[0] for r in dst.execute("SELECT version_num FROM alembic_version"))
    finally:
        dst.close()
        src.close()
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    return {"dialect": "sqlite", "file": target.name, "snapshot_at": started.isoformat(),
            "alembic_revision": revision, "ids": ids}


def libpq_params(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string (no password) and the environment carrying the password."""
    u = make_url(url)
    environ = dict(os.environ)
    if u.password:
        environ["PGPASSWORD"] = str(u.password)
    u = u.set(drivername="postgresql", password=None)
    return u.render_as_string(hide_password=False), environ


def pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise BackupError(f"{name} is not installed; install the PostgreSQL client "
                      "(Debian: apt-get install postgresql-client).")


def _snapshot_postgres(env: Env, work: Path) -> dict[str, Any]:
    target = work / "catalog.pgdump"
    target.unlink(missing_ok=True)
    dsn, environ = libpq_params(env.db.url)
    pg_dump = pg_tool("pg_dump")
    with env.db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            started = datetime.now(UTC)
            # pg_dump reads the exported snapshot: exactly what this transaction sees.
            proc = subprocess.run(
                [pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                 f"--snapshot={snapshot}", f"--file={target}", f"--dbname={dsn}"],
                env=environ, capture_output=True, text=True)
            if proc.returncode != 0:
                raise BackupError(f"pg_dump failed: {proc.stderr.strip()[-2000:]}")
            ids = {row[0] for sql in _catalog_ids_sql() for row in conn.execute(text(sql))}
            revision = sorted(conn.execute(text("SELECT version_num FROM alembic_version"))
                              .scalars())
    with open(target, "rb+") as f:
        os.fsync(f.fileno())
    return {"dialect": "postgresql", "file": target.name, "snapshot_at": started.isoformat(),
            "alembic_revision": revision, "ids": ids}


def snapshot_database(env: Env, work: Path) -> dict[str, Any]:
    if env.db.is_sqlite:
        return _snapshot_sqlite(env, work)
    if env.db.engine.dialect.name == "postgresql":
        return _snapshot_postgres(env, work)
    raise BackupError(f"Backups of {env.db.engine.dialect.name} databases are not supported.")


