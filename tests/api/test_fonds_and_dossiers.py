"""Fonds and dossiers through the HTTP API: create, list, correct with If-Match, versions."""

from __future__ import annotations

from datetime import UTC, datetime


def test_health_needs_no_key_and_reports_ok(client):
    r = client.raw.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json["status"] == "ok"
    assert {"database": "ok", "storage": "ok"}.items() <= r.json["checks"].items()


def test_every_other_route_needs_a_valid_key(client):
    r = client.raw.get("/api/v1/fonds")
    assert r.status_code == 401
    assert r.json["code"] == 401 and "Bearer" in r.json["message"]
    r = client.raw.get("/api/v1/fonds", headers={"Authorization": "Bearer rs_wrong"})
    assert r.status_code == 401
    assert "not valid" in r.json["message"]


def test_fonds_create_get_list_update(client):
    created = client.make_fonds()
    assert created["code"] == "000.00.00.H49" and created["status"] == "open"
    r = client.get("/api/v1/fonds/000.00.00.H49")
    assert r.status_code == 200 and r.headers["ETag"] == '"v1"'
    assert client.post("/api/v1/fonds", json={"code": "000.00.00.H49", "name": "x"}).status_code == 409
    r = client.patch("/api/v1/fonds/000.00.00.H49", json={"name": "UBND phường Thuận Hóa"},
                     headers={"If-Match": '"v1"'})
    assert r.status_code == 200 and r.json["name"] == "UBND phường Thuận Hóa"
    assert r.headers["ETag"] == '"v2"'
    listing = client.get("/api/v1/fonds").json
    assert listing["total"] == 1 and listing["items"][0]["version"] == 2


def test_fonds_code_and_closing_are_validated(client):
    r = client.post("/api/v1/fonds", json={"code": "bad code!", "name": "x"})
    assert r.status_code == 422 and "code" in r.json["errors"]["json"]
    r = client.post("/api/v1/fonds", json={"code": "000.00.00.A01", "name": "x",
                                           "status": "closed"})
    assert r.status_code == 422 and "closed_on" in r.json["errors"]["json"]


def test_dossier_gets_a_file_code_and_etag(client, fonds):
    d = client.make_dossier()
    assert d["file_code"] == "000.00.00.H49.2025.01"
    assert d["state"] == "open" and d["version"] == 1 and d["doc_total"] == 0
    d2 = client.make_dossier(file_notation="02.TH")
    assert d2["file_code"] == "000.00.00.H49.2025.02.TH"
    r = client.get(f"/api/v1/dossiers/{d['id']}")
    assert r.status_code == 200 and r.headers["ETag"] == '"v1"'
    assert r.json["title"] == "Hồ sơ cấp giấy phép xây dựng"


def test_dossier_in_unknown_fonds_is_404(client, fonds):
    r = client.post("/api/v1/dossiers", json={"fonds_code": "999.99.99.Z99", "title": "x",
                                              "retention": "01"})
    assert r.status_code == 404 and "999.99.99.Z99" in r.json["message"]


def test_dossier_input_errors_name_each_field(client, fonds):
    r = client.post("/api/v1/dossiers", json={
        "fonds_code": "000.00.00.H49", "title": "x", "retention": "08", "access_mode": "09",
        "languages": ["01", "42"], "start_date": "2025-02-30", "colour": "red"})
    assert r.status_code == 422
    errors = r.json["errors"]["json"]
    assert set(errors) == {"start_date", "colour"}  # type errors come first
    r = client.post("/api/v1/dossiers", json={
        "fonds_code": "000.00.00.H49", "title": "x", "retention": "08", "access_mode": "09",
        "languages": ["01", "42"], "start_date": "2025-03-01", "end_date": "2025-02-01"})
    assert r.status_code == 422
    errors = r.json["errors"]["json"]
    assert set(errors) == {"retention", "access_mode", "languages", "end_date"}
    assert "01 (Vĩnh viễn)" in errors["retention"][0]
    assert "before the start date" in errors["end_date"][0]


def test_retention_other_needs_years(client, fonds):
    r = client.post("/api/v1/dossiers", json={"fonds_code": "000.00.00.H49", "title": "x",
                                              "retention": "07"})
    assert r.status_code == 422 and "retention_years" in r.json["errors"]["json"]
    d = client.make_dossier(retention="07", retention_years=5)
    assert d["retention_years"] == 5


def test_digitised_dossier_needs_paper_file_code(client, fonds):
    r = client.post("/api/v1/dossiers", json={"fonds_code": "000.00.00.H49", "title": "x",
                                              "retention": "01", "confidence_level": "02"})
    assert r.status_code == 422 and "paper_file_code" in r.json["errors"]["json"]


def test_external_ref_is_unique_per_fonds(client, fonds):
    first = client.make_dossier(external_ref="HS-001")
    r = client.post("/api/v1/dossiers", json={"fonds_code": "000.00.00.H49", "title": "x",
                                              "retention": "05", "external_ref": "HS-001"})
    assert r.status_code == 409 and r.json["existing_id"] == first["id"]
    client.make_fonds("000.00.00.H50", "UBND xã B")
    client.make_dossier("000.00.00.H50", external_ref="HS-001")


