"""The one-stop-shop round trip: a desk system pushes cases over an unreliable link (retries,
dropped connections), the commune exports its fonds, the province imports it, and the
records there are the same, byte for byte."""

from __future__ import annotations

import hashlib
import io
import json

from repo_server.services.keys import create_key
from tests.conftest import Client
from tests.services.test_packages import exported, import_into, make_instance

FONDS = "000.00.00.H49"


def case(n: int) -> tuple[dict, dict[str, bytes]]:
    files = {f"case{n}-don.pdf": f"%PDF-1.4 đơn {n}".encode(),
             f"case{n}-kq.pdf": f"%PDF-1.4 kết quả {n}".encode()}
    manifest = {
        "dossier": {"fonds_code": FONDS, "external_ref": f"HS-2025-{n:04d}", "retention": "05",
                    "title": f"Hồ sơ cấp giấy phép số {n}", "start_date": "2025-08-01"},
        "documents": [{"metadata": {"type_code": "32", "subject": f"Đơn {n}"},
                       "files": [{"name": name, "sha256": hashlib.sha256(data).hexdigest()}]}
                      for name, data in files.items()]}
    return manifest, files


def push(desk: Client, manifest: dict, files: dict[str, bytes], key: str, *,
         truncate: bool = False):  # noqa: ANN201
    boundary = "desk-" + key
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"manifest\"\r\n\r\n"
             f"{json.dumps(manifest, ensure_ascii=False)}\r\n".encode()]
    for name, data in files.items():
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                     f"filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n".encode()
                     + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    if truncate:  # the connection dropped half-way through the upload
        body = body[: len(body) // 2]
    return desk.post("/api/v1/dossiers/push", data=io.BytesIO(body),
                     content_type=f"multipart/form-data; boundary={boundary}",
                     headers={"Idempotency-Key": key, "Content-Length": str(len(body))})


def test_push_with_retries_then_export_and_import_elsewhere(client, app, env, fonds, tmp_path):
    desk = Client(app, create_key(env, "motcua", ["integration"], fonds_scope=[FONDS])[1])
    receipts = {}
    for n in range(1, 6):
        manifest, files = case(n)
        key = f"case-{n}"
        if n % 2:  # the first attempt is cut off mid-upload: nothing may be kept
            broken = push(desk, manifest, files, key, truncate=True)
            assert broken.status_code == 422, broken.get_data(as_text=True)
            assert client.get("/api/v1/dossiers", query_string={
                "external_ref": manifest["dossier"]["external_ref"]}).json["total"] == 0
        first = push(desk, manifest, files, key)
        assert first.status_code == 201, first.json
        # the answer was lost on the way back: the desk sends the same request again
        again = push(desk, manifest, files, key)
        assert again.status_code == 201 and again.json == first.json
        receipts[n] = first.json
    assert client.get("/api/v1/dossiers").json["total"] == 5
    # the commune's archive exports its fonds; the province imports it
    package = exported(client, fonds_code=FONDS)
    province = make_instance(tmp_path, "province")
    try:
        report = import_into(province.admin, package)
        assert report.status_code == 200, report.json
        for n, receipt in receipts.items():
            here = client.get(f"/api/v1/dossiers/{receipt['dossier_id']}").json
            there = province.admin.get(f"/api/v1/dossiers/{receipt['dossier_id']}").json
            assert (there["file_code"], there["external_ref"], there["version"]) == \
                   (here["file_code"], here["external_ref"], here["version"])
            for doc in receipt["documents"]:
                for f in doc["files"]:
                    data = province.admin.get(
                        f"/api/v1/documents/{doc['id']}/files/{f['name']}").data
                    assert hashlib.sha256(data).hexdigest() == f["sha256"], (n, f["name"])
        again = import_into(province.admin, package)
        assert again.status_code == 200  # idempotent
        assert province.admin.get("/api/v1/dossiers").json["total"] == 5
    finally:
        province.env.db.dispose()
