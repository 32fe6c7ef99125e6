"""Fixtures of the records-office tests: a controllable clock and short helpers that build
data through the public API."""

from __future__ import annotations

from repo_server.services.keys import create_key
from tests.conftest import Client
from tests.services.test_lifecycle_disposal import Clock, clock  # noqa: F401 - the shared clock

FONDS = "000.00.00.H49"


def user(app, env, name: str, roles: list[str], **kw) -> Client:  # noqa: ANN001, ANN003
    return Client(app, create_key(env, name, roles, **kw)[1])


def outgoing(client: Client, document_id: str, status: int = 200, **body) -> dict:  # noqa: ANN003
    body.setdefault("code_notation", "QĐ-UBND")
    r = client.post(f"/api/v1/documents/{document_id}/outgoing-registration", json=body)
    assert r.status_code == status, r.json
    return r.json


def incoming(client: Client, document_id: str, status: int = 200, **body) -> dict:  # noqa: ANN003
    r = client.post(f"/api/v1/documents/{document_id}/incoming-registration", json=body)
    assert r.status_code == status, r.json
    return r.json


def register(client: Client, kind: str, fmt: str = "json", **query):  # noqa: ANN003, ANN201
    query = {"fonds_code": FONDS, "date_from": "2025-01-01", "date_to": "2025-12-31",
             "format": fmt, **query}
    r = client.get(f"/api/v1/registers/{kind}", query_string=query)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.json if fmt == "json" else r.data
