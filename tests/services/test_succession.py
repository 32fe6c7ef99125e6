"""The 2025 reform: three communes merge into one; their fonds are closed and kept intact,
in the custody of the successor."""

from __future__ import annotations

from repo_server.services.keys import create_key
from tests.conftest import Client, drain

OLD = ["000.00.00.X01", "000.00.00.X02", "000.00.00.X03"]
NEW = "000.00.00.X99"


def test_three_communes_merge_into_one(client, app, env, worker):
    old_dossiers = {}
    for i, code in enumerate(OLD):
        client.make_fonds(code, f"UBND xã cũ số {i + 1}")
        d = client.make_dossier(code, title=f"Hồ sơ đất đai xã cũ {i + 1}")
        client.make_document(d["id"], subject=f"Quyết định giao đất xã {i + 1}")
        old_dossiers[code] = d
    client.make_fonds(NEW, "UBND xã mới")
    drain(worker)
    before = {c: client.get(f"/api/v1/dossiers/{d['id']}").json for c, d in old_dossiers.items()}
    for code in OLD:
        r = client.post(f"/api/v1/fonds/{code}/close",
                        json={"closed_on": "2025-06-30", "decision_ref": "NQ 1656/NQ-UBTVQH15",
                              "successor_code": NEW})
        assert r.status_code == 200, r.json
        assert r.json["status"] == "closed" and r.json["successor_code"] == NEW
    # closed: nothing new in the old name
    r = client.post("/api/v1/dossiers", json={"fonds_code": OLD[0], "title": "x",
                                              "retention": "05"})
    assert r.status_code == 409 and "closed" in r.json["message"]
    r = client.post(f"/api/v1/dossiers/{old_dossiers[OLD[0]]['id']}/documents",
                    json={"type_code": "02", "subject": "x"})
    assert r.status_code == 409 and "successor" in r.json["message"]
    # kept exactly as it was: codes, versions, metadata unchanged
    for code, d in old_dossiers.items():
        now = client.get(f"/api/v1/dossiers/{d['id']}").json
        assert now == before[code]
    # custody: the new commune's clerk sees the old communes' records, nobody else's
    client.make_fonds("000.00.00.Y01", "UBND phường khác")
    other = client.make_dossier("000.00.00.Y01", title="Hồ sơ đất đai phường khác")
    clerk = Client(app, create_key(env, "clerk-new", ["clerk"], fonds_scope=[NEW])[1])
    listed = clerk.get("/api/v1/dossiers").json
    assert {d["id"] for d in listed["items"]} == {d["id"] for d in old_dossiers.values()}
    assert clerk.get(f"/api/v1/dossiers/{other['id']}").status_code == 404
    # listings and search include predecessor fonds on request
    only_new = client.get("/api/v1/dossiers", query_string={"fonds_code": NEW}).json
    assert only_new["total"] == 0
    merged = client.get("/api/v1/dossiers", query_string={
        "fonds_code": NEW, "include_predecessors": "true"}).json
    assert merged["total"] == 3
    drain(worker)
    hits = client.get("/api/v1/search", query_string={
        "q": "giao dat", "fonds_code": NEW, "include_predecessors": "true"}).json
    assert hits["total"] == 3
    assert client.get("/api/v1/search", query_string={"q": "giao dat",
                                                      "fonds_code": NEW}).json["total"] == 0
    assert client.post(f"/api/v1/fonds/{OLD[0]}/close", json={
        "closed_on": "2025-06-30", "decision_ref": "x"}).status_code == 409
