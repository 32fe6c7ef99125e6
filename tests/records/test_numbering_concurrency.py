"""50 registrations at once, from 5 processes (each its own app and database engine, as
several web nodes would be) with 10 threads each, through the HTTP API: 50 distinct,
consecutive numbers. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.records.conftest import FONDS

PROCESSES, THREADS = 5, 10


def _register_all(config: dict, secret: str, document_ids: list[str]) -> list[tuple[int, str]]:
    from repo_server import create_app

    app = create_app(config)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    def one(document_id: str) -> tuple[int, str]:
        r = client.post(f"/api/v1/documents/{document_id}/outgoing-registration",
                        json={"code_notation": "QĐ-UBND"}, headers=headers)
        return r.status_code, (r.get_json() or {}).get("code_number") or r.get_data(as_text=True)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(one, document_ids))
    from tests.conftest import close_env

    close_env(app.extensions["repo_server"])  # its audit events written, connections closed
    return results


@pytest.mark.slow(20)  # five processes: sent first (tests/conftest.py)
def test_fifty_concurrent_registrations_get_fifty_consecutive_numbers(config, client, dossier):
    from repo_server.services.keys import create_key

    env = client.app.extensions["repo_server"]
    _, secret = create_key(env, "clerk-concurrent", ["clerk"])
    ids = [client.make_document(dossier["id"], subject=f"Công văn {i}")["id"]
           for i in range(PROCESSES * THREADS)]
    chunks = [ids[i::PROCESSES] for i in range(PROCESSES)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES) as pool:
        results = pool.starmap(_register_all, [(config, secret, chunk) for chunk in chunks])
    flat = [r for part in results for r in part]
    assert all(status == 200 for status, _ in flat), flat
    numbers = sorted(int(n) for _, n in flat)
    assert numbers == list(range(1, 51))
    log = client.get("/api/v1/registrations",
                     query_string={"fonds_code": FONDS, "page_size": 100}).json
    assert log["total"] == 50
    assert {e["status"] for e in log["items"]} == {"registered"}
    assert sorted(e["document_id"] for e in log["items"]) == sorted(ids)
