"""Search through the HTTP API, fed by the worker from the outbox (text extracted into OCFL).

Every test runs on each search engine of ``tests.search.conftest.ENGINES`` (whoosh; postgresql
when TEST_DATABASE_URL is PostgreSQL): the ``config`` fixture below sets SEARCH_BACKEND.
"""

from __future__ import annotations

import time
from datetime import date

import pytest

from repo_server.services.keys import create_key
from repo_server.services.search import open_writer
from tests.conftest import Client, drain, make_config
from tests.extract.helpers import find_vietnamese_font, make_pdf
from tests.search.conftest import ENGINES

FONT = find_vietnamese_font()
needs_font = pytest.mark.skipif(FONT is None, reason="no TTF font with Vietnamese glyphs "
                                                     "(install fonts-dejavu-core)")


@pytest.fixture(params=ENGINES)
def config(request, instance, migrated_template) -> dict:  # noqa: ANN001
    cfg = make_config(instance, MAX_UPLOAD_BYTES=2 * 1024 * 1024, SEARCH_BACKEND=request.param)
    instance.mkdir(parents=True, exist_ok=True)
    migrated_template.copy_to(cfg["DATABASE_URL"])
    return cfg


def lose_the_index(env) -> None:  # noqa: ANN001
    """The index is gone: the folder (whoosh) or the tables (postgresql)."""
    if env.config["SEARCH_BACKEND"] == "postgresql":
        from sqlalchemy import text

        with env.db.engine.begin() as conn:
            conn.execute(text("DROP TABLE search_records, search_meta"))
    else:
        import shutil
        from pathlib import Path

        shutil.rmtree(Path(env.config["INDEX_DIR"]))


def pdf_bytes(tmp_path, text: str) -> bytes:
    path = make_pdf(tmp_path / f"p{abs(hash(text))}.pdf", [text, "Trang 2. Nơi nhận: Lưu VT."],
                    FONT)
    return path.read_bytes()


def search(client, **params):  # noqa: ANN001, ANN003, ANN201
    r = client.get("/api/v1/search", query_string=params)
    assert r.status_code == 200, r.json
    return r.json


@needs_font
def test_pdf_text_is_extracted_cached_and_found_without_accents(client, dossier, worker, env,
                                                              tmp_path):
    data = pdf_bytes(tmp_path, "QUYẾT ĐỊNH Về việc phê duyệt kế hoạch của Ủy ban nhân dân "
                               "phường An Cựu")
    doc = client.make_document(dossier["id"], files={"qd.pdf": data}, subject="Quyết định 15")
    drain(worker)
    body = client.get(f"/api/v1/documents/{doc['id']}").json
    assert body["text_status"] == "ok"
    versions = client.get(f"/api/v1/documents/{doc['id']}/versions").json["items"]
    assert len(versions) == 1  # the text is derived data: no version of its own (0021)
    assert "Ủy ban nhân dân" in env.texts.get(doc["files"][0]["sha256"]).text
    result = search(client, q="uy ban nhan dan phuong an cuu")
    assert [h["id"] for h in result["items"]] == [doc["id"]]
    hit = result["items"][0]
    assert hit["code"] == doc["doc_code"] and hit["title"] == "Quyết định 15"
    assert "<mark>" in " ".join(hit["highlights"].values())
    # the client's ETag from the create is still good for its next change
    r = client.patch(f"/api/v1/documents/{doc['id']}", json={"subject": "Quyết định 15 (sửa)"},
                     headers={"If-Match": '"v1"'})
    assert r.status_code == 200 and r.json["version"] == 2


def test_metadata_is_searchable_and_exact_mode_separates_marks(client, dossier, worker):
    a = client.make_document(dossier["id"], subject="Biên bản bàn giao hồ sơ")
    b = client.make_document(dossier["id"], subject="Hợp đồng mua bán đất")
    c = client.make_document(dossier["id"], subject="Bản sao quyết định",
                             code_number="15", code_notation="QĐ-UBND")
    drain(worker)
    assert {h["id"] for h in search(client, q="ban")["items"]} == {a["id"], b["id"], c["id"]}
    assert [h["id"] for h in search(client, q="bàn", exact="true")["items"]] == [a["id"]]
    assert [h["id"] for h in search(client, q="bán", exact="true")["items"]] == [b["id"]]
    assert [h["id"] for h in search(client, q="15/QĐ-UBND")["items"]] == [c["id"]]
    assert [h["id"] for h in search(client, q="qd-ubnd")["items"]] == [c["id"]]


