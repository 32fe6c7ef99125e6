"""Bad input, by hand, on every write route: each case gets its own 4xx with a JSON error in
the API's one shape, never a 500 (issue 12, section 4). The generated side of the same promise
is tests/api/schemathesis_run.py; the rules themselves are in repo_server/api/input_rules.py."""

from __future__ import annotations

import io
import json
import unicodedata
import uuid

import pytest

NOBODY = str(uuid.UUID(int=7))  # an id that names nothing
F = "000.00.00.H49"


@pytest.fixture
def world(client, dossier) -> dict:
    """One of each record the write routes touch, built through the API."""
    doc = client.make_document(dossier["id"], files={"a.txt": b"hello"})
    hold = client.post("/api/v1/holds", json={"reason": "Thanh tra", "authority_ref": "QĐ 1"})
    plan = client.post("/api/v1/file-plans", json={"fonds_code": F, "year": 2025})
    batch = client.post("/api/v1/handover-batches", json={
        "fonds_code": F, "giving_unit": "Văn phòng", "title": "Nộp lưu 2025"})
    user = client.post("/api/v1/users", json={"name": "van-thu", "roles": ["clerk"]})
    for r in (hold, plan, batch, user):
        assert r.status_code == 201, r.json
    return {"d": dossier["id"], "doc": doc["id"], "hold": hold.json["id"],
            "plan": plan.json["id"], "batch": batch.json["id"], "user": user.json["id"]}


def raw_json(text: str) -> dict:
    """A body sent as written (for JSON escapes such as \\ud800 that Python cannot encode)."""
    return {"data": text.encode(), "content_type": "application/json"}


def form(**parts) -> dict:  # noqa: ANN003
    return {"data": parts, "content_type": "multipart/form-data"}


SURROGATE_TITLE = '{"fonds_code": "' + F + '", "title": "H\\ud800", "retention": "05"}'

