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


# --- anchors outside the database (decision 0015) -------------------------------------------


def _rows(env) -> list[tuple]:
    with env.db.engine.begin() as conn:
        return conn.execute(text("SELECT seq, at, actor, action, target, outcome, client_addr, "
                                 "request_id, details, hash FROM audit_events ORDER BY seq")).all()


def _rechain_from(env, start: int, prev: str) -> str:
    """What an attacker with database access does: recompute every hash from `start` on."""
    from sqlalchemy import select

    from repo_server.catalog import AuditEvent

    with env.db.write() as session:
        for e in session.scalars(select(AuditEvent).where(AuditEvent.seq >= start)
                                 .order_by(AuditEvent.seq)):
            event = {"at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
                     "outcome": e.outcome, "client_addr": e.client_addr,
                     "request_id": e.request_id, "details": e.details}
            e.prev_hash = prev
            e.hash = prev = audit.chain(prev, event)
    return prev


def _tip(env) -> tuple:
    with env.db.engine.begin() as conn:
        return conn.execute(text("SELECT seq, hash, mac FROM audit_head WHERE id = 1")).one()


def test_the_key_is_made_outside_the_database_and_seals_the_tip(client, busy, env, config):
    from pathlib import Path

    key_file = audit.audit_anchor.key_path(config)
    assert key_file == Path(config["INSTANCE_PATH"]) / "audit.key"
    assert key_file.is_file() and key_file.stat().st_mode & 0o777 == 0o600
    assert _tip(env)[2] is not None
    assert audit.verify(env)["ok"]


def test_rewritten_rows_with_recomputed_hashes_and_tip_are_detected(client, busy, env):
    before = audit.verify(env)
    assert before["ok"]
    _tamper(env, "UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3")
    with env.db.engine.begin() as conn:
        prev = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 2")).scalar()
    tip_hash = _rechain_from(env, 3, prev)
    seq = _tip(env)[0]
    _tamper(env, "UPDATE audit_head SET hash = :h WHERE id = 1", h=tip_hash)
    result = audit.verify(env)
    assert not result["ok"] and "seal" in result["problem"], result
    # The server's next write does not bless the rewritten trail.
    client.make_dossier()
    audit.buffer(env).flush()
    assert _tip(env)[0] > seq
    assert not audit.verify(env)["ok"]


def test_cut_off_newest_rows_with_the_tip_moved_back_are_detected(client, busy, env):
    keep = _tip(env)[0] - 3
    with env.db.engine.begin() as conn:
        kept_hash = conn.execute(text("SELECT hash FROM audit_events WHERE seq = :s"),
                                 {"s": keep}).scalar()
    _tamper(env, "DELETE FROM audit_events WHERE seq > :s", s=keep)
    _tamper(env, "UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1", s=keep, h=kept_hash)
    result = audit.verify(env)
    assert not result["ok"] and "seal" in result["problem"], result


def test_an_old_genuine_tip_put_back_is_caught_by_a_checkpoint(client, busy, env):
    old = _tip(env)  # an attacker keeps a copy of the sealed tip ...
    client.make_dossier(title="Hồ sơ sau mốc")
    audit.buffer(env).flush()
    point = audit.audit_anchor.write_checkpoint(env)  # ... the nightly job seals a checkpoint
    assert point["seq"] > old[0]
    assert b'"seq"' in env.store.read_note("audit-checkpoints.jsonl")
    _tamper(env, "DELETE FROM audit_events WHERE seq > :s", s=old[0])
    _tamper(env, "UPDATE audit_head SET seq = :s, hash = :h, mac = :m WHERE id = 1",
            s=old[0], h=old[1], m=old[2])
    result = audit.verify(env)
    assert not result["ok"] and "checkpoint" in result["problem"], result


def test_a_missing_key_is_named(client, busy, env, config):
    audit.audit_anchor.key_path(config).unlink()
    env._audit_key = None
    result = audit.verify(env)
    assert not result["ok"] and "audit.key" in result["problem"]