def test_codes_and_file_names_are_found_by_field_only(client, dossier, worker):
    a = client.make_document(dossier["id"], subject="Tờ trình xin kinh phí",
                             files={"to-trinh-kinh-phi.txt": "Nội dung tờ trình".encode()},
                             code_number="15", code_notation="TTr-UBND")
    b = client.make_document(dossier["id"], subject="Báo cáo năm",
                             files={"bao-cao.txt": "Số liệu báo cáo".encode()})
    drain(worker)
    year = dossier["file_code"].split(".")[-2] if "." in dossier["file_code"] else None
    serial = a["doc_code"].rsplit(".", 1)[-1]
    assert search(client, q=serial)["total"] == 0  # a serial of a code is not a word
    assert [h["id"] for h in search(client, q=f"code:{a['doc_code']}")["items"]] == [a["id"]]
    assert {h["id"] for h in search(client, q=f"code:{dossier['file_code']}")["items"]} == {
        a["id"], b["id"]}
    if year and year.isdigit():
        assert search(client, q=year)["total"] == 0
    assert search(client, q="txt")["total"] == 0  # the file name's extension is not a word
    assert {h["id"] for h in search(client, q="file:txt")["items"]} == {a["id"], b["id"]}
    assert [h["id"] for h in search(client, q="file:to-trinh")["items"]] == [a["id"]]
    assert [h["id"] for h in search(client, q="kinh phí -file:bao")["items"]] == [a["id"]]
    # the document number stays a plain word, and has a prefix of its own
    assert [h["id"] for h in search(client, q="15/TTr-UBND")["items"]] == [a["id"]]
    assert [h["id"] for h in search(client, q="number:TTr-UBND")["items"]] == [a["id"]]
    assert search(client, q="number:tờ")["total"] == 0
    r = client.get("/api/v1/search", query_string={"q": "file:"})
    assert r.status_code == 400 and "file:" in r.json["message"]


def test_a_desk_system_searches_its_own_fonds(client, app, env, fonds, worker):
    client.make_fonds("000.00.00.H50", "UBND xã Phú Mỹ")
    mine = client.make_dossier("000.00.00.H49", title="Hồ sơ một cửa")
    theirs = client.make_dossier("000.00.00.H50", title="Hồ sơ một cửa khác")
    doc = client.make_document(mine["id"], subject="Giấy chứng nhận",
                               code_number="77", code_notation="GCN-UBND")
    client.make_document(theirs["id"], subject="Giấy chứng nhận",
                         code_number="77", code_notation="GCN-UBND")
    hidden = client.make_document(mine["id"], subject="Giấy chứng nhận hạn chế",
                                  code_number="78", code_notation="GCN-UBND", access_mode="02")
    drain(worker)
    desk = Client(app, create_key(env, "desk", ["integration"],
                                  fonds_scope=["000.00.00.H49"])[1])
    result = search(desk, q="77/GCN-UBND")
    assert [h["id"] for h in result["items"]] == [doc["id"]] and result["total"] == 1
    assert [h["id"] for h in search(desk, q="giay chung nhan")["items"]] == [doc["id"]]
    assert search(desk, q="gcn-ubnd", fonds_code="000.00.00.H50")["total"] == 0
    assert hidden["id"] not in {h["id"] for h in search(desk, q="gcn-ubnd")["items"]}
    assert search(desk, q="78/GCN-UBND")["total"] == 0  # access modes apply
    assert search(client, q="77/GCN-UBND")["total"] == 2  # the administrator sees both fonds


def test_rights_are_checked_against_the_catalog_for_every_hit(client, app, env, dossier,
                                                              worker):
    doc = client.make_document(dossier["id"], subject="Giấy phép xây dựng nhà ở")
    other = client.make_document(dossier["id"], subject="Giấy phép xây dựng công trình")
    drain(worker)
    desk = Client(app, create_key(env, "desk", ["integration"],
                                  fonds_scope=[dossier["fonds_code"]])[1])
    assert search(desk, q="giay phep xay dung")["total"] == 2
    r = client.patch(f"/api/v1/documents/{doc['id']}", json={"access_mode": "02"},
                     headers={"If-Match": '"v1"'})
    assert r.status_code == 200, r.json
    # the index still says 01 until the worker's next pass: the catalog decides, per hit
    assert [h["id"] for h in search(desk, q="giay phep xay dung")["items"]] == [other["id"]]
    assert search(client, q="giay phep xay dung", page_size=1)["items"]  # admin: all modes
    assert {h["id"] for h in search(client, q="giay phep xay dung")["items"]} == {
        doc["id"], other["id"]}
    drain(worker)
    assert [h["id"] for h in search(desk, q="giay phep xay dung")["items"]] == [other["id"]]


def test_filters_facets_and_dossier_search(client, fonds, worker):
    client.make_fonds("000.00.00.H50", "UBND xã Phú Mỹ")
    d1 = client.make_dossier(title="Hồ sơ đất đai")
    d2 = client.make_dossier("000.00.00.H50", title="Hồ sơ khác")
    client.make_document(d1["id"], subject="Công văn về đất đai", type_code="22")
    client.make_document(d2["id"], subject="Quyết định về đất đai", type_code="02")
    drain(worker)
    all_hits = search(client, q="dat dai")
    assert all_hits["total"] == 2
    assert all_hits["facets"]["type_code"] == {"22": 1, "02": 1}
    only = search(client, q="dat dai", fonds_code="000.00.00.H50")
    assert only["total"] == 1 and only["facets"]["fonds_code"] == {"000.00.00.H50": 1}
    dossiers = search(client, q="cong van", kind="dossier")
    assert [h["id"] for h in dossiers["items"]] == [d1["id"]]
    listed = search(client, type_code="02")
    assert listed["total"] == 1