# (case, method, url, request arguments, expected status). {d}, {doc}, ... name the records
# of `world`; NOBODY names none.
CASES = [
    # the reproducers of the issue
    ("fonds without a name", "POST", "/fonds", {"json": {"code": "13.05"}}, 422),
    ("lone surrogate in a title", "POST", "/dossiers", raw_json(SURROGATE_TITLE), 422),
    ("lone surrogate in a subject", "POST", "/dossiers/{d}/documents",
     raw_json('{"type_code": "02", "subject": "\\udfff"}'), 422),
    ("lone surrogate in a key", "PATCH", "/dossiers/{d}",
     {**raw_json('{"\\ud800": 1}'), "headers": {"If-Match": '"v1"'}}, 422),
    ("If-Match of 5,000 digits", "PATCH", "/dossiers/{d}",
     {"json": {"title": "x"}, "headers": {"If-Match": '"v' + "9" * 5000 + '"'}}, 412),
    ("whitespace-only title", "POST", "/dossiers",
     {"json": {"fonds_code": F, "title": " \t ", "retention": "05"}}, 422),
    ("whitespace-only title on PATCH", "PATCH", "/dossiers/{d}",
     {"json": {"title": "   "}, "headers": {"If-Match": '"v1"'}}, 422),
    ("invalid UTF-8 in multipart metadata", "POST", "/dossiers/{d}/documents",
     {"data": b'--B\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
              b'{"type_code": "02", "subject": "Quy\xe1t \xff"}\r\n--B--\r\n',
      "content_type": "multipart/form-data; boundary=B"}, 400),
    # text rules
    ("control character in a title", "POST", "/dossiers",
     {"json": {"fonds_code": F, "title": "Hồ sơ\x00", "retention": "05"}}, 422),
    ("control character in a nested field", "PATCH", "/documents/{doc}",
     {"json": {"signer": {"full_name": "Lê\x1bVăn"}}, "headers": {"If-Match": '"v1"'}}, 422),
    ("control character in multipart metadata", "POST", "/dossiers/{d}/documents",
     form(metadata='{"type_code": "02", "subject": "a\\u0007"}'), 422),
    ("invalid UTF-8 in a query", "GET", "/dossiers?q=%FF%FE", {}, 400),
    ("control character in a query", "GET", "/dossiers?q=a%00b", {}, 422),
    ("not JSON", "POST", "/dossiers", {"data": b"{title", "content_type": "application/json"},
     400),
    ("text where JSON has a boolean", "PATCH", "/users/{user}", {"json": {"active": "yes"}},
     422),
    ("text where JSON has a number", "PATCH", "/documents/{doc}",
     {"json": {"page_count": "2"}, "headers": {"If-Match": '"v1"'}}, 422),
    # If-Match
    ("If-Match missing", "PATCH", "/dossiers/{d}", {"json": {"title": "x"}}, 428),
    ("If-Match garbage", "PATCH", "/fonds/" + F,
     {"json": {"name": "x"}, "headers": {"If-Match": "garbage"}}, 412),
    ("If-Match empty", "POST", "/dossiers/{d}/close",
     {"json": {}, "headers": {"If-Match": ""}}, 412),
    ("If-Match stale", "DELETE", "/documents/{doc}/files/a.txt",
     {"headers": {"If-Match": '"v7"'}}, 412),
    # sizes
    ("JSON body over MAX_JSON_BYTES", "POST", "/dossiers",
     {"json": {"fonds_code": F, "title": "x" * (1024 * 1024 + 10), "retention": "05"}}, 413),
    ("raw upload over MAX_UPLOAD_BYTES", "POST", "/documents/{doc}/files?name=big.bin",
     {"data": b"0" * (2 * 1024 * 1024 + 1), "content_type": "application/octet-stream"}, 413),
    # fonds, dossiers, documents, files
    ("fonds: bad status", "PATCH", "/fonds/" + F,
     {"json": {"status": "gone"}, "headers": {"If-Match": '"v1"'}}, 422),
    ("fonds close: no decision", "POST", "/fonds/" + F + "/close", {"json": {}}, 422),
    ("push: no manifest", "POST", "/dossiers/push", form(x="1"), 422),
    ("push: manifest not JSON", "POST", "/dossiers/push", form(manifest="{"), 422),
    ("document: no type", "POST", "/dossiers/{d}/documents", {"json": {"subject": "x"}}, 422),
    ("files: none sent", "POST", "/documents/{doc}/files", form(x="1"), 422),
    ("file replace without If-Match", "PUT", "/documents/{doc}/files/a.txt",
     {"data": b"new", "content_type": "text/plain"}, 428),
    ("close: bad date", "POST", "/dossiers/{d}/close", {"json": {"end_date": "31/12"}}, 422),
    ("archive: nobody handed it over", "POST", "/dossiers/{d}/archive", {"json": {}}, 422),
    ("transfer: no archive", "POST", "/dossiers/{d}/transfer", {"json": {}}, 422),
    ("transfer-due: unknown field", "POST", "/dossiers/{d}/transfer-due",
     {"json": {"when": 1}}, 422),
    # retention, holds, disposal, jobs, users, packages, fixity
    ("retention rule: nothing", "POST", "/retention-rules", {"json": {}}, 422),
    ("retention rule: years as text", "PATCH", "/retention-rules/01.01",
     {"json": {"years": "ten"}}, 422),
    ("retention import: not CSV", "POST", "/retention-rules/import",
     {"data": b"\x00\x01", "content_type": "text/csv"}, 422),
    ("hold: nothing", "POST", "/holds", {"json": {}}, 422),
    ("hold: dossier ids not text", "POST", "/holds/{hold}/dossiers",
     {"json": {"dossier_ids": [1]}}, 422),
    ("hold release: no reason", "POST", "/holds/{hold}/release", {"json": {}}, 422),
    ("disposal: nothing", "POST", "/disposal-reviews", {"json": {}}, 422),
    ("disposal opinions: nothing", "POST", "/disposal-reviews/" + NOBODY + "/opinions",
     {"json": {}}, 422),
    ("disposal approve: nothing", "POST", "/disposal-reviews/" + NOBODY + "/approve",
     {"json": {}}, 422),
    ("job: no such job", "POST", "/jobs/no-such-job/runs", {}, 404),
    ("user: nothing", "POST", "/users", {"json": {}}, 422),
    ("key: expiry not a time", "POST", "/users/{user}/keys", {"json": {"expires_at": "soon"}},
     422),
    ("grant: nothing", "POST", "/users/{user}/grants", {"json": {}}, 422),
    ("package: not a ZIP", "POST", "/packages/import",
     {"data": b"not a zip", "content_type": "application/zip"}, 422),
    ("fixity: no such object", "POST", "/fixity/objects/" + NOBODY + "/verify", {}, 404),
    # records office: numbering, registration, file plans, links, hand-over
    ("outgoing registration: book not text", "POST", "/documents/{doc}/outgoing-registration",
     {"json": {"number_book": 5}}, 422),
    ("incoming registration: unknown handler field", "POST",
     "/documents/{doc}/incoming-registration", {"json": {"assigned_to": {"x": 1}}}, 422),
    ("registration: bad date", "PATCH", "/documents/{doc}/registration",
     {"json": {"delivered_on": "tomorrow"}}, 422),
    ("handling: control character", "POST", "/documents/{doc}/handling",
     {"json": {"status": "\x00"}}, 422),
    ("cancel number: no reason", "POST", "/registrations/1/cancel", {"json": {}}, 422),
    ("file plan: no year", "POST", "/file-plans", {"json": {"fonds_code": F}}, 422),
    ("file plan item: blank title", "POST", "/file-plans/{plan}/items",
     {"json": {"title": ""}}, 422),
    ("file plan import: not a spreadsheet", "POST", "/file-plans/{plan}/import",
     {"data": b'a,"b\n\x00', "content_type": "text/csv"}, 422),
    ("file plan approve: no reference", "POST", "/file-plans/{plan}/approve", {"json": {}}, 422),
    ("file plan open: items not a list", "POST", "/file-plans/{plan}/open",
     {"json": {"item_ids": "all"}}, 422),
    ("link: no document", "POST", "/dossiers/{d}/links", {"json": {}}, 422),
    ("keep back: in the past", "POST", "/dossiers/{d}/keep-back",
     {"json": {"until": "2020-01-01", "consent_ref": "x", "reason": "y"}}, 422),
    ("hand-over batch: nothing", "POST", "/handover-batches", {"json": {"fonds_code": F}}, 422),
    ("hand-over batch dossiers: not a list", "POST", "/handover-batches/{batch}/dossiers",
     {"json": {"dossier_ids": "x"}}, 422),
    ("hand-over giving: no name", "POST", "/handover-batches/{batch}/confirm-giving",
     {"json": {}}, 422),
    ("hand-over receiving: blank name", "POST", "/handover-batches/{batch}/confirm-receiving",
     {"json": {"name": ""}}, 422),
    # intake: digitisation batches, signatures
    ("digitisation: JSON instead of files", "POST", "/digitisation/batches",
     {"json": {"fonds_code": F}}, 422),
    ("digitisation: finding aid not CSV", "POST", "/digitisation/batches",
     form(fonds_code=F, finding_aid=(io.BytesIO(b'\x89PNG\r\n\x1a\n"a\rb'), "aid.csv"),
          scans=(io.BytesIO(b"PK"), "scans.zip")), 422),
    ("digitisation: no scans", "POST", "/digitisation/batches",
     form(fonds_code=F, finding_aid=(io.BytesIO(b"a,b\n"), "aid.csv")), 422),
    ("digitisation: no such batch", "POST", "/digitisation/batches/" + NOBODY + "/cancel", {},
     404),
    ("signature check: no such document", "POST",
     "/documents/" + NOBODY + "/signatures/check", {}, 404),
]


