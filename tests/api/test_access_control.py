"""Roles, fonds scope and access modes: who may do and see what (issue: access control)."""

from __future__ import annotations

import pytest

from repo_server.api.security import PUBLIC_ENDPOINTS, ROUTE_ACTIONS
from repo_server.services.context import Actor
from repo_server.services.keys import create_key
from repo_server.services.policy import allowed
from tests.conftest import Client, drain

# role × action × expected: written out by hand from the issue, not derived from the code.
POLICY_TABLE = [
    ("clerk", "dossier.create", True), ("clerk", "dossier.update", True),
    ("clerk", "document.create", True), ("clerk", "file.write", True),
    ("clerk", "dossier.close", True), ("clerk", "dossier.archive", False),
    ("clerk", "hold.write", False), ("clerk", "retention.write", False),
    ("clerk", "disposal.approve", False), ("clerk", "audit.read", False),
    ("clerk", "users.manage", False), ("clerk", "fonds.write", False),
    ("archivist", "dossier.archive", True), ("archivist", "retention.write", True),
    ("archivist", "hold.write", True), ("archivist", "disposal.propose", True),
    ("archivist", "disposal.opinion", False), ("archivist", "disposal.approve", False),
    ("archivist", "dossier.create", False), ("archivist", "dossier.read", True),
    ("appraiser", "disposal.opinion", True), ("appraiser", "disposal.approve", False),
    ("appraiser", "hold.write", False), ("appraiser", "dossier.update", False),
    ("head", "disposal.approve", True), ("head", "disposal.opinion", False),
    ("head", "dossier.update", False),
    ("reader", "dossier.read", True), ("reader", "file.read", True), ("reader", "search", True),
    ("reader", "dossier.create", False), ("reader", "document.update", False),
    ("reader", "audit.read", False),
    ("auditor", "audit.read", True), ("auditor", "dossier.read", False),
    ("auditor", "search", False),
    ("integration", "dossier.create", True), ("integration", "document.create", True),
    ("integration", "file.write", True), ("integration", "dossier.read", True),
    ("integration", "dossier.update", False), ("integration", "document.update", False),
    ("integration", "dossier.close", False), ("integration", "search", True),
    ("integration", "hold.read", False),
    ("admin", "users.manage", True), ("admin", "fonds.write", True),
    ("admin", "disposal.approve", True),
]


@pytest.mark.parametrize(("role", "action", "expected"), POLICY_TABLE)
def test_policy_table(role, action, expected):
    assert allowed(Actor(name="u", roles=(role,)), action) is expected


