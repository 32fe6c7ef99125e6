"""Transfer packages (issue 7): export a fonds or dossiers as a zipped BagIt bag, validate it
with the `bagit` package, import it into a second repository and compare everything; refuse
damaged packages and clashing histories; respect the caller's view."""

from __future__ import annotations

import io
import json
import tracemalloc
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import bagit
import pytest

from repo_server import build_env, create_app
from repo_server.catalog.migrate import upgrade
from repo_server.services import packages
from repo_server.services.keys import create_key
from repo_server.services.records import object_id
from repo_server.services.retention import seed_default_schedule
from repo_server.services.tt05_xml import DOC_ELEMENT_NAMES, FILE_ELEMENT_NAMES
from tests.conftest import Client, drain, make_config

FONDS = "000.00.00.H49"
PDF_V1 = "Quyết định cấp giấy phép xây dựng số 15/QĐ-UBND (bản nháp)".encode() * 30
PDF_V2 = "Quyết định cấp giấy phép xây dựng số 15/QĐ-UBND (đã ký số)".encode() * 30
NOTE = "Tờ trình về việc cấp giấy phép, phường An Cựu".encode() * 10


def exported(client: Client, **query) -> bytes:  # noqa: ANN003
    r = client.get("/api/v1/packages/export", query_string=query)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/zip"
    assert "attachment" in r.headers["Content-Disposition"]
    return r.get_data()


