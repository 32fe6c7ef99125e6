"""Documents and their files through the HTTP API: upload, replace, remove, download, versions."""

from __future__ import annotations

import base64
import hashlib
import io
import json

PDF_1 = b"%PDF-1.4 first version " + b"x" * 3000
PDF_2 = b"%PDF-1.4 signed version " + b"y" * 3000


def _url(doc: dict, suffix: str = "") -> str:
    return f"/api/v1/documents/{doc['id']}{suffix}"


def test_document_with_files_in_one_request_is_one_version(client, dossier):
    doc = client.make_document(dossier["id"], files={"Quyết định 15.pdf": PDF_1},
                               code_number="15", code_notation="QĐ-UBND")
    assert doc["version"] == 1
    assert doc["doc_code"] == f"{dossier['file_code']}.0000001"
    assert doc["retention"] == "05" and doc["access_mode"] == "01"  # from the dossier
    assert doc["files"] == [{"name": "Quyết định 15.pdf", "media_type": "application/pdf",
                             "size": len(PDF_1), "sha256": hashlib.sha256(PDF_1).hexdigest(),
                             "version": 1}]
    assert client.get(f"/api/v1/dossiers/{dossier['id']}").json["doc_total"] == 1
    second = client.make_document(dossier["id"])
    assert second["doc_code"].endswith(".0000002") and second["files"] == []


