"""Readiness and Prometheus metrics."""

from __future__ import annotations

from repo_server import create_app
from tests.conftest import drain


def test_readiness_reports_each_store_the_worker_and_the_outbox(client, dossier, worker):
    r = client.raw.get("/api/v1/health/ready")  # no key needed
    assert r.status_code == 200, r.json
    body = r.json
    assert body["ready"] is True
    checks = body["checks"]
    for name in ("database", "migrations", "storage", "index", "worker", "fixity"):
        assert name in checks, checks
    assert checks["database"] == checks["migrations"] == checks["storage"] == "ok"
    # no worker yet: serving, but degraded, and the outbox holds the dossier's change
    assert checks["worker"].startswith("degraded")
    assert body["status"] == "degraded" and body["outbox"]["depth"] >= 1
    drain(worker)
    body = client.raw.get("/api/v1/health/ready").json
    assert body["checks"]["worker"] == "ok" and body["worker"]["holder"] == worker.lease.holder
    assert body["outbox"] == {"depth": 0, "oldest_seconds": 0.0}
    assert body["checks"]["index"] == "ok" and body["status"] == "ok"


def test_readiness_is_503_when_the_storage_root_is_gone(client, env):
    import shutil

    shutil.rmtree(env.store.root)
    r = client.raw.get("/api/v1/health/ready")
    assert r.status_code == 503 and r.json["ready"] is False
    assert r.json["status"] == "unavailable"
    assert client.raw.get("/api/v1/health").status_code == 503


def test_metrics_need_a_key_unless_public(client, dossier, config, env, worker):
    assert client.raw.get("/api/v1/metrics").status_code == 401
    drain(worker)
    worker.run_job("fixity", "manual")
    client.get(f"/api/v1/dossiers/{dossier['id']}")
    r = client.get("/api/v1/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    text = r.data.decode()
    assert 'repo_http_requests_total{endpoint="/api/v1/dossiers/<uuid:dossier_id>",' \
           'method="GET",status="200"}' in text
    assert "repo_http_request_duration_seconds_bucket" in text
    assert "repo_outbox_depth 0.0" in text
    assert 'repo_job_runs_total{job="fixity",status="ok"} 1.0' in text
    # one night checks 1/90 of the objects, at least one
    assert 'repo_fixity_objects{status="ok"} 1.0' in text
    assert 'repo_fixity_objects{status="unchecked"} 1.0' in text
    assert "repo_worker_lease_held 1.0" in text
    assert 'repo_records{kind="dossier"} 1.0' in text
    public = create_app({**config, "METRICS_PUBLIC": True}, env=env).test_client()
    assert public.get("/api/v1/metrics").status_code == 200


def test_metrics_refuse_a_role_that_may_not_read_jobs(app, env):
    from repo_server.services.keys import create_key
    from tests.conftest import Client

    reader = Client(app, create_key(env, "reader", ["reader"])[1])
    assert reader.get("/api/v1/metrics").status_code == 403