def test_update_needs_if_match_and_refuses_stale(client, dossier):
    url = f"/api/v1/dossiers/{dossier['id']}"
    r = client.patch(url, json={"title": "Tiêu đề mới"})
    assert r.status_code == 428
    r = client.patch(url, json={"title": "Tiêu đề mới"}, headers={"If-Match": '"v1"'})
    assert r.status_code == 200 and r.json["version"] == 2 and r.headers["ETag"] == '"v2"'
    r = client.patch(url, json={"title": "Lần ba"}, headers={"If-Match": '"v1"'})
    assert r.status_code == 412
    assert client.get(url).json["title"] == "Tiêu đề mới"


def test_update_validates_the_merged_record(client, dossier):
    url = f"/api/v1/dossiers/{dossier['id']}"
    r = client.patch(url, json={"end_date": "2025-01-01"}, headers={"If-Match": '"v1"'})
    assert r.status_code == 422 and "end_date" in r.json["errors"]["json"]
    r = client.patch(url, json={"state": "closed"}, headers={"If-Match": '"v1"'})
    assert r.status_code == 422  # unknown to the update schema
    assert client.get(url).json["version"] == 1


def test_versions_keep_every_earlier_state(client, dossier):
    url = f"/api/v1/dossiers/{dossier['id']}"
    client.patch(url, json={"title": "Bản hai"}, headers={"If-Match": '"v1"'})
    client.patch(url, json={"title": "Bản ba", "keywords": ["xây dựng"]},
                 headers={"If-Match": '"v2"'})
    versions = client.get(f"{url}/versions").json["items"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert versions[0]["user"] == "clerk-test" and "title" in versions[2]["message"]
    assert client.get(f"{url}/versions/1").json["title"] == "Hồ sơ cấp giấy phép xây dựng"
    assert client.get(f"{url}/versions/2").json["title"] == "Bản hai"
    assert client.get(f"{url}/versions/9").status_code == 404
    between = versions[1]["created"]
    as_of = client.get(url, query_string={"as_of": between}).json
    assert as_of["title"] == "Bản hai"
    before = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    assert client.get(url, query_string={"as_of": before}).status_code == 404


def test_list_filters_sorts_and_paginates(client, fonds):
    client.make_fonds("000.00.00.H50", "UBND xã B")
    for i in range(5):
        client.make_dossier(title=f"Hồ sơ đất đai số {i}", start_date=f"202{i}-03-01")
    client.make_dossier("000.00.00.H50", title="Hồ sơ khác", start_date="2024-01-01")
    r = client.get("/api/v1/dossiers", query_string={"fonds_code": "000.00.00.H49",
                                                     "page_size": 2, "sort": "start_date"})
    body = r.json
    assert body["total"] == 5 and len(body["items"]) == 2 and body["page"] == 1
    assert [d["start_date"] for d in body["items"]] == ["2020-03-01", "2021-03-01"]
    assert client.get("/api/v1/dossiers", query_string={"year": 2024}).json["total"] == 2
    assert client.get("/api/v1/dossiers", query_string={"q": "đất đai số 3"}).json["total"] == 1
    assert client.get("/api/v1/dossiers", query_string={"q": "%"}).json["total"] == 0
    assert client.get("/api/v1/dossiers", query_string={"page_size": 500}).status_code == 422
    assert client.get("/api/v1/dossiers", query_string={"page": -1}).status_code == 422
    assert client.get("/api/v1/dossiers", query_string={"sort": "secret"}).status_code == 422


def test_unknown_dossier_is_a_json_404(client):
    r = client.get("/api/v1/dossiers/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.json["code"] == 404
    r = client.get("/api/v1/dossiers/not-a-uuid")
    assert r.status_code == 404 and r.is_json


def test_code_lists_are_served(client):
    lists = {item["name"]: item for item in client.get("/api/v1/code-lists").json["items"]}
    assert {"retention", "access_mode", "language", "document_type", "secrecy", "urgency",
            "confidence_level", "physical_state"} <= set(lists)
    types = {e["code"]: e for e in client.get("/api/v1/code-lists/document_type").json["entries"]}
    assert types["02"]["name_vi"] == "Quyết định" and types["02"]["abbreviation"] == "QĐ"
    assert len(types) == 32
    assert client.get("/api/v1/code-lists/nope").status_code == 404


def test_code_list_override_changes_validation(tmp_path, client, fonds, env):
    # An agency can correct a code list without a code change: instance/codes/<name>.json.
    import json

    from repo_server.codes import load_code_lists

    override = tmp_path / "codes"
    override.mkdir()
    base = env.codes["physical_state"].to_dict()
    base["entries"].append({"code": "04", "name_vi": "Cần tu bổ", "name_en": "Needs repair"})
    (override / "physical_state.json").write_text(json.dumps(base, ensure_ascii=False))
    env.codes = load_code_lists(override)
    client.make_dossier(physical_state="04")


def test_a_fonds_without_a_name_is_a_422_not_a_500(client):
    """Found by schemathesis on this branch (issue 12 §4: `POST /fonds {"code": ...}`)."""
    r = client.post("/api/v1/fonds", json={"code": "000.00.00.H51"})
    assert r.status_code == 422 and "name" in str(r.json)