@pytest.mark.parametrize(("method", "url", "kwargs", "status"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_its_4xx_and_a_json_error(client, world, method, url, kwargs, status):
    kwargs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in kwargs.items()}
    r = client._call(method, "/api/v1" + url.format(**world), **kwargs)
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    assert r.is_json
    body = r.json
    assert body["code"] == status and body["status"] and isinstance(body["message"], str)
    assert isinstance(body.get("errors", {}), dict) and "request_id" not in body  # not a 500


def test_text_is_stored_in_nfc_so_the_title_filter_finds_it(client, fonds):
    nfd = unicodedata.normalize("NFD", "Hồ sơ đất đai phường An Cựu")
    d = client.make_dossier(title=nfd)
    assert d["title"] == unicodedata.normalize("NFC", nfd) != nfd
    for q in ("đất đai", unicodedata.normalize("NFD", "đất đai")):
        assert client.get("/api/v1/dossiers", query_string={"q": q}).json["total"] == 1


def test_file_bytes_are_never_normalised(client, dossier):
    nfd = unicodedata.normalize("NFD", "Quyết định").encode()
    doc = client.make_document(dossier["id"], files={"a.txt": nfd})
    assert client.get(f"/api/v1/documents/{doc['id']}/files/a.txt").data == nfd


def test_nothing_was_written_by_refused_requests(client, fonds):
    client.post("/api/v1/dossiers", **raw_json(SURROGATE_TITLE))
    client.post("/api/v1/dossiers", json={"fonds_code": F, "title": "  ", "retention": "05"})
    client.post("/api/v1/fonds", json={"code": "13.05"})
    assert client.get("/api/v1/dossiers").json["total"] == 0
    assert client.get("/api/v1/fonds").json["total"] == 1


@pytest.mark.parametrize(("header", "status"), [
    ("bytes=0-1,3-4", 200),  # several ranges: ignored (RFC 9110 14.2), the whole file
    ("bytes=x-y", 200),  # not a range: ignored
    ("items=0-1", 200),  # another unit: ignored
    ("bytes=4-2", 200),  # last before first: invalid, ignored
    ("bytes=1-2", 206),
    ("bytes=100-", 416),  # one well-formed range beyond the end
])
def test_range_headers(client, dossier, header, status):
    doc = client.make_document(dossier["id"], files={"a.txt": b"hello"})
    r = client.get(f"/api/v1/documents/{doc['id']}/files/a.txt", headers={"Range": header})
    assert r.status_code == status
    if status == 200:
        assert r.data == b"hello"
    elif status == 206:
        assert r.data == b"el"


def test_405_names_the_allowed_methods(client):
    r = client._call("TRACE", "/api/v1/fonds")
    assert r.status_code == 405 and r.is_json
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_openapi_documents_if_match_and_the_text_rule(client):
    spec = client.get("/api/v1/openapi.json").json
    patch = spec["paths"]["/api/v1/dossiers/{dossier_id}"]["patch"]
    if_match = [p for p in patch["parameters"] if p["name"] == "If-Match"]
    assert if_match and if_match[0]["required"] is True
    close = spec["paths"]["/api/v1/dossiers/{dossier_id}/close"]["post"]
    assert [p["required"] for p in close["parameters"] if p["name"] == "If-Match"] == [False]
    title = spec["components"]["schemas"]["DossierCreate"]["properties"]["title"]
    assert "\\u0000" in title["pattern"]
    assert "NFC" in spec["components"]["schemas"]["DossierCreate"]["description"]
    assert spec["components"]["schemas"]["Error"]["additionalProperties"] is True


def test_json_refused_from_content_length_before_reading(client):
    """A declared length over the limit is refused without reading the body (which is absent
    here: a server that tried to read it would wait or fail, not answer 413)."""
    r = client.raw.post("/api/v1/dossiers", headers={**client.headers},
                        environ_overrides={"CONTENT_LENGTH": str(600 * 1024 * 1024),
                                           "CONTENT_TYPE": "application/json",
                                           "wsgi.input": io.BytesIO(b"")})
    assert r.status_code == 413 and r.is_json
    assert "MAX_JSON_BYTES" in r.json["message"]
    r = client.raw.post("/api/v1/documents/x/files", headers={**client.headers},
                        environ_overrides={"CONTENT_LENGTH": str(600 * 1024 * 1024),
                                           "CONTENT_TYPE": "application/pdf",
                                           "wsgi.input": io.BytesIO(b"")})
    assert r.status_code == 413 and "MAX_UPLOAD_BYTES" in r.json["message"]


def test_refused_json_names_the_field(client, fonds):
    r = client.post("/api/v1/dossiers", **raw_json(SURROGATE_TITLE))
    assert "title" in r.json["errors"]["json"]
    assert "surrogate" in json.dumps(r.json)
