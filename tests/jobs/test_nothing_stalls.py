"""Nothing stalls silently (issue 12 §2): a failing index item is isolated, retried with
backoff, parked with its reason, shown by /health and listed and retried through the API;
file names fit what storage holds; /health checks what writes need."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta

from sqlalchemy import select, text, update

from repo_server.catalog import AuditHead, OutboxEvent
from repo_server.services.keys import create_key
from tests.conftest import Client, drain

TXT = "text/plain"


def _upload(client: Client, dossier_id: str, name: str, body: bytes = b"noi dung"):  # noqa: ANN202
    meta = {"type_code": "02", "subject": "Công văn"}
    return client.post(f"/api/v1/dossiers/{dossier_id}/documents",
                       data={"metadata": json.dumps(meta, ensure_ascii=False),
                             "file": [(io.BytesIO(body), name, TXT)]},
                       content_type="multipart/form-data")


def test_a_file_name_storage_cannot_hold_beside_its_text_is_refused_at_upload(client, dossier):
    r = _upload(client, dossier["id"], "a" * 251 + ".txt")
    assert r.status_code == 422, r.json
    message = json.dumps(r.json, ensure_ascii=False)
    assert "251 bytes" in message and "255 bytes" in message
    # one Vietnamese letter is 2-3 bytes: the limit counts bytes
    assert _upload(client, dossier["id"], "ệ" * 84 + ".txt").status_code == 422
    assert _upload(client, dossier["id"], "a" * 247 + ".txt").status_code == 201  # 251 bytes


BAD_BYTES = "tờ trình không lưu được".encode()


def _bad_document(client: Client, env, dossier_id: str) -> str:  # noqa: ANN001
    """A document whose file's text cannot be kept: a folder stands where its derived-text
    cache entry must go (as a broken disk or a careless hand may leave)."""
    env.texts.path(hashlib.sha256(BAD_BYTES).hexdigest()).mkdir(parents=True)
    return client.make_document(dossier_id, files={"bad.txt": BAD_BYTES})["id"]


def _event(env, rid: str) -> OutboxEvent:  # noqa: ANN001
    with env.db.read() as session:
        return session.scalars(select(OutboxEvent).where(OutboxEvent.object_id == rid)
                               .order_by(OutboxEvent.id.desc()).limit(1)).one()


def _later(env, seconds: float) -> None:  # noqa: ANN001
    now = env.now() + timedelta(seconds=seconds)
    env.clock = lambda: now


def test_a_failing_item_is_isolated_retried_with_backoff_then_parked(client, dossier, worker,
                                                                     env):
    drain(worker)
    env.config.update(OUTBOX_RETRY_SECONDS=10, OUTBOX_MAX_ATTEMPTS=3)
    bad = _bad_document(client, env, dossier["id"])
    with env.db.write() as session:  # queue it again, amid good ones in the same batch
        session.execute(update(OutboxEvent).values(processed_at=None))
    good = [client.make_document(dossier["id"], files={f"g{n}.txt": f"tờ trình số {n}".encode()})
            for n in range(3)]
    drain(worker)
    for doc in good:  # the rest of the batch went through
        body = client.get(f"/api/v1/documents/{doc['id']}").json
        assert body["text_status"] == "ok", body
    hits = {h["id"] for h in client.get("/api/v1/search", query_string={"q": "to trinh"})
            .json["items"]}
    assert {d["id"] for d in good} <= hits
    event = _event(env, bad)
    assert event.attempts == 1 and "IsADirectoryError" in event.error
    assert event.parked_at is None and event.next_attempt_at is not None
    # the bad one is still found by its metadata meanwhile
    assert bad in {h["id"] for h in client.get("/api/v1/search", query_string={
        "q": "Quyết định về việc cấp giấy phép"}).json["items"]}
    drain(worker)  # not yet due: no try
    assert _event(env, bad).attempts == 1
    _later(env, 10.5)  # first retry after 10 s
    drain(worker)
    assert _event(env, bad).attempts == 2
    _later(env, 15)  # the next waits 20 s
    drain(worker)
    assert _event(env, bad).attempts == 2
    _later(env, 6)
    drain(worker)
    event = _event(env, bad)
    assert event.attempts == 3 and event.parked_at is not None and event.processed_at is None
    health = client.get("/api/v1/health").json
    assert health["status"] == "degraded"
    assert health["checks"]["outbox"].startswith("failed: 1 index item(s) parked")
    ready = client.get("/api/v1/health/ready").json
    assert ready["outbox"]["depth"] == 0  # parked items do not count as waiting
    _later(env, 3600)
    drain(worker)
    assert _event(env, bad).attempts == 3  # parked: no more tries by itself


def test_parked_items_are_listed_and_retried_in_scope(client, app, dossier, worker, env):
    drain(worker)
    env.config.update(OUTBOX_MAX_ATTEMPTS=1)
    bad = _bad_document(client, env, dossier["id"])
    with env.db.write() as session:
        session.execute(update(OutboxEvent).values(processed_at=None))
    drain(worker)
    listed = client.get("/api/v1/outbox/parked").json
    assert listed["total"] == 1
    item = listed["items"][0]
    assert item["object_id"] == bad and item["kind"] == "document"
    assert item["fonds_code"] == dossier["fonds_code"] and "IsADirectoryError" in item["error"]

    client.make_fonds("000.00.00.H50", "UBND xã B")
    _, other = create_key(env, "archivist-b", ["archivist"], fonds_scope=["000.00.00.H50"])
    _, own = create_key(env, "archivist-a", ["archivist"], fonds_scope=[dossier["fonds_code"]])
    _, clerk = create_key(env, "clerk", ["clerk"])
    archivist_b, archivist_a = Client(app, other), Client(app, own)
    assert archivist_b.get("/api/v1/outbox/parked").json["total"] == 0
    assert archivist_b.post(f"/api/v1/outbox/parked/{item['id']}/retry").status_code == 404
    assert archivist_b.post("/api/v1/outbox/parked/retry").json["retried"] == 0
    assert Client(app, clerk).get("/api/v1/outbox/parked").status_code == 403
    assert archivist_a.get("/api/v1/outbox/parked").json["total"] == 1

    # the cause is fixed (the folder is removed), then the item is retried
    env.texts.path(hashlib.sha256(BAD_BYTES).hexdigest()).rmdir()
    r = archivist_a.post(f"/api/v1/outbox/parked/{item['id']}/retry")
    assert r.status_code == 200 and r.json == {"retried": 1, "ids": [item["id"]]}
    assert client.get("/api/v1/outbox/parked").json["total"] == 0
    drain(worker)
    assert _event(env, bad).processed_at is not None
    assert client.get("/api/v1/health").json["checks"]["outbox"] == "ok"
    spec = client.get("/api/v1/openapi.json").json["paths"]
    assert "example" in json.dumps(spec["/api/v1/outbox/parked"]["get"]["responses"]["200"])
    assert "post" in spec["/api/v1/outbox/parked/{item_id}/retry"]


def test_health_says_when_the_audit_head_is_out_of_step(client, env, fonds):
    assert client.get("/api/v1/health").json["checks"]["audit"] == "ok"
    with env.db.write() as session:
        head = session.get(AuditHead, 1)
        session.execute(update(AuditHead).values(seq=head.seq - 1))
    r = client.post("/api/v1/dossiers", json={"fonds_code": fonds["code"], "title": "Hồ sơ",
                                              "retention": "05", "start_date": "2025-07-15"})
    assert r.status_code >= 500  # what the head breaks: every write
    body = client.get("/api/v1/health").json
    assert body["status"] == "degraded"
    assert body["checks"]["audit"].startswith("failed: the audit trail's head")
    assert "behind" in body["checks"]["audit"]
    with env.db.write() as session:  # rows cut off, head left: also said
        session.execute(text("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM "
                             "audit_events)"))
        session.execute(update(AuditHead).values(seq=10_000))
    assert "ahead" in client.get("/api/v1/health").json["checks"]["audit"]



def test_an_upload_refused_for_a_bad_checksum_header_leaves_no_staged_file(client, dossier,
                                                                            env):
    def staged() -> list:  # noqa: ANN202
        return [p for p in env.store.tmp_dir.rglob("*") if p.is_file()
                and "locks" not in p.parts]

    before = staged()
    doc = client.make_document(dossier["id"])
    body = b"x" * (1 << 20)
    r = client.put(f"/api/v1/documents/{doc['id']}/files/a.bin", data=body,
                   headers={"If-Match": '"v1"', "X-Checksum-SHA256": "not-hex",
                            "Content-Type": "application/octet-stream"})
    assert r.status_code == 422, r.json
    r = client.put(f"/api/v1/documents/{doc['id']}/files/a.bin", data=body,
                   headers={"If-Match": '"v1"', "Content-Digest": "sha-256=:!!:",
                            "Content-Type": "application/octet-stream"})
    assert r.status_code == 422, r.json
    assert staged() == before

