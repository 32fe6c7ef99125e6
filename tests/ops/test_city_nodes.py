"""Several web nodes on one PostgreSQL and one shared storage root, plus an active worker
and a standby (issue 16 §3, docs/city.md, decision 0023): what node A writes, node B reads
and serves byte for byte; a key revoked on A is refused on B within 1 s; an If-Match race
between nodes has one winner; kill -9 of the active worker: the standby takes over within
the lease time and every document is in the index exactly once.

Runs on the PostgreSQL leg of .ci/run (TEST_DATABASE_URL); SQLite is one machine's
database, so several nodes need PostgreSQL. The processes are started once for the module.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.ops.stack import database_url, loadtest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql"),
                       reason="several web nodes share one PostgreSQL catalog: runs on the "
                              "PostgreSQL leg (TEST_DATABASE_URL), not on SQLite"),
]

FONDS = "000.00.00.H49"
LEASE_SECONDS = 30  # jobs/worker.py: the lease a standby waits out when it cannot tell
REVOCATION_TARGET_S = 1.0


def _ports(n: int) -> list[int]:
    """Free ports from this project's range on the shared machine (18141-18159)."""
    found = []
    for port in range(18141, 18160):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == n:
            return found
    return found


def _session(key: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    return s


@pytest.fixture(scope="module")
def city(tmp_path_factory):  # noqa: ANN201
    lt = loadtest()
    url = database_url()
    c = lt.City(tmp_path_factory.mktemp("city"), url, nodes=2, web_workers=2,
                search_backend=os.environ.get("SEARCH_BACKEND") or "postgresql",
                ports=_ports(2))
    c.init()
    try:
        c.start()
        admin = _session(c.key)
        r = admin.post(f"{c.nodes[0].base}/fonds", json={"code": FONDS, "name": "UBND"})
        assert r.status_code == 201, r.text
        yield c
    finally:
        c.stop()


def _dossier(s: requests.Session, base: str) -> str:
    r = s.post(f"{base}/dossiers", json={"fonds_code": FONDS, "title": "Hồ sơ cấp phép",
                                         "retention": "05", "start_date": "2025-07-15"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _document(s: requests.Session, base: str, dossier_id: str, subject: str,
              body: bytes | None = None) -> requests.Response:
    import json

    files = {"metadata": (None, json.dumps({"type_code": "02", "subject": subject},
                                           ensure_ascii=False), "application/json")}
    if body is not None:
        files["file"] = ("qd.txt", body, "text/plain")
    r = s.post(f"{base}/dossiers/{dossier_id}/documents", files=files)
    assert r.status_code == 201, r.text
    return r


def test_node_b_reads_and_serves_what_node_a_wrote(city):
    a, b = (n.base for n in city.nodes)
    s = _session(city.key)
    dossier_id = _dossier(s, a)
    body = ("Quyết định cấp giấy phép xây dựng. " * 500).encode()
    doc = _document(s, a, dossier_id, "Quyết định cấp phép", body).json()
    on_b = s.get(f"{b}/documents/{doc['id']}")
    assert on_b.status_code == 200
    assert on_b.json()["subject"] == doc["subject"] and on_b.json()["files"] == doc["files"]
    assert s.get(f"{b}/dossiers/{dossier_id}").json()["doc_total"] == 1
    from_a = s.get(f"{a}/documents/{doc['id']}/files/qd.txt")
    from_b = s.get(f"{b}/documents/{doc['id']}/files/qd.txt")
    assert from_a.status_code == from_b.status_code == 200
    assert from_b.content == body and hashlib.sha256(from_b.content).hexdigest() \
        == doc["files"][0]["sha256"]
    assert from_b.headers["ETag"] == from_a.headers["ETag"]
    # and a change made on B is what A serves next
    r = s.patch(f"{b}/documents/{doc['id']}", json={"subject": "Quyết định (sửa trên B)"},
                headers={"If-Match": on_b.headers["ETag"]})
    assert r.status_code == 200, r.text
    assert s.get(f"{a}/documents/{doc['id']}").json()["subject"] == "Quyết định (sửa trên B)"


def test_a_key_revoked_on_node_a_is_refused_on_node_b_within_one_second(city):
    a, b = (n.base for n in city.nodes)
    admin = _session(city.key)
    user = admin.post(f"{a}/users", json={"name": f"clerk-{uuid.uuid4().hex[:6]}",
                                          "roles": ["reader"]})
    assert user.status_code == 201, user.text
    key = admin.post(f"{a}/users/{user.json()['id']}/keys", json={})
    assert key.status_code == 201, key.text
    s = _session(key.json()["secret"])
    # every web process of node B has checked (and so remembers) the key
    for _ in range(20):
        assert s.get(f"{b}/fonds").status_code == 200
    r = admin.delete(f"{a}/users/{user.json()['id']}/keys/{key.json()['id']}")
    assert r.status_code in (200, 204), r.text
    revoked = time.monotonic()
    while True:
        code = s.get(f"{b}/fonds").status_code
        waited = time.monotonic() - revoked
        if code == 401:
            break
        assert code == 200
        assert waited < 5, "node B still accepts the revoked key"
        time.sleep(0.01)
    print(f"\nrevocation on A refused on B after {waited * 1000:.0f} ms")
    assert waited < REVOCATION_TARGET_S
    for _ in range(10):  # and by every web process of B
        assert s.get(f"{b}/fonds").status_code == 401


def test_an_if_match_race_between_nodes_has_exactly_one_winner(city):
    a, b = (n.base for n in city.nodes)
    s = _session(city.key)
    dossier_id = _dossier(s, a)
    doc = _document(s, a, dossier_id, "Công văn gốc")
    etag, doc_id = doc.headers["ETag"], doc.json()["id"]
    for round_ in range(3):
        codes = _race(city.key, [("A", a), ("B", b)], doc_id, etag, round_)
        assert sorted(codes.values()) == [200, 412], codes
        winner = next(n for n, c in codes.items() if c == 200)
        now = s.get(f"{b}/documents/{doc_id}")
        assert now.json()["subject"] == f"Sửa {round_} trên {winner}"
        etag = now.headers["ETag"]


def _race(key: str, nodes: list[tuple[str, str]], doc_id: str, etag: str, round_: int
          ) -> dict[str, int]:
    """The same PATCH with the same If-Match, sent to each node at the same moment."""
    start = threading.Barrier(len(nodes))
    codes: dict[str, int] = {}

    def patch(node: str, base: str) -> None:
        own = _session(key)
        start.wait()
        codes[node] = own.patch(f"{base}/documents/{doc_id}",
                                json={"subject": f"Sửa {round_} trên {node}"},
                                headers={"If-Match": etag}).status_code

    threads = [threading.Thread(target=patch, args=node) for node in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def _search_total(s: requests.Session, base: str, q: str) -> tuple[int, list[str]]:
    r = s.get(f"{base}/search", params={"q": q, "page_size": 50})
    assert r.status_code == 200, r.text
    body = r.json()
    return body["total"], [h["id"] for h in body["items"]]


def _outbox_pending(url: str, ids: list[str]) -> tuple[int, int]:
    """(events of these objects not yet processed, of them parked)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT processed_at IS NULL, parked_at IS NOT NULL "
                                     "FROM outbox WHERE object_id = ANY(:ids)"),
                                {"ids": ids}).all()
    finally:
        engine.dispose()
    return sum(1 for p, _ in rows if p), sum(1 for _, k in rows if k)


def test_kill_9_of_the_active_worker_the_standby_takes_over_nothing_lost_or_twice(city):
    """Checked through the outbox (every event of the run's documents processed, none
    parked) and the index (the run's tag finds each document exactly once; each document's
    own token finds it alone)."""
    a, b = (n.base for n in city.nodes)
    s = _session(city.key)
    active = city.active_worker()
    assert active is not None and len(city.workers) == 2
    standby = next(p for p in city.workers if p is not active)
    tag = f"tp{uuid.uuid4().hex[:8]}"
    dossier_id = _dossier(s, b)
    docs: dict[str, str] = {}

    def ingest(n: int, offset: int) -> None:
        for i in range(offset, offset + n):
            token = f"{tag}x{i}"
            body = f"Công văn {token} {tag}. Ủy ban nhân dân phường.\n".encode() * 20
            base = (a, b)[i % 2]
            docs[_document(s, base, dossier_id, f"Công văn {token} {tag}", body).json()["id"]] \
                = token

    ingest(12, 0)
    os.killpg(active.pid, signal.SIGKILL)  # in the middle of indexing those
    active.wait()
    killed = time.monotonic()
    ingest(8, 12)  # the API keeps taking writes meanwhile
    while city.active_worker() is not standby:
        assert time.monotonic() - killed < LEASE_SECONDS + 5, "the standby did not take over"
        time.sleep(0.1)
    took_over = time.monotonic() - killed
    print(f"\nstandby took the lease {took_over:.2f} s after kill -9 of the active worker")
    assert took_over < LEASE_SECONDS
    ids = [*docs, dossier_id]
    url = city.base_env["REPO_DATABASE_URL"]
    deadline = time.monotonic() + 60
    while (pending := _outbox_pending(url, ids))[0]:
        assert time.monotonic() < deadline, f"outbox not drained: {pending}"
        time.sleep(0.2)
    assert pending == (0, 0)
    search_base = a if city.search_backend == "whoosh" else b
    total, hits = _search_total(s, search_base, tag)
    assert total == len(docs) == 20 and sorted(hits) == sorted(docs), (total, hits)
    for doc_id, token in docs.items():
        assert _search_total(s, search_base, token) == (1, [doc_id]), token


def test_node_b_finds_by_search_what_node_a_wrote(city):
    """With SEARCH_BACKEND=postgresql every node searches the shared catalog: a document
    written on A is found on B (issue 16 §1, §3). The module's city, not one of its own: a
    second city on the same database would share it with the first one's worker, which holds
    the lease until the module ends."""
    if city.search_backend != "postgresql":
        pytest.skip("SEARCH_BACKEND=whoosh: node B has no index of its own")
    a, b = (n.base for n in city.nodes)
    s = _session(city.key)
    dossier_id = _dossier(s, a)
    token = f"tk{uuid.uuid4().hex[:10]}"
    doc = _document(s, a, dossier_id, f"Quyết định {token}",
                    f"Quyết định {token} cấp giấy phép.\n".encode()).json()
    written = time.monotonic()
    while _search_total(s, b, token)[1] != [doc["id"]]:
        assert time.monotonic() - written < 30, "node B does not find it"
        time.sleep(0.05)
    print(f"\nfound on B {time.monotonic() - written:.2f} s after the 201 on A")
