"""Fixtures for the search layer: a real index in a temporary folder.

The behaviour tests of this folder (test_search, test_fields, test_ranking, test_alphabet,
test_and_generated) only use the ``SearchBackend`` interface through ``backend`` (or
``new_backend``), parametrised by every engine in ``repo_server.search.BACKENDS``: they are the
contract a new engine must pass. test_index is about the whoosh engine's own machinery.

``ENGINES``: whoosh always; postgresql when TEST_DATABASE_URL is a PostgreSQL database (the
PostgreSQL leg of .ci/run), each backend in a schema of its own in that database.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime

import pytest

from repo_server.search import IndexRecord, SearchBackend, SearchRequest, open_backend

ENGINES = ["whoosh"] + (
    ["postgresql"] if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql") else [])


def record(rid: str, title: str = "", body: str = "", **kw) -> IndexRecord:  # noqa: ANN003
    """A document record with sensible defaults; any IndexRecord field can be overridden."""
    values = {
        "id": rid,
        "kind": "document",
        "dossier_id": "d-1",
        "fonds_code": "000.00.00.H49",
        "state": "open",
        "access_mode": "01",
        "type_code": "02",
        "direction": "outgoing",
        "date": date(2024, 1, 1),
        "title": title,
        "number": None,
        "fields_text": "",
        "body": body,
        "updated": datetime(2024, 1, 1, tzinfo=UTC),
    }
    values.update(kw)
    return IndexRecord(**values)


def dossier(rid: str, title: str = "", **kw) -> IndexRecord:  # noqa: ANN003
    kw.setdefault("type_code", None)
    kw.setdefault("direction", None)
    return record(rid, title, kind="dossier", dossier_id=rid, **kw)


@pytest.fixture(params=ENGINES)
def engine(request) -> str:  # noqa: ANN001
    """The name of a search engine (every one in ENGINES)."""
    return request.param


def new_backend(engine: str, path, **options) -> SearchBackend:  # noqa: ANN001, ANN003
    """A new, empty backend: whoosh in ``path``, postgresql in a new schema of the test
    database (``options``: PostgresBackend settings). ``drop_backend`` removes it."""
    if engine == "postgresql":
        from repo_server.search.postgres import PostgresBackend

        return PostgresBackend(os.environ["TEST_DATABASE_URL"], writer=True,
                               schema=f"search_{uuid.uuid4().hex[:12]}", pool_size=2, **options)
    return open_backend(engine, path / "index", writer=True)


def drop_backend(b: SearchBackend) -> None:  # noqa: ANN001
    schema = getattr(b, "schema", None)
    if schema is not None:
        from sqlalchemy import text

        with b.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    b.close()


@pytest.fixture
def backend(engine, tmp_path):  # noqa: ANN001, ANN201
    b = new_backend(engine, tmp_path)
    yield b
    drop_backend(b)


def ids(backend: SearchBackend, q: str = "", **kw) -> list[str]:  # noqa: ANN003
    kw.setdefault("page_size", 100)
    return [h.id for h in backend.search(SearchRequest(q=q, **kw)).hits]
