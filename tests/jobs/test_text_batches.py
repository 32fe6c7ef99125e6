"""The worker stores the extracted texts of a drain in batches: one storage commit each."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from repo_server.catalog import AuditEvent, OutboxEvent, PendingWrite
from repo_server.services import indexing
from repo_server.storage import ObjectStore
from tests.conftest import drain

TXT = "text/plain"


def _count(env, stmt) -> int:  # noqa: ANN001
    with env.db.read() as session:
        return session.scalar(stmt)


def _spy(monkeypatch, name: str) -> list:  # noqa: ANN001
    calls: list = []
    real = getattr(ObjectStore, name)

    def spy(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ObjectStore, name, spy)
    return calls


def test_texts_of_a_drain_are_stored_in_one_batch(client, dossier, worker, env, monkeypatch):
    docs = [client.make_document(dossier["id"], files={f"don-{n}.txt": f"Đơn đề nghị số {n}"
                                                       .encode()}) for n in range(5)]
    bare = client.make_document(dossier["id"])  # no file: no text version
    batches = _spy(monkeypatch, "write_versions")
    singles = _spy(monkeypatch, "write_version")
    audit_before = _count(env, select(func.count()).select_from(AuditEvent))
    drain(worker)
    assert [len(b[0]) for b in batches] == [5] and singles == []
    for n, doc in enumerate(docs):
        body = client.get(f"/api/v1/documents/{doc['id']}").json
        assert body["text_status"] == "ok" and body["version"] == 2
        assert env.store.read_bytes(f"urn:uuid:{doc['id']}", f"text/don-{n}.txt.txt") \
            == f"Đơn đề nghị số {n}".encode()
    assert client.get(f"/api/v1/documents/{bare['id']}").json["version"] == 1
    assert _count(env, select(func.count()).select_from(PendingWrite)) == 0
    # one audit event per text version, by the system
    with env.db.read() as session:
        actors = session.scalars(select(AuditEvent.actor).where(
            AuditEvent.action == "document.version")
            .order_by(AuditEvent.seq.desc()).limit(5)).all()
    assert _count(env, select(func.count()).select_from(AuditEvent)) - audit_before >= 5
    assert set(actors) == {"repo-server"}
    hits = client.get("/api/v1/search", query_string={"q": "don de nghi"}).json["items"]
    assert {h["id"] for h in hits} == {d["id"] for d in docs}


def test_batches_are_bounded(client, dossier, worker, monkeypatch):
    monkeypatch.setattr(indexing, "TEXT_BATCH", 2)
    for n in range(5):
        client.make_document(dossier["id"], files={f"a{n}.txt": b"van ban"})
    batches = _spy(monkeypatch, "write_versions")
    drain(worker)
    assert [len(b[0]) for b in batches] == [2, 2, 1]


def test_a_client_change_wins_over_the_text_batch(client, dossier, worker, env, monkeypatch):
    a = client.make_document(dossier["id"], files={"a.txt": b"mot"})
    b = client.make_document(dossier["id"], files={"b.txt": b"hai"})
    real_plan = indexing.plan_document_text
    edited: list[bool] = []

    def plan_then_client_edits(env_, rid):  # noqa: ANN001, ANN202
        text = real_plan(env_, rid)
        if rid == a["id"] and not edited:  # the clerk corrects `a` after its text was read,
            edited.append(True)            # before it is stored
            r = client.patch(f"/api/v1/documents/{a['id']}", json={"subject": "Sửa"},
                             headers={"If-Match": '"v1"'})
            assert r.status_code == 200
        return text

    monkeypatch.setattr(indexing, "plan_document_text", plan_then_client_edits)
    drain(worker)
    monkeypatch.undo()
    versions = client.get(f"/api/v1/documents/{a['id']}/versions").json["items"]
    assert [v["message"].split(":")[0] for v in versions] == [
        "Create document", "Update document metadata", "Extract text"]
    assert client.get(f"/api/v1/documents/{b['id']}").json["version"] == 2
    assert _count(env, select(func.count()).select_from(OutboxEvent)
                  .where(OutboxEvent.error.is_not(None))) == 0


def test_a_failed_batch_is_retried_and_leaves_no_pending_writes(client, dossier, worker, env,
                                                                  monkeypatch):
    drain(worker)  # the worker takes the lease and opens the index
    doc = client.make_document(dossier["id"], files={"a.txt": b"mot"})

    def disk_full(self, writes):  # noqa: ANN001, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ObjectStore, "write_versions", disk_full)
    assert indexing.drain_outbox(env, worker.backend) == 1  # one turn
    with env.db.read() as session:
        event = session.scalars(select(OutboxEvent).where(
            OutboxEvent.object_id == doc["id"])).one()
    assert event.attempts == 1 and "No space left" in event.error and event.processed_at is None
    assert _count(env, select(func.count()).select_from(PendingWrite)) == 0
    assert client.get(f"/api/v1/documents/{doc['id']}").json["version"] == 1
    monkeypatch.undo()
    drain(worker)  # it waits OUTBOX_RETRY_SECONDS before the next try
    assert client.get(f"/api/v1/documents/{doc['id']}").json["version"] == 1
    assert event.next_attempt_at is not None
    later = event.next_attempt_at + timedelta(seconds=1)
    env.clock = lambda: later
    drain(worker)
    assert client.get(f"/api/v1/documents/{doc['id']}").json["text_status"] == "ok"


def test_a_clerks_version_mirrored_first_is_not_undone_by_the_late_text_version(
        client, dossier, worker, env, monkeypatch):
    """The worker stores a text version (v2); before its catalog transaction runs, a clerk's
    PATCH rebases over it (v3) and is mirrored. The text's mirror must not set the head back
    to 2 (found by the kill -9 test: catalog at v2, storage at v3, nothing pending)."""
    doc = client.make_document(dossier["id"], files={"don.txt": "Đơn đề nghị".encode()})
    real = ObjectStore.write_versions

    def then_the_clerk_writes(self, writes):  # noqa: ANN001, ANN202
        results = real(self, writes)
        r = client.patch(f"/api/v1/documents/{doc['id']}", json={"subject": "Đơn (đính chính)"},
                         headers={"If-Match": '"v1"'})
        assert r.status_code == 200 and r.json["version"] == 3, r.json
        return results

    monkeypatch.setattr(ObjectStore, "write_versions", then_the_clerk_writes)
    drain(worker)
    monkeypatch.undo()
    body = client.get(f"/api/v1/documents/{doc['id']}").json
    assert body["version"] == 3 and body["subject"] == "Đơn (đính chính)"
    assert env.store.version(f"urn:uuid:{doc['id']}").number == 3
    drain(worker)
    assert client.get(f"/api/v1/documents/{doc['id']}").json["text_status"] == "ok"
    assert _count(env, select(func.count()).select_from(PendingWrite)) == 0
