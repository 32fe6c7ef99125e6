"""The audit trail: what is recorded, and that tampering with the table is detected."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from repo_server.services import audit
from tests.conftest import drain


@pytest.fixture
def busy(client, dossier, worker, env):  # noqa: ANN001, ANN201
    """A little of everything: writes, reads, a download, a search, a refusal, a job."""
    doc = client.make_document(dossier["id"], files={"a.txt": "Biên bản".encode()})
    client.get(f"/api/v1/dossiers/{dossier['id']}")
    client.get(f"/api/v1/documents/{doc['id']}/files/a.txt")
    drain(worker)
    client.get("/api/v1/search", query_string={"q": "bien ban"})
    client.raw.get("/api/v1/dossiers", headers={"Authorization": "Bearer rs_wrong"})
    worker.run_job("deadline_warnings", "manual")
    audit.buffer(env).flush()
    return doc


def events(client, **filters) -> list[dict]:  # noqa: ANN003
    r = client.get("/api/v1/audit", query_string={"page_size": 200, **filters})
    assert r.status_code == 200, r.json
    return r.json["items"]


def test_writes_reads_searches_failures_and_jobs_are_recorded(client, busy, dossier):
    actions = {(e["action"], e["outcome"]) for e in events(client)}
    assert {("dossier.version", "ok"), ("document.version", "ok"), ("dossier.read", "ok"),
            ("file.read", "ok"), ("search", "ok"), ("job.run", "ok"),
            ("document.create", "ok")} <= actions
    failed = events(client, outcome="denied")
    assert failed and failed[0]["actor"] == "anonymous" and failed[0]["details"]["status"] == 401
    reads = events(client, target=dossier["id"], action="dossier.read")
    assert reads[0]["actor"] == "clerk-test" and reads[0]["request_id"]
    assert reads[0]["client_addr"]
    search = events(client, action="search")[0]
    assert search["details"]["query"]["q"] == ["bien ban"]


def test_chain_verifies_and_exports(client, busy, env):
    result = client.get("/api/v1/audit/verify").json
    assert result["ok"] and result["checked"] > 5
    lines = client.get("/api/v1/audit/export").data.decode().splitlines()
    first = json.loads(lines[0])
    assert first["seq"] == 1 and first["prev_hash"] == "0" * 64
    assert len(lines) >= result["checked"]  # the verify request itself is logged too


def _tamper(env, sql: str, **params) -> None:  # noqa: ANN003
    with env.db.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_an_edited_row_is_named(client, busy, env):
    _tamper(env, "UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3")
    result = audit.verify(env)
    assert not result["ok"] and result["first_broken_seq"] == 3 and "altered" in result["problem"]


def test_a_deleted_row_is_named(client, busy, env):
    _tamper(env, "DELETE FROM audit_events WHERE seq = 4")
    result = audit.verify(env)
    assert not result["ok"] and result["first_broken_seq"] == 4


def test_reordered_rows_are_detected(client, busy, env):
    # swap the content of events 2 and 3 (keeping their hashes in place)
    with env.db.engine.begin() as conn:
        a, b = (conn.execute(text("SELECT action, target, details FROM audit_events "
                                  "WHERE seq = :s"), {"s": s}).one() for s in (2, 3))
        for seq, row in ((2, b), (3, a)):
            conn.execute(text("UPDATE audit_events SET action = :a, target = :t, "
                              "details = :d WHERE seq = :s"),
                         {"a": row[0], "t": row[1], "d": row[2] if isinstance(row[2], str)
                          else json.dumps(row[2]), "s": seq})
    result = audit.verify(env)
    assert not result["ok"] and result["first_broken_seq"] == 2


def test_cut_off_tail_is_detected(client, busy, env):
    _tamper(env, "DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)")
    result = audit.verify(env)
    assert not result["ok"] and "newest events" in result["problem"]


def test_verify_audit_command(client, busy, env, config):
    from click.testing import CliRunner

    from repo_server.cli import main

    cli_env = {"REPO_FSYNC": "false", "REPO_DATABASE_URL": config["DATABASE_URL"]}
    ok = CliRunner().invoke(main, ["--instance", config["INSTANCE_PATH"], "verify-audit"],
                            env=cli_env)
    assert ok.exit_code == 0 and "intact" in ok.output
    _tamper(env, "UPDATE audit_events SET outcome = 'ok' WHERE outcome = 'denied'")
    bad = CliRunner().invoke(main, ["--instance", config["INSTANCE_PATH"], "verify-audit"],
                             env=cli_env)
    assert bad.exit_code == 1 and "BROKEN" in bad.output