def test_the_answer_is_what_the_schema_would_dump(client, dossier, worker, app):
    from repo_server.api.search import SearchResultSchema

    client.make_document(dossier["id"], subject="Kế hoạch năm", issued_date="2025-03-01",
                         code_number="3", code_notation="KH-UBND")
    client.make_document(dossier["id"], subject="Kế hoạch quý")
    drain(worker)
    for params in ({"q": "ke hoach"}, {"q": "ke hoach", "kind": "dossier"}, {}):
        body = search(client, **params)
        assert body["total"] >= 1
        as_loaded = {**body, "items": [
            {**i, "date": date.fromisoformat(i["date"]) if i.get("date") else i.get("date")}
            for i in body["items"]]}
        assert body == SearchResultSchema().dump(as_loaded)
        assert all("date" in item for item in body["items"])
    assert search(client, q="ke hoach nam")["items"][0]["date"] == "2025-03-01"


def test_unreadable_query_is_a_400(client, dossier, worker):
    drain(worker)
    r = client.get("/api/v1/search", query_string={"q": '"ủy ban'})
    assert r.status_code == 400 and r.json["message"]


def test_failed_extraction_is_recorded_and_loses_nothing(client, dossier, worker):
    doc = client.make_document(dossier["id"], files={"hỏng.pdf": b"%PDF-1.4 broken"})
    drain(worker)
    body = client.get(f"/api/v1/documents/{doc['id']}").json
    assert body["text_status"] == "failed"
    assert client.get(f"/api/v1/documents/{doc['id']}/files/hỏng.pdf").data == b"%PDF-1.4 broken"


def test_missing_index_is_rebuilt_while_the_api_serves(client, dossier, worker, env, app):
    doc = client.make_document(dossier["id"], subject="Tờ trình về việc xin kinh phí")
    drain(worker)
    worker.backend.close()
    worker.backend = None
    lose_the_index(env)
    app.extensions.pop("repo_search", None)
    r = client.get("/api/v1/search", query_string={"q": "kinh phi"})
    assert r.status_code == 503
    assert client.get(f"/api/v1/documents/{doc['id']}").status_code == 200
    worker.backend = open_writer(env)
    worker.ensure_index()
    app.extensions.pop("repo_search", None)
    assert [h["id"] for h in search(client, q="kinh phi")["items"]] == [doc["id"]]


def test_reindex_command_rebuilds_from_storage(client, dossier, worker, config):
    from click.testing import CliRunner

    from repo_server.cli import main

    doc = client.make_document(dossier["id"], subject="Kế hoạch cải cách hành chính")
    drain(worker)
    worker.backend.close()
    worker.backend = None
    worker.lease.release()
    result = CliRunner().invoke(main, ["--instance", config["INSTANCE_PATH"], "reindex"],
                                env={"REPO_FSYNC": "false", "REPO_DATABASE_URL":
                                     config["DATABASE_URL"],
                                     "REPO_SEARCH_BACKEND": config["SEARCH_BACKEND"]})
    assert result.exit_code == 0, result.output
    assert "Indexed" in result.output
    assert [h["id"] for h in search(client, q="cai cach")["items"]] == [doc["id"]]


def test_jobs_api_lists_and_queues_runs(client, worker):
    jobs = {j["name"]: j for j in client.get("/api/v1/jobs").json["items"]}
    assert "reindex" in jobs
    r = client.post("/api/v1/jobs/reindex/runs")
    assert r.status_code == 202 and r.json["status"] == "requested"
    assert client.post("/api/v1/jobs/reindex/runs").status_code == 409
    drain(worker)
    runs = client.get("/api/v1/jobs/reindex/runs").json["items"]
    assert runs[0]["status"] == "ok" and "records" in runs[0]["counts"]
    assert client.post("/api/v1/jobs/nope/runs").status_code == 404


def test_embedded_worker_makes_changes_searchable_quickly(client, dossier, env):
    from repo_server.jobs.worker import start_embedded

    thread, stop = start_embedded(env, lambda: open_writer(env))
    try:
        delays = []
        for i in range(5):
            doc = client.make_document(dossier["id"], subject=f"Thông báo số {i} về lịch tiếp dân")
            start = time.monotonic()
            while time.monotonic() - start < 15:
                r = client.get("/api/v1/search", query_string={"q": f"thong bao so {i} tiep dan"})
                if r.status_code == 200 and any(h["id"] == doc["id"] for h in r.json["items"]):
                    break
                assert r.status_code in (200, 503), r.json  # 503: index not created yet
                time.sleep(0.05)
            delays.append(time.monotonic() - start)
        assert max(delays) < 15, delays
    finally:
        stop.set()
        thread.join(10)
