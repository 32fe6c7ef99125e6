"""An upload refused for its checksum header leaves nothing in the storage's staging folder
(issue 12 §2: 3 × 5 MiB were left behind)."""

from __future__ import annotations

import hashlib

import pytest

BODY = b"%PDF-1.4 " + b"x" * 200_000


def _staged(env) -> list[str]:
    return sorted(p.name for p in env.store.tmp_dir.iterdir() if p.name != "locks")


@pytest.mark.parametrize("headers", [
    {"X-Checksum-SHA256": "not-hex"},
    {"Content-Digest": "sha-256=:%%%not base64%%%:"},
    {"X-Checksum-SHA256": hashlib.sha256(b"other bytes").hexdigest()},  # well formed, wrong
])
def test_a_bad_checksum_header_leaves_nothing_staged(client, dossier, env, headers):
    doc = client.make_document(dossier["id"])
    before = _staged(env)
    r = client.post(f"/api/v1/documents/{doc['id']}/files", query_string={"name": "a.pdf"},
                    data=BODY, content_type="application/pdf", headers=headers)
    assert r.status_code == 422 and r.is_json, r.json
    assert _staged(env) == before


def test_a_bad_part_checksum_leaves_no_part_staged(client, dossier, env):
    doc = client.make_document(dossier["id"])
    before = _staged(env)
    body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
            b"Content-Type: application/pdf\r\n\r\n" + BODY + b"\r\n"
            b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.pdf\"\r\n"
            b"Content-Type: application/pdf\r\nX-Checksum-SHA256: zz\r\n\r\n" + BODY
            + b"\r\n--B--\r\n")
    r = client.post(f"/api/v1/documents/{doc['id']}/files", data=body,
                    content_type="multipart/form-data; boundary=B")
    assert r.status_code == 422, r.json
    assert _staged(env) == before
