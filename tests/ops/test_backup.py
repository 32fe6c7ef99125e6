"""Backup and restore: online (during writes), full and incremental, verified, restored on a
new instance with every table row for row, destroyed records staying destroyed."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import ocfl
import pytest
from click.testing import CliRunner

from repo_server import build_env, create_app
from repo_server.catalog import Dossier
from repo_server.services import audit
from repo_server.services import backup as bk
from repo_server.services.keys import create_key
from repo_server.services.records import object_id
from tests.catalog.test_system import _snapshot, _workload
from tests.conftest import Client, close_env, drain
from tests.ops.helpers import MIRROR, assert_catalog_matches_storage, assert_same_tables, table_rows

PDF = b"%PDF-1.4 " + "Quyết định về việc phê duyệt".encode() * 50


def wait_for(condition, timeout: float = 60) -> None:  # noqa: ANN001
    """Poll until `condition()` holds (a test that waits for an event, not for a time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _restored_client(cfg: dict) -> tuple[Client, object]:
    env2 = build_env(cfg)
    app2 = create_app(cfg, env=env2)
    return Client(app2, create_key(env2, "restore-check", ["admin"])[1]), env2


def _operational_state(client, env) -> None:  # noqa: ANN001
    """Holds, a disposal review with opinions, a retention rule change: state only the
    database has."""
    d = client.make_dossier(title="Hồ sơ thanh tra", external_ref="TT-1")
    r = client.post("/api/v1/holds", json={"reason": "Thanh tra", "authority_ref": "QĐ 45/TTr",
                                           "dossier_ids": [d["id"]]})
    assert r.status_code == 201, r.json
    closed = client.make_dossier(title="Hồ sơ trùng", external_ref="DUP-1")
    client.make_document(closed["id"], files={"x.txt": b"ban sao"})
    r = client.post(f"/api/v1/dossiers/{closed['id']}/close", json={"end_date": "2025-08-01"})
    assert r.status_code == 200, r.json
    r = client.post("/api/v1/disposal-reviews", json={"title": "Bản trùng", "items": [
        {"dossier_id": closed["id"], "reason": "duplicate"}]})
    assert r.status_code == 201, r.json
    return r.json["id"], closed["id"]


def _destroy(client, app, env, worker, review_id, dossier_id) -> None:  # noqa: ANN001
    members = [Client(app, create_key(env, f"member{i}", ["appraiser"])[1]) for i in range(3)]
    head = Client(app, create_key(env, "chairman", ["head"])[1])
    for m in members:
        r = m.post(f"/api/v1/disposal-reviews/{review_id}/opinions", json={"opinions": [
            {"dossier_id": dossier_id, "opinion": "destroy"}]})
        assert r.status_code == 200, r.json
    r = head.post(f"/api/v1/disposal-reviews/{review_id}/approve", json={"decision_ref": "QĐ 9"})
    assert r.status_code == 200, r.json
    drain(worker)
    assert client.get(f"/api/v1/dossiers/{dossier_id}").status_code == 410


def test_full_backup_restores_every_table_row_for_row(client, app, env, config, worker,
                                                      restore_config, tmp_path):
    _workload(client)
    review_id, dup = _operational_state(client, env)
    _destroy(client, app, env, worker, review_id, dup)
    drain(worker)
    from repo_server.services.fixity import run_fixity

    run_fixity(env, "manual")
    before = _snapshot(client)
    audit.buffer(env).flush()  # the per-request audit events, in the database
    source = table_rows(config["DATABASE_URL"])
    dest = tmp_path / "backup"
    m = bk.backup(env, dest, mode="auto")
    assert m["mode"] == "full" and m["problems"] == [] and m["attempts"] == 1
    # fonds, dossiers and documents (one dossier with its document destroyed), the record
    assert m["storage"]["objects"] == 2 + 5 + 12 + 1
    assert bk.verify_set(m["path"], deep=True)["ok"]

    result = bk.restore(restore_config, dest)
    assert result["reconciled"]["imported"] == 0 and result["reconciled"]["missing"] == 0
    restored = table_rows(restore_config["DATABASE_URL"])
    assert_same_tables(source, restored, skip={"job_runs"})
    assert [r[:3] for r in restored["job_runs"]] == [r[:3] for r in source["job_runs"]]
    client2, env2 = _restored_client(restore_config)
    assert _snapshot(client2) == before
    assert_catalog_matches_storage(env2)
    root = ocfl.StorageRoot(root=str(env2.store.root))
    assert root.validate(log_warnings=False), root.errors
    # destroyed stays destroyed; the hold and the audit chain came along
    assert client2.get(f"/api/v1/dossiers/{dup}").status_code == 410
    holds = client2.get("/api/v1/holds").json["items"]
    assert holds and holds[0]["authority_ref"] == "QĐ 45/TTr"
    assert client2.get("/api/v1/audit/verify").json.get("ok", True) is not False
    # the index was rebuilt: search works on the new machine
    query = {"q": "văn bản"}
    expected = client.get("/api/v1/search", query_string=query).json["total"]
    assert expected > 0
    assert client2.get("/api/v1/search", query_string=query).json["total"] == expected
    close_env(env2)


def test_backup_during_writes_restores_everything_acknowledged(client, app, env, config,
                                                               restore_config, tmp_path):
    client.make_fonds()
    client.make_fonds("000.00.00.H50", "UBND xã Phú Mỹ")
    acked: list[dict] = []
    stop = threading.Event()
    errors: list[str] = []

    def writer(n: int) -> None:
        c = Client(app, client.headers["Authorization"].split()[1])
        i = 0
        while not stop.is_set():
            i += 1
            try:
                d = c.make_dossier(title=f"Hồ sơ {n}.{i}", external_ref=f"W{n}-{i}")
                acked.append({"t": time.monotonic(), "kind": "dossier", "id": d["id"],
                              "version": 1})
                body = PDF + f"{n}.{i}".encode()
                doc = c.make_document(d["id"], files={"f.pdf": body}, subject=f"VB {n}.{i}")
                acked.append({"t": time.monotonic(), "kind": "document", "id": doc["id"],
                              "version": 1, "sha256": hashlib.sha256(body).hexdigest()})
                r = c.patch(f"/api/v1/documents/{doc['id']}", json={"subject": f"Sửa {n}.{i}"},
                            headers={"If-Match": '"v1"'})
                assert r.status_code == 200, r.json
                acked.append({"t": time.monotonic(), "kind": "document", "id": doc["id"],
                              "version": r.json["version"], "subject": f"Sửa {n}.{i}"})
            except AssertionError as exc:  # pragma: no cover - reported below
                errors.append(str(exc))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    dest = tmp_path / "backup"
    sets = []
    try:
        wait_for(lambda: errors or len(acked) >= 6)  # both writers are under way
        for mode in ("full", "incremental", "incremental"):
            started = time.monotonic()
            sets.append((started, bk.backup(env, dest, mode=mode)))
            done = len(acked)
            wait_for(lambda done=done: errors or len(acked) >= done + 3)  # more writes
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert all(m["problems"] == [] for _, m in sets)
    assert sets[1][1]["storage"]["linked_files"] > 0  # incremental: unchanged versions linked
    final = bk.backup(env, dest, mode="incremental")  # quiescent
    audit.buffer(env).flush()
    source = table_rows(config["DATABASE_URL"])
    for path in (s["path"] for _, s in sets):
        assert bk.verify_set(path)["ok"]

    # 1. the last set taken during the load, on a new machine
    started, m = sets[-1]
    bk.restore(restore_config, dest, set_name=m["name"])
    env2 = build_env(restore_config)
    assert_catalog_matches_storage(env2)
    with env2.db.read() as session:
        for w in (w for w in acked if w["t"] < started):
            oid = object_id(w["id"])
            assert env2.store.head(oid) >= w["version"], w
            if "sha256" in w:
                assert hashlib.sha256(env2.store.read_bytes(oid, "files/f.pdf", w["version"])
                                      ).hexdigest() == w["sha256"]
            if w["kind"] == "dossier":
                assert session.get(Dossier, w["id"]) is not None
    if m["database"]["dialect"] == "sqlite":
        # operational state is the database snapshot's, row for row
        snap = table_rows(f"sqlite:///{Path(m['path']) / 'catalog.sqlite'}")
        restored = table_rows(restore_config["DATABASE_URL"])
        assert_same_tables(snap, restored, skip=MIRROR | {"job_runs"})
    close_env(env2)

    # 2. the quiescent incremental set: identical to the source, table by table
    import shutil

    shutil.rmtree(restore_config["INSTANCE_PATH"])
    from tests.ops.conftest import second_database_url

    second_database_url()  # empty the restore database again (PostgreSQL)
    bk.restore(restore_config, dest, set_name=final["name"], reindex=False)
    assert_same_tables(source, table_rows(restore_config["DATABASE_URL"]))
    env3 = build_env(restore_config)
    assert_catalog_matches_storage(env3)
    close_env(env3)


def test_incremental_set_does_not_resurrect_a_destroyed_dossier(client, app, env, worker,
                                                                 restore_config, tmp_path):
    client.make_fonds()
    keep = client.make_dossier(title="Giữ lại")
    review_id, dup = _operational_state(client, env)
    dup_docs = [d["id"] for d in client.get(f"/api/v1/dossiers/{dup}/documents").json["items"]]
    dest = tmp_path / "backup"
    first = bk.backup(env, dest, mode="full")
    _destroy(client, app, env, worker, review_id, dup)
    second = bk.backup(env, dest, mode="incremental")
    assert second["mode"] == "incremental" and second["base"] == first["name"]
    # the older set still has the dossier (it existed then); the newer one does not
    assert (Path(first["path"]) / "storage" / env.store.object_path(object_id(dup))
            .relative_to(env.store.root)).exists()
    assert not (Path(second["path"]) / "storage" / env.store.object_path(object_id(dup))
                .relative_to(env.store.root)).exists()
    bk.restore(restore_config, dest)
    client2, env2 = _restored_client(restore_config)
    assert client2.get(f"/api/v1/dossiers/{dup}").status_code == 410
    for rid in [dup, *dup_docs]:
        assert not env2.store.exists(object_id(rid))
    assert client2.get(f"/api/v1/dossiers/{keep['id']}").status_code == 200
    assert_catalog_matches_storage(env2)
    close_env(env2)


def test_destruction_half_done_in_the_snapshot_is_finished_on_restore(client, app, env, worker,
                                                                       restore_config, tmp_path):
    """A snapshot taken after the tombstone was written but before the bytes went (a crash or
    a backup in between): restore finishes the destruction instead of reviving the dossier."""
    from repo_server.catalog import Document, Tombstone
    from repo_server.services.disposal_execution import destroy_dossier

    client.make_fonds()
    review_id, dup = _operational_state(client, env)
    dest = tmp_path / "backup"
    with env.db.write() as session:
        d = session.get(Dossier, dup)
        from sqlalchemy import select

        docs = session.scalars(select(Document).where(Document.dossier_id == dup)).all()
        session.add(Tombstone(dossier_id=dup, fonds_code=d.fonds_code, file_code=d.file_code,
                              title=d.title, retention=d.retention, review_id=review_id,
                              decided_by={}, documents=[{"doc_code": x.doc_code} for x in docs],
                              destroyed_at=env.now()))
    bk.backup(env, dest, mode="full")
    destroy_dossier(env, None, dup, review_id, {})
    result = bk.restore(restore_config, dest)
    assert result["reconciled"]["destroyed"] == 1
    client2, env2 = _restored_client(restore_config)
    assert client2.get(f"/api/v1/dossiers/{dup}").status_code == 410
    assert not env2.store.exists(object_id(dup))
    assert_catalog_matches_storage(env2)
    close_env(env2)


def test_versions_written_after_the_snapshot_are_imported_on_restore(client, dossier, env,
                                                                     restore_config, tmp_path,
                                                                     monkeypatch):
    """Storage is copied after the database snapshot: what was written in between is newer
    than the catalog snapshot, and restore imports it from the storage root."""
    doc = client.make_document(dossier["id"], files={"a.pdf": PDF})
    real = bk.snapshot_database

    def snapshot_then_write(env_, work):  # noqa: ANN001, ANN202
        result = real(env_, work)
        r = client.patch(f"/api/v1/documents/{doc['id']}", json={"subject": "Sau ảnh chụp"},
                         headers={"If-Match": '"v1"'})
        assert r.status_code == 200
        client.make_dossier(title="Hồ sơ mới sau ảnh chụp")
        return result

    monkeypatch.setattr(bk, "snapshot_database", snapshot_then_write)
    bk.backup(env, tmp_path / "b", mode="full")
    result = bk.restore(restore_config, tmp_path / "b")
    assert result["reconciled"]["imported"] == 2
    client2, env2 = _restored_client(restore_config)
    assert client2.get(f"/api/v1/documents/{doc['id']}").json["subject"] == "Sau ảnh chụp"
    titles = [d["title"] for d in client2.get("/api/v1/dossiers").json["items"]]
    assert "Hồ sơ mới sau ảnh chụp" in titles
    assert_catalog_matches_storage(env2)
    close_env(env2)


def test_verify_backup_finds_a_damaged_or_extra_file(client, dossier, env, tmp_path):
    client.make_document(dossier["id"], files={"a.pdf": PDF})
    m = bk.backup(env, tmp_path / "b")
    sums = bk.read_sums(Path(m["path"]) / bk.SUMS)
    victim = next(p for p in sums if p.endswith("a.pdf"))
    path = Path(m["path"]) / victim
    data = bytearray(path.read_bytes())
    data[10] ^= 1
    path.write_bytes(bytes(data))
    (Path(m["path"]) / "storage" / "stray.txt").write_text("x")
    result = bk.verify_set(m["path"])
    assert not result["ok"]
    assert any(victim in p and "sha256" in p for p in result["problems"])
    assert any("stray.txt" in p for p in result["problems"])
    # the same through the command line: exit status 1
    out = CliRunner().invoke(__import__("repo_server.cli", fromlist=["main"]).main,
                             ["verify-backup", str(tmp_path / "b")])
    assert out.exit_code == 1 and "DAMAGED" in out.output


def test_restore_refuses_an_instance_that_holds_records(client, dossier, env, config, tmp_path):
    bk.backup(env, tmp_path / "b")
    with pytest.raises(bk.BackupError, match="empty instance"):
        bk.restore(config, tmp_path / "b")


def test_retention_keeps_the_newest_sets_and_the_newest_full(client, dossier, env, tmp_path):
    dest = tmp_path / "b"
    names = []
    for mode in ("full", "incremental", "incremental", "incremental"):
        client.make_document(dossier["id"], subject=mode)
        names.append(bk.backup(env, dest, mode=mode, keep=2)["name"])
    left = [s["name"] for s in bk.list_sets(dest)]
    assert left == [names[0], names[2], names[3]]  # the full one is kept for its independence
    for s in bk.list_sets(dest):
        assert bk.verify_set(s["path"])["ok"]
    env.config["BACKUP_FULL_EVERY_DAYS"] = 0
    second = bk.backup(env, dest, mode="auto", keep=2)
    assert second["mode"] == "full"
    # the two newest full sets stay: the older shares no byte with the newer's incrementals
    assert [s["name"] for s in bk.list_sets(dest)] == [names[0], names[3], second["name"]]
    third = bk.backup(env, dest, mode="auto", keep=2)
    assert [s["name"] for s in bk.list_sets(dest)] == [second["name"], third["name"]]


def test_a_rotted_byte_in_the_previous_set_is_not_linked_into_the_next(client, dossier, env,
                                                                     tmp_path):
    client.make_document(dossier["id"], files={"a.pdf": PDF})
    dest = tmp_path / "b"
    full = bk.backup(env, dest, mode="full")
    sums = bk.read_sums(Path(full["path"]) / bk.SUMS)
    victim = next(p for p in sums if p.endswith("a.pdf"))
    rotted = Path(full["path"]) / victim
    data = bytearray(rotted.read_bytes())
    data[10] ^= 1
    rotted.write_bytes(bytes(data))  # in place: the inode stays, as bit rot would

    client.make_document(dossier["id"], subject="after the full set")
    incr = bk.backup(env, dest, mode="incremental")
    assert incr["previous_set_damaged"] == [victim]
    fresh = Path(incr["path"]) / victim
    assert fresh.read_bytes() == PDF and not os.path.samefile(fresh, rotted)
    assert bk.verify_set(incr["path"], deep=True)["ok"]
    assert not bk.verify_set(full["path"])["ok"]
    # unchanged, intact files are still linked (no second copy on the backup disk)
    other = next(p for p in sums if p.endswith("dossier.json"))
    assert os.path.samefile(Path(incr["path"]) / other, Path(full["path"]) / other)
    # every set carries the audit key beside the snapshot and a sealed checkpoint
    assert (Path(incr["path"]) / "audit.key").is_file()
    assert incr["audit"]["checkpoint"]["seq"] > 0
    assert (Path(incr["path"]) / "storage" / "audit-checkpoints.jsonl").is_file()


def test_command_line_backup_and_restore(client, dossier, env, config, restore_config,
                                         tmp_path, monkeypatch):
    from repo_server.cli import main

    client.make_document(dossier["id"], files={"a.pdf": PDF})
    runner = CliRunner()
    monkeypatch.delenv("REPO_INSTANCE_PATH", raising=False)
    env_vars = {f"REPO_{k}": str(v) for k, v in config.items()
                if k in ("DATABASE_URL", "FSYNC", "SQLITE_SYNCHRONOUS")}
    out = runner.invoke(main, ["--instance", config["INSTANCE_PATH"], "backup",
                               str(tmp_path / "b")], env=env_vars)
    assert out.exit_code == 0, out.output
    assert "(full)" in out.output
    out = runner.invoke(main, ["verify-backup", "--deep", str(tmp_path / "b")])
    assert out.exit_code == 0 and "OK" in out.output, out.output
    env_vars2 = {f"REPO_{k}": str(v) for k, v in restore_config.items()
                 if k in ("DATABASE_URL", "FSYNC", "SQLITE_SYNCHRONOUS")}
    out = runner.invoke(main, ["--instance", restore_config["INSTANCE_PATH"], "restore",
                               str(tmp_path / "b")], env=env_vars2)
    assert out.exit_code == 0, out.output
    assert "Restored set" in out.output
    # `sha256sum -c` accepts the checksum file as it is
    set_path = bk.resolve_set(tmp_path / "b")
    import subprocess

    check = subprocess.run(["sha256sum", "--quiet", "-c", bk.SUMS], cwd=set_path,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_backup_job_writes_into_backup_dir_and_alerts_on_failure(client, dossier, env, worker,
                                                                 tmp_path):
    from repo_server.catalog import JobRun

    # on by default, into <instance>/backups
    assert worker.run_job("backup", "manual")["mode"] == "full"
    assert bk.list_sets(Path(env.config["INSTANCE_PATH"]) / "backups")
    env.config["BACKUP_DIR"] = str(tmp_path / "nightly")
    counts = worker.run_job("backup", "manual")
    assert counts["mode"] == "full" and counts["objects"] == 2
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env.config["BACKUP_DIR"] = str(blocker)
    worker.run_job("backup", "manual")
    with env.db.read() as session:
        from sqlalchemy import select

        last = session.scalars(select(JobRun).order_by(JobRun.id.desc())).first()
    assert last.status == "failed"
    health = client.raw.get("/api/v1/health").json
    assert health["status"] == "degraded" and "backup" in health["checks"]
    env.config["BACKUP_DIR"] = str(tmp_path / "nightly")
    assert worker.run_job("backup", "manual")["mode"] == "incremental"
    assert client.raw.get("/api/v1/health").json["status"] == "ok"


def test_sqlite_backup_restores_into_postgresql(client, dossier, env, tmp_path):
    """A commune moving to the provincial PostgreSQL server restores its SQLite backup there."""
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("needs PostgreSQL (the PostgreSQL leg of .ci/run)")
    from repo_server.catalog.migrate import upgrade
    from tests.conftest import make_config
    from tests.ops.conftest import second_database_url

    inst = tmp_path / "commune"
    cfg = make_config(inst, DATABASE_URL=f"sqlite:///{inst / 'repo.db'}")
    inst.mkdir()
    upgrade(cfg["DATABASE_URL"])
    e = build_env(cfg)
    c = Client(create_app(cfg, env=e), create_key(e, "a", ["admin"])[1])
    c.make_fonds()
    d = c.make_dossier()
    c.make_document(d["id"], files={"a.pdf": PDF})
    c.post("/api/v1/holds", json={"reason": "r", "authority_ref": "A 1", "dossier_ids": [d["id"]]})
    audit.buffer(e).flush()
    source = table_rows(cfg["DATABASE_URL"])
    bk.backup(e, tmp_path / "b")
    target = make_config(tmp_path / "province", DATABASE_URL=second_database_url())
    bk.restore(target, tmp_path / "b")
    restored = table_rows(target["DATABASE_URL"])
    assert_same_tables(_normalise(source), _normalise(restored))
    c2, e2 = _restored_client(target)
    assert c2.get(f"/api/v1/dossiers/{d['id']}").status_code == 200
    c2.make_dossier(title="Sau khi chuyển")  # sequences continue after the copied rows
    assert c2.post("/api/v1/holds", json={"reason": "r2", "authority_ref": "A 2",
                                          "dossier_ids": []}).status_code == 201
    close_env(e)
    close_env(e2)


def _normalise(tables: dict) -> dict:
    """SQLite and PostgreSQL return the same values in different Python types."""
    def norm(v):  # noqa: ANN001, ANN202
        if hasattr(v, "tzinfo") and getattr(v, "tzinfo", None) is not None:
            return v.replace(tzinfo=None)
        if isinstance(v, str) and v[:1] in "[{":
            try:
                return json.loads(v)
            except ValueError:
                return v
        return v

    return {t: [tuple(norm(v) for v in row) for row in rows] for t, rows in tables.items()}


def test_a_checkpoint_sealed_during_the_copy_does_not_break_the_restored_trail(
        client, dossier, env, restore_config, tmp_path, monkeypatch):
    from repo_server.services import audit, audit_anchor

    real = bk.snapshot_database

    def snapshot_then_checkpoint(env_, work):  # noqa: ANN001, ANN202
        db = real(env_, work)
        audit.record(env_, "repo-server", "job.run", "fixity")  # after the snapshot ...
        audit_anchor.write_checkpoint(env_)  # ... a fixity run seals it
        return db

    monkeypatch.setattr(bk, "snapshot_database", snapshot_then_checkpoint)
    bk.backup(env, tmp_path / "b")
    result = bk.restore(restore_config, tmp_path / "b", reindex=False)
    assert result["audit_checkpoints_trimmed"] == 1
    _, env2 = _restored_client(restore_config)
    try:
        assert audit.verify(env2)["ok"]
    finally:
        close_env(env2)


def test_backup_and_restore_carry_the_derived_text_cache(client, dossier, env, worker,
                                                         restore_config, tmp_path, monkeypatch):
    """Issue 18: the derived-text cache is in every set; a restore puts it back, so the new
    index has every text without reading a file again."""
    from repo_server.services import texts

    body = "Biên bản nghiệm thu công trình trường học".encode()
    doc = client.make_document(dossier["id"], files={"bb.txt": body})
    drain(worker)
    sha = hashlib.sha256(body).hexdigest()
    m = bk.backup(env, tmp_path / "backup", mode="full")
    assert m["derived_texts"] == 1 and m["problems"] == []
    assert f"derived/text/{sha[:2]}/{sha}.json.gz" in bk.read_sums(Path(m["path"]) / bk.SUMS)
    assert bk.verify_set(m["path"])["ok"]

    def no_extraction(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("a restore with the cache reads no file again")

    monkeypatch.setattr(texts, "extract_text", no_extraction)
    result = bk.restore(restore_config, tmp_path / "backup")
    assert result["derived_texts"] == 1 and result["indexed"] >= 2
    client2, env2 = _restored_client(restore_config)
    assert env2.texts.get(sha).text == body.decode()
    hits = client2.get("/api/v1/search", query_string={"q": "nghiem thu cong trinh"}).json
    assert [h["id"] for h in hits["items"]] == [doc["id"]]
    close_env(env2)
