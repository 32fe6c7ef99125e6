"""Dossier push from a one-stop-shop desk system: all or nothing, verified, with a receipt."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from repo_server.services import push as push_service
from repo_server.services.rebuild import reconcile_pending
from repo_server.storage import StorageError

FILES = {"don.pdf": b"%PDF-1.4 don de nghi", "giay-to.pdf": b"%PDF-1.4 giay to",
         "ket-qua.pdf": b"%PDF-1.4 ket qua"}


def manifest(ref: str = "HS-000.00.00.H49-250801-0001", digests: dict | None = None) -> dict:
    digests = digests or {n: hashlib.sha256(b).hexdigest() for n, b in FILES.items()}
    return {
        "dossier": {"fonds_code": "000.00.00.H49", "title": "Hồ sơ đăng ký hộ kinh doanh",
                    "retention": "05", "external_ref": ref, "start_date": "2025-08-01"},
        "documents": [
            {"metadata": {"type_code": "32", "subject": "Đơn đề nghị"},
             "files": [{"name": "don.pdf", "sha256": digests["don.pdf"]}]},
            {"metadata": {"type_code": "32", "subject": "Giấy tờ kèm theo"},
             "files": [{"name": "giay-to.pdf", "sha256": digests["giay-to.pdf"]}]},
            {"metadata": {"type_code": "02", "subject": "Giấy chứng nhận đăng ký"},
             "files": [{"name": "ket-qua.pdf"}]},
        ]}


def send(client, body: dict, files: dict | None = None, **headers):  # noqa: ANN001, ANN003
    files = FILES if files is None else files
    data = {"manifest": json.dumps(body, ensure_ascii=False),
            "file": [(io.BytesIO(b), n, "application/pdf") for n, b in files.items()]}
    return client.post("/api/v1/dossiers/push", data=data, content_type="multipart/form-data",
                       headers=headers)


def objects_on_disk(env) -> int:  # noqa: ANN001
    return sum(1 for _ in env.store.iter_object_ids())


def test_push_creates_everything_and_returns_a_receipt(client, fonds):
    r = send(client, manifest())
    assert r.status_code == 201, r.json
    receipt = r.json
    assert receipt["file_code"] == "000.00.00.H49.2025.01"
    assert [d["doc_code"][-7:] for d in receipt["documents"]] == ["0000001", "0000002",
                                                                   "0000003"]
    files = {f["name"]: f for d in receipt["documents"] for f in d["files"]}
    assert files["don.pdf"] == {"name": "don.pdf", "size": len(FILES["don.pdf"]),
                                "sha256": hashlib.sha256(FILES["don.pdf"]).hexdigest()}
    body = {k: v for k, v in receipt.items() if k != "receipt_sha256"}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == receipt["receipt_sha256"]
    dossier = client.get(f"/api/v1/dossiers/{receipt['dossier_id']}").json
    assert dossier["doc_total"] == 3 and dossier["external_ref"] == manifest()["dossier"][
        "external_ref"]
    docs = client.get(f"/api/v1/dossiers/{receipt['dossier_id']}/documents").json["items"]
    assert [d["subject"] for d in docs] == ["Đơn đề nghị", "Giấy tờ kèm theo",
                                            "Giấy chứng nhận đăng ký"]
    got = client.get(f"/api/v1/documents/{docs[2]['id']}/files/ket-qua.pdf").data
    assert got == FILES["ket-qua.pdf"]
    audit = client.get("/api/v1/audit", query_string={"action": "dossier.push"}).json["items"]
    assert audit[0]["details"]["receipt_sha256"] == receipt["receipt_sha256"]


def test_a_second_push_of_the_case_points_to_the_first(client, fonds):
    first = send(client, manifest()).json
    r = send(client, manifest())
    assert r.status_code == 409 and r.json["existing_id"] == first["dossier_id"]


def test_retry_with_the_same_key_gets_the_same_receipt(client, fonds):
    a = send(client, manifest(), **{"Idempotency-Key": "push-1"})
    b = send(client, manifest(), **{"Idempotency-Key": "push-1"})
    assert a.status_code == b.status_code == 201 and a.json == b.json
    assert client.get("/api/v1/dossiers").json["total"] == 1


@pytest.mark.parametrize("problem", ["digest", "missing", "extra", "metadata"])
def test_bad_pushes_store_nothing(client, fonds, env, problem):
    body, files = manifest(), dict(FILES)
    if problem == "digest":
        body["documents"][0]["files"][0]["sha256"] = "0" * 64
    elif problem == "missing":
        files.pop("giay-to.pdf")
    elif problem == "extra":
        files["spare.pdf"] = b"%PDF spare"
    else:
        body["documents"][1]["metadata"]["type_code"] = "99"
    r = send(client, body, files)
    assert r.status_code == 422, r.json
    assert client.get("/api/v1/dossiers").json["total"] == 0
    assert objects_on_disk(env) == 1  # the fonds only
    staged = [p for p in env.store.tmp_dir.rglob("*") if p.is_file() and "locks" not in p.parts]
    assert staged == []


def test_a_storage_failure_midway_leaves_nothing(client, fonds, env, monkeypatch):
    real = env.store.write_version
    calls = []

    def failing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 3:
            raise StorageError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(env.store, "write_version", failing)
    r = send(client, manifest())
    assert r.status_code == 503
    monkeypatch.setattr(env.store, "write_version", real)
    assert client.get("/api/v1/dossiers").json["total"] == 0
    assert objects_on_disk(env) == 1
    assert send(client, manifest()).status_code == 201  # the case can be sent again


def test_a_crash_midway_is_undone_at_start_up(client, fonds, env, monkeypatch):
    real = env.store.write_version
    calls = []

    def crashing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the process dies: no clean-up runs
        return real(*args, **kwargs)

    monkeypatch.setattr(env.store, "write_version", crashing)
    monkeypatch.setattr(push_service, "undo_push", lambda *a, **k: None)
    with pytest.raises(KeyboardInterrupt):
        send(client, manifest())
    monkeypatch.setattr(env.store, "write_version", real)
    assert objects_on_disk(env) == 3  # fonds, dossier, one document: a half-received case
    assert client.get("/api/v1/dossiers").json["total"] == 0  # ... that nobody sees
    reconcile_pending(env)
    assert objects_on_disk(env) == 1
    assert client.get("/api/v1/dossiers").json["total"] == 0
    assert send(client, manifest()).status_code == 201


def test_an_explicit_new_version_adds_documents_to_the_open_case(client, fonds):
    first = send(client, manifest()).json
    more = manifest()
    more["add_to_existing"] = True
    more["documents"] = [{"metadata": {"type_code": "07", "subject": "Thông báo bổ sung"},
                          "files": [{"name": "bo-sung.pdf"}]}]
    r = send(client, more, {"bo-sung.pdf": b"%PDF-1.4 bo sung"})
    assert r.status_code == 201, r.json
    assert r.json["dossier_id"] == first["dossier_id"]
    assert r.json["documents"][0]["doc_code"].endswith(".0000004")
    dossier = client.get(f"/api/v1/dossiers/{first['dossier_id']}").json
    assert dossier["doc_total"] == 4
    client.post(f"/api/v1/dossiers/{first['dossier_id']}/close", json={})
    again = send(client, more, {"bo-sung.pdf": b"%PDF-1.4 bo sung"})
    assert again.status_code == 409 and again.json["existing_id"] == first["dossier_id"]
