"""Rolling fixity: a flipped byte or a missing file is found, raises one alert, shows on
/api/v1/health as degraded naming the object, and clears when the object is intact again."""

from __future__ import annotations

from datetime import timedelta

from repo_server.services import fixity
from repo_server.services.records import object_id

PDF = b"%PDF-1.4 " + "Quyết định phê duyệt".encode() * 40


def _content_file(env, rid: str, name: str = "a.pdf"):
    oid = object_id(rid)
    inv = env.store.inventory(oid)
    for paths in inv["manifest"].values():
        for path in paths:
            if path.endswith(name):
                return env.store.object_path(oid) / path
    raise AssertionError(name)


def test_flipped_byte_is_found_alerted_and_shown_in_health(client, dossier, env):
    doc = client.make_document(dossier["id"], files={"a.pdf": PDF})
    counts = fixity.run_fixity(env, "manual", limit=10**6)
    assert counts["failures"] == 0 and counts["objects_checked"] >= 3
    assert client.raw.get("/api/v1/health").json["status"] == "ok"

    path = _content_file(env, doc["id"])
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))

    counts = fixity.run_fixity(env, "manual", limit=10**6)
    assert counts["failures"] == 1 and counts["new_failures"] == 1
    health = client.raw.get("/api/v1/health")
    assert health.status_code == 200  # still serving: degraded, not down
    assert health.json["status"] == "degraded"
    assert object_id(doc["id"]) in health.json["checks"]["fixity"]

    runs = client.get("/api/v1/fixity/runs").json
    assert runs["items"][0]["status"] == "problems"
    failure = runs["items"][0]["failures"][0]
    assert failure["record_id"] == doc["id"] and failure["kind"] == "document"
    assert any("sha512" in p for p in failure["problems"])
    alerts = client.get("/api/v1/fixity/alerts", query_string={"open": "true"}).json["items"]
    assert len(alerts) == 1 and alerts[0]["subject"] == object_id(doc["id"])
    assert "damaged" in alerts[0]["message"]
    summary = client.get("/api/v1/fixity").json
    assert summary["failing_total"] == 1 and summary["failing"][0]["record_id"] == doc["id"]

    # Checked again the next night: still failing, but no second alert.
    assert fixity.run_fixity(env, "manual", limit=10**6)["new_failures"] == 0
    assert client.get("/api/v1/fixity/alerts").json["total"] == 1

    # Repaired (restored from a backup): one check clears the alarm.
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    r = client.post(f"/api/v1/fixity/objects/{doc['id']}/verify")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "ok"
    assert client.raw.get("/api/v1/health").json["status"] == "ok"
    alert = client.get("/api/v1/fixity/alerts").json["items"][0]
    assert alert["resolved_at"] is not None


def test_missing_file_and_missing_object_are_named(client, dossier, env):
    doc = client.make_document(dossier["id"], files={"a.pdf": PDF})
    other = client.make_document(dossier["id"], files={"b.pdf": PDF + b"x"})
    _content_file(env, doc["id"]).unlink()
    import shutil

    shutil.rmtree(env.store.object_path(object_id(other["id"])))
    env.store._forget(object_id(other["id"]))
    counts = fixity.run_fixity(env, "manual", limit=10**6)
    assert counts["failures"] == 2
    failing = {f["record_id"]: f for f in client.get("/api/v1/fixity").json["failing"]}
    assert failing[doc["id"]]["status"] == "failed"
    assert any("missing" in p for p in failing[doc["id"]]["problems"])
    assert failing[other["id"]]["status"] == "missing"
    checks = client.raw.get("/api/v1/health").json["checks"]["fixity"]
    assert object_id(doc["id"]) in checks and object_id(other["id"]) in checks


def test_each_night_checks_the_oldest_share_and_covers_everything_in_the_period(
        client, dossier, env):
    for i in range(8):
        client.make_document(dossier["id"], subject=f"Văn bản {i}")
    env.config["FIXITY_PERIOD_DAYS"] = 4
    start = env.now()
    day = [0]
    env.clock = lambda: start + timedelta(days=day[0], hours=2)
    total = fixity.sync(env)["total"]
    assert total == 10  # fonds, dossier, 8 documents
    assert fixity.share(env) == 0.25
    checked_at: dict[str, list[int]] = {}
    for day[0] in range(1, 9):
        before = {r.object_id: r.last_checked_at for r in _rows(env)}
        counts = fixity.run_fixity(env)
        assert counts["objects_checked"] == 3  # ceil(10 / 4)
        for r in _rows(env):
            if r.last_checked_at != before[r.object_id]:
                checked_at.setdefault(r.object_id, []).append(day[0])
    assert set(checked_at) == {r.object_id for r in _rows(env)}
    for days in checked_at.values():  # never longer than the period between two checks
        assert days[0] <= 4 and all(b - a <= 4 for a, b in zip(days, days[1:], strict=False))
    summary = fixity.summary(env)
    assert summary["overdue"] == 0 and summary["by_status"] == {"ok": 10}


def _rows(env):
    from sqlalchemy import select

    from repo_server.catalog import FixityObject

    with env.db.read() as session:
        return session.scalars(select(FixityObject)).all()


def test_period_is_never_longer_than_three_years(env):
    env.config["FIXITY_PERIOD_DAYS"] = 5000
    assert fixity.period_days(env) == 1095
    env.config["FIXITY_SHARE"] = "0.5"
    assert fixity.share(env) == 0.5
    env.config["FIXITY_SHARE"] = "0.0001"
    assert fixity.share(env) == 1 / 1095


def test_fixity_is_a_scheduled_job_with_a_run_record(client, dossier, worker, env):
    from repo_server.services.jobs import REGISTRY, schedule_of

    assert schedule_of(env, "fixity") == "15 2 * * *"
    assert "backup" in REGISTRY
    r = client.post("/api/v1/jobs/fixity/runs")
    assert r.status_code == 202, r.json
    from tests.conftest import drain

    drain(worker)
    run = client.get(f"/api/v1/jobs/runs/{r.json['id']}").json
    assert run["status"] == "ok", run
    assert run["counts"]["objects_total"] == 2
    assert client.get("/api/v1/fixity/runs").json["items"][0]["trigger"] == "schedule"


def test_default_cycle_covers_every_object_within_30_days_and_each_run_says_so(
        client, dossier, env):
    for _ in range(40):  # more objects than nights in the period: the share decides
        client.make_document(dossier["id"])
    start = env.now()
    ages = []
    for night in range(1, 61):
        env.clock = lambda night=night: start + timedelta(days=night)
        counts = fixity.run_fixity(env)  # the nightly job's defaults
        run = client.get(f"/api/v1/fixity/runs/{counts['run_id']}").json
        assert run["period_days"] == 30
        assert run["objects_checked"] >= 1 and run["bytes_checked"] > 0
        assert run["seconds"] is not None and run["oldest_check_at"] is not None
        ages.append(run["oldest_check_age_days"])
        if night >= 30:
            assert run["overdue"] == 0, (night, run)
    assert max(ages) <= 30, ages
    summary = client.get("/api/v1/fixity").json
    assert summary["period_days"] == 30 and summary["last_run"]["overdue"] == 0
    assert summary["last_run"]["oldest_check_age_days"] <= 30