def unzip(data: bytes, dest: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(dest)
    return dest


def rezip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return buf.getvalue()


def import_into(client: Client, data: bytes, **headers):  # noqa: ANN003, ANN201
    return client.post("/api/v1/packages/import", data=data, content_type="application/zip",
                       headers=headers)


@pytest.fixture
def records(app, env, fonds, worker):  # noqa: ANN001, ANN201
    """A fonds with dossiers in several states, documents with several versions and files;
    `records.admin` is an administrator cleared for secret records (who sees them all)."""
    client = Client(app, create_key(env, "admin-cleared", ["admin"], clearance=True)[1])
    d1 = client.make_dossier(title="Hồ sơ cấp giấy phép xây dựng nhà ở riêng lẻ",
                             keywords=["xây dựng", "giấy phép"], languages=["01", "02"],
                             maker="Nguyễn Văn An", external_ref="HS-2025-0012")
    doc1 = client.make_document(d1["id"], files={"quyet-dinh-15.pdf": PDF_V1},
                                code_number="15", code_notation="QĐ-UBND",
                                issued_date="2025-07-20", organ_name="UBND phường An Cựu")
    r = client.put(f"/api/v1/documents/{doc1['id']}/files/quyet-dinh-15.pdf", data=PDF_V2,
                   content_type="application/pdf", headers={"If-Match": '"v1"'})
    assert r.status_code == 200, r.json
    r = client.patch(f"/api/v1/documents/{doc1['id']}", json={"subject": "Quyết định (đính chính)"},
                     headers={"If-Match": r.headers["ETag"]})
    assert r.status_code == 200, r.json
    doc2 = client.make_document(d1["id"], files={"to-trinh.txt": NOTE, "phu-luc.txt": b"x" * 10},
                                type_code="15", subject="Tờ trình cấp phép")
    d2 = client.make_dossier(title="Hồ sơ hội nghị tổng kết năm", retention="01",
                             start_date="2025-01-10")
    doc3 = client.make_document(d2["id"], files={"bien-ban.txt": NOTE}, type_code="20",
                                subject="Biên bản hội nghị")
    assert client.post(f"/api/v1/dossiers/{d2['id']}/close",
                       json={"end_date": "2025-06-30"}).status_code == 200
    r = client.post(f"/api/v1/dossiers/{d2['id']}/archive",
                    json={"handed_over_by": "Trần Thị Bình", "handed_over_on": "2025-08-01"})
    assert r.status_code == 200, r.json
    secret = client.make_dossier(title="Hồ sơ mật", access_mode="03")
    client.make_document(secret["id"], subject="Văn bản mật", access_mode="03")
    drain(worker)  # text extraction adds system versions, as in real life
    return SimpleNamespace(dossiers=[d1, d2, secret], documents=[doc1, doc2, doc3],
                           d1=d1, d2=d2, doc1=doc1, archive_code=r.json["archive_code"],
                           admin=client)


def make_instance(root: Path, name: str) -> SimpleNamespace:
    """A second repository in its own folder (its own SQLite catalog and storage root)."""
    instance = root / name
    instance.mkdir(parents=True)
    cfg = make_config(instance, MAX_UPLOAD_BYTES=16 * 1024 * 1024,
                      DATABASE_URL=f"sqlite:///{instance / 'repo.db'}")
    upgrade(cfg["DATABASE_URL"])
    env = build_env(cfg)
    seed_default_schedule(env)
    app = create_app(cfg, env=env)
    archivist = Client(app, create_key(env, "archivist-b", ["archivist"])[1])
    admin = Client(app, create_key(env, "admin-b", ["admin"], clearance=True)[1])
    return SimpleNamespace(env=env, app=app, client=archivist, admin=admin)


@pytest.fixture
def other(tmp_path):  # noqa: ANN001, ANN201
    inst = make_instance(tmp_path, "other")
    yield inst
    inst.env.db.dispose()


def assert_untouched(inst: SimpleNamespace) -> None:
    """Nothing of a refused package reached the storage root, the catalog or the staging."""
    assert list(inst.env.store.iter_object_ids()) == []
    assert inst.admin.get("/api/v1/dossiers").json["total"] == 0
    assert inst.admin.get("/api/v1/fonds").json["total"] == 0
    leftovers = [p.name for p in inst.env.store.tmp_dir.iterdir() if p.name != "locks"]
    assert leftovers == []


# --- export ------------------------------------------------------------------------------------


def test_export_is_a_valid_bag_with_tt05_metadata(records, tmp_path):
    client = records.admin
    bag_dir = unzip(exported(client, fonds_code=FONDS), tmp_path / "bag")
    bag = bagit.Bag(str(bag_dir))
    assert bag.validate() is True  # every checksum, both algorithms, tag files too
    assert sorted(bag.algorithms) == ["sha256", "sha512"]
    for name in ("manifest-sha256.txt", "manifest-sha512.txt", "tagmanifest-sha256.txt",
                 "tagmanifest-sha512.txt", "bag-info.txt", "bagit.txt"):
        assert (bag_dir / name).is_file()
    assert bag.info["Source-Organization"] == "UBND phường An Cựu"
    assert bag.info["Internal-Sender-Identifier"] == FONDS
    assert (bag.info["Dossier-Count"], bag.info["Document-Count"]) == ("3", "4")
    assert bag.info["Package-Format"] == "repo-server-ocfl-bag/1"
    payload = set(bag.payload_entries())
    assert any(p.endswith("/v2/content/files/quyet-dinh-15.pdf") for p in payload)
    assert any(p.endswith("/v1/content/files/quyet-dinh-15.pdf") for p in payload)

    d1, doc1 = records.d1, records.doc1
    root = ET.parse(bag_dir / "data" / "metadata" / f"{d1['file_code']}.xml").getroot()
    assert root.tag == "file" and root.get("id") == d1["id"]
    names = [child.tag for child in root]
    assert list(dict.fromkeys(names)) == list(FILE_ELEMENT_NAMES)  # all 18, in order
    assert root.findtext("fileCode") == d1["file_code"]
    assert root.findtext("startDate") == "15/07/2025"
    assert [e.text for e in root.findall("language")] == ["01", "02"]
    assert [e.text for e in root.findall("keyword")] == ["xây dựng", "giấy phép"]
    assert root.findtext("totalDoc") == "2" and root.findtext("maintenance") == "05"
    assert "Nguyễn Văn An" in root.findtext("description")
    doc = ET.parse(bag_dir / "data" / "metadata" / f"{doc1['doc_code']}.xml").getroot()
    assert list(dict.fromkeys(c.tag for c in doc)) == list(DOC_ELEMENT_NAMES)  # all 21
    assert doc.findtext("docCode") == doc1["doc_code"]
    assert doc.findtext("docId") == f"{d1['file_code']}.1"
    assert doc.findtext("issuedDate") == "20/07/2025"
    assert doc.findtext("typeName") == "02" and doc.findtext("codeNotation") == "QĐ-UBND"
    assert doc.findtext("subject") == "Quyết định (đính chính)"

    history = json.loads((bag_dir / "data" / "history" / f"{d1['id']}.json").read_text())
    assert history["file_code"] == d1["file_code"]
    by_id = {o["id"]: o for o in history["objects"]}
    assert [v["message"].split(":")[0] for v in by_id[doc1["id"]]["versions"][:3]] == [
        "Create document", "Replace file", "Update document metadata"]
    actions = {(e["target"], e["action"]) for e in history["audit_events"]}
    assert (doc1["id"], "document.version") in actions and (d1["id"], "dossier.version") in actions
    # data/objects is a storage root of its own that any OCFL tool validates
    import ocfl

    sr = ocfl.StorageRoot(root=str(bag_dir / "data" / "objects"))
    assert sr.validate() and sr.num_objects == sr.good_objects == 8


def test_export_of_chosen_dossiers_and_the_callers_view(records, app, env, tmp_path):
    client = records.admin
    data = exported(client, dossier_id=[records.d2["id"], records.d1["id"]])
    bag = bagit.Bag(str(unzip(data, tmp_path / "two")))
    bag.validate()
    assert (bag.info["Dossier-Count"], bag.info["Document-Count"]) == ("2", "3")
    # an archivist without clearance gets no secret dossier in a fonds export
    archivist = Client(app, create_key(env, "archivist-a", ["archivist"])[1])
    bag = bagit.Bag(str(unzip(exported(archivist, fonds_code=FONDS), tmp_path / "view")))
    bag.validate()
    assert bag.info["Dossier-Count"] == "2"
    assert not (tmp_path / "view" / "data" / "history" / f"{records.dossiers[2]['id']}.json"
                ).exists()
    r = archivist.get("/api/v1/packages/export",
                      query_string={"dossier_id": records.dossiers[2]["id"]})
    assert r.status_code == 404


def test_scope_and_roles(records, app, env):
    client = records.admin
    client.make_fonds("000.00.00.H50", "UBND phường Vĩnh Ninh")
    outsider = Client(app, create_key(env, "archivist-h50", ["archivist"],
                                      fonds_scope=["000.00.00.H50"])[1])
    r = outsider.get("/api/v1/packages/export", query_string={"dossier_id": records.d1["id"]})
    assert r.status_code == 404
    r = outsider.get("/api/v1/packages/export", query_string={"fonds_code": FONDS})
    assert r.status_code == 404
    clerk = Client(app, create_key(env, "clerk-h50", ["clerk"], fonds_scope=["000.00.00.H50"])[1])
    r = clerk.get("/api/v1/packages/export", query_string={"dossier_id": records.d1["id"]})
    assert r.status_code == 403 and r.json["action"] == "package.export"
    assert import_into(clerk, b"PK").status_code == 403
    r = client.get("/api/v1/packages/export",
                   query_string={"fonds_code": FONDS, "dossier_id": records.d1["id"]})
    assert r.status_code == 422
    assert client.get("/api/v1/packages/export").status_code == 422


# --- import ------------------------------------------------------------------------------------


def _versions(client: Client, kind: str, rid: str) -> list[tuple]:
    items = client.get(f"/api/v1/{kind}/{rid}/versions").json["items"]
    return [(v["version"], v["created"], v["user"], v["message"]) for v in items]


def test_import_into_another_repository_keeps_everything(records, env, other):
    client = records.admin
    data = exported(client, fonds_code=FONDS)
    r = import_into(other.client, data)
    assert r.status_code == 200, r.json
    report = r.json
    assert report["imported"] == {"fonds": 1, "dossier": 3, "document": 4}
    assert report["skipped"] == {"fonds": 0, "dossier": 0, "document": 0}
    assert report["problems"] == [] and report["conflicts"] == []
    assert report["source_organization"] == "UBND phường An Cựu"
    assert report["history_events"] > 0

    target = other.admin
    for d in records.dossiers:
        a, b = client.get(f"/api/v1/dossiers/{d['id']}").json, target.get(
            f"/api/v1/dossiers/{d['id']}").json
        for key in ("id", "file_code", "title", "state", "retention", "archive_code",
                    "retention_due_on", "start_date", "end_date", "doc_total", "version",
                    "created_at", "updated_at", "external_ref", "keywords", "languages"):
            assert a.get(key) == b.get(key), (key, a.get(key), b.get(key))
        assert _versions(client, "dossiers", d["id"]) == _versions(target, "dossiers", d["id"])
        docs_a = client.get(f"/api/v1/dossiers/{d['id']}/documents").json["items"]
        docs_b = target.get(f"/api/v1/dossiers/{d['id']}/documents").json["items"]
        assert [x["doc_code"] for x in docs_a] == [x["doc_code"] for x in docs_b]
        for doc_a, doc_b in zip(docs_a, docs_b, strict=True):
            assert doc_a["id"] == doc_b["id"] and doc_a["files"] == doc_b["files"]
            assert doc_a["subject"] == doc_b["subject"]
            versions = _versions(client, "documents", doc_a["id"])
            assert versions == _versions(target, "documents", doc_a["id"])
            for number, *_ in versions:  # every file of every version, byte for byte
                info = client.get(f"/api/v1/documents/{doc_a['id']}/versions/{number}").json
                for f in info["files"]:
                    url = f"/api/v1/documents/{doc_a['id']}/files/{f['name']}"
                    one = client.get(url, query_string={"version": number})
                    two = target.get(url, query_string={"version": number})
                    assert one.status_code == two.status_code == 200
                    assert one.get_data() == two.get_data()
    old = target.get(f"/api/v1/documents/{records.doc1['id']}/files/quyet-dinh-15.pdf",
                     query_string={"version": 1})
    assert old.get_data() == PDF_V1
    # the stored objects are the same bytes (inventory: ids, versions, dates, users, messages)
    for d in [*records.dossiers, *records.documents]:
        oid = object_id(d["id"])
        assert (env.store.object_path(oid) / "inventory.json").read_bytes() == (
            other.env.store.object_path(oid) / "inventory.json").read_bytes()
    # the source's history is in this audit trail, marked as imported
    events = target.get("/api/v1/audit", query_string={"target": records.doc1["id"],
                                                        "page_size": 200}).json["items"]
    imported = [e for e in events if "imported" in (e["details"] or {})]
    assert {e["action"] for e in imported} >= {"document.version"}
    assert target.get("/api/v1/audit/verify").json["ok"] is True
    # numbering goes on after the imported codes; the archive code is not given twice
    d = other.admin.make_dossier(title="Hồ sơ mới ở nơi nhận")
    assert d["file_code"] not in {x["file_code"] for x in records.dossiers}
    assert target.get(f"/api/v1/dossiers/{records.d2['id']}").json["archive_code"] == \
        records.archive_code

    # idempotent: the second import skips everything and writes nothing
    again = import_into(other.client, data)
    assert again.status_code == 200, again.json
    assert again.json["imported"] == {"fonds": 0, "dossier": 0, "document": 0}
    assert again.json["skipped"] == {"fonds": 1, "dossier": 3, "document": 4}
    assert again.json["history_events"] == 0


def test_newer_versions_are_added_and_a_different_history_is_refused(records, other):
    client = records.admin
    assert import_into(other.client, exported(client, fonds_code=FONDS)).status_code == 200
    doc1 = records.doc1
    current = client.get(f"/api/v1/documents/{doc1['id']}").json["version"]
    r = client.patch(f"/api/v1/documents/{doc1['id']}", json={"description": "Bổ sung"},
                     headers={"If-Match": f'"v{current}"'})
    assert r.status_code == 200
    r = import_into(other.client, exported(client, fonds_code=FONDS))
    assert r.status_code == 200, r.json
    assert r.json["updated"] == {"fonds": 0, "dossier": 0, "document": 1}
    assert _versions(client, "documents", doc1["id"]) == _versions(other.admin, "documents",
                                                                   doc1["id"])
    assert other.admin.get(f"/api/v1/documents/{doc1['id']}").json["description"] == "Bổ sung"
    # both sides change the same open dossier: the package is refused, nothing is written
    d1 = records.d1
    assert client.patch(f"/api/v1/dossiers/{d1['id']}", json={"title": "Nguồn"},
                        headers={"If-Match": '"v1"'}).status_code == 200
    assert other.admin.patch(f"/api/v1/dossiers/{d1['id']}", json={"title": "Đích"},
                             headers={"If-Match": '"v1"'}).status_code == 200
    r = import_into(other.client, exported(client, fonds_code=FONDS))
    assert r.status_code == 409, r.json
    assert any(d1["file_code"] in c and "different history" in c for c in r.json["conflicts"])
    assert other.admin.get(f"/api/v1/dossiers/{d1['id']}").json["title"] == "Đích"


@pytest.mark.parametrize("tamper", ["flip", "delete", "add", "zip_byte", "bag_info"])
def test_damaged_package_is_refused_and_nothing_is_written(records, other, tmp_path, tamper):
    client = records.admin
    data = exported(client, fonds_code=FONDS)
    folder = unzip(data, tmp_path / "bag")
    target = next(p for p in folder.rglob("quyet-dinh-15.pdf") if "/v2/" in p.as_posix())
    name = target.relative_to(folder).as_posix()
    if tamper == "flip":
        raw = bytearray(target.read_bytes())
        raw[100] ^= 0x01
        target.write_bytes(bytes(raw))
    elif tamper == "delete":
        target.unlink()
    elif tamper == "add":
        name = "data/metadata/extra.xml"
        (folder / name).write_text("<file/>")
    elif tamper == "bag_info":
        name = "bag-info.txt"
        info = folder / name
        info.write_text(info.read_text().replace("Dossier-Count: 3", "Dossier-Count: 2"))
    package = rezip(folder)
    if tamper == "zip_byte":  # a byte damaged in transit, inside the stored file's data
        offset = data.index("(đã ký số)".encode()) + 2
        package = data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:]
    r = import_into(other.client, package)
    assert r.status_code == 422, r.json
    problems = r.json["errors"]["json"]["package"]
    assert any(name in p for p in problems), problems
    if tamper == "flip":
        assert any("sha256 checksum does not match" in p for p in problems)
    if tamper == "delete":
        assert any("missing" in p for p in problems)
    assert_untouched(other)


