"""PDF signatures are validated at ingest (pyHanko, offline, agency trust roots), reported in
the document's metadata, kept with their evidence, and can be re-checked later."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest

from .signing import SigningCA, corrupt_signed_bytes, plain_pdf, sign_pdf, tamper_after_signing


@pytest.fixture(scope="module")
def ca() -> SigningCA:
    return SigningCA.create("Root CA của tỉnh (thử)")


@pytest.fixture(scope="module")
def stranger() -> SigningCA:
    return SigningCA.create("Unknown Root CA")


@pytest.fixture(scope="module")
def signed(ca: SigningCA) -> bytes:
    return sign_pdf(plain_pdf(), ca, "Nguyễn Văn An")


@pytest.fixture
def trusted(config: dict, ca: SigningCA) -> Path:
    """The agency's trust roots folder holds the test CA (as PEM)."""
    folder = Path(config["INSTANCE_PATH"]) / "trust-roots"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "root-ca.pem").write_bytes(ca.root_pem())
    return folder


def _create(client, dossier: dict, name: str, data: bytes) -> dict:  # noqa: ANN001
    return client.make_document(dossier["id"], files={name: data})


def test_a_signed_pdf_from_a_trusted_ca_is_valid(client, dossier, trusted, signed) -> None:  # noqa: ANN001
    doc = _create(client, dossier, "quyet-dinh.pdf", signed)
    [sig] = doc["signatures"]
    assert sig["verdict"] == "valid", sig
    assert sig["file"] == "quyet-dinh.pdf"
    assert sig["signer"] == "Nguyễn Văn An"
    assert sig["signing_time"]
    assert sig["intact"] is True and sig["changed_after_signing"] is False
    assert sig["trusted"] is True and sig["chain"][0].startswith("Common Name: Root CA")
    assert sig["revocation"] == "not_checked"  # no CRL or OCSP in the file, no network
    shown = client.get(f"/api/v1/documents/{doc['id']}").json
    assert shown["signatures"] == doc["signatures"]


def test_a_pdf_changed_after_signing_is_reported_not_refused(client, dossier, trusted,  # noqa: ANN001
                                                             signed) -> None:
    doc = _create(client, dossier, "sua-sau-ky.pdf", tamper_after_signing(signed))
    [sig] = doc["signatures"]
    assert sig["verdict"] == "invalid"
    assert sig["changed_after_signing"] is True
    assert sig["modification_level"] == "other"
    assert "changed after it was signed" in sig["reason"]


def test_signed_bytes_altered_break_the_signature(client, dossier, trusted, signed) -> None:  # noqa: ANN001
    doc = _create(client, dossier, "hong.pdf", corrupt_signed_bytes(signed))
    [sig] = doc["signatures"]
    assert sig["verdict"] == "invalid" and sig["intact"] is False


def test_an_untrusted_root_is_indeterminate_until_the_agency_adds_it(  # noqa: ANN001
        client, dossier, trusted, stranger) -> None:
    data = sign_pdf(plain_pdf(), stranger, "Trần Thị Bình")
    doc = _create(client, dossier, "ngoai.pdf", data)
    [sig] = doc["signatures"]
    assert sig["verdict"] == "indeterminate" and sig["trusted"] is False
    assert "trust root" in sig["reason"]

    same = client.post(f"/api/v1/documents/{doc['id']}/signatures/check")
    assert same.status_code == 200, same.json
    assert same.json["changed"] is False and same.json["version"] == 1

    (trusted / "stranger.der").write_bytes(stranger.root_der())
    again = client.post(f"/api/v1/documents/{doc['id']}/signatures/check")
    assert again.status_code == 200, again.json
    assert again.json["changed"] is True and again.json["version"] == 2
    assert again.json["signatures"][0]["verdict"] == "valid"
    now = client.get(f"/api/v1/documents/{doc['id']}").json
    assert now["version"] == 2 and now["signatures"][0]["trusted"] is True
    # the evidence of receipt stays in version 1
    first = client.get(f"/api/v1/documents/{doc['id']}/signatures/evidence/ngoai.pdf?version=1")
    assert first.status_code == 200
    assert json.loads(first.data)["signatures"][0]["summary"]["verdict"] == "indeterminate"


