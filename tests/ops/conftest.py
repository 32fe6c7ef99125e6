"""Fixtures for the operations tests: a second, empty instance to restore into."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import make_config


def second_database_url() -> str | None:
    """On PostgreSQL: an empty database beside the test database (created once)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    u = make_url(url)
    name = f"{u.database}_restore"
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                {"n": name}).scalar():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    target = u.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(target)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return target


@pytest.fixture
def restore_config(tmp_path: Path) -> dict:
    """Configuration of a new, empty instance (a new machine)."""
    url = second_database_url()
    extra = {"DATABASE_URL": url} if url else {}
    instance = tmp_path / "restored"
    return make_config(instance, MAX_UPLOAD_BYTES=2 * 1024 * 1024, **extra)


def pytest_configure(config) -> None:  # noqa: ANN001
    config.addinivalue_line("markers", "slow: runs real server processes for tens of seconds "
                                       "(load and crash tests; deselect with -m 'not slow')")