def test_a_bag_zipped_in_its_folder_imports(records, other, tmp_path):
    """Zipping the bag's folder by hand (names under `bag/`, folder entries, deflated) gives a
    package that imports as the exported one does."""
    folder = unzip(exported(records.admin, fonds_code=FONDS), tmp_path / "bag")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())
    r = import_into(other.client, buf.getvalue())
    assert r.status_code == 200, r.json
    assert r.json["imported"] == {"fonds": 1, "dossier": 3, "document": 4}


def test_not_a_package(other):
    r = import_into(other.client, b"this is not a zip")
    assert r.status_code == 422 and "ZIP" in r.json["message"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../evil.txt", "x")
        zf.writestr("bagit.txt", "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n")
    r = import_into(other.client, buf.getvalue())
    assert r.status_code == 422 and any("../evil.txt" in p for p in
                                        r.json["errors"]["json"]["package"])
    assert_untouched(other)


def test_a_fonds_must_exist_or_come_with_the_package(records, other):
    client = records.admin
    data = exported(client, dossier_id=[records.d1["id"]])  # carries its fonds record
    r = import_into(other.client, data, **{"Idempotency-Key": "pkg-1"})
    assert r.status_code == 200, r.json
    assert r.json["imported"] == {"fonds": 1, "dossier": 1, "document": 2}
    replay = import_into(other.client, data, **{"Idempotency-Key": "pkg-1"})
    assert replay.status_code == 200 and replay.json == r.json


def test_import_into_a_fonds_registered_here(records, tmp_path):
    client = records.admin
    inst = make_instance(tmp_path, "third")
    try:
        inst.admin.make_fonds(FONDS, "Phường An Cựu (đăng ký tại đây)")
        r = import_into(inst.client, exported(client, fonds_code=FONDS))
        assert r.status_code == 200, r.json
        assert r.json["imported"]["fonds"] == 0 and r.json["skipped"]["fonds"] == 1
        assert r.json["imported"]["dossier"] == 3
        assert any("already registered" in n for n in r.json["notes"])
        assert inst.admin.get(f"/api/v1/fonds/{FONDS}").json["name"] == \
            "Phường An Cựu (đăng ký tại đây)"
    finally:
        inst.env.db.dispose()


def test_command_line_export_and_import(records, tmp_path, monkeypatch):
    client = records.admin
    from click.testing import CliRunner

    from repo_server.cli import main

    monkeypatch.delenv("DATABASE_URL", raising=False)
    package = tmp_path / "package.zip"
    package.write_bytes(exported(client, fonds_code=FONDS))
    runner = CliRunner(env={"REPO_LOG_LEVEL": "WARNING"})  # keep log lines out of the report
    instance = tmp_path / "cli-instance"
    result = runner.invoke(main, ["--instance", str(instance), "import", str(package)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["imported"] == {"fonds": 1, "dossier": 3, "document": 4}
    out = tmp_path / "again.zip"
    result = runner.invoke(main, ["--instance", str(instance), "export", "--fonds", FONDS,
                                  "-o", str(out)])
    assert result.exit_code == 0, result.output
    bagit.Bag(str(unzip(out.read_bytes(), tmp_path / "again"))).validate()
    result = runner.invoke(main, ["--instance", str(instance), "import", str(out)])
    assert result.exit_code == 0 and '"document": 4' in result.output
    broken = tmp_path / "broken.zip"
    broken.write_bytes(out.read_bytes()[:-200])
    result = runner.invoke(main, ["--instance", str(instance), "import", str(broken)])
    assert result.exit_code == 1 and "REFUSED" in result.output


# --- memory ------------------------------------------------------------------------------------


def _tiny_bag(path: Path, files: int) -> None:
    """A package of `files` payload files of two bytes, written by the export's ZIP writer."""
    writer = packages._BagWriter(path.parent, datetime(2025, 7, 20, tzinfo=UTC))
    try:
        with open(path, "wb") as out:
            declaration = b"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"
            for chunk in writer.add_bytes("bagit.txt", declaration, payload=False):
                out.write(chunk)
            for i in range(files):
                for chunk in writer.add_bytes(f"data/objects/{i % 97:03d}/{i:06d}/f.json", b"{}"):
                    out.write(chunk)
            for chunk in writer.finish([("Source-Organization", "test")]):
                out.write(chunk)
    finally:
        writer.close()


def test_export_memory_does_not_grow_with_the_number_of_files(tmp_path, monkeypatch):
    """The export's ZIP writer keeps nothing per file in memory (it kept ~0.5 KB per file, a
    ZipInfo per entry for the central directory): the traced peak for 3,200 files stays within
    64 bytes per added file of the peak for 800, and the bag is still a valid BagIt bag."""
    from repo_server.services import package_export

    monkeypatch.setattr(package_export, "CHUNK", 16 * 1024)  # small buffers, full from the start
    monkeypatch.setattr(packages._Sink, "SPILL_AT", 16 * 1024)

    def peak(files: int) -> int:
        package = tmp_path / f"{files}.zip"
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        _tiny_bag(package, files)
        return tracemalloc.get_traced_memory()[1] - start

    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        peak(100)  # first use: imports, caches
        small, large = peak(800), peak(3200)
    finally:
        if not tracing:
            tracemalloc.stop()
    assert large - small < 2400 * 64, f"peak {small} -> {large} bytes for 800 -> 3,200 files"
    with zipfile.ZipFile(tmp_path / "3200.zip") as zf:
        assert len(zf.infolist()) == 3200 + 6 and zf.testzip() is None
        zf.extractall(tmp_path / "bag")
    bagit.Bag(str(tmp_path / "bag")).validate()