def test_an_unsigned_pdf_has_no_signatures(client, dossier, trusted) -> None:  # noqa: ANN001
    doc = _create(client, dossier, "thuong.pdf", plain_pdf())
    assert "signatures" not in doc or not doc["signatures"]
    listed = client.get(f"/api/v1/documents/{doc['id']}/signatures").json
    assert listed["signatures"] == []


def test_evidence_keeps_certificates_roots_and_the_file_digest(client, dossier, trusted,  # noqa: ANN001
                                                               signed, ca) -> None:
    doc = _create(client, dossier, "qd.pdf", signed)
    r = client.get(f"/api/v1/documents/{doc['id']}/signatures/evidence/qd.pdf")
    assert r.status_code == 200
    evidence = json.loads(r.data)["signatures"][0]
    assert evidence["file_sha256"] == hashlib.sha256(signed).hexdigest()
    certs = evidence["certificates"]
    assert base64.b64decode(certs["trust_roots"][0]) == ca.root_der()
    assert len(certs["validation_path"]) == 2  # root and signer
    assert certs["signer"] in certs["in_signature"]
    assert evidence["revocation"] == {"crls": [], "ocsp_responses": []}
    assert "VALID" in evidence["report"]
    missing = client.get(f"/api/v1/documents/{doc['id']}/signatures/evidence/other.pdf")
    assert missing.status_code == 404


def test_uploads_and_replacements_are_checked_too(client, dossier, trusted, signed) -> None:  # noqa: ANN001
    doc = client.make_document(dossier["id"])
    r = client.post(f"/api/v1/documents/{doc['id']}/files?name=ky.pdf", data=signed,
                    content_type="application/pdf")
    assert r.status_code == 201, r.json
    assert r.json["signatures"][0]["verdict"] == "valid"
    r = client.put(f"/api/v1/documents/{doc['id']}/files/ky.pdf", data=plain_pdf(),
                   content_type="application/pdf", headers={"If-Match": r.headers["ETag"]})
    assert r.status_code == 200, r.json
    assert not r.json.get("signatures")
    gone = client.get(f"/api/v1/documents/{doc['id']}/signatures/evidence/ky.pdf")
    assert gone.status_code == 404
    kept = client.get(f"/api/v1/documents/{doc['id']}/signatures/evidence/ky.pdf?version=2")
    assert kept.status_code == 200


def test_a_pushed_case_has_its_signatures_checked(client, fonds, trusted, signed) -> None:  # noqa: ANN001
    manifest = {"dossier": {"fonds_code": fonds["code"], "external_ref": "HS-SIG-1",
                            "title": "Hồ sơ có chữ ký số", "retention": "05"},
                "documents": [{"metadata": {"type_code": "02", "subject": "Quyết định"},
                               "files": [{"name": "kq.pdf"}]}]}
    r = client.post("/api/v1/dossiers/push", content_type="multipart/form-data", data={
        "manifest": json.dumps(manifest, ensure_ascii=False),
        "file": [(io.BytesIO(signed), "kq.pdf", "application/pdf")]})
    assert r.status_code == 201, r.json
    doc = client.get(f"/api/v1/documents/{r.json['documents'][0]['id']}").json
    assert doc["signatures"][0]["verdict"] == "valid"


def test_a_reader_may_see_but_not_recheck_signatures(app, env, dossier, trusted, signed,  # noqa: ANN001
                                                    client) -> None:
    from repo_server.services.keys import create_key
    from tests.conftest import Client

    doc = _create(client, dossier, "qd.pdf", signed)
    _, secret = create_key(env, "reader", ["reader"])
    reader = Client(app, secret)
    assert reader.get(f"/api/v1/documents/{doc['id']}/signatures").status_code == 200
    assert reader.post(f"/api/v1/documents/{doc['id']}/signatures/check").status_code == 403


@pytest.mark.parametrize("before", [100, (1 << 20) - 20, (1 << 20) - 13, (1 << 20) - 5,
                                    (1 << 20) + 7])
def test_the_byte_scan_finds_a_signature_across_read_blocks(tmp_path, before) -> None:  # noqa: ANN001
    from repo_server.extract.signatures import has_signatures

    path = tmp_path / "s.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"x" * before + b"/ByteRange [0 1 2 3]" + b"y" * 50)
    assert has_signatures(path)
    path.write_bytes(b"%PDF-1.7\n" + b"x" * before + b"/ByteRang" + b"y" * 50)
    assert not has_signatures(path)
    path.write_bytes(b"not a pdf /ByteRange")
    assert not has_signatures(path)
