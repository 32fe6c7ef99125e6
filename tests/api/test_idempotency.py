"""Idempotency-Key on POSTs: retries return the first answer and create nothing."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta


def test_retry_returns_the_first_answer_and_creates_nothing(client, fonds):
    body = {"fonds_code": "000.00.00.H49", "title": "Hồ sơ một cửa", "retention": "05"}
    first = client.post("/api/v1/dossiers", json=body, headers={"Idempotency-Key": "k-1"})
    again = client.post("/api/v1/dossiers", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert client.get("/api/v1/dossiers").json["total"] == 1
    other = client.post("/api/v1/dossiers", json={**body, "title": "Khác"},
                        headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and "different request" in other.json["message"]
    assert client.get("/api/v1/dossiers").json["total"] == 1


def test_multipart_retry_with_a_new_boundary_is_the_same_request(client, dossier):
    meta = json.dumps({"type_code": "02", "subject": "Quyết định"})
    url = f"/api/v1/dossiers/{dossier['id']}/documents"
    answers = []
    for boundary in ("aaa111", "bbb222"):
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
                f"{meta}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 x\r\n"
                f"--{boundary}--\r\n").encode()
        answers.append(client.post(url, data=body, headers={"Idempotency-Key": "doc-1"},
                                   content_type=f"multipart/form-data; boundary={boundary}"))
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json["id"] == answers[1].json["id"]
    assert client.get(url).json["total"] == 1


def test_raw_upload_with_a_key(client, dossier):
    doc = client.make_document(dossier["id"])
    url = f"/api/v1/documents/{doc['id']}/files"
    for _ in range(2):
        r = client.post(url, query_string={"name": "a.pdf"}, data=b"%PDF-1.4 raw",
                        content_type="application/pdf", headers={"Idempotency-Key": "up-1"})
        assert r.status_code == 201
    files = client.get(url).json["items"]
    assert [f["name"] for f in files] == ["a.pdf"] and files[0]["size"] == 12
    assert client.get(f"/api/v1/documents/{doc['id']}").json["version"] == 2


def test_concurrent_retries_create_one_record(client, fonds):
    body = {"fonds_code": "000.00.00.H49", "title": "Hồ sơ song song", "retention": "05",
            "external_ref": "CASE-77"}
    results = []

    def send() -> None:
        results.append(client.post("/api/v1/dossiers", json=body,
                                   headers={"Idempotency-Key": "same"}).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.get("/api/v1/dossiers").json["total"] == 1
    assert results.count(201) >= 1 and set(results) <= {201, 409}
    final = client.post("/api/v1/dossiers", json=body, headers={"Idempotency-Key": "same"})
    assert final.status_code == 201 and final.headers["Idempotent-Replayed"] == "true"


def test_keys_expire(client, fonds, env):
    body = {"fonds_code": "000.00.00.H49", "title": "Hồ sơ", "retention": "05"}
    client.post("/api/v1/dossiers", json=body, headers={"Idempotency-Key": "old"})
    real = env.clock
    env.clock = lambda: real() + timedelta(hours=25)
    try:
        r = client.post("/api/v1/dossiers", json=body, headers={"Idempotency-Key": "old"})
    finally:
        env.clock = real
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert client.get("/api/v1/dossiers").json["total"] == 2
    _ = io
