"""A document filed in several dossiers without a copy (links): the rules on access, retention
and destruction; and a dossier exported as one PDF (cover, contents, chronological, merged
pages) and as TT 05 XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from repo_server.services.context import Actor
from repo_server.services.destruction import find_font
from tests.records.conftest import user
from tests.records.helpers import flat, pdf_pages

needs_font = pytest.mark.skipif(find_font() is None, reason="no Vietnamese TTF font installed")


def pdf_file(*pages: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=14)
    for text in pages:
        pdf.add_page()
        pdf.cell(0, 10, text)
    return bytes(pdf.output())


def test_a_linked_document_is_filed_twice_and_stored_once(client, fonds, clock, env):
    home = client.make_dossier(title="Hồ sơ văn bản đến năm 2025")
    case = client.make_dossier(title="Hồ sơ giải quyết khiếu nại ông A")
    doc = client.make_document(home["id"], files={"don.pdf": pdf_file("Don")},
                               subject="Đơn khiếu nại")
    objects_before = sum(1 for _ in env.store.iter_object_ids())
    r = client.post(f"/api/v1/dossiers/{case['id']}/links",
                    json={"document_id": doc["id"], "note": "Đơn gốc"})
    assert r.status_code == 201, r.json
    assert r.headers["ETag"] == '"v2"'
    assert [(i["id"], i["home_file_code"]) for i in r.json["items"]] == [
        (doc["id"], home["file_code"])]
    assert sum(1 for _ in env.store.iter_object_ids()) == objects_before  # no copy
    version = client.get(f"/api/v1/dossiers/{case['id']}/versions/2").json
    assert version["version_message"].startswith("File document")
    assert client.get(f"/api/v1/documents/{doc['id']}").json["dossier_id"] == home["id"]
    # refused: twice, into its own dossier, into a closed one, across fonds
    assert client.post(f"/api/v1/dossiers/{case['id']}/links",
                       json={"document_id": doc["id"]}).status_code == 409
    assert client.post(f"/api/v1/dossiers/{home['id']}/links",
                       json={"document_id": doc["id"]}).status_code == 409
    client.make_fonds("000.00.00.H50", "UBND phường Vĩnh Ninh")
    other = client.make_dossier(fonds_code="000.00.00.H50")
    assert client.post(f"/api/v1/dossiers/{other['id']}/links",
                       json={"document_id": doc["id"]}).status_code == 409
    r = client.delete(f"/api/v1/dossiers/{case['id']}/links/{doc['id']}")
    assert r.status_code == 200 and r.json["items"] == [] and r.headers["ETag"] == '"v3"'


def test_links_survive_a_catalog_rebuild(client, fonds, clock, env):
    from repo_server.services.rebuild import rebuild_catalog

    home, case = client.make_dossier(), client.make_dossier()
    doc = client.make_document(home["id"])
    client.post(f"/api/v1/dossiers/{case['id']}/links", json={"document_id": doc["id"]})
    rebuild_catalog(env)
    items = client.get(f"/api/v1/dossiers/{case['id']}/links").json["items"]
    assert [i["id"] for i in items] == [doc["id"]]


def test_a_link_never_widens_access(app, env, client, fonds, clock):
    cleared = user(app, env, "clerk-cleared", ["clerk"], clearance=True)
    home = cleared.make_dossier(access_mode="03", title="Hồ sơ mật")
    case = cleared.make_dossier(title="Hồ sơ công khai")
    doc = cleared.make_document(home["id"], subject="Văn bản mật")
    assert cleared.post(f"/api/v1/dossiers/{case['id']}/links",
                        json={"document_id": doc["id"]}).status_code == 201
    reader = user(app, env, "reader", ["reader"])
    assert reader.get(f"/api/v1/dossiers/{case['id']}").status_code == 200
    assert reader.get(f"/api/v1/dossiers/{case['id']}/links").json["items"] == []
    assert "Văn bản mật" not in reader.get(f"/api/v1/dossiers/{case['id']}/export.xml").get_data(
        as_text=True)
    assert len(cleared.get(f"/api/v1/dossiers/{case['id']}/links").json["items"]) == 1
    assert reader.post(f"/api/v1/dossiers/{case['id']}/links",
                       json={"document_id": doc["id"]}).status_code == 403


def test_closing_counts_the_retention_of_linked_documents(client, fonds, clock):
    home = client.make_dossier(retention="02")
    case = client.make_dossier(retention="06")
    doc = client.make_document(home["id"], retention="02")  # kept 70 years
    client.post(f"/api/v1/dossiers/{case['id']}/links", json={"document_id": doc["id"]})
    r = client.post(f"/api/v1/dossiers/{case['id']}/close", json={"end_date": "2025-09-30"})
    assert r.status_code == 200 and r.json["retention"] == "02"


def test_a_document_linked_elsewhere_is_not_destroyed_with_its_home(client, fonds, clock, env):
    from repo_server.services import disposal, disposal_execution

    home = client.make_dossier(retention="06")
    case = client.make_dossier(retention="02")
    doc = client.make_document(home["id"])
    client.post(f"/api/v1/dossiers/{case['id']}/links", json={"document_id": doc["id"]})
    client.post(f"/api/v1/dossiers/{home['id']}/close", json={"end_date": "2025-09-30"})
    archivist = Actor("luu-tru", roles=("archivist",))
    review = disposal.propose_review(env, archivist, "Trùng", [
        {"dossier_id": home["id"], "reason": "duplicate"}])
    for i in range(3):
        disposal.record_opinions(env, Actor(f"m{i}", roles=("appraiser",)), review["id"],
                                 [{"dossier_id": home["id"], "opinion": "destroy"}])
    disposal.approve_review(env, Actor("head", roles=("head",)), review["id"], "QĐ 1")
    disposal_execution.execute_approved(env)
    item = disposal.get_review(env, review["id"])["items"][0]
    assert item["outcome"] == "skipped" and case["file_code"] in item["outcome_note"]
    assert client.get(f"/api/v1/documents/{doc['id']}").status_code == 200


@needs_font
def test_dossier_pdf_has_cover_contents_and_documents_in_date_order(client, fonds, clock):
    d = client.make_dossier(title="Hồ sơ cấp phép xây dựng nhà ông Nguyễn Văn An",
                            maker="Trần Thị Bình")
    late = client.make_document(d["id"], subject="Giấy phép xây dựng", issued_date="2025-07-20",
                                code_number="15", code_notation="GPXD",
                                files={"giay-phep.pdf": pdf_file("PERMIT PAGE 1",
                                                                 "PERMIT PAGE 2")})
    early = client.make_document(d["id"], subject="Đơn đề nghị cấp phép",
                                 issued_date="2025-07-01",
                                 files={"don.txt": b"Don de nghi", "ban-ve.pdf":
                                        pdf_file("DRAWING")})
    other = client.make_dossier(title="Hồ sơ văn bản đến")
    linked = client.make_document(other["id"], subject="Ý kiến của phòng Quản lý đô thị",
                                  issued_date="2025-07-10")
    client.post(f"/api/v1/dossiers/{d['id']}/links", json={"document_id": linked["id"]})
    r = client.get(f"/api/v1/dossiers/{d['id']}/export.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pages = [flat(p) for p in pdf_pages(r.data)]
    # cover, contents, then: early (drawing.pdf page, don.txt page), linked (no file),
    # late (two permit pages)
    assert len(pages) == 2 + 2 + 1 + 2
    assert "HỒ SƠ" in pages[0] and "Hồ sơ cấp phép xây dựng nhà ông Nguyễn Văn An" in pages[0]
    assert d["file_code"] in pages[0] and "Trần Thị Bình" in pages[0]
    contents = pages[1]
    assert "MỤC LỤC VĂN BẢN" in contents
    order = [contents.index(s) for s in ("Đơn đề nghị cấp phép", "Ý kiến của phòng",
                                         "Giấy phép xây dựng")]
    assert order == sorted(order)
    assert "15/GPXD" in contents and other["file_code"] in contents
    assert "DRAWING" in pages[2]
    assert "don.txt" in pages[3] and "SHA-256" in pages[3]
    assert early["files"][1]["sha256"] in pages[3].replace(" ", "")
    assert "không có tệp" in pages[4]
    assert "PERMIT PAGE 1" in pages[5] and "PERMIT PAGE 2" in pages[6]
    # the contents give the page each document starts on: 3, 5, 6
    assert "Đơn đề nghị cấp phép 3" in contents and "Giấy phép xây dựng 6" in contents
    assert late["files"][0]["name"] == "giay-phep.pdf"


def test_dossier_xml_is_tt05_in_the_same_order(client, fonds, clock):
    d = client.make_dossier(title="Hồ sơ A", keywords=["xây dựng"])
    client.make_document(d["id"], subject="Sau", issued_date="2025-08-01")
    client.make_document(d["id"], subject="Trước", issued_date="2025-07-01")
    r = client.get(f"/api/v1/dossiers/{d['id']}/export.xml")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    root = ET.fromstring(r.data)
    assert root.find("file/fileCode").text == d["file_code"]
    assert root.find("file/totalDoc").text == "2"
    assert [e.text for e in root.findall("docs/doc/subject")] == ["Trước", "Sau"]
    assert root.find("docs/doc/issuedDate").text == "01/07/2025"
    assert root.findall("docs/doc")[0].find("docId").text == f"{d['file_code']}.2"


def test_export_respects_scope(app, env, client, fonds, clock):
    d = client.make_dossier()
    outsider = user(app, env, "other", ["reader"], fonds_scope=["000.00.00.H50"])
    assert outsider.get(f"/api/v1/dossiers/{d['id']}/export.pdf").status_code == 404
    assert outsider.get(f"/api/v1/dossiers/{d['id']}/export.xml").status_code == 404
