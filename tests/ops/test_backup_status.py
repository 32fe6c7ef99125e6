"""Backups are on by default, and health says loudly when they are not safe (issue 19)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from repo_server.config import load_config
from repo_server.services.backup_status import backup_state, same_disk


def test_backups_are_on_by_default_into_the_instance(tmp_path):
    config = load_config(tmp_path / "office")
    assert config["BACKUP_DIR"] == str((tmp_path / "office" / "backups").resolve())


def test_health_warns_while_backups_share_the_disk_with_the_records(client, env):
    body = client.raw.get("/api/v1/health").json
    assert body["status"] == "ok"  # advice, not an outage: monitoring stays green
    assert body["checks"]["backup"].startswith("warning: backups go to ")
    assert "same disk as the records" in body["checks"]["backup"]
    assert any(w.startswith("backup: ") and "BACKUP_DIR" in w for w in body["warnings"])
    ready = client.raw.get("/api/v1/health/ready").json
    assert ready["warnings"] == body["warnings"]


def test_health_is_quiet_when_backups_go_to_another_disk(client, env, monkeypatch):
    # this machine has one disk: pretend the backup folder's disk is another one
    monkeypatch.setattr("repo_server.services.backup_status.same_disk", lambda a, b: False)
    body = client.raw.get("/api/v1/health").json
    assert body["checks"]["backup"] == "ok" and body["warnings"] == []


def test_health_degrades_when_no_backup_succeeded_for_two_days(client, env, worker, dossier):
    real = env.clock
    env.clock = lambda: real() + timedelta(days=3)
    try:
        body = client.raw.get("/api/v1/health").json
        assert body["status"] == "degraded"
        assert body["checks"]["backup"].startswith("failed: no backup has succeeded yet")
        env.clock = real
        assert worker.run_job("backup", "manual")["mode"] == "full"
        state = backup_state(env)
        assert state["last_success"] is not None and not state["stale"]
        env.clock = lambda: real() + timedelta(days=1)
        assert client.raw.get("/api/v1/health").json["checks"]["backup"].startswith("warning:")
        env.clock = lambda: real() + timedelta(days=2, hours=1)
        body = client.raw.get("/api/v1/health").json
        assert body["status"] == "degraded"
        assert "no backup has succeeded since" in body["checks"]["backup"]
    finally:
        env.clock = real


def test_turning_the_backup_job_off_is_a_warning(client, env):
    env.config["JOB_SCHEDULES"] = {"backup": ""}
    body = client.raw.get("/api/v1/health").json
    assert body["status"] == "ok"
    assert "turned off" in body["checks"]["backup"]


def test_same_disk_looks_at_the_nearest_existing_folder(tmp_path):
    assert same_disk(tmp_path / "not" / "made" / "yet", tmp_path)
    assert same_disk(Path("/proc/self"), tmp_path) is False
