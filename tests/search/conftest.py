"""Fixtures for the search layer: a real whoosh index in a temporary folder."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from repo_server.search.backend import IndexRecord, SearchRequest
from repo_server.search.whoosh_backend import WhooshBackend


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


@pytest.fixture
def backend(tmp_path):
    b = WhooshBackend(tmp_path / "index", writer=True)
    yield b
    b.close()


def ids(backend: WhooshBackend, q: str = "", **kw) -> list[str]:  # noqa: ANN003
    kw.setdefault("page_size", 100)
    return [h.id for h in backend.search(SearchRequest(q=q, **kw)).hits]
