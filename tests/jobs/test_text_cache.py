"""Extracted text is derived data (issue 18, decision 0021): the worker keeps it in the
derived-text cache keyed by the file's SHA-256, never as a version of the document."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest
from sqlalchemy import func, select

from repo_server.catalog import OutboxEvent, PendingWrite
from repo_server.services import indexing, texts
from repo_server.services.rebuild import rebuild_catalog
from repo_server.services.records import object_id
from tests.conftest import drain

NOTICE = "Thông báo lịch tiếp công dân tháng bảy".encode()


def _search(client, q: str) -> set[str]:  # noqa: ANN001
    return {h["id"] for h in client.get("/api/v1/search", query_string={"q": q}).json["items"]}


@pytest.fixture
def extractions(monkeypatch) -> list[str]:  # noqa: ANN001
    """The names of the files the worker extracts (the real extractor runs)."""
    calls: list[str] = []
    real = texts.extract_text

    def counting(path, **kw):  # noqa: ANN001, ANN003, ANN202
        calls.append(kw.get("filename"))
        return real(path, **kw)

    monkeypatch.setattr(texts, "extract_text", counting)
    return calls


def _count(env, model) -> int:  # noqa: ANN001
    with env.db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_reading_the_text_adds_no_version_and_the_etag_stays_valid(client, dossier, worker, env):
    doc = client.make_document(dossier["id"], files={"tb.txt": NOTICE})
    etag = client.get(f"/api/v1/documents/{doc['id']}").headers["ETag"]
    assert etag == '"v1"'
    drain(worker)
    r = client.get(f"/api/v1/documents/{doc['id']}")
    assert r.json["text_status"] == "ok" and r.json["version"] == 1 and r.headers["ETag"] == etag
    assert env.store.head(object_id(doc["id"])) == 1
    assert len(client.get(f"/api/v1/documents/{doc['id']}/versions").json["items"]) == 1
    assert _search(client, "lich tiep cong dan") == {doc["id"]}
    assert env.texts.get(hashlib.sha256(NOTICE).hexdigest()).text == NOTICE.decode()
    assert not any(p.startswith("text/") for p in env.store.version(object_id(doc["id"])).state)
    # the ETag from the create is still good
    r = client.patch(f"/api/v1/documents/{doc['id']}", json={"subject": "Thông báo (sửa)"},
                     headers={"If-Match": etag})
    assert r.status_code == 200 and r.json["version"] == 2
    assert _count(env, PendingWrite) == 0


def test_same_bytes_in_two_documents_share_one_entry_read_once(client, dossier, worker, env,
                                                              extractions):
    a = client.make_document(dossier["id"], files={"a.txt": NOTICE})
    b = client.make_document(dossier["id"], files={"b.txt": NOTICE})
    drain(worker)
    assert len(env.texts) == 1 and len(extractions) == 1
    assert _search(client, "lich tiep cong dan") == {a["id"], b["id"]}
    for d in (a, b):
        assert client.get(f"/api/v1/documents/{d['id']}").json["text_status"] == "ok"


def test_a_lost_cache_is_rebuilt_by_reading_the_files_again(client, dossier, worker, env,
                                                           extractions, tmp_path):
    import shutil

    doc = client.make_document(dossier["id"], files={"tb.txt": NOTICE})
    drain(worker)
    shutil.rmtree(env.texts.folder)
    assert len(env.texts) == 0
    indexing.reindex(env, worker.backend)
    assert len(env.texts) == 1 and extractions == ["tb.txt", "tb.txt"]
    assert _search(client, "lich tiep cong dan") == {doc["id"]}


def test_a_torn_entry_or_a_leftover_temporary_file_is_a_miss(client, dossier, worker, env,
                                                            extractions):
    """What a kill or a power cut in the middle of a cache write can leave."""
    doc = client.make_document(dossier["id"], files={"tb.txt": NOTICE})
    drain(worker)
    entry = env.texts.path(hashlib.sha256(NOTICE).hexdigest())
    entry.write_bytes(entry.read_bytes()[:20])  # torn
    (entry.parent / f".{entry.name}.999.tmp").write_bytes(b"{")  # a rename never done
    assert env.texts.get(hashlib.sha256(NOTICE).hexdigest()) is None
    assert len(env.texts) == 1  # the temporary file is not an entry
    indexing.reindex(env, worker.backend)
    assert len(extractions) == 2
    assert env.texts.get(hashlib.sha256(NOTICE).hexdigest()).text == NOTICE.decode()
    assert _search(client, "lich tiep cong dan") == {doc["id"]}
    entry.write_bytes(gzip.compress(json.dumps({
        "format": 1, "sha256": "0" * 64, "text": "khác", "status": "ok",
        "method": "text"}).encode()))  # not this digest's
    assert env.texts.get(hashlib.sha256(NOTICE).hexdigest()) is None


def test_a_crash_between_the_cache_write_and_the_index_leaves_nothing_wrong(
        client, dossier, worker, env, monkeypatch, extractions):
    drain(worker)  # the worker takes the lease and opens the index
    doc = client.make_document(dossier["id"], files={"tb.txt": NOTICE})

    def index_dies(records):  # noqa: ANN001, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(worker.backend, "upsert", index_dies)
    assert indexing.drain_outbox(env, worker.backend) == 1
    monkeypatch.undo()
    # the text is cached, the event waits for its retry, the status is still pending
    assert env.texts.get(hashlib.sha256(NOTICE).hexdigest()) is not None
    with env.db.read() as session:
        event = session.scalars(select(OutboxEvent).where(
            OutboxEvent.object_id == doc["id"])).one()
    assert event.processed_at is None and "No space left" in event.error
    assert client.get(f"/api/v1/documents/{doc['id']}").json["text_status"] == "pending"
    assert _search(client, "lich tiep cong dan") == set()
    later = event.next_attempt_at
    env.clock = lambda: later
    drain(worker)
    body = client.get(f"/api/v1/documents/{doc['id']}").json
    assert body["text_status"] == "ok" and body["version"] == 1
    assert _search(client, "lich tiep cong dan") == {doc["id"]}
    assert extractions == ["tb.txt"]  # the retry used the cache
    assert _count(env, PendingWrite) == 0


def _legacy_root(client, dossier, env) -> dict:  # noqa: ANN001
    """A document as a pre-0021 worker left it: a text version holding `text/<name>.txt` and
    `text/status.json`. Its text says what extraction of the file would NOT give, so a
    search finding it proves the old text was used."""
    doc = client.make_document(dossier["id"], files={"cv.txt": NOTICE})
    sha = hashlib.sha256(NOTICE).hexdigest()
    status = {"cv.txt": {"sha256": sha, "status": "ok", "method": "text", "reason": None,
                         "pages": None}}
    env.store.write_version(
        object_id(doc["id"]),
        add={"text/cv.txt.txt": "Văn bản lưu trữ từ phiên bản cũ".encode(),
             "text/status.json": json.dumps(status).encode()},
        message="Extract text: cv.txt", user_name="repo-server",
        user_address="urn:repo-server:user:repo-server", created=env.now())
    return doc


def test_an_old_root_keeps_its_text_files_and_reindex_uses_them(client, dossier, worker, env,
                                                                extractions):
    drain(worker)
    doc = _legacy_root(client, dossier, env)
    indexing.reindex(env, worker.backend)
    assert extractions == []
    assert _search(client, "phien ban cu") == {doc["id"]}
    assert env.texts.get(hashlib.sha256(NOTICE).hexdigest()).text.startswith("Văn bản lưu trữ")
    # history untouched: still two versions, the old text file where it was
    assert env.store.head(object_id(doc["id"])) == 2
    assert env.store.read_bytes(object_id(doc["id"]), "text/cv.txt.txt", 2).startswith(
        "Văn bản".encode())


def test_rebuild_of_an_old_root_fills_the_cache_from_its_text_files(client, dossier, worker, env,
                                                                    extractions):
    drain(worker)
    doc = _legacy_root(client, dossier, env)
    # a replaced file: the old text is stale (other bytes) and is read anew
    other = client.make_document(dossier["id"], files={"x.txt": b"ban dau"})
    env.store.write_version(object_id(other["id"]), add={
        "text/x.txt.txt": b"stale", "text/status.json": json.dumps(
            {"x.txt": {"sha256": "f" * 64, "status": "ok", "method": "text"}}).encode()},
        message="Extract text: x.txt", user_name="repo-server",
        user_address="urn:repo-server:user:repo-server", created=env.now())
    rebuild_catalog(env)
    drain(worker)
    assert extractions == ["x.txt"]
    for d in (doc, other):
        body = client.get(f"/api/v1/documents/{d['id']}").json
        assert body["text_status"] == "ok" and body["version"] == 2
    assert _search(client, "phien ban cu") == {doc["id"]}
    assert _search(client, "ban dau") == {other["id"]}


def test_a_clerks_change_during_the_read_keeps_its_own_pending_status(client, dossier, worker,
                                                                      env, monkeypatch):
    drain(worker)  # the worker takes the lease and opens the index
    doc = client.make_document(dossier["id"], files={"a.txt": b"mot"})
    real = texts.document_text
    done: list[bool] = []

    def then_the_clerk_replaces_the_file(env_, oid, head, media, **kw):  # noqa: ANN001, ANN003, ANN202
        out = real(env_, oid, head, media, **kw)
        if not done:
            done.append(True)
            r = client.put(f"/api/v1/documents/{doc['id']}/files/a.txt", data=b"hai",
                           headers={"If-Match": '"v1"', "Content-Type": "text/plain"})
            assert r.status_code == 200, r.json
        return out

    monkeypatch.setattr(indexing, "document_text", then_the_clerk_replaces_the_file)
    assert indexing.drain_outbox(env, worker.backend) >= 1
    assert client.get(f"/api/v1/documents/{doc['id']}").json["text_status"] == "pending"
    monkeypatch.undo()
    drain(worker)
    body = client.get(f"/api/v1/documents/{doc['id']}").json
    assert (body["text_status"], body["version"]) == ("ok", 2)
    assert _search(client, "hai") == {doc["id"]}

