"""A stored file whose bytes changed on disk is never served as a complete copy: the download
checks the recorded digest as it streams, cuts the transfer before the last byte, marks the
object damaged (fixity alert) and /health turns degraded naming it."""

from __future__ import annotations

import hashlib

import pytest

from repo_server.services import fixity
from repo_server.services.documents import DamagedFile
from repo_server.services.records import object_id

BIG = bytes(range(256)) * 7_000  # 1.7 MiB: two chunks of 1 MiB


def _content_path(env, rid: str, name: str):
    oid = object_id(rid)
    for paths in env.store.inventory(oid)["manifest"].values():
        for path in paths:
            if path.endswith("/" + name):
                return env.store.object_path(oid) / path
    raise AssertionError(name)


def _flip(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("offset", [10, len(BIG) - 1])
def test_flipped_byte_breaks_the_download_and_marks_the_object(client, dossier, env, offset):
    doc = client.make_document(dossier["id"], files={"big.pdf": BIG})
    url = f"/api/v1/documents/{doc['id']}/files/big.pdf"
    r = client.get(url)
    assert r.status_code == 200 and r.data == BIG
    assert r.headers["ETag"].strip('"') == hashlib.sha256(BIG).hexdigest()
    assert client.raw.get("/api/v1/health").json["status"] == "ok"

    _flip(_content_path(env, doc["id"], "big.pdf"), offset)
    r = client.get(url)
    assert r.status_code == 200  # the headers went out before the last byte was read
    received = b""
    with pytest.raises(DamagedFile):
        for chunk in r.response:
            received += chunk
    r.close()
    assert len(received) < len(BIG)  # the client sees a broken transfer, never a whole copy

    health = client.raw.get("/api/v1/health").json
    assert health["status"] == "degraded"
    assert "1 stored object(s) damaged" in health["checks"]["fixity"]
    assert object_id(doc["id"]) in health["checks"]["fixity"]
    state = client.get(f"/api/v1/fixity/objects/{doc['id']}").json
    assert state["status"] == "failed" and "download" in state["problems"][0]
    alerts = client.get("/api/v1/fixity/alerts", query_string={"open": "true"}).json["items"]
    assert [a["subject"] for a in alerts] == [object_id(doc["id"])]

    # A second broken download raises no second alert; a repair clears it.
    with pytest.raises(DamagedFile):
        b"".join(client.get(url).response)
    assert client.get("/api/v1/fixity/alerts").json["total"] == 1
    _flip(_content_path(env, doc["id"], "big.pdf"), offset)
    fixity.run_fixity(env, "manual", object_ids=[object_id(doc["id"])])
    assert client.raw.get("/api/v1/health").json["status"] == "ok"
    assert client.get(url).data == BIG


def test_ranges_and_conditional_answers_still_work(client, dossier):
    doc = client.make_document(dossier["id"], files={"big.pdf": BIG})
    url = f"/api/v1/documents/{doc['id']}/files/big.pdf"
    r = client.get(url, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.data == BIG[100:200]
    etag = client.get(url).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert int(client.get(url).headers["Content-Length"]) == len(BIG)
    small = client.make_document(dossier["id"], files={"one.txt": b"x"})
    assert client.get(f"/api/v1/documents/{small['id']}/files/one.txt").data == b"x"
