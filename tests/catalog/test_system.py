"""Whole-system properties: the storage root stays valid OCFL, the catalog can be rebuilt from
it, the migrations match the models, and the OpenAPI description covers every route."""

from __future__ import annotations

import io

import ocfl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from openapi_spec_validator import validate
from sqlalchemy import create_engine

from repo_server.catalog.models import Base
from repo_server.services.rebuild import rebuild_catalog

PDF = b"%PDF-1.4 " + "Quyết định về việc phê duyệt".encode() * 50


def _workload(client) -> dict:
    """A realistic mix: two fonds, dossiers, documents with files, corrections, replacements."""
    client.make_fonds()
    client.make_fonds("000.00.00.H50", "UBND xã Phú Mỹ")
    docs = []
    for i in range(4):
        d = client.make_dossier("000.00.00.H49" if i % 2 else "000.00.00.H50",
                                title=f"Hồ sơ số {i}", external_ref=f"CASE-{i}")
        client.patch(f"/api/v1/dossiers/{d['id']}", json={"keywords": ["đất đai"]},
                     headers={"If-Match": '"v1"'})
        for j in range(3):
            doc = client.make_document(d["id"], files={f"Tệp {j}.pdf": PDF + bytes([j])},
                                       subject=f"Văn bản {i}.{j}")
            docs.append(doc)
    first = docs[0]
    client.put(f"/api/v1/documents/{first['id']}/files/Tệp 0.pdf", data=PDF + b"signed",
               content_type="application/pdf", headers={"If-Match": '"v1"'})
    client.post(f"/api/v1/documents/{first['id']}/files", query_string={"name": "copy.pdf"},
                data=PDF + bytes([0]), content_type="application/pdf")  # same bytes as v1's file
    client.delete(f"/api/v1/documents/{docs[1]['id']}/files/Tệp 1.pdf",
                  headers={"If-Match": '"v1"'})
    return {"docs": docs}


def _snapshot(client) -> dict:
    out = {}
    dossiers = client.get("/api/v1/dossiers", query_string={"page_size": 200}).json["items"]
    for d in dossiers:
        did = d["id"]
        out[did] = {
            "dossier": {k: v for k, v in d.items()},
            "versions": client.get(f"/api/v1/dossiers/{did}/versions").json,
            "documents": {},
        }
        for doc in client.get(f"/api/v1/dossiers/{did}/documents").json["items"]:
            versions = client.get(f"/api/v1/documents/{doc['id']}/versions").json
            files = {f["name"]: client.get(f"/api/v1/documents/{doc['id']}/files/{f['name']}").data
                     for f in doc["files"]}
            out[did]["documents"][doc["id"]] = {"doc": doc, "versions": versions, "files": files}
    out["fonds"] = client.get("/api/v1/fonds").json
    return out


def test_storage_root_is_valid_ocfl_after_a_realistic_workload(client, env):
    _workload(client)
    root = ocfl.StorageRoot(root=str(env.store.root))
    assert root.validate(log_warnings=True), root.errors
    assert root.num_objects == 2 + 4 + 12 and root.good_objects == root.num_objects


def test_unchanged_files_are_stored_once(client, dossier, env):
    doc = client.make_document(dossier["id"], files={"a.pdf": PDF})
    client.post(f"/api/v1/documents/{doc['id']}/files", query_string={"name": "b.pdf"}, data=PDF,
                content_type="application/pdf")
    client.patch(f"/api/v1/documents/{doc['id']}", json={"subject": "x"},
                 headers={"If-Match": '"v2"'})
    obj = env.store.object_path(f"urn:uuid:{doc['id']}")
    stored = [p for p in obj.rglob("*") if p.is_file() and p.read_bytes() == PDF]
    assert len(stored) == 1


def test_rebuild_from_storage_alone_gives_the_same_answers(client, env, config):
    _workload(client)
    before = _snapshot(client)
    # Lose the catalog: drop every table, recreate the schema, rebuild from the storage root.
    from sqlalchemy import text

    with env.db.exclusive():  # the audit buffer's thread must not write in between
        Base.metadata.drop_all(env.db.engine)
        with env.db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    from repo_server.catalog.migrate import upgrade

    upgrade(config["DATABASE_URL"])
    counts = rebuild_catalog(env)
    assert counts == {"fonds": 2, "dossier": 4, "document": 12}
    from repo_server.services.keys import create_key

    _, secret = create_key(env, "clerk-test", ["admin"])
    client.headers["Authorization"] = f"Bearer {secret}"
    after = _snapshot(client)
    assert after == before
    # Numbering continues after a rebuild instead of reusing codes.
    did = next(k for k in after if k != "fonds")
    new_doc = client.make_document(did)
    assert new_doc["doc_code"].endswith(".0000004")


def test_migrations_match_the_models(config):
    engine = create_engine(config["DATABASE_URL"])
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    engine.dispose()
    assert diff == [], diff


def test_openapi_is_valid_and_covers_every_route(client, app):
    spec = client.raw.get("/api/v1/openapi.json").json
    validate(spec)
    documented = {(path, method.upper()) for path, ops in spec["paths"].items()
                  for method in ops if method in {"get", "post", "put", "patch", "delete"}}
    import re

    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule.startswith(("/api/v1/docs",
                                                                          "/api/v1/openapi")):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method))
    assert served - documented == set()
    # every operation has a summary and at least one example or schema for its body
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                assert op.get("summary"), (path, method)
                if "application/json" in op.get("requestBody", {}).get("content", {}):
                    assert "422" in op["responses"], (path, method)  # a body can be wrong


def test_interactive_docs_are_served_without_a_cdn(client):
    page = client.raw.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.data.decode()
    assert "http" not in html.split("<body>")[0].replace("http-equiv", "")
    assert "/api/v1/docs/static/swagger-ui-bundle.js" in html
    assert client.raw.get("/api/v1/docs/static/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize("fsync", [True])
def test_writes_with_fsync_on(tmp_path, fsync):
    """The default (fsync on) path works end to end, not just the fast test setting."""
    from repo_server import build_env, create_app
    from repo_server.catalog.migrate import upgrade
    from repo_server.services.keys import create_key
    from tests.conftest import Client, make_config

    cfg = make_config(tmp_path / "inst", FSYNC=fsync, SQLITE_SYNCHRONOUS="FULL")
    if not cfg["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("covered by the SQLite run")
    (tmp_path / "inst").mkdir()
    upgrade(cfg["DATABASE_URL"])
    e = build_env(cfg)
    c = Client(create_app(cfg, env=e), create_key(e, "a", ["admin"])[1])
    c.make_fonds()
    d = c.make_dossier()
    doc = c.make_document(d["id"], files={"a.pdf": PDF})
    assert c.get(f"/api/v1/documents/{doc['id']}/files/a.pdf").data == PDF
    assert io.BytesIO(PDF).read() == PDF