def test_every_route_has_an_action(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (rule.endpoint, method) not in ROUTE_ACTIONS:
                missing.append((rule.endpoint, method))
    assert missing == []


def user(app, env, name, roles, **kw) -> Client:  # noqa: ANN001, ANN003
    return Client(app, create_key(env, name, roles, **kw)[1])


def test_roles_are_enforced_over_http(client, app, env, dossier):
    reader = user(app, env, "reader1", ["reader"])
    assert reader.get(f"/api/v1/dossiers/{dossier['id']}").status_code == 200
    r = reader.patch(f"/api/v1/dossiers/{dossier['id']}", json={"title": "x"},
                     headers={"If-Match": '"v1"'})
    assert r.status_code == 403 and r.json["action"] == "dossier.update"
    auditor = user(app, env, "auditor1", ["auditor"])
    assert auditor.get("/api/v1/dossiers").status_code == 403
    assert auditor.get("/api/v1/audit").status_code == 200
    integration = user(app, env, "desk", ["integration"], fonds_scope=["000.00.00.H49"])
    d = integration.make_dossier(title="Hồ sơ từ một cửa")
    assert integration.patch(f"/api/v1/dossiers/{d['id']}", json={"title": "y"},
                             headers={"If-Match": '"v1"'}).status_code == 403
    assert integration.get("/api/v1/search").status_code != 403  # its fonds: test_search_api
    assert reader.get("/api/v1/users").status_code == 403


def test_fonds_scope_hides_other_communes(client, app, env, fonds, worker):
    client.make_fonds("000.00.00.H50", "UBND xã Phú Mỹ")
    mine = client.make_dossier("000.00.00.H49", title="Hồ sơ đất đai An Cựu")
    theirs = client.make_dossier("000.00.00.H50", title="Hồ sơ đất đai Phú Mỹ")
    their_doc = client.make_document(theirs["id"], files={"a.txt": "đất đai".encode()},
                                     subject="Công văn đất đai")
    client.make_document(mine["id"], subject="Công văn đất đai")
    drain(worker)
    clerk = user(app, env, "clerk-h49", ["clerk"], fonds_scope=["000.00.00.H49"])
    listing = clerk.get("/api/v1/dossiers").json
    assert [d["id"] for d in listing["items"]] == [mine["id"]] and listing["total"] == 1
    assert [f["code"] for f in clerk.get("/api/v1/fonds").json["items"]] == ["000.00.00.H49"]
    for url in (f"/api/v1/dossiers/{theirs['id']}", f"/api/v1/dossiers/{theirs['id']}/versions",
                f"/api/v1/dossiers/{theirs['id']}/documents",
                f"/api/v1/documents/{their_doc['id']}",
                f"/api/v1/documents/{their_doc['id']}/versions",
                f"/api/v1/documents/{their_doc['id']}/files/a.txt",
                "/api/v1/fonds/000.00.00.H50"):
        assert clerk.get(url).status_code == 404, url
    r = clerk.patch(f"/api/v1/dossiers/{theirs['id']}", json={"title": "x"},
                    headers={"If-Match": '"v1"'})
    assert r.status_code == 404
    assert clerk.post("/api/v1/dossiers", json={"fonds_code": "000.00.00.H50", "title": "x",
                                                "retention": "05"}).status_code == 404
    found = clerk.get("/api/v1/search", query_string={"q": "dat dai"}).json
    assert found["total"] == 1 and found["facets"]["fonds_code"] == {"000.00.00.H49": 1}
    asked = clerk.get("/api/v1/search", query_string={"q": "dat dai",
                                                      "fonds_code": "000.00.00.H50"}).json
    assert asked["total"] == 0


def test_access_modes_conditional_and_secret(client, app, env, fonds, worker):
    public = client.make_dossier(title="Hồ sơ công khai")
    conditional = client.make_dossier(title="Hồ sơ sử dụng có điều kiện", access_mode="02")
    secret = client.make_dossier(title="Hồ sơ mật", access_mode="03")
    client.make_document(public["id"], subject="Quyết định công khai")
    client.make_document(public["id"], subject="Văn bản mật trong hồ sơ công khai",
                         access_mode="03")
    client.make_document(conditional["id"], subject="Quyết định có điều kiện")
    drain(worker)
    reader = user(app, env, "reader2", ["reader"])
    assert reader.get(f"/api/v1/dossiers/{public['id']}").status_code == 200
    assert reader.get(f"/api/v1/dossiers/{conditional['id']}").status_code == 404
    assert reader.get(f"/api/v1/dossiers/{secret['id']}").status_code == 404
    assert reader.get("/api/v1/dossiers").json["total"] == 1
    # the public dossier's count does not reveal its secret document
    assert reader.get(f"/api/v1/dossiers/{public['id']}").json["doc_total"] == 1
    assert reader.get(f"/api/v1/dossiers/{public['id']}/documents").json["total"] == 1
    hits = reader.get("/api/v1/search", query_string={"q": "quyet dinh"}).json
    assert hits["total"] == 1 and sum(hits["facets"]["type_code"].values()) == 1
    assert reader.get("/api/v1/search", query_string={"q": "mat"}).json["total"] == 0
    # a per-dossier grant opens one conditional dossier
    me = client.get("/api/v1/users").json["items"]
    reader_id = next(u["id"] for u in me if u["name"] == "reader2")
    r = client.post(f"/api/v1/users/{reader_id}/grants", json={"dossier_id": conditional["id"]})
    assert r.status_code == 201
    assert reader.get(f"/api/v1/dossiers/{conditional['id']}").status_code == 200
    assert reader.get(f"/api/v1/dossiers/{secret['id']}").status_code == 404
    cleared = user(app, env, "officer", ["reader"], clearance=True, conditional=True)
    assert cleared.get(f"/api/v1/dossiers/{secret['id']}").status_code == 200
    assert cleared.get(f"/api/v1/dossiers/{public['id']}").json["doc_total"] == 2


def test_keys_through_the_api_revocation_and_expiry(client, app, env):
    r = client.post("/api/v1/users", json={"name": "clerk-x", "roles": ["clerk"],
                                           "fonds_scope": ["000.00.00.H49"]})
    assert r.status_code == 201
    uid = r.json["id"]
    key = client.post(f"/api/v1/users/{uid}/keys", json={"label": "laptop"}).json
    assert key["secret"].startswith("rs_")
    listed = client.get(f"/api/v1/users/{uid}").json
    assert "secret" not in str(listed["keys"]) and listed["keys"][0]["label"] == "laptop"
    other = Client(app, key["secret"])
    assert other.get("/api/v1/me").json["roles"] == ["clerk"]
    client.delete(f"/api/v1/users/{uid}/keys/{key['id']}")
    assert other.get("/api/v1/me").status_code == 401
    r = client.post(f"/api/v1/users/{uid}/keys", json={"expires_at": "2000-01-01T00:00:00Z"})
    assert r.status_code == 422
    assert client.post("/api/v1/users", json={"name": "z", "roles": ["wizard"]}).status_code == 422


def test_failed_sign_ins_are_rate_limited(client, app):
    for _ in range(app.config["REPO"]["AUTH_FAILURE_LIMIT"]):
        assert client.raw.get("/api/v1/fonds", headers={"Authorization": "Bearer rs_bad"}
                              ).status_code == 401
    r = client.raw.get("/api/v1/fonds", headers={"Authorization": "Bearer rs_bad"})
    assert r.status_code == 429 and "Retry-After" in r.headers
    # another bad key from the same address is slowed down too ...
    assert client.raw.get("/api/v1/fonds", headers={"Authorization": "Bearer rs_other"}
                          ).status_code == 429
    # ... but a valid key is never locked out by someone else's failures
    assert client.get("/api/v1/fonds").status_code == 200
    assert client.raw.get("/api/v1/fonds", headers=client.headers,
                          environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 200
