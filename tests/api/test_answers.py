"""Answers that say what happened (issue 12, §5): destroyed records are 410 with their review,
a held dossier proposed for disposal is 423 naming the hold, a review's status never runs
ahead of its destruction record, failed sign-ins never lock out someone else's valid key,
and a revoked key stops working in every process within a second."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from repo_server import create_app
from repo_server.services import disposal, disposal_execution, lifecycle
from repo_server.services.context import SYSTEM, Actor
from repo_server.services.keys import create_key


def _closed(client, env, **kw) -> dict:  # noqa: ANN001, ANN003
    d = client.make_dossier(retention="06", start_date="2025-01-10", **kw)
    client.make_document(d["id"], files={"a.txt": b"noi dung"}, subject="Biên bản")
    lifecycle.close_dossier(env, SYSTEM, d["id"], end_date=None, note=None,
                            expected_version=None)
    return d


def _approved_review(client, env, dossiers: list[dict]) -> str:  # noqa: ANN001
    review = disposal.propose_review(env, SYSTEM, "Trùng", [
        {"dossier_id": d["id"], "reason": "duplicate"} for d in dossiers])
    for i in range(3):
        disposal.record_opinions(env, Actor(name=f"m{i}", roles=("appraiser",)), review["id"],
                                 [{"dossier_id": d["id"], "opinion": "destroy"}
                                  for d in dossiers])
    disposal.approve_review(env, Actor(name="head", roles=("head",)), review["id"], "QĐ 3")
    return review["id"]


def test_a_destroyed_document_and_its_file_answer_410_with_the_review(client, env, fonds):
    d = _closed(client, env)
    doc_id = client.get(f"/api/v1/dossiers/{d['id']}/documents").json["items"][0]["id"]
    review_id = _approved_review(client, env, [d])
    disposal_execution.execute_approved(env)
    record_id = client.get(f"/api/v1/disposal-reviews/{review_id}").json["record_id"]
    for path in (f"/api/v1/documents/{doc_id}", f"/api/v1/documents/{doc_id}/files/a.txt",
                 f"/api/v1/documents/{doc_id}/versions/1"):
        r = client.get(path)
        assert r.status_code == 410, (path, r.json)
        assert r.json["review_id"] == review_id and r.json["record_id"] == record_id
        assert r.json["destroyed_at"] and d["file_code"] in r.json["message"]
    # something that never existed is still a plain 404
    assert client.get("/api/v1/documents/6f0c0c55-1111-4a4a-9a9a-000000000000"
                      ).status_code == 404


def test_proposing_a_held_dossier_for_disposal_is_423_naming_the_hold(client, env, fonds):
    d = _closed(client, env)
    hold = client.post("/api/v1/holds", json={"reason": "Khiếu nại", "authority_ref": "KN 12",
                                              "dossier_ids": [d["id"]]}).json
    r = client.post("/api/v1/disposal-reviews", json={"title": "Trùng", "items": [
        {"dossier_id": d["id"], "reason": "duplicate"}]})
    assert r.status_code == 423, r.json
    assert "KN 12" in r.json["message"] and any(hold["id"] in h for h in r.json["holds"])


def test_an_executed_review_always_has_its_record(client, app, env, fonds):
    """Poll the review while the worker carries it out: whenever it reads `executed`, its
    destruction record must be there (before, it lagged while the PDF was made)."""
    dossiers = [_closed(client, env) for _ in range(3)]
    review_id = _approved_review(client, env, dossiers)
    done = threading.Event()
    errors: list[BaseException] = []

    def carry_out() -> None:
        try:
            disposal_execution.execute_approved(env)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=carry_out)
    worker.start()
    seen = []
    while True:
        finished = done.is_set()
        review = client.get(f"/api/v1/disposal-reviews/{review_id}").json
        if review["status"] == "executed":
            r = client.get(f"/api/v1/disposal-reviews/{review_id}/record")
            seen.append(r.status_code)
            assert r.status_code == 200, r.json
            break
        assert not finished, review
    worker.join()
    assert not errors and seen == [200]


def test_failed_sign_ins_behind_a_trusted_proxy_count_per_client(config, env):
    app = create_app({**config, "TRUSTED_PROXIES": 1, "AUTH_FAILURE_LIMIT": 3}, env=env)
    _, secret = create_key(env, "desk", ["reader"])
    raw = app.test_client()

    def call(key: str, client_addr: str) -> int:
        return raw.get("/api/v1/fonds", headers={"Authorization": f"Bearer {key}",
                                                 "X-Forwarded-For": client_addr},
                       environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code

    assert [call("rs_guess", "203.0.113.5") for _ in range(4)] == [401, 401, 401, 429]
    # another client behind the same proxy is not slowed down, nor is a valid key
    assert call("rs_typo", "203.0.113.9") == 401
    assert call(secret, "203.0.113.9") == 200
    assert call(secret, "203.0.113.5") == 200


def test_forwarded_addresses_are_ignored_without_trusted_proxies(config, env):
    app = create_app({**config, "AUTH_FAILURE_LIMIT": 3}, env=env)
    raw = app.test_client()
    codes = [raw.get("/api/v1/fonds", headers={"Authorization": "Bearer rs_guess",
                                               "X-Forwarded-For": f"198.51.100.{i}"}
                     ).status_code for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]  # a made-up header does not reset the count


SECOND_PROCESS = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from repo_server import create_app
    from tests.conftest import make_config
    from pathlib import Path
    config = make_config(Path({instance!r}), **{overrides!r})
    client = create_app(config).test_client()
    headers = {{"Authorization": "Bearer " + {secret!r}}}
    print(client.get("/api/v1/me", headers=headers).status_code, flush=True)
    sys.stdin.readline()                      # the other process revoked the key
    start = time.monotonic()
    while True:
        status = client.get("/api/v1/me", headers=headers).status_code
        if status == 401 or time.monotonic() - start > 5:
            break
        time.sleep(0.05)
    print(status, round(time.monotonic() - start, 3), flush=True)
""")


def test_a_revoked_key_stops_working_in_another_process_within_a_second(client, config, env):
    """Two processes on one database, as gunicorn workers are: one revokes, the other must
    refuse the key at once although it remembered a successful sign-in moments before."""
    r = client.post("/api/v1/users", json={"name": "desk", "roles": ["reader"]})
    uid = r.json["id"]
    key = client.post(f"/api/v1/users/{uid}/keys", json={}).json
    overrides = {k: config[k] for k in ("DATABASE_URL", "STORAGE_ROOT", "STORAGE_TMP",
                                        "INDEX_DIR", "FSYNC", "SQLITE_SYNCHRONOUS")}
    script = SECOND_PROCESS.format(root=str(Path(__file__).resolve().parents[2]),
                                   instance=config["INSTANCE_PATH"], overrides=overrides,
                                   secret=key["secret"])
    other = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "REPO_AUTH_CACHE_SECONDS": "10"})
    try:
        assert other.stdout.readline().strip() == "200", other.stderr.read()
        assert client.delete(f"/api/v1/users/{uid}/keys/{key['id']}").status_code == 200
        revoked = time.monotonic()
        other.stdin.write("go\n")
        other.stdin.flush()
        status, seconds = other.stdout.readline().split()
        assert status == "401" and float(seconds) <= 1.0, (status, seconds)
        assert time.monotonic() - revoked < 5
    finally:
        other.kill()
        other.wait()