def test_document_metadata_is_validated(client, dossier):
    url = f"/api/v1/dossiers/{dossier['id']}/documents"
    r = client.post(url, json={"type_code": "99", "subject": "x", "direction": "sideways",
                               "secrecy": "rất mật"})
    assert r.status_code == 422
    assert set(r.json["errors"]["json"]) == {"type_code", "direction", "secrecy"}
    r = client.post(url, json={"type_code": "02", "subject": "x", "direction": "outgoing",
                               "arrival_number": 12})
    assert r.status_code == 422 and "arrival_number" in r.json["errors"]["json"]
    r = client.post(url, json={"subject": "x"})
    assert r.status_code == 422 and "type_code" in r.json["errors"]["json"]
    r = client.post(url, data={"metadata": "{not json", "file": (io.BytesIO(b"a"), "a.pdf")},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "metadata" in r.json["errors"]["json"]
    r = client.post(url, data="plain text", content_type="text/plain")
    assert r.status_code == 422


def test_incoming_document_keeps_its_arrival_data(client, dossier):
    doc = client.make_document(dossier["id"], direction="incoming", arrival_number=125,
                               arrival_date="2025-07-21", issued_date="2025-07-20",
                               signer={"position": "Chủ tịch", "full_name": "Lê Văn Cường"},
                               urgency="khan")
    assert doc["arrival_number"] == 125 and doc["signer"]["full_name"] == "Lê Văn Cường"


def test_duplicate_number_symbol_issuer_is_warned(client, dossier):
    fields = {"code_number": "15", "code_notation": "QĐ-UBND", "organ_name": "UBND phường"}
    first = client.make_document(dossier["id"], **fields)
    assert "warnings" not in first
    second = client.make_document(dossier["id"], **fields)
    assert first["doc_code"] in second["warnings"][0]
    other_issuer = client.make_document(dossier["id"], **{**fields, "organ_name": "Sở Xây dựng"})
    assert "warnings" not in other_issuer
    no_issuer = {"code_number": "16", "code_notation": "QĐ-UBND"}
    assert "warnings" not in client.make_document(dossier["id"], **no_issuer)
    again = client.make_document(dossier["id"], **no_issuer)  # no issuer matches no issuer
    assert len(again["warnings"]) == 1


def test_raw_upload_replace_remove_and_old_versions_download(client, dossier):
    doc = client.make_document(dossier["id"])
    r = client.post(_url(doc, "/files"), query_string={"name": "qd.pdf"}, data=PDF_1,
                    content_type="application/pdf")
    assert r.status_code == 201 and r.json["version"] == 2
    r = client.put(_url(doc, "/files/qd.pdf"), data=PDF_2, content_type="application/pdf")
    assert r.status_code == 428
    r = client.put(_url(doc, "/files/qd.pdf"), data=PDF_2, content_type="application/pdf",
                   headers={"If-Match": '"v2"'})
    assert r.status_code == 200 and r.json["version"] == 3
    assert client.get(_url(doc, "/files/qd.pdf")).data == PDF_2
    old = client.get(_url(doc, "/files/qd.pdf"), query_string={"version": 2})
    assert old.status_code == 200 and old.data == PDF_1
    assert old.headers["ETag"] == f'"{hashlib.sha256(PDF_1).hexdigest()}"'
    assert "attachment" in old.headers["Content-Disposition"]
    r = client.delete(_url(doc, "/files/qd.pdf"), headers={"If-Match": '"v3"'})
    assert r.status_code == 200 and r.json["files"] == [] and r.json["version"] == 4
    assert client.get(_url(doc, "/files/qd.pdf")).status_code == 404
    assert client.get(_url(doc, "/files/qd.pdf"), query_string={"version": 3}).data == PDF_2
    v2 = client.get(_url(doc, "/versions/2")).json
    assert [f["name"] for f in v2["files"]] == ["qd.pdf"]
    assert [v["version"] for v in client.get(_url(doc, "/versions")).json["items"]] == [1, 2, 3, 4]


def test_adding_an_existing_name_is_a_conflict(client, dossier):
    doc = client.make_document(dossier["id"], files={"a.pdf": PDF_1})
    r = client.post(_url(doc, "/files"), query_string={"name": "a.pdf"}, data=PDF_2,
                    content_type="application/pdf")
    assert r.status_code == 409 and "PUT" in r.json["message"]


def test_client_digest_is_checked(client, dossier):
    doc = client.make_document(dossier["id"])
    good = base64.b64encode(hashlib.sha256(PDF_1).digest()).decode()
    r = client.post(_url(doc, "/files"), query_string={"name": "ok.pdf"}, data=PDF_1,
                    content_type="application/pdf", headers={"Content-Digest": f"sha-256=:{good}:"})
    assert r.status_code == 201
    r = client.post(_url(doc, "/files"), query_string={"name": "bad.pdf"}, data=PDF_1,
                    content_type="application/pdf",
                    headers={"X-Checksum-SHA256": hashlib.sha256(b"other").hexdigest()})
    assert r.status_code == 422 and "does not match" in r.json["errors"]["json"]["file"][0]
    names = [f["name"] for f in client.get(_url(doc, "/files")).json["items"]]
    assert names == ["ok.pdf"]


def test_upload_over_the_limit_is_413_and_stores_nothing(client, dossier, env):
    doc = client.make_document(dossier["id"])
    big = b"0" * (3 * 1024 * 1024)
    r = client.post(_url(doc, "/files"), query_string={"name": "big.pdf"}, data=big,
                    content_type="application/pdf")
    assert r.status_code == 413 and r.is_json
    assert client.get(_url(doc)).json["version"] == 1
    staged = [p for p in (env.store.tmp_dir).rglob("*") if p.is_file() and "locks" not in p.parts]
    assert staged == []


def test_bad_file_names_are_refused(client, dossier):
    doc = client.make_document(dossier["id"])
    for name in ["../etc/passwd", "a/b.pdf", "bad\x01name.pdf", ".hidden", "x" * 300]:
        r = client.post(_url(doc, "/files"), query_string={"name": name}, data=b"abc",
                        content_type="application/pdf")
        assert r.status_code == 422, name
    r = client.post(_url(doc, "/files"), data=b"abc", content_type="application/pdf")
    assert r.status_code == 422 and "name" in r.json["errors"]["json"]["file"][0]


def test_range_and_conditional_get(client, dossier):
    doc = client.make_document(dossier["id"], files={"a.pdf": PDF_1})
    r = client.get(_url(doc, "/files/a.pdf"), headers={"Range": "bytes=0-7"})
    assert r.status_code == 206 and r.data == PDF_1[:8]
    etag = r.headers["ETag"]
    r = client.get(_url(doc, "/files/a.pdf"), headers={"If-None-Match": etag})
    assert r.status_code == 304


def test_document_metadata_update_and_as_of_listing(client, dossier):
    doc = client.make_document(dossier["id"], files={"a.pdf": PDF_1})
    first_state = client.get(_url(doc, "/versions")).json["items"][0]["created"]
    r = client.patch(_url(doc), json={"subject": "Đính chính"}, headers={"If-Match": '"v1"'})
    assert r.status_code == 200 and r.json["subject"] == "Đính chính"
    assert r.json["files"][0]["name"] == "a.pdf"  # files carried over unchanged
    client.make_document(dossier["id"])
    url = f"/api/v1/dossiers/{dossier['id']}/documents"
    now = client.get(url).json
    assert now["total"] == 2 and now["items"][0]["subject"] == "Đính chính"
    then = client.get(url, query_string={"as_of": first_state}).json
    assert then["total"] == 1 and then["items"][0]["subject"].startswith("Quyết định")


def test_no_way_to_delete_a_document_or_dossier(client, dossier):
    doc = client.make_document(dossier["id"])
    assert client.delete(_url(doc)).status_code == 405
    assert client.delete(f"/api/v1/dossiers/{dossier['id']}").status_code == 405
    assert client.get(_url(doc)).status_code == 200


def test_multipart_part_digest_is_checked(client, dossier):
    meta = json.dumps({"type_code": "02", "subject": "x"})
    body = (b"--B\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n" + meta.encode()
            + b"\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
            + b"Content-Type: application/pdf\r\nX-Checksum-SHA256: " + b"0" * 64
            + b"\r\n\r\n" + PDF_1 + b"\r\n--B--\r\n")
    r = client.post(f"/api/v1/dossiers/{dossier['id']}/documents", data=body,
                    content_type="multipart/form-data; boundary=B")
    assert r.status_code == 422
    assert client.get(f"/api/v1/dossiers/{dossier['id']}/documents").json["total"] == 0


def test_the_answer_to_a_change_is_what_a_read_returns(client, dossier):
    """Changes answer with the document as written, without reading it back: the answer
    must be exactly what a GET returns afterwards, for each kind of change."""
    doc = client.make_document(dossier["id"], files={"a.pdf": PDF_1})
    url = _url(doc)
    changes = [  # (the request, its status: 201 where a file is added, else 200)
        (lambda: client.patch(url, json={"subject": "Đính chính"},
                              headers={"If-Match": '"v1"'}), 200),
        (lambda: client.post(_url(doc, "/files"), query_string={"name": "b.pdf"}, data=PDF_2,
                             content_type="application/pdf", headers={"If-Match": '"v2"'}), 201),
        (lambda: client.put(_url(doc, "/files/a.pdf"), data=PDF_2,
                            content_type="application/pdf", headers={"If-Match": '"v3"'}), 200),
        (lambda: client.delete(_url(doc, "/files/b.pdf"), headers={"If-Match": '"v4"'}), 200),
        (lambda: client.patch(url, json={"page_count": 3}, headers={"If-Match": '"v5"'}), 200),
    ]
    for n, (change, status) in enumerate(changes, start=2):
        r = change()
        assert r.status_code == status, r.json
        got = client.get(url)
        assert r.json == got.json and r.json["version"] == n
        assert r.headers["ETag"] == got.headers["ETag"]
    assert [f["name"] for f in got.json["files"]] == ["a.pdf"]
    # the same bytes as b.pdf of v3: stored once, in v3
    assert got.json["files"][0]["version"] == 3 and got.json["page_count"] == 3


def test_a_new_file_keeps_the_text_pending_until_the_worker_has_read_it(client, dossier, worker):
    """`text_status` is `pending` until the worker has read a new file's text; reading it adds
    no version (decision 0021): the ETag a client got stays valid (README example 5)."""
    from tests.conftest import drain

    doc = client.make_document(dossier["id"], files={"qd.txt": "Quyết định số 15".encode()})
    drain(worker)
    current = client.get(f"/api/v1/documents/{doc['id']}").json
    assert (current["text_status"], current["version"]) == ("ok", 1)
    r = client.put(f"/api/v1/documents/{doc['id']}/files/qd.txt", data="Quyết định đã ký".encode(),
                   headers={"If-Match": '"v1"', "Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json["text_status"] == "pending"
    assert client.get(f"/api/v1/documents/{doc['id']}").json["text_status"] == "pending"
    drain(worker)
    after = client.get(f"/api/v1/documents/{doc['id']}").json
    assert (after["text_status"], after["version"]) == ("ok", 2)
    r = client.patch(f"/api/v1/documents/{doc['id']}", json={"subject": "đính chính"},
                     headers={"If-Match": f'"v{after["version"]}"'})
    assert r.status_code == 200
    # a metadata change alone reads no text: the status stays as it was
    assert r.json["text_status"] == "ok"
