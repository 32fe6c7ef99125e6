"""Load scripts/loadtest.py (not a package) for the tests that run real server processes."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "loadtest.py"


def loadtest():  # noqa: ANN201
    if "repo_loadtest" not in sys.modules:
        spec = importlib.util.spec_from_file_location("repo_loadtest", _PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules["repo_loadtest"] = module
        spec.loader.exec_module(module)
    return sys.modules["repo_loadtest"]


def database_url() -> str | None:
    """The PostgreSQL test database, emptied (None on SQLite: the instance has its own)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        from tests.conftest import _reset_database

        _reset_database(url)
    return url
