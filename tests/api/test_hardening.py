"""Bad input of every kind gets a clear 4xx and changes nothing."""

from __future__ import annotations

import json

import pytest


def test_security_headers_on_every_response(client, dossier):
    for r in (client.get(f"/api/v1/dossiers/{dossier['id']}"), client.raw.get("/api/v1/health"),
              client.get("/api/v1/nothing-here")):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "default-src" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Request-ID"]


def test_nul_and_control_characters_are_refused(client, fonds):
    r = client.post("/api/v1/dossiers", json={"fonds_code": "000.00.00.H49",
                                              "title": "Hồ sơ\x00độc", "retention": "05"})
    assert r.status_code == 422 and "title" in r.json["errors"]["json"]
    r = client.post("/api/v1/dossiers", json={"fonds_code": "000.00.00.H49", "title": "x",
                                              "retention": "05", "keywords": ["a\x07"]})
    assert r.status_code == 422
    assert client.get("/api/v1/dossiers").json["total"] == 0


def test_oversized_and_deep_json(client, fonds):
    big = json.dumps({"fonds_code": "000.00.00.H49", "title": "x" * (10 * 1024 * 1024),
                      "retention": "05"})
    r = client.post("/api/v1/dossiers", data=big, content_type="application/json")
    assert r.status_code == 413 and r.is_json
    deep = "[" * 100000 + "]" * 100000
    r = client.post("/api/v1/dossiers", data=deep, content_type="application/json")
    assert r.status_code == 400 and r.is_json  # not JSON we can read
    assert client.get("/api/v1/dossiers").json["total"] == 0


def test_invalid_utf8_and_wrong_content_type(client, fonds):
    r = client.post("/api/v1/dossiers", data=b'{"title": "\xff\xfe"}',
                    content_type="application/json")
    assert r.status_code == 400 and r.is_json
    assert client.get("/api/v1/dossiers").json["total"] == 0


def test_a_body_that_is_not_json_is_a_415_asking_for_json(client, fonds):
    r = client.post("/api/v1/dossiers", data="title=x", content_type="text/plain")
    assert r.status_code == 415 and r.is_json and "JSON" in r.json["message"]
    assert client.get("/api/v1/dossiers").json["total"] == 0


def test_sql_like_text_is_just_text(client, fonds):
    title = "x'; DROP TABLE dossiers; --"
    d = client.make_dossier(title=title)
    assert client.get(f"/api/v1/dossiers/{d['id']}").json["title"] == title
    assert client.get("/api/v1/dossiers", query_string={"q": "' OR 1=1 --"}).json["total"] == 0


@pytest.mark.parametrize("params", [{"page_size": 10**9}, {"page": -1}, {"page": "abc"},
                                    {"page_size": 0}])
def test_bad_pagination(client, params):
    r = client.get("/api/v1/dossiers", query_string=params)
    assert r.status_code == 422 and r.is_json


def test_download_is_an_attachment_with_a_safe_name(client, dossier):
    doc = client.make_document(dossier["id"], files={"Quyết định số 15.txt": b"abc"})
    r = client.get(f"/api/v1/documents/{doc['id']}/files/Quyết định số 15.txt")
    assert r.status_code == 200 and r.data == b"abc"
    assert r.headers["Content-Disposition"] == (
        "attachment; filename=\"Quyet dinh so 15.txt\"; "  # "đ" kept as "d"
        "filename*=UTF-8''Quy%E1%BA%BFt%20%C4%91%E1%BB%8Bnh%20s%E1%BB%91%2015.txt")
    # a name that could break out of the header is refused when the file is added
    r = client.post(f"/api/v1/documents/{doc['id']}/files", query_string={"name": 'a"b.txt'},
                    data=b"x", content_type="text/plain", headers={"If-Match": '"v1"'})
    assert r.status_code == 422 and "cannot contain" in r.json["errors"]["json"]["file"][0]


def test_path_tricks_in_urls_find_nothing(client, dossier):
    doc = client.make_document(dossier["id"], files={"a.txt": b"abc"})
    for name in ("../inventory.json", "..%2f..%2finventory.json", "%00", "files/a.txt"):
        r = client.get(f"/api/v1/documents/{doc['id']}/files/{name}")
        assert r.status_code == 404, name
        assert r.is_json


@pytest.mark.parametrize("path", ["/api/v1/registrations/4770820872/cancel",
                                  "/api/v1/registrations/99999999999999999999/cancel"])
def test_an_integer_id_too_large_for_the_catalog_is_a_404(client, fonds, path):
    """Found by schemathesis on the PostgreSQL leg: the id reached a 32-bit column (500)."""
    r = client.post(path, json={"reason": "nhầm số"})
    assert r.status_code == 404 and r.is_json


def test_integer_path_parameters_state_their_range(client):
    spec = client.get("/api/v1/openapi.json").json
    ints = [p["schema"] for item in spec["paths"].values() for p in item.get("parameters", [])
            if p["in"] == "path" and p["schema"].get("type") == "integer"]
    assert ints and all(s.get("maximum") == 2**31 - 1 for s in ints), ints
